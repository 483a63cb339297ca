import { readdirSync, writeFileSync } from "node:fs";
import { create } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  Direction,
  type Filter,
  FilterOp,
  FilterSchema,
  type Node,
} from "../../generated/entdb/v1/entdb_pb.js";
import type { Value } from "../../generated/entdb/v1/values_pb.js";
import { INT64_MAX, INT64_MIN, nodeById } from "../../schema/model.ts";
import { compileNodeQuery } from "../../server/store/node-query.ts";
import { StoreError } from "../../server/store/store-error.ts";
import { type Harness, openHarness } from "../apply/apply-harness.ts";
import {
  compile,
  dueCursor,
  op,
  planEvent,
  served,
  T,
  T0_MS,
  TRACKER_V1,
  userFields,
  v,
} from "./store-fixtures.ts";

const filter = (fieldId: number, o: FilterOp, ...values: Value[]): Filter =>
  create(FilterSchema, { fieldId, op: o, values });

function storeError(fn: () => unknown): {
  code: string;
  message: string;
  fieldId: number | undefined;
} {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof StoreError)) throw err;
    return { code: err.code, message: err.message, fieldId: err.fieldId };
  }
  throw new Error("no error");
}

let h: Harness;
beforeEach(() => {
  h = openHarness();
});
afterEach(() => h.close());

/** Task i: number i, status (i % 4) + 1, due T0+i s unless i % 3 = 0, estimate i·2^53+1 (no float has it), labels. */
function seedTasks(n: number, tenant = "acme"): void {
  const ops = [
    op.createNode(T.Team, "t1", { 1: v.str("Team"), 2: v.str("team") }),
    op.createNode(T.Project, "p1", { 1: v.ref("t1"), 2: v.str("WEB"), 3: v.str("Web") }),
  ];
  for (let i = 1; i <= n; i++) {
    ops.push(
      op.createNode(T.Task, `task${String(i).padStart(4, "0")}`, {
        1: v.ref("p1"),
        2: v.int(BigInt(i)),
        3: v.str(i % 2 === 0 ? `Fix bug ${i}` : `Add feature ${i}`),
        5: v.enum((i % 4) + 1),
        ...(i % 3 === 0 ? {} : { 7: v.ts(T0_MS + i * 1000) }),
        8: v.int(BigInt(i) * 2n ** 53n + 1n),
        9: i % 2 === 0 ? v.list(v.str("bug"), v.str("ui")) : v.list(v.str("feature")),
        10: v.float(i / 4),
      }),
    );
  }
  const { outcome } = h.plan(tenant, "seed-tasks", ops);
  expect(outcome?.failure).toBeUndefined();
}

const ids = (nodes: readonly Node[]) => nodes.map((n) => n.id);
const query = (
  filters: Filter[],
  extra: {
    orderBy?: { fieldId: number; descending: boolean };
    limit?: number;
    cursor?: string;
  } = {},
) =>
  h.reader.queryNodes("acme", T.Task, {
    filters,
    ...(extra.orderBy ? { orderBy: { $typeName: "entdb.v1.OrderBy", ...extra.orderBy } } : {}),
    limit: extra.limit ?? 100,
    cursor: extra.cursor ?? "",
  });

/** Every page of a query, following cursors. */
function allPages(
  filters: Filter[],
  orderBy: { fieldId: number; descending: boolean } | undefined,
  limit: number,
): string[][] {
  const pages: string[][] = [];
  let cursor = "";
  do {
    const page = query(filters, { ...(orderBy ? { orderBy } : {}), limit, cursor });
    pages.push(ids(page.items));
    cursor = page.nextCursor;
  } while (cursor !== "");
  return pages;
}

