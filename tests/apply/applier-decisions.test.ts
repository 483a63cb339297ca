import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Direction, FilterOp } from "../../generated/entdb/v1/entdb_pb.js";
import { RECENT_OUTCOMES } from "../../server/apply/recent-outcomes.ts";
import type { PlanOutcome } from "../../server/engine.ts";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import { op, planEvent, T, T0_MS, userFields, v } from "../store/store-fixtures.ts";
import { type Harness, openHarness } from "./apply-harness.ts";

const teamFields = (n: number) => ({ 1: v.str(`Team ${n}`), 2: v.str(`team-${n}`) });
const projectFields = (team: string, key: string) => ({
  1: v.ref(team),
  2: v.str(key),
  3: v.str(`Project ${key}`),
});
const taskFields = (project: string, n: number) => ({
  1: v.ref(project),
  2: v.int(BigInt(n)),
  3: v.str(`Task ${n}`),
  5: v.enum(1),
});
const memberProps = () => ({ 1: v.enum(1), 2: v.ts(T0_MS) });

function results(outcome: PlanOutcome | undefined) {
  expect(outcome?.failure).toBeUndefined();
  return outcome!.results.map((r) => ({ id: r.id, created: r.created, version: r.version }));
}

function failure(outcome: PlanOutcome | undefined) {
  expect(outcome?.results).toEqual([]);
  const f = outcome?.failure;
  return (
    f && {
      code: f.code,
      reason: f.reason,
      message: f.message,
      operationIndex: f.operationIndex,
      typeId: f.typeId,
      fieldId: f.fieldId,
    }
  );
}

let h: Harness;
beforeEach(() => {
  h = openHarness();
});
afterEach(() => h.close());

/** A tenant with one user u1, one team t1 and project p1 in team t1. */
function seed(tenant = "acme"): void {
  const r = h.plan(tenant, "seed", [
    op.createNode(T.User, "u1", userFields(1)),
    op.createNode(T.Team, "t1", teamFields(1)),
    op.createNode(T.Project, "p1", projectFields("t1", "WEB")),
  ]);
  expect(r.outcome?.failure).toBeUndefined();
}

