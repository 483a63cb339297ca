/**
 * Every write reaches the read caches (server/store/node-cache.ts, edge-cache.ts): reads
 * that find their rows in a cache answer them without reading the row again, so each way
 * a committed transaction changes nodes or edges must leave no entry behind. Tests each
 * write (update, delete and its cascade, edge props, edge delete and re-creation, an
 * `if_absent_on` create whose minted id later steps name, a schema change) through every
 * read path (get, GetNodes, get by key, query page, edge pages both ways, traversal),
 * a newer model another tenant's schema change made known (reads decode by the newest),
 * with caches told by the applier's commits as the server wires them and with caches told
 * nothing (a commit they missed drops the tenant's entries); a restricted reader's access
 * decided per row after a grant is revoked; and, from the source, that nothing but the
 * applier's node and edge steps writes those rows and nothing but the applier commits a
 * tenant's state.
 */

import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { create } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Direction, type Node } from "../../generated/entdb/v1/entdb_pb.js";
import { ValueSchema } from "../../generated/entdb/v1/values_pb.js";
import { readScopeOf } from "../../server/acl/read-scope.ts";
import type { TenantReader } from "../../server/engine.ts";
import { readTenantAccess } from "../../server/store/access-tables.ts";
import { EdgeCache } from "../../server/store/edge-cache.ts";
import { NodeCache } from "../../server/store/node-cache.ts";
import { QueryPageCache } from "../../server/store/query-page-cache.ts";
import { createTenantReader, READ_LIMITS } from "../../server/store/store-reader.ts";
import { type Harness, openHarness } from "../apply/apply-harness.ts";
import {
  accessEvent,
  compile,
  op,
  planEvent,
  schemaChangeEvent,
  served,
  T,
  T0_MS,
  TRACKER_V1,
  TRACKER_V2,
  userFields,
  v,
} from "./store-fixtures.ts";

const ROOT = join(import.meta.dirname, "..", "..");

/** The server's non-test TypeScript files, relative to the repository. */
function serverSources(dir = join(ROOT, "server")): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...serverSources(path));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts"))
      out.push(relative(ROOT, path));
  }
  return out;
}