describe("queryNodes filters", () => {
  beforeEach(() => seedTasks(12));

  it("compares ints as 64-bit integers", () => {
    expect(ids(query([filter(8, FilterOp.GT, v.int(10n * 2n ** 53n + 1n))]).items)).toEqual([
      "task0011",
      "task0012",
    ]);
    expect(ids(query([filter(8, FilterOp.LTE, v.int(2n * 2n ** 53n + 1n))]).items)).toEqual([
      "task0001",
      "task0002",
    ]);
    expect(ids(query([filter(8, FilterOp.EQ, v.int(3n * 2n ** 53n + 1n))]).items)).toEqual([
      "task0003",
    ]);
    expect(
      query([filter(8, FilterOp.EQ, v.int(3n * 2n ** 53n + 1n))]).items[0]?.fields[8]?.kind,
    ).toEqual({
      case: "intValue",
      value: 3n * 2n ** 53n + 1n,
    });
    expect(ids(query([filter(2, FilterOp.IN, v.int(3n), v.int(5n), v.int(99n))]).items)).toEqual([
      "task0003",
      "task0005",
    ]);
    expect(ids(query([filter(2, FilterOp.GTE, v.int(INT64_MAX))]).items)).toEqual([]);
    expect(ids(query([filter(2, FilterOp.GT, v.int(INT64_MIN))]).items)).toHaveLength(12);
  });

  it("compares timestamps as microseconds and tells unset fields apart", () => {
    expect(ids(query([filter(7, FilterOp.LT, v.ts(T0_MS + 5000))]).items)).toEqual([
      "task0001",
      "task0002",
      "task0004",
    ]);
    expect(ids(query([filter(7, FilterOp.EQ, v.null())]).items)).toEqual([
      "task0003",
      "task0006",
      "task0009",
      "task0012",
    ]);
    expect(ids(query([filter(7, FilterOp.NE, v.null())]).items)).toHaveLength(8);
    // NE matches unset fields too.
    expect(ids(query([filter(7, FilterOp.NE, v.ts(T0_MS + 1000))]).items)).toHaveLength(11);
  });

  it("compares enums by number and floats as numbers", () => {
    expect(ids(query([filter(5, FilterOp.EQ, v.enum(2))]).items)).toEqual([
      "task0001",
      "task0005",
      "task0009",
    ]);
    expect(ids(query([filter(5, FilterOp.GTE, v.enum(4))]).items)).toEqual([
      "task0003",
      "task0007",
      "task0011",
    ]);
    expect(ids(query([filter(10, FilterOp.LT, v.float(1))]).items)).toEqual([
      "task0001",
      "task0002",
      "task0003",
    ]);
  });

  it("matches strings by substring, prefix and range, and lists by element", () => {
    expect(ids(query([filter(3, FilterOp.CONTAINS, v.str("bug 1"))]).items)).toEqual([
      "task0010",
      "task0012",
    ]);
    expect(ids(query([filter(3, FilterOp.PREFIX, v.str("Add feature 1"))]).items)).toEqual([
      "task0001",
      "task0011",
    ]);
    expect(
      ids(
        query([filter(9, FilterOp.CONTAINS, v.str("ui")), filter(2, FilterOp.LT, v.int(5n))]).items,
      ),
    ).toEqual(["task0002", "task0004"]);
    expect(ids(query([filter(0, FilterOp.PREFIX, v.str("task001"))]).items)).toEqual([
      "task0010",
      "task0011",
      "task0012",
    ]);
  });

  it("rejects operators a field's kind does not support, naming the field", () => {
    seedTasks(0, "other");
    expect(storeError(() => query([filter(9, FilterOp.EQ, v.str("ui"))]))).toEqual({
      code: "invalid-argument",
      message: "Filter EQ does not apply to Task.labels (field 9), a list field.",
      fieldId: 9,
    });
    expect(storeError(() => query([filter(2, FilterOp.CONTAINS, v.int(1n))])).message).toBe(
      "Filter CONTAINS does not apply to Task.number (field 2), an int field.",
    );
    expect(storeError(() => query([filter(1, FilterOp.LT, v.ref("p1"))])).message).toBe(
      "Filter LT does not apply to Task.project (field 1), a ref field.",
    );
    expect(storeError(() => query([filter(42, FilterOp.EQ, v.int(1n))]))).toEqual({
      code: "invalid-argument",
      message: "Task has no field with id 42.",
      fieldId: 42,
    });
    expect(storeError(() => query([filter(2, FilterOp.EQ, v.str("1"))])).message).toBe(
      "The value of filter EQ on Task.number (field 2) expects int, got stringValue.",
    );
    expect(storeError(() => query([filter(2, FilterOp.IN)])).message).toBe(
      "Filter IN on Task.number (field 2) needs at least one value.",
    );
    expect(storeError(() => query([filter(2, FilterOp.EQ, v.int(1n), v.int(2n))])).message).toBe(
      "Filter EQ on Task.number (field 2) takes exactly one value, got 2.",
    );
    expect(
      storeError(() => query([], { orderBy: { fieldId: 9, descending: false } })).message,
    ).toBe("Task.labels (field 9) is a list field; results cannot be ordered by it.");
  });
});