describe("creating nodes", () => {
  it("writes the node with version 1, the actor as owner and the ingress time as timestamps", () => {
    const at = T0_MS + 1234;
    const { outcome, position } = h.plan(
      "acme",
      "k1",
      [op.createNode(T.User, "u1", userFields(1))],
      {
        atMs: at,
        actor: "user:grace",
      },
    );
    expect(results(outcome)).toEqual([{ id: "u1", created: true, version: 1n }]);
    expect(outcome?.position).toEqual(position);
    expect(outcome?.schemaVersion).toBe(1);
    const node = h.reader.getNode("acme", T.User, "u1")!;
    expect(node.version).toBe(1n);
    expect(node.owner).toBe("user:grace");
    expect(node.createdAt).toEqual(timestampFromMs(at));
    expect(node.updatedAt).toEqual(timestampFromMs(at));
    expect(node.fields[1]?.kind).toEqual({ case: "stringValue", value: "user1@example.com" });
    expect(node.fields[7]?.kind).toEqual({ case: "boolValue", value: true });
    expect(h.reader.appliedOffset("acme")).toBe(position.offset + 1);
  });

  it("rejects a unique clash with already_exists naming type and field ids, and writes nothing of the plan", () => {
    seed();
    const { outcome } = h.plan("acme", "k2", [
      op.createNode(T.Team, "t2", teamFields(2)),
      op.createNode(T.User, "u2", userFields(2, { 1: v.str("user1@example.com") })),
    ]);
    expect(failure(outcome)).toEqual({
      code: "already_exists",
      reason: "UNIQUE_VIOLATION",
      message: "Another node of type 1 has the same value of unique field 1.",
      operationIndex: 1,
      typeId: T.User,
      fieldId: 1,
    });
    expect(h.reader.getNode("acme", T.Team, "t2")).toBeUndefined();
    expect(h.reader.getNode("acme", T.User, "u2")).toBeUndefined();
  });

  it("rejects a composite unique clash, naming every field of the constraint", () => {
    seed();
    const { outcome } = h.plan("acme", "k2", [
      op.createNode(T.Project, "p2", projectFields("t1", "WEB")),
    ]);
    expect(failure(outcome)).toEqual({
      code: "already_exists",
      reason: "UNIQUE_VIOLATION",
      message: "Another node of type 3 has the same values of unique fields [1, 2].",
      operationIndex: 0,
      typeId: T.Project,
      fieldId: 1,
    });
    // Same key in another team is fine.
    h.plan("acme", "k3", [op.createNode(T.Team, "t2", teamFields(2))]);
    expect(
      results(
        h.plan("acme", "k4", [op.createNode(T.Project, "p2", projectFields("t2", "WEB"))]).outcome,
      ),
    ).toEqual([{ id: "p2", created: true, version: 1n }]);
  });

  it("rejects refs to missing nodes and to nodes of the wrong type with MISSING_REF", () => {
    seed();
    expect(
      failure(
        h.plan("acme", "k2", [op.createNode(T.Project, "p2", projectFields("nope", "X"))]).outcome,
      ),
    ).toEqual({
      code: "failed_precondition",
      reason: "MISSING_REF",
      message: 'Field 1 of type 3 refers to node "nope", which does not exist.',
      operationIndex: 0,
      typeId: T.Project,
      fieldId: 1,
    });
    expect(
      failure(
        h.plan("acme", "k3", [op.createNode(T.Project, "p2", projectFields("u1", "X"))]).outcome,
      ),
    ).toEqual({
      code: "failed_precondition",
      reason: "MISSING_REF",
      message: 'Field 1 of type 3 refers to node "u1" of type 1; it must be of type 2.',
      operationIndex: 0,
      typeId: T.Project,
      fieldId: 1,
    });
    // Elements of a list of refs are checked too.
    const comment = {
      1: v.ref("task1"),
      2: v.ref("u1"),
      3: v.str("hi"),
      4: v.ts(T0_MS),
      6: v.list(v.ref("u1"), v.ref("ghost")),
    };
    const r = h.plan("acme", "k4", [
      op.createNode(T.Task, "task1", taskFields("p1", 1)),
      op.createNode(T.Comment, "c1", comment),
    ]);
    expect(failure(r.outcome)?.message).toBe(
      'Field 6 of type 5 refers to node "ghost", which does not exist.',
    );
  });

  it("accepts refs to nodes created earlier in the same plan", () => {
    const { outcome } = h.plan("acme", "k1", [
      op.createNode(T.Team, "t1", teamFields(1)),
      op.createNode(T.Project, "p1", projectFields("t1", "WEB")),
    ]);
    expect(results(outcome)).toEqual([
      { id: "t1", created: true, version: 1n },
      { id: "p1", created: true, version: 1n },
    ]);
  });

  it("resolves create-if-absent to the existing node and redirects later steps that name the minted id", () => {
    seed();
    const { outcome } = h.plan("acme", "k2", [
      op.createNode(
        T.User,
        "u-minted",
        userFields(9, { 1: v.str("user1@example.com"), 3: v.str("other") }),
        [1],
      ),
      op.createEdge(T.MemberOf, "u-minted", "t1", memberProps()),
      op.updateNode(T.User, "u-minted", { 4: v.str("Europe/Paris") }),
    ]);
    expect(results(outcome)).toEqual([
      { id: "u1", created: false, version: 1n },
      { id: "", created: true, version: 0n },
      { id: "u1", created: false, version: 2n },
    ]);
    expect(h.reader.getNode("acme", T.User, "u-minted")).toBeUndefined();
    const edges = h.reader.listEdges("acme", T.MemberOf, "u1", {
      direction: Direction.OUT,
      limit: 10,
      cursor: "",
      includeCount: true,
    });
    expect(edges.items.map((e) => [e.fromId, e.toId])).toEqual([["u1", "t1"]]);
    expect(h.reader.getNode("acme", T.User, "u1")?.fields[4]?.kind).toEqual({
      case: "stringValue",
      value: "Europe/Paris",
    });
  });

  it("creates when create-if-absent finds nothing, and rejects if_absent_on that is not a unique key", () => {
    expect(
      results(h.plan("acme", "k1", [op.createNode(T.User, "u1", userFields(1), [1])]).outcome),
    ).toEqual([{ id: "u1", created: true, version: 1n }]);
    expect(
      failure(h.plan("acme", "k2", [op.createNode(T.User, "u2", userFields(2), [2])]).outcome),
    ).toEqual({
      code: "invalid_argument",
      reason: "INVALID_VALUE",
      message:
        "if_absent_on [2] is not one unique field or all fields of one composite unique of type 1.",
      operationIndex: 0,
      typeId: T.User,
      fieldId: 2,
    });
  });

  it("rejects an id that is already taken", () => {
    seed();
    expect(
      failure(h.plan("acme", "k2", [op.createNode(T.Team, "u1", teamFields(5))]).outcome),
    ).toEqual({
      code: "already_exists",
      reason: "ID_EXISTS",
      message: 'A node with id "u1" already exists.',
      operationIndex: 0,
      typeId: T.Team,
      fieldId: 0,
    });
  });

  it("names the first unique constraint in order when several clash, in one plan or across plans", () => {
    seed();
    const clash = (fieldId: number, operationIndex = 0) => ({
      code: "already_exists",
      reason: "UNIQUE_VIOLATION",
      message: `Another node of type 1 has the same value of unique field ${fieldId}.`,
      operationIndex,
      typeId: T.User,
      fieldId,
    });
    // email (1) and handle (3) both taken by u1: the lower field id is named.
    expect(
      failure(
        h.plan("acme", "k2", [
          op.createNode(
            T.User,
            "u2",
            userFields(2, { 1: v.str("user1@example.com"), 3: v.str("user1") }),
          ),
        ]).outcome,
      ),
    ).toEqual(clash(1));
    // handle alone.
    expect(
      failure(
        h.plan("acme", "k3", [op.createNode(T.User, "u3", userFields(3, { 3: v.str("user1") }))])
          .outcome,
      ),
    ).toEqual(clash(3));
    // Against a node created earlier in the same plan.
    expect(
      failure(
        h.plan("acme", "k4", [
          op.createNode(T.User, "u4", userFields(4)),
          op.createNode(T.User, "u5", userFields(5, { 3: v.str("user4") })),
        ]).outcome,
      ),
    ).toEqual(clash(3, 1));
    expect(h.reader.getNode("acme", T.User, "u4")).toBeUndefined();
  });

  it("looks unique values up when the tenant file lacks a constraint's index", () => {
    seed();
    // As in a file at a newer schema version that dropped the constraint, applying an
    // event of the version that has it: the index is gone, the event's model still asks.
    const db = h.store.tenant("acme", false)!;
    db.db.exec("DROP INDEX ux_n1_f3");
    db.reloadSchemaObjects();
    expect(db.hasObject("ux_n1_f3")).toBe(false);
    expect(
      failure(
        h.plan("acme", "k2", [op.createNode(T.User, "u2", userFields(2, { 3: v.str("user1") }))])
          .outcome,
      ),
    ).toEqual({
      code: "already_exists",
      reason: "UNIQUE_VIOLATION",
      message: "Another node of type 1 has the same value of unique field 3.",
      operationIndex: 0,
      typeId: T.User,
      fieldId: 3,
    });
    expect(
      results(h.plan("acme", "k3", [op.createNode(T.User, "u3", userFields(3))]).outcome),
    ).toEqual([{ id: "u3", created: true, version: 1n }]);
  });

  it("checks a taken id before refs and unique values, and a node created twice in one plan", () => {
    seed();
    const taken = {
      code: "already_exists",
      reason: "ID_EXISTS",
      message: 'A node with id "p1" already exists.',
      operationIndex: 0,
      typeId: T.Project,
      fieldId: 0,
    };
    // The id is taken, the team ref is missing too.
    expect(
      failure(
        h.plan("acme", "k2", [op.createNode(T.Project, "p1", projectFields("nope", "API"))])
          .outcome,
      ),
    ).toEqual(taken);
    // The id is taken, and (team, key) clashes with another project's.
    h.plan("acme", "k3", [op.createNode(T.Project, "p2", projectFields("t1", "API"))]);
    expect(
      failure(
        h.plan("acme", "k4", [op.createNode(T.Project, "p1", projectFields("t1", "API"))]).outcome,
      ),
    ).toEqual(taken);
    // The same values as the node that holds the id (its own values never clash).
    expect(
      failure(
        h.plan("acme", "k5", [op.createNode(T.Project, "p1", projectFields("t1", "WEB"))]).outcome,
      ),
    ).toEqual(taken);
    expect(
      failure(
        h.plan("acme", "k6", [
          op.createNode(T.Team, "t9", teamFields(9)),
          op.createNode(T.Team, "t9", teamFields(10)),
        ]).outcome,
      ),
    ).toEqual({
      code: "already_exists",
      reason: "ID_EXISTS",
      message: 'A node with id "t9" already exists.',
      operationIndex: 1,
      typeId: T.Team,
      fieldId: 0,
    });
    // A missing ref with a fresh id is still a missing ref.
    expect(
      failure(
        h.plan("acme", "k7", [op.createNode(T.Project, "p3", projectFields("nope", "APP"))])
          .outcome,
      )?.reason,
    ).toBe("MISSING_REF");
  });
});

