/**
 * The query page cache's own rules (server/store/query-page-cache.ts), on a real tenant
 * file: which queries share a key, what is kept, what the bound drops first. What makes a
 * kept page stale (a commit, a new handle, a newer model) is tested through the reader
 * in `read-cache-writes.test.ts` and through a server in `tests/e2e/query-pages.test.ts`.
 */

import { create } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  FilterOp,
  FilterSchema,
  type Node,
  NodeSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import { pageWireBoxOf } from "../../server/store/edge-cache.ts";
import { freezeMessage } from "../../server/store/node-cache.ts";
import { pageKey, QueryPageCache } from "../../server/store/query-page-cache.ts";
import type { TenantDb } from "../../server/store/tenant-db.ts";
import { type Harness, openHarness } from "../apply/apply-harness.ts";
import { op, T, userFields, v } from "./store-fixtures.ts";

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
    const kept = cache.keep(db, model, "k", page);
    expect(kept.items).toEqual(page.items);
    expect(kept.items).not.toBe(page.items);
    expect(Object.isFrozen(kept.items)).toBe(true);
    expect(pageWireBoxOf(kept.items)).toEqual({
      fieldNo: 0,
      bytes: undefined,
      answer: undefined,
      answerTail: [],
    });
    expect(cache.page(db, model, "k")).toBe(kept);
    expect(cache.page(db, model, "other")).toBeUndefined();
  });

  it("do not keep a page holding a node that is not frozen", () => {
    const cache = new QueryPageCache();
    const model = h.store.readModel(db)!;
    const page = { items: [frozenNode("a"), create(NodeSchema, { id: "b" })], nextCursor: "" };
    expect(cache.keep(db, model, "k", page)).toBe(page);
    expect(cache.page(db, model, "k")).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("drop the pages kept first when they hold more nodes than the bound", () => {
    const cache = new QueryPageCache(4);
    const model = h.store.readModel(db)!;
    const two = () => ({ items: [frozenNode("a"), frozenNode("b")], nextCursor: "" });
    cache.keep(db, model, "p1", two());
    cache.keep(db, model, "p2", two());
    expect(cache.size).toBe(2);
    cache.keep(db, model, "p3", two());
    expect(cache.page(db, model, "p1")).toBeUndefined();
    expect(cache.page(db, model, "p2")).toBeDefined();
    expect(cache.page(db, model, "p3")).toBeDefined();
    // A page larger than the bound is answered, not kept.
    const big = { items: ["a", "b", "c", "d", "e"].map(frozenNode), nextCursor: "" };
    expect(cache.keep(db, model, "big", big)).toBe(big);
    expect(cache.size).toBe(2);
  });

  it("drop every page of the tenant at its next commit", () => {
    const cache = new QueryPageCache();
    const model = h.store.readModel(db)!;
    cache.keep(db, model, "k", { items: [frozenNode("a")], nextCursor: "" });
    h.plan("acme", "more", [op.createNode(T.User, "u2", userFields(2))]);
    expect(cache.page(db, model, "k")).toBeUndefined();
    expect(cache.size).toBe(0);
  });
});
