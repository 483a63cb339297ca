/**
 * The query page cache's own rules (server/store/query-page-cache.ts), on a real tenant
 * file: which queries share a key, what is kept, what the bound drops first, and which
 * pages a commit it is told of drops (those of the node types the commit's node steps
 * name; every page after an event that is not a plan, or after a commit it missed). What
 * makes a kept page stale through every write path is tested through the reader in
 * `read-cache-writes.test.ts` and through a server in `tests/e2e/query-pages.test.ts`.
 */

import { create } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  FilterOp,
  FilterSchema,
  type Node,
  NodeSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import type { TenantReader } from "../../server/engine.ts";
import { pageWireBoxOf } from "../../server/store/edge-cache.ts";
import { freezeMessage, NodeCache } from "../../server/store/node-cache.ts";
import { pageKey, QueryPageCache } from "../../server/store/query-page-cache.ts";
import { createTenantReader, READ_LIMITS } from "../../server/store/store-reader.ts";
import type { TenantDb } from "../../server/store/tenant-db.ts";
import { type Harness, openHarness } from "../apply/apply-harness.ts";
import { accessEvent, op, T, userFields, v } from "./store-fixtures.ts";

const eq = (fieldId: number, value: string) =>
  create(FilterSchema, { fieldId, op: FilterOp.EQ, values: [v.str(value)] });
const query = { filters: [eq(2, "a")], limit: 10, cursor: "" };

function frozenNode(id: string): Node {
  const node = create(NodeSchema, { id, typeId: T.User });
  expect(freezeMessage(node)).toBe(true);
  return node;
}

describe("query page keys", () => {
  it("differ when any part of the query differs, however its texts could be joined", () => {
    const keys = [
      pageKey(1, query),
      pageKey(2, query),
      pageKey(1, { ...query, limit: 11 }),
      pageKey(1, { ...query, cursor: "c" }),
      pageKey(1, { ...query, cursor: "c;1" }),
      pageKey(1, {
        ...query,
        orderBy: { $typeName: "entdb.v1.OrderBy", fieldId: 0, descending: false },
      }),
      pageKey(1, {
        ...query,
        orderBy: { $typeName: "entdb.v1.OrderBy", fieldId: 0, descending: true },
      }),
      pageKey(1, {
        ...query,
        orderBy: { $typeName: "entdb.v1.OrderBy", fieldId: 6, descending: false },
      }),
      pageKey(1, { ...query, filters: [eq(2, "b")] }),
      pageKey(1, { ...query, filters: [eq(3, "a")] }),
      pageKey(1, { ...query, filters: [] }),
      pageKey(1, { ...query, filters: [eq(2, "a"), eq(2, "a")] }),
    ];
    expect(keys.every((k) => k !== undefined)).toBe(true);
    expect(new Set(keys).size).toBe(keys.length);
    expect(pageKey(1, { ...query })).toBe(keys[0]);
  });

  it("are not made for a query whose filters are not keyed or whose cursor is long", () => {
    const bytes = create(FilterSchema, {
      fieldId: 5,
      op: FilterOp.EQ,
      values: [{ kind: { case: "bytesValue", value: new Uint8Array([1]) } }],
    });
    expect(pageKey(1, { ...query, filters: [bytes] })).toBeUndefined();
    expect(pageKey(1, { ...query, cursor: "x".repeat(513) })).toBeUndefined();
  });
});