describe("updating and deleting nodes", () => {
  it("increments the version, keeps unnamed fields, clears named ones and stamps updated_at", () => {
    seed();
    const later = T0_MS + 60_000;
    const { outcome } = h.plan(
      "acme",
      "k2",
      [
        op.updateNode(
          T.User,
          "u1",
          { 2: v.str("Ada"), 5: v.bytes(new Uint8Array([1])) },
          { clear: [7] },
        ),
      ],
      {
        atMs: later,
      },
    );
    expect(results(outcome)).toEqual([{ id: "u1", created: false, version: 2n }]);
    const node = h.reader.getNode("acme", T.User, "u1")!;
    expect(Object.keys(node.fields).map(Number)).toEqual([1, 2, 3, 5, 6]);
    expect(node.fields[2]?.kind).toEqual({ case: "stringValue", value: "Ada" });
    expect(node.createdAt).toEqual(timestampFromMs(T0_MS));
    expect(node.updatedAt).toEqual(timestampFromMs(later));
  });

  it("rejects a stale version precondition, then accepts the current one", () => {
    seed();
    const stale = h.plan("acme", "k2", [
      op.updateNode(T.User, "u1", { 2: v.str("x") }, { precondition: { version: 7n } }),
    ]);
    expect(failure(stale.outcome)).toEqual({
      code: "failed_precondition",
      reason: "PRECONDITION_FAILED",
      message: 'Node "u1" has version 1; the plan expected version 7.',
      operationIndex: 0,
      typeId: T.User,
      fieldId: 0,
    });
    const ok = h.plan("acme", "k3", [
      op.updateNode(T.User, "u1", { 2: v.str("x") }, { precondition: { version: 1n } }),
    ]);
    expect(results(ok.outcome)).toEqual([{ id: "u1", created: false, version: 2n }]);
  });

  it("checks fields_equal preconditions, where a null value means unset", () => {
    seed();
    const wrong = h.plan("acme", "k2", [
      op.updateNode(
        T.User,
        "u1",
        { 2: v.str("x") },
        { precondition: { fieldsEqual: { 3: v.str("user1"), 4: v.str("UTC") } } },
      ),
    ]);
    expect(failure(wrong.outcome)).toEqual({
      code: "failed_precondition",
      reason: "PRECONDITION_FAILED",
      message: 'Field 4 of node "u1" does not have the value the plan expected.',
      operationIndex: 0,
      typeId: T.User,
      fieldId: 4,
    });
    const right = h.plan("acme", "k3", [
      op.updateNode(
        T.User,
        "u1",
        { 2: v.str("x") },
        { precondition: { fieldsEqual: { 3: v.str("user1"), 4: v.null() } } },
      ),
    ]);
    expect(results(right.outcome)).toEqual([{ id: "u1", created: false, version: 2n }]);
  });

  it("rejects an update that makes a unique field clash, but not one that keeps its own value", () => {
    seed();
    h.plan("acme", "k2", [op.createNode(T.User, "u2", userFields(2))]);
    expect(
      failure(h.plan("acme", "k3", [op.updateNode(T.User, "u2", { 3: v.str("user1") })]).outcome)
        ?.reason,
    ).toBe("UNIQUE_VIOLATION");
    expect(
      results(h.plan("acme", "k4", [op.updateNode(T.User, "u2", { 3: v.str("user2") })]).outcome),
    ).toEqual([{ id: "u2", created: false, version: 2n }]);
  });

  it("rejects clearing a required field", () => {
    seed();
    expect(
      failure(h.plan("acme", "k2", [op.updateNode(T.User, "u1", {}, { clear: [1] })]).outcome),
    ).toEqual({
      code: "invalid_argument",
      reason: "REQUIRED_FIELD",
      message: "Field 1 of type 1 is required; it cannot be cleared.",
      operationIndex: 0,
      typeId: T.User,
      fieldId: 1,
    });
  });

  it("answers not_found for updates and deletes of missing nodes or nodes of another type", () => {
    seed();
    expect(
      failure(h.plan("acme", "k2", [op.updateNode(T.User, "ghost", { 2: v.str("x") })]).outcome),
    ).toEqual({
      code: "not_found",
      reason: "NOT_FOUND",
      message: 'No node of type 1 has id "ghost".',
      operationIndex: 0,
      typeId: T.User,
      fieldId: 0,
    });
    expect(failure(h.plan("acme", "k3", [op.deleteNode(T.Team, "u1")]).outcome)?.message).toBe(
      'No node of type 2 has id "u1".',
    );
  });

  it("deletes a node with its edges in both directions and its full-text row", () => {
    seed();
    h.plan("acme", "k2", [
      op.createNode(T.Task, "a", taskFields("p1", 1)),
      op.createNode(T.Task, "b", taskFields("p1", 2)),
      op.createNode(T.Task, "c", taskFields("p1", 3)),
      op.createEdge(T.BlockedBy, "a", "b"),
      op.createEdge(T.BlockedBy, "b", "c"),
      op.createEdge(T.AssignedTo, "b", "u1", { 1: v.ts(T0_MS) }),
      op.createEdge(T.Watches, "u1", "b"),
    ]);
    const db = h.store.tenant("acme", false)!;
    const ftsCount = () =>
      Number((db.db.prepare("SELECT count(*) AS n FROM fts_n4").get() as { n: bigint }).n);
    expect(ftsCount()).toBe(3);
    expect(
      results(h.plan("acme", "k3", [op.deleteNode(T.Task, "b", { version: 1n })]).outcome),
    ).toEqual([{ id: "b", created: false, version: 1n }]);
    const edges = db.db
      .prepare("SELECT edge_type_id, from_id, to_id FROM edges ORDER BY 1, 2, 3")
      .all();
    expect(edges).toEqual([]);
    expect(ftsCount()).toBe(2);
    expect(h.reader.getNode("acme", T.Task, "b")).toBeUndefined();
  });

  it("keeps the full-text table in step with updates", () => {
    seed();
    h.plan("acme", "k2", [
      op.createNode(T.Task, "a", { ...taskFields("p1", 1), 3: v.str("render the chart") }),
    ]);
    h.plan("acme", "k3", [op.updateNode(T.Task, "a", { 4: v.str("axis labels overlap") })]);
    const db = h.store.tenant("acme", false)!;
    const match = (q: string) =>
      (
        db.db
          .prepare(
            "SELECT n.id FROM fts_n4 JOIN nodes n ON n.seq = fts_n4.rowid WHERE fts_n4 MATCH ?",
          )
          .all(q) as { id: string }[]
      ).map((r) => r.id);
    expect(match("chart")).toEqual(["a"]);
    expect(match("overlap")).toEqual(["a"]);
    h.plan("acme", "k4", [op.updateNode(T.Task, "a", { 3: v.str("new title") }, { clear: [4] })]);
    expect(match("chart")).toEqual([]);
    expect(match("overlap")).toEqual([]);
    expect(match("title")).toEqual(["a"]);
  });

  it("keeps the full-text table in step with a batch: rejected plans leave no rows, later plans see earlier ones", () => {
    seed();
    const plan = (key: string, ops: Parameters<typeof planEvent>[2]) => ({
      tenant: "acme",
      payload: planEvent("acme", key, ops),
    });
    h.run([
      plan("b1", [op.createNode(T.Task, "a", { ...taskFields("p1", 1), 3: v.str("alpha chart") })]),
      // Rejected at its second step: the task it created first must leave no full-text row.
      plan("b2", [
        op.createNode(T.Task, "x", { ...taskFields("p1", 2), 3: v.str("bravo") }),
        op.createNode(T.Team, "t9", teamFields(1)),
      ]),
      plan("b3", [op.updateNode(T.Task, "a", { 3: v.str("charlie") })]),
      plan("b4", [op.createNode(T.Task, "d", { ...taskFields("p1", 4), 3: v.str("delta") })]),
      plan("b5", [op.deleteNode(T.Task, "d")]),
      plan("b6", [op.createNode(T.Task, "e", { ...taskFields("p1", 6), 3: v.str("echo") })]),
    ]);
    expect(failure(h.reader.outcomeByKey("acme", "b2"))?.reason).toBe("UNIQUE_VIOLATION");
    const db = h.store.tenant("acme", false)!;
    const match = (q: string) =>
      (
        db.db
          .prepare(
            "SELECT n.id FROM fts_n4 JOIN nodes n ON n.seq = fts_n4.rowid WHERE fts_n4 MATCH ? ORDER BY n.id",
          )
          .all(q) as { id: string }[]
      ).map((r) => r.id);
    expect(match("alpha")).toEqual([]);
    expect(match("bravo")).toEqual([]);
    expect(match("charlie")).toEqual(["a"]);
    expect(match("delta")).toEqual([]);
    expect(match("echo")).toEqual(["e"]);
    expect(match("task")).toEqual([]);
    const rows = db.db.prepare("SELECT rowid, f3 FROM fts_n4 ORDER BY rowid").raw(true).all();
    expect(rows.map((r) => (r as unknown[])[1])).toEqual(["charlie", "echo"]);
    // The index agrees with the stored rows (FTS5 raises SQLITE_CORRUPT_VTAB otherwise).
    expect(() => db.db.exec("INSERT INTO fts_n4(fts_n4) VALUES ('integrity-check')")).not.toThrow();
  });
});

