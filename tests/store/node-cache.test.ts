/**
 * The node cache (server/store/node-cache.ts) behind a real store, applier and log: a
 * read returns the shared frozen node only while it is the row's committed state, so
 * updates, deletes, failed plans, a reopened tenant file and a schema change are never
 * answered from an older state; the applier's commits drop the nodes they touched, and
 * a commit a cache was not told about drops the tenant's entries; the cache stays within
 * its byte bound. Every write path through every read: read-cache-writes.test.ts.
 */

import { fromBinary } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Direction, type Node } from "../../generated/entdb/v1/entdb_pb.js";
import { WalEventSchema } from "../../generated/entdb/v1/wal_pb.js";
import type { TenantReader } from "../../server/engine.ts";
import { EdgeCache } from "../../server/store/edge-cache.ts";
import { NodeCache } from "../../server/store/node-cache.ts";
import { NODE_COLUMNS, type NodeRow } from "../../server/store/row-codec.ts";
import { openStore } from "../../server/store/store.ts";
import { createTenantReader, READ_LIMITS } from "../../server/store/store-reader.ts";
import { type Harness, openHarness } from "../apply/apply-harness.ts";
import {
  lookupOf,
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

let h: Harness;
let cache: NodeCache;
let reader: TenantReader;
beforeEach(() => {
  // Wired as the server wires it: the applier's commits tell the cache what changed.
  cache = new NodeCache();
  h = openHarness({ onCommitted: (tenant, events) => cache.committed(tenant, events) });
  reader = createTenantReader(h.store, READ_LIMITS, cache);
  h.plan("acme", "seed", [
    op.createNode(T.User, "u1", userFields(1)),
    op.createNode(T.User, "u2", userFields(2)),
    op.createNode(T.User, "u3", userFields(3)),
  ]);
});
afterEach(() => h.close());

const displayName = (n: Node | undefined) => n?.fields[2]?.kind.value;
const query = { filters: [], limit: 10, cursor: "" };

describe("node cache", () => {
  it("answers the same frozen node while the row is unchanged", () => {
    const first = reader.getNode("acme", T.User, "u1");
    expect(first?.version).toBe(1n);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first?.fields)).toBe(true);
    expect(reader.getNode("acme", T.User, "u1")).toBe(first);
    expect(reader.getNodes("acme", T.User, ["u1"])[0]).toBe(first);
    expect(reader.queryNodes("acme", T.User, query).items[0]).toBe(first);
    expect(cache.size).toBe(3);
  });

  it("a frozen node cannot be changed by a caller", () => {
    const node = reader.getNode("acme", T.User, "u1") as { owner: string };
    expect(() => {
      node.owner = "user:eve";
    }).toThrow(TypeError);
  });

  it("answers the new state after an update, in every read", () => {
    const before = reader.getNode("acme", T.User, "u1");
    h.plan("acme", "rename", [op.updateNode(T.User, "u1", { 2: v.str("Renamed") })]);
    const after = reader.getNode("acme", T.User, "u1");
    expect(after).not.toBe(before);
    expect(after?.version).toBe(2n);
    expect(displayName(after)).toBe("Renamed");
    expect(displayName(reader.getNodes("acme", T.User, ["u1"])[0])).toBe("Renamed");
    expect(displayName(reader.queryNodes("acme", T.User, query).items[0])).toBe("Renamed");
    expect(reader.getNode("acme", T.User, "u1")).toBe(after);
  });

  it("does not answer a deleted node", () => {
    expect(reader.getNode("acme", T.User, "u2")?.id).toBe("u2");
    h.plan("acme", "delete", [op.deleteNode(T.User, "u2")]);
    expect(reader.getNode("acme", T.User, "u2")).toBeUndefined();
    expect(reader.getNodes("acme", T.User, ["u1", "u2", "u3"]).map((n) => n.id)).toEqual([
      "u1",
      "u3",
    ]);
    expect(reader.queryNodes("acme", T.User, query).items.map((n) => n.id)).toEqual(["u1", "u3"]);
  });

  it("answers the committed state after a plan that failed part way", () => {
    const before = reader.getNode("acme", T.User, "u1");
    // A cache no commit tells anything: a commit it was not told about drops its entries.
    const untold = createTenantReader(h.store, READ_LIMITS, new NodeCache());
    const untoldBefore = untold.getNode("acme", T.User, "u1");
    // The update applies inside the plan, then the duplicate email fails it: the plan
    // rolls back, and no read saw its update.
    const { outcome } = h.plan("acme", "fails", [
      op.updateNode(T.User, "u1", { 2: v.str("Never") }),
      op.createNode(T.User, "u9", userFields(9, { 1: v.str("user2@example.com") })),
    ]);
    expect(outcome?.results).toEqual([]);
    expect(outcome?.failure).toBeDefined();
    const after = reader.getNode("acme", T.User, "u1");
    expect(after).toEqual(before);
    expect(after?.version).toBe(1n);
    expect(displayName(after)).toBe("User 1");
    const untoldAfter = untold.getNode("acme", T.User, "u1");
    expect(untoldAfter).not.toBe(untoldBefore);
    expect(untoldAfter).toEqual(untoldBefore);
  });

  it("answers a node deleted and created again with the same id from its new row", () => {
    // Ingress mints every id, so only a log written around it can do this; the new row
    // then has the old one's seq, version and (at one ingress time) updated_at, and the
    // commit is what tells the cache.
    const before = reader.getNode("acme", T.User, "u3");
    h.plan("acme", "recreate", [
      op.deleteNode(T.User, "u3"),
      op.createNode(T.User, "u3", userFields(3, { 2: v.str("Second life") })),
    ]);
    const after = reader.getNode("acme", T.User, "u3");
    expect(after).not.toBe(before);
    expect(after?.version).toBe(1n);
    expect(displayName(after)).toBe("Second life");
  });

  it("answers ids by their current rows when a commit reused a deleted row's seq", () => {
    // A cache no commit tells anything: u3's entry keeps the seq of a row deleted since,
    // which the next created node takes (the largest seq is given again); the commits it
    // was not told about drop its entries.
    const untold = createTenantReader(h.store, READ_LIMITS, new NodeCache());
    const ids = (nodes: readonly Node[]) => nodes.map((n) => n.id);
    expect(ids(untold.getNodes("acme", T.User, ["u1", "u2", "u3"]))).toEqual(["u1", "u2", "u3"]);
    const db = h.store.readTenant("acme")!;
    const seqOf = (id: string) => db.stmt("SELECT seq FROM nodes WHERE id = ?").pluck().get(id);
    const u3Seq = seqOf("u3");
    h.plan("acme", "replace", [op.deleteNode(T.User, "u3")]);
    h.plan("acme", "after", [op.createNode(T.User, "u4", userFields(4))]);
    expect(seqOf("u4")).toBe(u3Seq);
    expect(ids(untold.getNodes("acme", T.User, ["u3", "u4", "u1", "u3"]))).toEqual(["u4", "u1"]);
    expect(ids(untold.getNodes("acme", 0, ["u4", "u2", "nope", "u4"]))).toEqual(["u4", "u2"]);
    expect(untold.getNodes("acme", T.Team, ["u4", "u2"])).toEqual([]);
    // An update keeps the seq: the row is found there, and its new state answered.
    h.plan("acme", "rename", [op.updateNode(T.User, "u2", { 2: v.str("Renamed") })]);
    expect(untold.getNodes("acme", T.User, ["u2"]).map(displayName)).toEqual(["Renamed"]);
  });

  it("decodes the rows of a reopened tenant file again", () => {
    const before = reader.getNode("acme", T.User, "u1");
    const other = openStore({
      dataDir: h.dataDir,
      schemas: lookupOf(served(1, TRACKER_V1)),
    });
    try {
      const again = createTenantReader(other, READ_LIMITS, cache).getNode("acme", T.User, "u1");
      expect(again).not.toBe(before);
      expect(again).toEqual(before);
    } finally {
      other.close();
    }
  });

  it("decodes a row again under another schema model", () => {
    const db = h.store.readTenant("acme")!;
    const row = db.stmt(`SELECT ${NODE_COLUMNS} FROM nodes WHERE id = ?`).get("u1") as NodeRow;
    const v1 = cache.node(db, TRACKER_V1, row);
    expect(cache.node(db, TRACKER_V1, row)).toBe(v1);
    expect(cache.cached(db, TRACKER_V2, row)).toBeUndefined();
    expect(cache.node(db, TRACKER_V2, row)).not.toBe(v1);
  });

  it("is told by commits which nodes changed, and drops a tenant on a schema change", () => {
    reader.getNodes("acme", T.User, ["u1", "u2", "u3"]);
    expect(cache.size).toBe(3);
    const event = (payload: Uint8Array) => ({ event: fromBinary(WalEventSchema, payload) });
    cache.committed("acme", [
      event(planEvent("acme", "k", [op.updateNode(T.User, "u1", { 2: v.str("x") })])),
      event(planEvent("acme", "k2", [op.deleteNode(T.User, "u2")])),
    ]);
    expect(cache.size).toBe(1);
    cache.committed("other", [event(planEvent("other", "k3", [op.deleteNode(T.User, "u3")]))]);
    expect(cache.size).toBe(1);
    cache.committed("acme", [event(schemaChangeEvent("acme", served(2, TRACKER_V2)))]);
    expect(cache.size).toBe(0);
    expect(cache.bytes).toBe(0);
  });

  it("does not share a node that holds bytes", () => {
    h.plan("acme", "avatar", [
      op.createNode(T.User, "u4", userFields(4, { 5: v.bytes(new Uint8Array([1, 2, 3])) })),
    ]);
    const first = reader.getNode("acme", T.User, "u4");
    expect(first?.fields[5]?.kind.value).toEqual(new Uint8Array([1, 2, 3]));
    expect(Object.isFrozen(first)).toBe(false);
    expect(reader.getNode("acme", T.User, "u4")).not.toBe(first);
  });

  it("stays within its byte bound, evicting the least recently used first", () => {
    const one = new NodeCache();
    createTenantReader(h.store, READ_LIMITS, one).getNode("acme", T.User, "u1");
    const entry = one.bytes;
    const small = new NodeCache(entry * 2);
    const r = createTenantReader(h.store, READ_LIMITS, small);
    const u1 = r.getNode("acme", T.User, "u1");
    const u2 = r.getNode("acme", T.User, "u2");
    r.getNode("acme", T.User, "u3");
    expect(small.size).toBe(2);
    expect(small.bytes).toBeLessThanOrEqual(entry * 2);
    expect(r.getNode("acme", T.User, "u2")).toBe(u2);
    expect(r.getNode("acme", T.User, "u1")).not.toBe(u1);
  });

  it("keeps a node hit while it fills more than half its bound, evicting older ones first", () => {
    h.plan("acme", "more", [
      op.createNode(T.User, "u4", userFields(4)),
      op.createNode(T.User, "u5", userFields(5)),
    ]);
    const one = new NodeCache();
    createTenantReader(h.store, READ_LIMITS, one).getNode("acme", T.User, "u1");
    const small = new NodeCache(one.bytes * 4);
    const r = createTenantReader(h.store, READ_LIMITS, small);
    const [u1, u2, u3] = ["u1", "u2", "u3"].map((id) => r.getNode("acme", T.User, id));
    // Three of four entries: past half the bound, so the hit moves u1 to the recent end.
    expect(r.getNode("acme", T.User, "u1")).toBe(u1);
    r.getNode("acme", T.User, "u4");
    r.getNode("acme", T.User, "u5");
    expect(small.size).toBe(4);
    expect(r.getNode("acme", T.User, "u1")).toBe(u1);
    expect(r.getNode("acme", T.User, "u3")).toBe(u3);
    expect(r.getNode("acme", T.User, "u2")).not.toBe(u2);
  });
});