describe("queryNodes ordering and pages", () => {
  it("pages through every node exactly once, in order, ascending and descending, with unset keys", () => {
    seedTasks(25);
    const byDue = (desc: boolean) => allPages([], { fieldId: 7, descending: desc }, 4).flat();
    const unset = [
      "task0003",
      "task0006",
      "task0009",
      "task0012",
      "task0015",
      "task0018",
      "task0021",
      "task0024",
    ];
    const set = Array.from({ length: 25 }, (_, i) => i + 1)
      .filter((i) => i % 3 !== 0)
      .map((i) => `task${String(i).padStart(4, "0")}`);
    expect(byDue(false)).toEqual([...unset, ...set]);
    expect(byDue(true)).toEqual([...set].reverse().concat([...unset].reverse()));
    expect(allPages([], undefined, 7).map((p) => p.length)).toEqual([7, 7, 7, 4]);
    expect(
      allPages([filter(5, FilterOp.EQ, v.enum(1))], { fieldId: 2, descending: true }, 2).flat(),
    ).toEqual(["task0024", "task0020", "task0016", "task0012", "task0008", "task0004"]);
  });

  it("stays stable while nodes are inserted between pages", () => {
    seedTasks(10);
    const first = query([], { orderBy: { fieldId: 2, descending: false }, limit: 4 });
    expect(ids(first.items)).toEqual(["task0001", "task0002", "task0003", "task0004"]);
    // Insert before and after the cursor, including a tie on the sort key with a smaller id.
    h.plan("acme", "more", [
      op.createNode(T.Task, "a-before", {
        1: v.ref("p1"),
        2: v.int(0n),
        3: v.str("x"),
        5: v.enum(1),
      }),
      op.createNode(T.Task, "z-after", {
        1: v.ref("p1"),
        2: v.int(5_000n),
        3: v.str("x"),
        5: v.enum(1),
      }),
    ]);
    const rest: string[] = [];
    let cursor = first.nextCursor;
    while (cursor !== "") {
      const page = query([], { orderBy: { fieldId: 2, descending: false }, limit: 4, cursor });
      rest.push(...ids(page.items));
      cursor = page.nextCursor;
    }
    expect(rest).toEqual([
      "task0005",
      "task0006",
      "task0007",
      "task0008",
      "task0009",
      "task0010",
      "z-after",
    ]);
  });

  it("clamps the limit to the maximum page size and defaults a zero limit", () => {
    seedTasks(1_005);
    expect(query([], { limit: 5_000 }).items).toHaveLength(1_000);
    expect(query([], { limit: 0 }).items).toHaveLength(100);
  });

  it("rejects a cursor made for another query", () => {
    seedTasks(5);
    const { nextCursor } = query([], { orderBy: { fieldId: 2, descending: false }, limit: 2 });
    expect(
      storeError(() =>
        query([], { orderBy: { fieldId: 7, descending: false }, cursor: nextCursor }),
      ),
    ).toEqual({
      code: "invalid-argument",
      message:
        "The cursor is not valid for this request: it was made for another query (type, filters or order differ). Start again without a cursor.",
      fieldId: undefined,
    });
    expect(storeError(() => query([], { cursor: "!!" })).message).toBe(
      "The cursor is not valid for this request: it is not base64url. Start again without a cursor.",
    );
  });

  it("binds a cursor to the query's filters: other filters are refused, the same ones page on", () => {
    seedTasks(12);
    const odd = [filter(2, FilterOp.GT, v.int(2n)), filter(3, FilterOp.PREFIX, v.str("Add"))];
    const first = query(odd, { limit: 2 });
    expect(ids(first.items)).toEqual(["task0003", "task0005"]);
    const refused =
      "The cursor is not valid for this request: it was made for another query (type, filters or order differ). Start again without a cursor.";
    for (const other of [
      [],
      [filter(2, FilterOp.GT, v.int(2n))],
      [filter(2, FilterOp.GT, v.int(6n)), filter(3, FilterOp.PREFIX, v.str("Add"))],
      [filter(2, FilterOp.GT, v.int(2n)), filter(3, FilterOp.PREFIX, v.str("Fix"))],
    ]) {
      expect(storeError(() => query(other, { limit: 2, cursor: first.nextCursor }))).toEqual({
        code: "invalid-argument",
        message: refused,
        fieldId: undefined,
      });
    }
    const second = query(odd, { limit: 2, cursor: first.nextCursor });
    expect(ids(second.items)).toEqual(["task0007", "task0009"]);
  });

  it("makes the same cursor whether the order's index or the last row's read gives the key", () => {
    seedTasks(12);
    const byDue = { fieldId: 7, descending: false };
    const due = [filter(7, FilterOp.GTE, v.ts(T0_MS + 2_000))];
    // Filtered on the order's field alone: the statement names the index and reads the key.
    const indexed = query(due, { orderBy: byDue, limit: 2 });
    expect(ids(indexed.items)).toEqual(["task0002", "task0004"]);
    expect(indexed.nextCursor).toBe(dueCursor(due, BigInt((T0_MS + 4_000) * 1_000), "task0004"));
    expect(ids(query(due, { orderBy: byDue, limit: 2, cursor: indexed.nextCursor }).items)).toEqual(
      ["task0005", "task0007"],
    );
    // Filtered on another field too: the last row's key is read on its own.
    const both = [...due, filter(5, FilterOp.NE, v.enum(4))];
    const other = query(both, { orderBy: byDue, limit: 2 });
    expect(ids(other.items)).toEqual(["task0002", "task0004"]);
    expect(other.nextCursor).toBe(dueCursor(both, BigInt((T0_MS + 4_000) * 1_000), "task0004"));
    // A page ending on a row without the key.
    const unset = query([], { orderBy: byDue, limit: 2 });
    expect(ids(unset.items)).toEqual(["task0003", "task0006"]);
    expect(unset.nextCursor).toBe(dueCursor([], null, "task0006"));
  });

  it("reads a page ordered by an indexed field straight from its index", () => {
    const type = nodeById(TRACKER_V1, T.Task)!;
    const compiled = compileNodeQuery(
      TRACKER_V1,
      type,
      {
        filters: [],
        orderBy: { $typeName: "entdb.v1.OrderBy", fieldId: 7, descending: false },
        limit: 10,
        cursor: "",
      },
      (n) => n === "ix_n4_f7",
    );
    seedTasks(3);
    const db = h.store.tenant("acme", false)!;
    const plan = db.db.prepare(`EXPLAIN QUERY PLAN ${compiled.sql}`).all(...compiled.params) as {
      detail: string;
    }[];
    expect(plan.map((p) => p.detail)).toEqual(["SCAN nodes USING INDEX ix_n4_f7"]);
  });
});

