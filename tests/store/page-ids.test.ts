/**
 * Query and edge pages read only the ids from their index (`node-reads.ts`,
 * `edge-reads.ts`) and take the nodes and edges from the caches, reading the ones a cache
 * lacks by id. Pages through a query ordered by an indexed field (ties included), by id,
 * and both edge directions, with caches empty, warm, and holding every other node or
 * edge, and checks each walk gives the same items and the same cursors, and the cursors
 * name the last row's sort key as the cursor codec encodes it.
 */

import { create } from "@bufbuild/protobuf";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  Direction,
  FilterOp,
  FilterSchema,
  OrderBySchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import type { TenantReader } from "../../server/engine.ts";
import { EdgeCache } from "../../server/store/edge-cache.ts";
import { NodeCache } from "../../server/store/node-cache.ts";
import { encodeNodeCursor, filtersDigest } from "../../server/store/page-cursor.ts";
import { createTenantReader, READ_LIMITS } from "../../server/store/store-reader.ts";
import { type Harness, openHarness } from "../apply/apply-harness.ts";
import { op, served, T, T0_MS, TRACKER_V1, userFields, v } from "./store-fixtures.ts";

const USERS = 23;
/** User i joined at T0 + floor(i / 2) s: pairs of users share a key, ordered by id. */
const joinedMs = (i: number) => T0_MS + Math.floor(i / 2) * 1_000;
const userId = (i: number) => `u${String(i).padStart(2, "0")}`;
const member = { 1: v.enum(1), 2: v.ts(T0_MS) };

