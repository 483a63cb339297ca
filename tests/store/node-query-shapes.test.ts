import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import {
  type Filter,
  FilterOp,
  FilterSchema,
  OrderBySchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import type { Value } from "../../generated/entdb/v1/values_pb.js";
import { nodeById } from "../../schema/model.ts";
import { compileNodeQuery, type NodeQuery } from "../../server/store/node-query.ts";
import { StoreError } from "../../server/store/store-error.ts";
import { dueCursor, T, TRACKER_V1, v } from "./store-fixtures.ts";

const task = nodeById(TRACKER_V1, T.Task)!;
const filter = (fieldId: number, o: FilterOp, ...values: Value[]): Filter =>
  create(FilterSchema, { fieldId, op: o, values });
const byDue = create(OrderBySchema, { fieldId: 7, descending: false });
const DUE = `json_extract(payload, '$."7"')`;
const NUMBER = `json_extract(payload, '$."2"')`;
const TITLE = `json_extract(payload, '$."3"')`;
const KEYS = "seq, id";

const compile = (q: Partial<NodeQuery>, hasIndex?: (name: string) => boolean) =>
  compileNodeQuery(
    TRACKER_V1,
    task,
    { filters: [], limit: 10, cursor: "", columns: "keys", ...q },
    hasIndex,
  );

describe("compiled query shapes", () => {
  it("gives a query with other values the same text and binds the new values", () => {
    const at = (ms: number, after: bigint, lastId: string) => {
      const filters = [filter(7, FilterOp.GTE, v.ts(ms))];
      return compile({ filters, orderBy: byDue, cursor: dueCursor(filters, after, lastId) });
    };
    const a = at(1_000, 5_000_000n, "task0005");
    const b = at(2_000, 9_000_000n, "task0009");
    const text =
      `SELECT ${KEYS} FROM nodes WHERE type_id = 4 AND ${DUE} >= +? AND ` +
      `(${DUE} >= +? AND (${DUE} > +? OR id > +?)) ORDER BY ${DUE} ASC, id ASC LIMIT +?`;
    expect(a.sql).toBe(text);
    expect(b.sql).toBe(text);
    expect(a.params).toEqual([1_000_000n, 5_000_000n, 5_000_000n, "task0005", 11n]);
    expect(b.params).toEqual([2_000_000n, 9_000_000n, 9_000_000n, "task0009", 11n]);
    expect(a.filters).not.toBe(b.filters);
  });

  it("tells apart the shapes whose text differs: nulls, IN lengths, prefixes, cursors, the index", () => {
    const texts = new Set<string>();
    const where = (q: Partial<NodeQuery>, hasIndex?: (name: string) => boolean) => {
      const sql = compile(q, hasIndex).sql;
      texts.add(sql);
      return sql.slice(sql.indexOf(" WHERE ") + 7, sql.indexOf(" ORDER BY "));
    };
    const base = "type_id = 4";
    // Each shape twice, with other values, so a second compile of a shape is checked too.
    for (const n of [1n, 2n]) {
      expect(where({ filters: [filter(2, FilterOp.EQ, v.int(n))] })).toBe(
        `${base} AND ${NUMBER} = +?`,
      );
      expect(where({ filters: [filter(2, FilterOp.EQ, v.null())] })).toBe(
        `${base} AND ${NUMBER} IS NULL`,
      );
      expect(where({ filters: [filter(2, FilterOp.NE, v.null())] })).toBe(
        `${base} AND ${NUMBER} IS NOT NULL`,
      );
      expect(where({ filters: [filter(2, FilterOp.NE, v.int(n))] })).toBe(
        `${base} AND ${NUMBER} IS NOT +?`,
      );
      expect(where({ filters: [filter(2, FilterOp.IN, v.int(n), v.int(n + 1n))] })).toBe(
        `${base} AND ${NUMBER} IN (+?, +?)`,
      );
      expect(
        where({ filters: [filter(2, FilterOp.IN, v.int(n), v.int(n + 1n), v.int(n + 2n))] }),
      ).toBe(`${base} AND ${NUMBER} IN (+?, +?, +?)`);
      expect(where({ filters: [filter(3, FilterOp.PREFIX, v.str(`Fix${n}`))] })).toBe(
        `${base} AND ${TITLE} >= +? AND ${TITLE} < +?`,
      );
      expect(where({ filters: [filter(3, FilterOp.PREFIX, v.str(""))] })).toBe(
        `${base} AND ${TITLE} IS NOT NULL`,
      );
      expect(where({ filters: [filter(3, FilterOp.PREFIX, v.str("\u{10FFFF}"))] })).toBe(
        `${base} AND ${TITLE} >= +?`,
      );
      expect(where({ filters: [filter(3, FilterOp.CONTAINS, v.str(`bug ${n}`))] })).toBe(
        `${base} AND instr(${TITLE}, +?) > 0`,
      );
      expect(where({ filters: [filter(9, FilterOp.CONTAINS, v.str(`ui${n}`))] })).toBe(
        `${base} AND EXISTS (SELECT 1 FROM json_each(nodes.payload, '$."9"') WHERE json_each.value = +?)`,
      );
      expect(where({ orderBy: byDue, cursor: dueCursor([], null, `task000${n}`) })).toBe(
        `${base} AND ((${DUE} IS NULL AND id > +?) OR ${DUE} IS NOT NULL)`,
      );
      expect(where({ orderBy: byDue, cursor: dueCursor([], 7n, `task000${n}`) })).toBe(
        `${base} AND (${DUE} >= +? AND (${DUE} > +? OR id > +?))`,
      );
      expect(where({ hidden: { sql: "owner = +?", params: [`u${n}`] } })).toBe(
        `${base} AND NOT owner = +?`,
      );
      expect(where({ hidden: { sql: "owner IS NOT +?", params: [`u${n}`] } })).toBe(
        `${base} AND NOT owner IS NOT +?`,
      );
    }
    const indexed = compile({ orderBy: byDue }, (name) => name === "ix_n4_f7").sql;
    const unindexed = compile({ orderBy: byDue }).sql;
    expect(indexed).toContain("FROM nodes INDEXED BY ix_n4_f7 WHERE");
    expect(unindexed).toContain("FROM nodes WHERE");
    // The named index holds the sort key, so the page reads it; otherwise it is not read.
    const selected = (sql: string) => sql.slice(0, sql.indexOf(" FROM "));
    expect(selected(indexed)).toBe(`SELECT ${KEYS}, ${DUE} AS sort_key`);
    expect(selected(unindexed)).toBe(`SELECT ${KEYS}`);
    expect(compile({ columns: "rows" }).sql).toMatch(/^SELECT seq, id, type_id, payload, /);
    expect(compile({ arm: true }).sql).not.toContain("LIMIT");
    expect(texts.size).toBe(15);
  });

  it("still checks every call's values once its shape is compiled", () => {
    compile({ filters: [filter(7, FilterOp.GTE, v.ts(1_000))] });
    let caught: unknown;
    try {
      compile({ filters: [filter(7, FilterOp.GTE, v.ts(1_000), v.ts(2_000))] });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(StoreError);
    expect((caught as StoreError).code).toBe("invalid-argument");
    expect((caught as StoreError).message).toBe(
      "Filter GTE on Task.due (field 7) takes exactly one value, got 2.",
    );
    expect(() =>
      compile({ filters: [filter(7, FilterOp.GTE, v.ts(1_000))], orderBy: byDue, cursor: "x" }),
    ).toThrow(
      "The cursor is not valid for this request: it does not decode. Start again without a cursor.",
    );
  });
});