describe("point reads", () => {
  it("getNodes returns found nodes in request order and refuses too many ids", () => {
    seedTasks(3);
    expect(
      ids(h.reader.getNodes("acme", T.Task, ["task0003", "ghost", "task0001", "task0003", "p1"])),
    ).toEqual(["task0003", "task0001"]);
    // Every id found (repeats and another type's node included), and with no type.
    expect(
      ids(h.reader.getNodes("acme", T.Task, ["task0002", "task0003", "p1", "task0002"])),
    ).toEqual(["task0002", "task0003"]);
    expect(ids(h.reader.getNodes("acme", 0, ["p1", "task0001", "p1"]))).toEqual(["p1", "task0001"]);
    expect(
      storeError(() =>
        h.reader.getNodes(
          "acme",
          T.Task,
          Array.from({ length: 1_001 }, (_, i) => `n${i}`),
        ),
      ),
    ).toEqual({
      code: "too-many",
      message: "getNodes takes at most 1000 ids per call, got 1001; split the request.",
      fieldId: undefined,
    });
  });

  it("getNodeByKey finds by a unique field or a whole composite unique, and nothing else", () => {
    seedTasks(3);
    h.plan("acme", "u", [op.createNode(T.User, "u1", userFields(1))]);
    expect(h.reader.getNodeByKey("acme", T.User, new Map([[3, v.str("user1")]]))?.id).toBe("u1");
    expect(h.reader.getNodeByKey("acme", T.User, new Map([[3, v.str("nobody")]]))).toBeUndefined();
    expect(
      h.reader.getNodeByKey(
        "acme",
        T.Task,
        new Map([
          [2, v.int(2n)],
          [1, v.ref("p1")],
        ]),
      )?.id,
    ).toBe("task0002");
    expect(
      storeError(() => h.reader.getNodeByKey("acme", T.Task, new Map([[2, v.int(2n)]]))),
    ).toEqual({
      code: "invalid-argument",
      message:
        "The key names Task.number (field 2); a key is one unique field or all fields of one composite unique of Task.",
      fieldId: 2,
    });
  });

  it("reads a tenant without a database as empty, without creating a file", () => {
    expect(h.reader.getNode("nobody", T.User, "u1")).toBeUndefined();
    expect(h.reader.queryNodes("nobody", T.User, { filters: [], limit: 5, cursor: "" })).toEqual({
      items: [],
      nextCursor: "",
    });
    expect(h.reader.appliedOffset("nobody")).toBe(0);
    expect(readdirSync(h.store.tenantsDir)).toEqual([]);
  });

  it("rejects invalid tenant ids on reads", () => {
    expect(storeError(() => h.reader.getNode("../etc", T.User, "x")).code).toBe("invalid-tenant");
  });
});