describe("what writes nodes and edges", () => {
  it("only the applier's node and edge steps write their rows, and only the applier commits a tenant's state", () => {
    // A statement that inserts, replaces, updates or deletes rows of `nodes` or `edges`,
    // named directly or through edge-sql.ts's constants.
    const writes =
      /\b(?:INSERT(?:\s+OR\s+\w+)?\s+INTO|REPLACE\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM)\s+(?:nodes|edges|\$\{EDGES\w*\})(?!\w)/i;
    const writers = serverSources().filter((f) => writes.test(readFileSync(join(ROOT, f), "utf8")));
    // edge-sql.ts defines DELETE_EDGES_TO, which only node-ops.ts runs.
    expect(writers.sort()).toEqual([
      "server/apply/edge-ops.ts",
      "server/apply/node-ops.ts",
      "server/store/edge-sql.ts",
    ]);
    const usesDeleteTo = serverSources().filter((f) =>
      readFileSync(join(ROOT, f), "utf8").includes("DELETE_EDGES_TO"),
    );
    expect(usesDeleteTo.sort()).toEqual(["server/apply/node-ops.ts", "server/store/edge-sql.ts"]);
    // Those steps run only inside the applier's tenant transaction, which ends in
    // TenantDb.commitState: the count the caches check moves there and nowhere else.
    const commits = serverSources().filter((f) =>
      /\.commitState\(/.test(readFileSync(join(ROOT, f), "utf8")),
    );
    expect(commits).toEqual(["server/apply/applier.ts"]);
  });
});

const memberOf = (role: number) => ({ 1: v.enum(role), 2: v.ts(T0_MS) });
const name = (n: Node | undefined) => n?.fields[2]?.kind.value;
const out = { direction: Direction.OUT, limit: 10, cursor: "", includeCount: false };
const inbound = { ...out, direction: Direction.IN };
const query = { filters: [], limit: 10, cursor: "" };

for (const told of [true, false]) {
  describe(`the read caches, ${told ? "told by the applier's commits" : "told nothing"}`, () => {
    let h: Harness;
    let reader: TenantReader;
    let nodes: NodeCache;
    let edges: EdgeCache;
    let pages: QueryPageCache;

    beforeEach(() => {
      nodes = new NodeCache();
      edges = new EdgeCache();
      pages = new QueryPageCache();
      h = openHarness({
        schemas: [served(1, TRACKER_V1), served(2, TRACKER_V2)],
        ...(told
          ? {
              onCommitted: (tenant, events) => {
                nodes.committed(tenant, events);
                edges.committed(tenant, events);
                pages.committed(tenant, events);
              },
            }
          : {}),
      });
      reader = createTenantReader(h.store, READ_LIMITS, nodes, edges, pages);
      h.plan("acme", "seed", [
        op.createNode(T.User, "u1", userFields(1)),
        op.createNode(T.User, "u2", userFields(2)),
        op.createNode(T.User, "u3", userFields(3)),
        op.createNode(T.Team, "t1", { 1: v.str("Team"), 2: v.str("team") }),
        op.createEdge(T.MemberOf, "u1", "t1", memberOf(1)),
        op.createEdge(T.MemberOf, "u2", "t1", memberOf(1)),
      ]);
      warm();
    });
    afterEach(() => h.close());

    /** Reads through every path, so each cache holds what they read. */
    function warm(): void {
      for (const id of ["u1", "u2", "u3", "t1"]) reader.getNode("acme", 0, id);
      reader.getNodes("acme", T.User, ["u1", "u2", "u3"]);
      reader.queryNodes("acme", T.User, query);
      reader.listEdges("acme", T.MemberOf, "t1", inbound);
      for (const id of ["u1", "u2"]) reader.listEdges("acme", T.MemberOf, id, out);
      expect(nodes.size).toBe(4);
      // Each edge once in each of its ends' entries: t1's two, u1's and u2's.
      expect(edges.size).toBe(4);
    }

    const byKey = (email: string) =>
      reader.getNodeByKey("acme", T.User, new Map([[1, v.str(email)]]));
    const ids = (list: readonly { readonly id: string }[]) => list.map((n) => n.id);
    const edgeEnds = (node: string, q: typeof out) =>
      reader
        .listEdges("acme", T.MemberOf, node, q)
        .items.map((e) => `${e.fromId}>${e.toId}:${e.props[1]?.kind.value}`);
    const traversed = () =>
      reader
        .traverse("acme", "t1", {
          edgeTypeIds: [T.MemberOf],
          direction: Direction.IN,
          maxDepth: 1,
          maxNodes: 10,
        })
        .nodes.map((t) => `${t.node?.id}:${name(t.node)}`);

    it("answers an update through every read path", () => {
      h.plan("acme", "rename", [op.updateNode(T.User, "u1", { 2: v.str("Renamed") })]);
      expect(name(reader.getNode("acme", T.User, "u1"))).toBe("Renamed");
      expect(reader.getNode("acme", T.User, "u1")?.version).toBe(2n);
      expect(reader.getNodes("acme", T.User, ["u2", "u1"]).map(name)).toEqual([
        "User 2",
        "Renamed",
      ]);
      expect(name(byKey("user1@example.com"))).toBe("Renamed");
      expect(reader.queryNodes("acme", T.User, query).items.map(name)).toEqual([
        "Renamed",
        "User 2",
        "User 3",
      ]);
      expect(traversed()).toContain("u1:Renamed");
    });

    it("answers a deleted node as absent, and its cascaded edges as gone", () => {
      h.plan("acme", "delete", [op.deleteNode(T.User, "u2")]);
      expect(reader.getNode("acme", T.User, "u2")).toBeUndefined();
      expect(reader.getNode("acme", 0, "u2")).toBeUndefined();
      expect(ids(reader.getNodes("acme", T.User, ["u1", "u2", "u3"]))).toEqual(["u1", "u3"]);
      expect(byKey("user2@example.com")).toBeUndefined();
      expect(ids(reader.queryNodes("acme", T.User, query).items)).toEqual(["u1", "u3"]);
      expect(edgeEnds("t1", inbound)).toEqual(["u1>t1:1"]);
      expect(edgeEnds("u2", out)).toEqual([]);
      expect(traversed()).toEqual(["u1:User 1"]);
    });

    it("answers an edge's new props, its deletion and its re-creation, both ways", () => {
      h.plan("acme", "promote", [op.createEdge(T.MemberOf, "u1", "t1", memberOf(2))]);
      expect(edgeEnds("u1", out)).toEqual(["u1>t1:2"]);
      expect(edgeEnds("t1", inbound)).toEqual(["u1>t1:2", "u2>t1:1"]);
      h.plan("acme", "leave", [op.deleteEdge(T.MemberOf, "u1", "t1")]);
      expect(edgeEnds("u1", out)).toEqual([]);
      expect(edgeEnds("t1", inbound)).toEqual(["u2>t1:1"]);
      h.plan("acme", "rejoin", [op.createEdge(T.MemberOf, "u1", "t1", memberOf(3))]);
      expect(edgeEnds("u1", out)).toEqual(["u1>t1:3"]);
      expect(edgeEnds("t1", inbound)).toEqual(["u1>t1:3", "u2>t1:1"]);
    });

    it("answers the node an if_absent_on create resolved to, written by the id it minted", () => {
      // The create finds u1 by its email; the later steps name the minted id "x9", which
      // the applier redirects to u1: the event never names u1.
      const { outcome } = h.plan("acme", "upsert", [
        op.createNode(T.User, "x9", userFields(1), [1]),
        op.updateNode(T.User, "x9", { 2: v.str("Found again") }),
        op.createEdge(T.MemberOf, "x9", "t1", memberOf(3)),
      ]);
      expect(outcome?.results.map((r) => r.id)).toEqual(["u1", "u1", ""]);
      expect(name(reader.getNode("acme", T.User, "u1"))).toBe("Found again");
      expect(reader.getNodes("acme", T.User, ["u1"]).map(name)).toEqual(["Found again"]);
      expect(name(reader.queryNodes("acme", T.User, query).items[0])).toBe("Found again");
      expect(edgeEnds("u1", out)).toEqual(["u1>t1:3"]);
      expect(edgeEnds("t1", inbound)).toEqual(["u1>t1:3", "u2>t1:1"]);
    });

    it("decodes again by the new model after a schema change", () => {
      const node = reader.getNode("acme", T.User, "u1");
      const [edge] = reader.listEdges("acme", T.MemberOf, "u1", out).items;
      expect(reader.getNode("acme", T.User, "u1")).toBe(node);
      h.run([{ tenant: "acme", payload: schemaChangeEvent("acme", served(2, TRACKER_V2)) }]);
      const again = reader.getNode("acme", T.User, "u1");
      expect(again).not.toBe(node);
      expect(again).toEqual(node);
      expect(reader.getNodes("acme", T.User, ["u1"])[0]).toBe(again);
      expect(reader.queryNodes("acme", T.User, query).items[0]).toBe(again);
      const [edgeAgain] = reader.listEdges("acme", T.MemberOf, "u1", out).items;
      expect(edgeAgain).not.toBe(edge);
      expect(edgeAgain).toEqual(edge);
    });

    it("decodes again by a newer model another tenant's schema change made known", () => {
      const node = reader.getNode("acme", T.User, "u1");
      const page = reader.queryNodes("acme", T.User, query).items;
      expect(reader.queryNodes("acme", T.User, query).items).toBe(page);
      // Reads decode by the newest model known; acme itself commits nothing.
      h.run([{ tenant: "other", payload: schemaChangeEvent("other", served(2, TRACKER_V2)) }]);
      const again = reader.getNode("acme", T.User, "u1");
      expect(again).not.toBe(node);
      const pageAgain = reader.queryNodes("acme", T.User, query).items;
      expect(pageAgain).not.toBe(page);
      expect(pageAgain[0]).toBe(again);
      expect(pageAgain).toEqual(page);
    });

    it("keeps answering unchanged nodes and edges from the cache after other writes", () => {
      const u3 = reader.getNode("acme", T.User, "u3");
      const [edge] = reader.listEdges("acme", T.MemberOf, "u2", out).items;
      h.plan("acme", "other", [op.updateNode(T.User, "u1", { 2: v.str("Other") })]);
      // Told, the cache dropped only u1; told nothing, it dropped the tenant's entries.
      expect(reader.getNode("acme", T.User, "u3") === u3).toBe(told);
      expect(reader.listEdges("acme", T.MemberOf, "u2", out).items[0] === edge).toBe(told);
      expect(reader.getNode("acme", T.User, "u3")).toEqual(u3);
    });
  });
}

describe("a restricted reader, with the caches warm", () => {
  const schema = compile(`package test.cachepriv;

node Secret = 1 [visibility = private] {
  title: string = 1 [required];
}
`);
  const ADMIN = { actor: "user:root", actorAdmin: true, openAccess: false };
  const ALICE = { actor: "user:alice", openAccess: false };
  let h: Harness;
  let reader: TenantReader;

  beforeEach(() => {
    const nodes = new NodeCache();
    const edges = new EdgeCache();
    h = openHarness({
      schemas: [served(1, schema)],
      onCommitted: (tenant, events) => {
        nodes.committed(tenant, events);
        edges.committed(tenant, events);
      },
    });
    reader = createTenantReader(h.store, READ_LIMITS, nodes, edges);
    const access = (key: string, change: Parameters<typeof accessEvent>[2], by = ALICE) =>
      h.run([{ tenant: "t", payload: accessEvent("t", key, change, by) }]);
    access("owner", { case: "createTenantOwner", value: "user:alice" }, ADMIN);
    access("bob", { case: "addMember", value: { principal: "user:bob", role: "member" } });
    h.run([
      {
        tenant: "t",
        payload: planEvent(
          "t",
          "secret",
          [
            op.createNode(1, "s1", {
              1: create(ValueSchema, { kind: { case: "stringValue", value: "only shared" } }),
            }),
          ],
          ALICE,
        ),
      },
    ]);
    access("share", {
      case: "share",
      value: { nodeId: "s1", principal: "user:bob", capability: "read" },
    });
  });
  afterEach(() => h.close());

  const bob = () =>
    readScopeOf(
      { id: "user:bob", groups: [] },
      readTenantAccess(h.store.tenant("t", false)!),
      BigInt(T0_MS) * 1000n,
    );
  const seen = () => ({
    get: reader.getNode("t", 1, "s1", bob())?.id,
    many: reader.getNodes("t", 1, ["s1"], bob()).map((n) => n.id),
    page: reader.queryNodes("t", 1, query, bob()).items.map((n) => n.id),
  });

  it("is decided per row: a revoked grant hides a node the cache holds", () => {
    // Read by an unrestricted reader too, so the cache holds the node.
    expect(reader.getNode("t", 1, "s1")?.id).toBe("s1");
    expect(seen()).toEqual({ get: "s1", many: ["s1"], page: ["s1"] });
    h.run([
      {
        tenant: "t",
        payload: accessEvent(
          "t",
          "revoke",
          { case: "revoke", value: { nodeId: "s1", principal: "user:bob" } },
          ALICE,
        ),
      },
    ]);
    expect(reader.getNode("t", 1, "s1")?.id).toBe("s1");
    expect(seen()).toEqual({ get: undefined, many: [], page: [] });
  });
});

describe("a tenant file closed and opened again", () => {
  let h: Harness;
  afterEach(() => h.close());

  it("answers what the new handle's commits wrote, though it counted as many commits", () => {
    // One open file at a time: a write to another tenant closes acme's handle, and the
    // next write opens a new one whose count of commits starts again.
    h = openHarness({ maxOpenTenants: 1 });
    const reader = createTenantReader(h.store, READ_LIMITS);
    h.plan("acme", "seed", [op.createNode(T.User, "u1", userFields(1))]);
    const commits = h.store.tenant("acme", false)!.commits;
    expect(reader.queryNodes("acme", T.User, query).items.map(name)).toEqual(["User 1"]);
    h.plan("other", "seed", [op.createNode(T.User, "o1", userFields(1))]);
    h.plan("acme", "rename", [op.updateNode(T.User, "u1", { 2: v.str("Renamed") })]);
    expect(h.store.tenant("acme", false)!.commits).toBe(commits);
    expect(reader.queryNodes("acme", T.User, query).items.map(name)).toEqual(["Renamed"]);
    expect(name(reader.getNode("acme", T.User, "u1"))).toBe("Renamed");
  });
});