describe("edges", () => {
  it("rejects endpoints that are missing or of the wrong type", () => {
    seed();
    expect(
      failure(
        h.plan("acme", "k2", [op.createEdge(T.MemberOf, "u1", "ghost", memberProps())]).outcome,
      ),
    ).toEqual({
      code: "failed_precondition",
      reason: "MISSING_REF",
      message: 'The to node "ghost" of edge type 100 does not exist.',
      operationIndex: 0,
      typeId: T.MemberOf,
      fieldId: 0,
    });
    expect(
      failure(h.plan("acme", "k3", [op.createEdge(T.MemberOf, "t1", "t1", memberProps())]).outcome)
        ?.message,
    ).toBe('The from node "t1" of edge type 100 is of type 2; it must be of type 1.');
  });

  it("enforces unique_per_from and replaces the props of an existing edge", () => {
    seed();
    h.plan("acme", "k2", [
      op.createNode(T.Task, "a", taskFields("p1", 1)),
      op.createNode(T.Task, "b", taskFields("p1", 2)),
      op.createNode(T.Task, "c", taskFields("p1", 3)),
      op.createEdge(T.SubtaskOf, "a", "b"),
    ]);
    expect(failure(h.plan("acme", "k3", [op.createEdge(T.SubtaskOf, "a", "c")]).outcome)).toEqual({
      code: "already_exists",
      reason: "UNIQUE_PER_FROM",
      message: 'Node "a" already has an edge of type 102, which allows one per from node.',
      operationIndex: 0,
      typeId: T.SubtaskOf,
      fieldId: 0,
    });
    expect(results(h.plan("acme", "k4", [op.createEdge(T.SubtaskOf, "a", "b")]).outcome)).toEqual([
      { id: "", created: false, version: 0n },
    ]);
    h.plan("acme", "k5", [op.createEdge(T.BlockedBy, "a", "c", { 1: v.str("first") })], {
      atMs: T0_MS + 5,
    });
    h.plan("acme", "k6", [op.createEdge(T.BlockedBy, "a", "c", { 1: v.str("second") })], {
      atMs: T0_MS + 9,
    });
    const [edge] = h.reader.listEdges("acme", T.BlockedBy, "a", {
      direction: Direction.OUT,
      limit: 5,
      cursor: "",
      includeCount: false,
    }).items;
    expect(edge?.props[1]?.kind).toEqual({ case: "stringValue", value: "second" });
    expect(edge?.createdAt).toEqual(timestampFromMs(T0_MS + 5));
  });

  it("deletes an edge, and deleting a missing edge changes nothing", () => {
    seed();
    h.plan("acme", "k2", [op.createEdge(T.MemberOf, "u1", "t1", memberProps())]);
    expect(
      results(
        h.plan("acme", "k3", [
          op.deleteEdge(T.MemberOf, "u1", "t1"),
          op.deleteEdge(T.MemberOf, "u1", "t1"),
        ]).outcome,
      ),
    ).toEqual([
      { id: "", created: false, version: 0n },
      { id: "", created: false, version: 0n },
    ]);
    expect(
      h.reader.listEdges("acme", T.MemberOf, "u1", {
        direction: Direction.OUT,
        limit: 5,
        cursor: "",
        includeCount: true,
      }).totalCount,
    ).toBe(0);
  });
});