describe("edges and traversal", () => {
  /** A chain a→b→c→d of BlockedBy, plus a→c, plus e→a. */
  function seedGraph(): void {
    const tasks = ["a", "b", "c", "d", "e"].map((id, i) =>
      op.createNode(T.Task, id, {
        1: v.ref("p1"),
        2: v.int(BigInt(i + 1)),
        3: v.str(id),
        5: v.enum(1),
      }),
    );
    h.plan("acme", "g", [
      op.createNode(T.Team, "t1", { 1: v.str("Team"), 2: v.str("team") }),
      op.createNode(T.Project, "p1", { 1: v.ref("t1"), 2: v.str("WEB"), 3: v.str("Web") }),
      ...tasks,
      op.createEdge(T.BlockedBy, "a", "b"),
      op.createEdge(T.BlockedBy, "b", "c"),
      op.createEdge(T.BlockedBy, "c", "d"),
      op.createEdge(T.BlockedBy, "a", "c"),
      op.createEdge(T.BlockedBy, "e", "a"),
      op.createEdge(T.SubtaskOf, "d", "a"),
    ]);
  }

  it("lists edges in both directions with pages and a count", () => {
    seedGraph();
    const out = h.reader.listEdges("acme", T.BlockedBy, "a", {
      direction: Direction.OUT,
      limit: 1,
      cursor: "",
      includeCount: true,
    });
    expect(out.items.map((e) => e.toId)).toEqual(["b"]);
    expect(out.totalCount).toBe(2);
    const next = h.reader.listEdges("acme", T.BlockedBy, "a", {
      direction: Direction.OUT,
      limit: 1,
      cursor: out.nextCursor,
      includeCount: false,
    });
    expect(next.items.map((e) => e.toId)).toEqual(["c"]);
    expect(next.nextCursor).toBe("");
    expect(next.totalCount).toBeUndefined();
    const inn = h.reader.listEdges("acme", T.BlockedBy, "c", {
      direction: Direction.IN,
      limit: 10,
      cursor: "",
      includeCount: true,
    });
    expect(inn.items.map((e) => [e.fromId, e.toId])).toEqual([
      ["a", "c"],
      ["b", "c"],
    ]);
    expect(
      storeError(() =>
        h.reader.listEdges("acme", T.BlockedBy, "c", {
          direction: Direction.OUT,
          limit: 10,
          cursor: out.nextCursor,
          includeCount: false,
        }),
      ).code,
    ).toBe("invalid-argument");
  });

  it("traverses breadth first to a depth, following given or all edge types, and says when it stopped early", () => {
    seedGraph();
    const walk = (q: {
      edgeTypeIds?: number[];
      direction?: Direction;
      maxDepth: number;
      maxNodes?: number;
    }) => {
      const r = h.reader.traverse("acme", "a", {
        edgeTypeIds: q.edgeTypeIds ?? [T.BlockedBy],
        direction: q.direction ?? Direction.OUT,
        maxDepth: q.maxDepth,
        maxNodes: q.maxNodes ?? 100,
      });
      return { nodes: r.nodes.map((t) => `${t.node?.id}@${t.depth}`), truncated: r.truncated };
    };
    expect(walk({ maxDepth: 1 })).toEqual({ nodes: ["b@1", "c@1"], truncated: false });
    expect(walk({ maxDepth: 5 })).toEqual({ nodes: ["b@1", "c@1", "d@2"], truncated: false });
    expect(walk({ maxDepth: 5, maxNodes: 2 })).toEqual({ nodes: ["b@1", "c@1"], truncated: true });
    expect(walk({ maxDepth: 5, direction: Direction.IN })).toEqual({
      nodes: ["e@1"],
      truncated: false,
    });
    // All edge types, in edge type order: SubtaskOf (102) d→a, then BlockedBy (103) e→a.
    expect(walk({ maxDepth: 1, edgeTypeIds: [], direction: Direction.IN })).toEqual({
      nodes: ["d@1", "e@1"],
      truncated: false,
    });
    expect(
      h.reader.traverse("acme", "ghost", {
        edgeTypeIds: [],
        direction: Direction.OUT,
        maxDepth: 3,
        maxNodes: 10,
      }),
    ).toEqual({
      nodes: [],
      truncated: false,
    });
  });

  it("follows a rule per depth when given hops: one direction and edge type each", () => {
    seedGraph();
    const walk = (start: string, hops: { edgeTypeIds: number[]; direction: Direction }[]) =>
      h.reader
        .traverse("acme", start, {
          edgeTypeIds: [],
          direction: Direction.OUT,
          maxDepth: 1,
          maxNodes: 100,
          hops,
        })
        .nodes.map((t) => `${t.node?.id}@${t.depth}`);
    // b is blocked by a (a→b), which blocks c: in, then out.
    expect(
      walk("b", [
        { edgeTypeIds: [T.BlockedBy], direction: Direction.IN },
        { edgeTypeIds: [T.BlockedBy], direction: Direction.OUT },
      ]),
    ).toEqual(["a@1", "c@2"]);
    // One direction for every depth gives other walks from b.
    expect(
      h.reader
        .traverse("acme", "b", {
          edgeTypeIds: [T.BlockedBy],
          direction: Direction.IN,
          maxDepth: 2,
          maxNodes: 100,
        })
        .nodes.map((t) => `${t.node?.id}@${t.depth}`),
    ).toEqual(["a@1", "e@2"]);
    // d is a subtask of a (d→a), which e blocks (e→a): another edge type per hop.
    expect(
      walk("d", [
        { edgeTypeIds: [T.SubtaskOf], direction: Direction.OUT },
        { edgeTypeIds: [T.BlockedBy], direction: Direction.IN },
      ]),
    ).toEqual(["a@1", "e@2"]);
  });
});