describe("edge cache", () => {
  const memberOf = (role: number, sinceMs: number) => ({ 1: v.enum(role), 2: v.ts(sinceMs) });
  const out = { direction: Direction.OUT, limit: 10, cursor: "", includeCount: false };

  beforeEach(() => {
    h.plan("acme", "team", [
      op.createNode(T.Team, "t1", { 1: v.str("Team"), 2: v.str("team") }),
      op.createEdge(T.MemberOf, "u1", "t1", memberOf(1, T0_MS)),
    ]);
  });

  it("answers the same frozen edge while the row is unchanged", () => {
    const [first] = reader.listEdges("acme", T.MemberOf, "u1", out).items;
    expect(first?.toId).toBe("t1");
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first?.props)).toBe(true);
    expect(reader.listEdges("acme", T.MemberOf, "u1", out).items[0]).toBe(first);
    const inbound = { ...out, direction: Direction.IN };
    expect(reader.listEdges("acme", T.MemberOf, "t1", inbound).items[0]).toBe(first);
  });

  it("answers an edge deleted and created again from its new row", () => {
    const [first] = reader.listEdges("acme", T.MemberOf, "u1", out).items;
    h.plan("acme", "again", [
      op.deleteEdge(T.MemberOf, "u1", "t1"),
      op.createEdge(T.MemberOf, "u1", "t1", memberOf(2, T0_MS)),
    ]);
    const [second] = reader.listEdges("acme", T.MemberOf, "u1", out).items;
    expect(second).not.toBe(first);
    expect(second?.props[1]?.kind.value).toBe(2);
    h.plan("acme", "gone", [op.deleteEdge(T.MemberOf, "u1", "t1")]);
    expect(reader.listEdges("acme", T.MemberOf, "u1", out).items).toEqual([]);
  });

  it("stays within its bound, evicting the least recently used node's edges first", () => {
    h.plan("acme", "more", [
      op.createEdge(T.MemberOf, "u2", "t1", memberOf(1, T0_MS)),
      op.createEdge(T.MemberOf, "u3", "t1", memberOf(1, T0_MS)),
    ]);
    // A node's entry with one edge and its order of one id counts 3: room for two.
    const edges = new EdgeCache(6);
    const r = createTenantReader(h.store, READ_LIMITS, new NodeCache(), edges);
    const first = (node: string) => r.listEdges("acme", T.MemberOf, node, out).items[0];
    const [e1, e2] = [first("u1"), first("u2")];
    expect(edges.size).toBe(2);
    expect(first("u2")).toBe(e2);
    const e3 = first("u3");
    expect(edges.size).toBe(2);
    expect(first("u2")).toBe(e2);
    expect(first("u3")).toBe(e3);
    expect(first("u1")).not.toBe(e1);
    expect(first("u1")).toEqual(e1);
    expect(edges.size).toBe(2);
  });
});