describe("pages that read ids from their index", () => {
  let h: Harness;
  beforeEach(() => {
    h = openHarness({ schemas: [served(1, TRACKER_V1)] });
    const ops = [op.createNode(T.Team, "t1", { 1: v.str("Team"), 2: v.str("team") })];
    // Created out of order, so neither the id order nor the key order is the insert order.
    for (let k = 0; k < USERS; k++) {
      const i = (k * 7) % USERS;
      ops.push(op.createNode(T.User, userId(i), userFields(i, { 6: v.ts(joinedMs(i)) })));
    }
    for (let i = 0; i < USERS; i++) ops.push(op.createEdge(T.MemberOf, userId(i), "t1", member));
    for (const team of ["t2", "t3", "t4", "t5"]) {
      ops.push(op.createNode(T.Team, team, { 1: v.str(team), 2: v.str(team) }));
      ops.push(op.createEdge(T.MemberOf, userId(3), team, member));
    }
    const { outcome } = h.plan("acme", "seed", ops);
    expect(outcome?.failure).toBeUndefined();
  });
  afterEach(() => h.close());

  type Walk = { readonly pages: string[][]; readonly cursors: string[] };

  /** Every page of `read` from the start, with `reader`. */
  function walk(
    read: (cursor: string) => { items: readonly unknown[]; nextCursor: string },
    id: (x: never) => string,
  ): Walk {
    const pages: string[][] = [];
    const cursors: string[] = [];
    let cursor = "";
    do {
      const page = read(cursor);
      pages.push(page.items.map((x) => id(x as never)));
      cursors.push(page.nextCursor);
      cursor = page.nextCursor;
    } while (cursor !== "" && pages.length < 50);
    return { pages, cursors };
  }

  /** A reader with fresh caches, and a way to fill them with every other node and edge. */
  function readers(): { cold: () => TenantReader; warm: TenantReader; half: TenantReader } {
    const warm = createTenantReader(h.store, READ_LIMITS, new NodeCache(), new EdgeCache());
    const half = createTenantReader(h.store, READ_LIMITS, new NodeCache(), new EdgeCache());
    for (let i = 0; i < USERS; i += 2) half.getNode("acme", T.User, userId(i));
    half.listEdges("acme", T.MemberOf, userId(3), {
      direction: Direction.OUT,
      limit: 2,
      cursor: "",
      includeCount: false,
    });
    return {
      cold: () => createTenantReader(h.store, READ_LIMITS, new NodeCache(), new EdgeCache()),
      warm,
      half,
    };
  }

  it("a query ordered by an indexed field, and by id: the same pages and cursors whatever the caches hold", () => {
    const filters = [
      create(FilterSchema, { fieldId: 6, op: FilterOp.GTE, values: [v.ts(joinedMs(3))] }),
    ];
    for (const orderBy of [
      create(OrderBySchema, { fieldId: 6, descending: false }),
      create(OrderBySchema, { fieldId: 6, descending: true }),
      undefined,
    ]) {
      const { cold, warm, half } = readers();
      const query = (reader: TenantReader) => (cursor: string) =>
        reader.queryNodes("acme", T.User, {
          filters,
          ...(orderBy ? { orderBy } : {}),
          limit: 4,
          cursor,
        });
      const id = (n: { id: string }) => n.id;
      const first = walk(query(cold()), id);
      // Each page from a reader whose caches start empty.
      const fresh = walk((cursor) => query(cold())(cursor), id);
      warm.queryNodes("acme", T.User, { filters, limit: 100, cursor: "" });
      expect(walk(query(warm), id)).toEqual(first);
      expect(walk(query(half), id)).toEqual(first);
      expect(fresh).toEqual(first);

      const expected = Array.from({ length: USERS }, (_, i) => i)
        .filter((i) => joinedMs(i) >= joinedMs(3))
        .sort((a, b) =>
          orderBy === undefined
            ? a - b
            : (orderBy.descending ? -1 : 1) * (joinedMs(a) - joinedMs(b) || a - b),
        )
        .map(userId);
      expect(first.pages.flat()).toEqual(expected);
      expect(
        first.pages.every((p, i) => p.length === (i < first.pages.length - 1 ? 4 : p.length)),
      ).toBe(true);
      // Each cursor names the page's last row: its id and, ordered by a field, its key.
      first.pages.slice(0, -1).forEach((page, i) => {
        const lastId = page[page.length - 1] as string;
        const n = Number(lastId.slice(1));
        expect(first.cursors[i]).toBe(
          encodeNodeCursor({
            typeId: T.User,
            orderField: orderBy ? 6 : 0,
            descending: orderBy?.descending ?? false,
            filters: filtersDigest(filters),
            key: orderBy ? BigInt(joinedMs(n)) * 1_000n : null,
            lastId,
          }),
        );
      });
      expect(first.cursors.at(-1)).toBe("");
    }
  });

  it("edge pages both ways: the same pages and cursors whatever the caches hold", () => {
    for (const [node, direction, all] of [
      ["t1", Direction.IN, Array.from({ length: USERS }, (_, i) => `${userId(i)}>t1`)],
      [userId(3), Direction.OUT, ["t1", "t2", "t3", "t4", "t5"].map((t) => `${userId(3)}>${t}`)],
    ] as const) {
      const { cold, warm, half } = readers();
      const list = (reader: TenantReader) => (cursor: string) =>
        reader.listEdges("acme", T.MemberOf, node, {
          direction,
          limit: 2,
          cursor,
          includeCount: false,
        });
      const id = (e: { fromId: string; toId: string }) => `${e.fromId}>${e.toId}`;
      const first = walk(list(cold()), id);
      warm.listEdges("acme", T.MemberOf, node, {
        direction,
        limit: 100,
        cursor: "",
        includeCount: false,
      });
      expect(walk(list(warm), id)).toEqual(first);
      expect(walk(list(half), id)).toEqual(first);
      expect(walk((cursor) => list(cold())(cursor), id)).toEqual(first);
      expect(first.pages.flat()).toEqual(all);
      expect(first.cursors.at(-1)).toBe("");
      expect(first.cursors.slice(0, -1).every((c) => c !== "")).toBe(true);
    }
  });
});