describe("kept query pages", () => {
  let h: Harness;
  let db: TenantDb;

  beforeEach(() => {
    h = openHarness();
    h.plan("acme", "seed", [op.createNode(T.User, "u1", userFields(1))]);
    db = h.store.tenant("acme", false)!;
  });
  afterEach(() => h.close());

  it("answer the same key with the kept page, a frozen array with a wire box", () => {
    const cache = new QueryPageCache();
    const model = h.store.readModel(db)!;
    const page = { items: [frozenNode("a"), frozenNode("b")], nextCursor: "next" };
    const kept = cache.keep(db, model, T.User, "k", page);
    expect(kept.items).toEqual(page.items);
    expect(kept.items).not.toBe(page.items);
    expect(Object.isFrozen(kept.items)).toBe(true);
    expect(pageWireBoxOf(kept.items)).toEqual({
      fieldNo: 0,
      bytes: undefined,
      answer: undefined,
      answerTail: [],
    });
    expect(cache.page(db, model, T.User, "k")).toBe(kept);
    expect(cache.page(db, model, T.User, "other")).toBeUndefined();
  });

  it("do not keep a page holding a node that is not frozen", () => {
    const cache = new QueryPageCache();
    const model = h.store.readModel(db)!;
    const page = { items: [frozenNode("a"), create(NodeSchema, { id: "b" })], nextCursor: "" };
    expect(cache.keep(db, model, T.User, "k", page)).toBe(page);
    expect(cache.page(db, model, T.User, "k")).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("drop the pages kept first when they hold more nodes than the bound", () => {
    const cache = new QueryPageCache(4);
    const model = h.store.readModel(db)!;
    const two = () => ({ items: [frozenNode("a"), frozenNode("b")], nextCursor: "" });
    cache.keep(db, model, T.User, "p1", two());
    cache.keep(db, model, T.User, "p2", two());
    expect(cache.size).toBe(2);
    cache.keep(db, model, T.User, "p3", two());
    expect(cache.page(db, model, T.User, "p1")).toBeUndefined();
    expect(cache.page(db, model, T.User, "p2")).toBeDefined();
    expect(cache.page(db, model, T.User, "p3")).toBeDefined();
    // A page larger than the bound is answered, not kept.
    const big = { items: ["a", "b", "c", "d", "e"].map(frozenNode), nextCursor: "" };
    expect(cache.keep(db, model, T.User, "big", big)).toBe(big);
    expect(cache.size).toBe(2);
  });

  it("drop every page of the tenant at its next commit", () => {
    const cache = new QueryPageCache();
    const model = h.store.readModel(db)!;
    cache.keep(db, model, T.User, "k", { items: [frozenNode("a")], nextCursor: "" });
    h.plan("acme", "more", [op.createNode(T.User, "u2", userFields(2))]);
    expect(cache.page(db, model, T.User, "k")).toBeUndefined();
    expect(cache.size).toBe(0);
  });
});

describe("kept query pages, told by the applier's commits", () => {
  let h: Harness;
  let pages: QueryPageCache;
  let reader: TenantReader;
  /** Whether the next commits are told to the cache (a cache that missed one drops all). */
  let tell = true;
  const all = { filters: [], limit: 10, cursor: "" };
  const team = (n: number) => ({ 1: v.str(`Team ${n}`), 2: v.str(`team-${n}`) });
  const users = () => reader.queryNodes("acme", T.User, all).items;
  const teams = () => reader.queryNodes("acme", T.Team, all).items;
  const ids = (items: readonly Node[]) => items.map((n) => n.id);

  beforeEach(() => {
    tell = true;
    pages = new QueryPageCache();
    h = openHarness({
      onCommitted: (tenant, events) => {
        if (tell) pages.committed(tenant, events);
      },
    });
    reader = createTenantReader(h.store, READ_LIMITS, new NodeCache(), undefined, pages);
    h.plan("acme", "seed", [
      op.createNode(T.User, "u1", userFields(1)),
      op.createNode(T.Team, "t1", team(1)),
    ]);
  });
  afterEach(() => h.close());

  it("keep the pages of the types a commit's node steps do not name", () => {
    const userPage = users();
    const teamPage = teams();
    expect(users()).toBe(userPage);
    h.plan("acme", "team", [op.createNode(T.Team, "t2", team(2))]);
    expect(users()).toBe(userPage);
    expect(ids(teams())).toEqual(["t1", "t2"]);
    expect(teams()).not.toBe(teamPage);
    h.plan("acme", "user", [op.updateNode(T.User, "u1", { 2: v.str("Renamed") })]);
    expect(users()).not.toBe(userPage);
    expect(users()[0]?.fields[2]?.kind.value).toBe("Renamed");
    // Edge steps write no node row: every page stays.
    const kept = [users(), teams()];
    h.plan("acme", "edge", [op.createEdge(T.MemberOf, "u1", "t1", { 2: v.ts(0) })]);
    expect([users(), teams()]).toEqual(kept);
    expect(users()).toBe(kept[0]);
    expect(teams()).toBe(kept[1]);
  });

  it("drop the pages of every type a commit created, updated or deleted a node of", () => {
    users();
    teams();
    h.plan("acme", "both", [
      op.createNode(T.User, "u2", userFields(2)),
      op.deleteNode(T.Team, "t1"),
    ]);
    expect(ids(users())).toEqual(["u1", "u2"]);
    expect(ids(teams())).toEqual([]);
    h.plan("acme", "team", [op.createNode(T.Team, "t3", team(3))]);
    h.plan("acme", "rename", [op.updateNode(T.Team, "t3", { 1: v.str("Renamed") })]);
    expect(teams().map((n) => n.fields[1]?.kind.value)).toEqual(["Renamed"]);
  });

  it("drop every page after an event that is not a plan", () => {
    const userPage = users();
    const teamPage = teams();
    h.run([
      {
        tenant: "acme",
        payload: accessEvent("acme", "owner", { case: "createTenantOwner", value: "user:ada" }),
      },
    ]);
    expect(users()).not.toBe(userPage);
    expect(teams()).not.toBe(teamPage);
    expect(users()).toEqual(userPage);
  });

  it("drop every page at the first commit told after one they missed", () => {
    users();
    const teamPage = teams();
    tell = false;
    h.plan("acme", "missed", [op.createNode(T.User, "u2", userFields(2))]);
    tell = true;
    // Told of a commit of teams only, with the user page one commit behind.
    h.plan("acme", "team", [op.createNode(T.Team, "t2", team(2))]);
    expect(ids(users())).toEqual(["u1", "u2"]);
    expect(ids(teams())).toEqual(["t1", "t2"]);
    expect(teams()).not.toBe(teamPage);
  });
});