describe("idempotency and batches", () => {
  it("returns the first outcome and ids for a retried key, and applies nothing new", () => {
    const first = h.plan("acme", "retry-me", [op.createNode(T.Team, "t1", teamFields(1))]);
    const again = h.plan("acme", "retry-me", [op.createNode(T.Team, "t-other", teamFields(2))]);
    expect(again.outcome).toEqual(first.outcome);
    expect(results(again.outcome)).toEqual([{ id: "t1", created: true, version: 1n }]);
    expect(h.reader.getNode("acme", T.Team, "t-other")).toBeUndefined();
    expect(h.applier.stats.duplicates).toBe(1);
    // The retry's position is applied (waiters resolve) even though it changed nothing.
    expect(h.reader.appliedOffset("acme")).toBe(again.position.offset + 1);
  });

  it("keeps a recorded failure for its key even once the plan could succeed", () => {
    const failed = h.plan("acme", "k", [
      op.createNode(T.Project, "p1", projectFields("t1", "WEB")),
    ]);
    expect(failure(failed.outcome)?.reason).toBe("MISSING_REF");
    h.plan("acme", "other", [op.createNode(T.Team, "t1", teamFields(1))]);
    const retry = h.plan("acme", "k", [op.createNode(T.Project, "p1", projectFields("t1", "WEB"))]);
    expect(retry.outcome).toEqual(failed.outcome);
    expect(h.reader.getNode("acme", T.Project, "p1")).toBeUndefined();
  });

  it("lets a failing plan in a batch roll back alone while the others commit", () => {
    seed();
    h.run([
      {
        tenant: "acme",
        payload: planEvent("acme", "b1", [op.createNode(T.Team, "t2", teamFields(2))]),
      },
      {
        tenant: "acme",
        payload: planEvent("acme", "b2", [
          op.createNode(T.Team, "t3", teamFields(3)),
          op.createNode(T.Team, "t4", teamFields(2)),
        ]),
      },
      {
        tenant: "acme",
        payload: planEvent("acme", "b3", [op.createNode(T.Team, "t5", teamFields(5))]),
      },
    ]);
    expect(results(h.reader.outcomeByKey("acme", "b1"))).toEqual([
      { id: "t2", created: true, version: 1n },
    ]);
    expect(failure(h.reader.outcomeByKey("acme", "b2"))?.reason).toBe("UNIQUE_VIOLATION");
    expect(results(h.reader.outcomeByKey("acme", "b3"))).toEqual([
      { id: "t5", created: true, version: 1n },
    ]);
    const teams = h.reader
      .queryNodes("acme", T.Team, { filters: [], limit: 10, cursor: "" })
      .items.map((n) => n.id);
    expect(teams).toEqual(["t1", "t2", "t5"]);
  });

  it("decides the same whatever the applier's clock says", async () => {
    seed();
    const dumpA = canonicalDump(h.store.tenant("acme", false)!);
    const other = openHarness();
    try {
      other.plan("acme", "seed", [
        op.createNode(T.User, "u1", userFields(1)),
        op.createNode(T.Team, "t1", teamFields(1)),
        op.createNode(T.Project, "p1", projectFields("t1", "WEB")),
      ]);
      expect(canonicalDump(other.store.tenant("acme", false)!)).toBe(dumpA);
    } finally {
      await other.close();
    }
  });

  it("keeps tenants apart: the same ids and keys in two tenants do not interact", () => {
    seed("acme");
    seed("globex");
    expect(
      h.reader
        .queryNodes("globex", T.User, {
          filters: [
            {
              $typeName: "entdb.v1.Filter",
              fieldId: 1,
              op: FilterOp.EQ,
              values: [v.str("user1@example.com")],
            },
          ],
          limit: 5,
          cursor: "",
        })
        .items.map((n) => n.id),
    ).toEqual(["u1"]);
    expect(h.store.tenantPath("acme")).not.toBe(h.store.tenantPath("globex"));
  });
});