describe("open handles and broken tenants", () => {
  it("keeps at most maxOpenTenants databases open while 1,000 tenants are written", async () => {
    // A one-type schema, so the time goes to opening files rather than creating indexes.
    const tiny = compile(
      "package p;\nnode Team = 2 {\n  name: string = 1;\n  slug: string = 2;\n}\n",
    );
    const small = openHarness({ maxOpenTenants: 8, inMemory: true, schemas: [served(1, tiny)] });
    try {
      const fds = () => readdirSync("/proc/self/fd").length;
      const before = fds();
      let peak = 0;
      for (let i = 0; i < 1_000; i += 50) {
        small.run(
          Array.from({ length: 50 }, (_, j) => {
            const tenant = `tenant-${i + j}`;
            return {
              tenant,
              payload: planEvent(tenant, "k", [
                op.createNode(T.Team, "t", { 1: v.str("T"), 2: v.str("t") }),
              ]),
            };
          }),
        );
        peak = Math.max(peak, small.store.openCount);
      }
      expect(peak).toBe(8);
      expect(small.store.openCount).toBe(8);
      // Each open database holds its file, -wal and -shm: bounded by the LRU, not the tenant count.
      expect(fds() - before).toBeLessThanOrEqual(8 * 3);
      expect(readdirSync(small.store.tenantsDir).filter((f) => f.endsWith(".sqlite"))).toHaveLength(
        1_000,
      );
      expect(small.reader.getNode("tenant-0", T.Team, "t")?.id).toBe("t");
      expect(small.reader.getNode("tenant-999", T.Team, "t")?.id).toBe("t");
    } finally {
      await small.close();
    }
  });

  it("reports a corrupt tenant database as tenant-unavailable without affecting other tenants", () => {
    h.plan("good", "k", [op.createNode(T.Team, "t", { 1: v.str("T"), 2: v.str("t") })]);
    writeFileSync(
      h.store.tenantPath("bad"),
      "this is not a database, just text that is long enough ".repeat(20),
    );
    const err = storeError(() => h.reader.getNode("bad", T.Team, "t"));
    expect(err.code).toBe("tenant-unavailable");
    expect(err.message).toMatch(
      /^The database of tenant "bad" cannot be used: file is not a database\.$/,
    );
    expect(h.reader.getNode("good", T.Team, "t")?.id).toBe("t");
  });
});