describe("outcomes kept in memory", () => {
  it("hands the caller the outcome the database holds, for committed and rejected plans", () => {
    seed();
    h.plan("acme", "ok", [op.createNode(T.User, "u2", userFields(2))]);
    h.plan("acme", "clash", [op.createNode(T.User, "u3", userFields(1))]);
    for (const key of ["seed", "ok", "clash"]) {
      const stored = h.reader.outcomeByKey("acme", key);
      expect(stored).toBeDefined();
      expect(h.applier.recentOutcome("acme", key)).toEqual(stored);
    }
    expect(h.applier.recentOutcome("acme", "clash")?.failure?.reason).toBe("UNIQUE_VIOLATION");
    expect(h.applier.recentOutcome("other", "ok")).toBeUndefined();
  });

  it("keeps only the most recent outcomes", () => {
    seed();
    const records = Array.from({ length: RECENT_OUTCOMES + 1 }, (_, i) => ({
      tenant: "acme",
      payload: planEvent("acme", `k${i}`, [op.createNode(T.Team, `t${i}`, teamFields(100 + i))]),
    }));
    h.run(records);
    expect(h.applier.recentOutcome("acme", "k0")).toBeUndefined();
    expect(h.reader.outcomeByKey("acme", "k0")).toBeDefined();
    expect(h.applier.recentOutcome("acme", `k${RECENT_OUTCOMES}`)).toEqual(
      h.reader.outcomeByKey("acme", `k${RECENT_OUTCOMES}`),
    );
  });
});
