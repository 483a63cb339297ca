/**
 * `ftsPopulateSql` (codegen/store-layout/tenant-ddl.ts) fills a new full-text table from
 * the stored nodes, calling `entdb_fts_text` only for values with a character outside
 * printable ASCII; the table must end up holding what calling it for every value gives
 * (CJK text split into characters, everything else as stored), for any text, control
 * characters and values that are no text included.
 */

import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  FTS_TEXT_FUNCTION,
  ftsColumnName,
  ftsPopulateSql,
  ftsTableName,
  nodeFieldExpr,
} from "../../codegen/index.ts";
import { TenantDb } from "../../server/store/tenant-db.ts";
import { ftsState } from "./fts-state.ts";
import { T, TRACKER_V1, tempDir } from "./store-fixtures.ts";

/** A Team's searchable fields: name (1) and description (3). */
const FIELDS = [1, 3] as const;

const word = fc.constantFrom(
  "ada",
  "Lovelace",
  "résumé",
  "東京タワー",
  "서울",
  "a東b",
  "naïve",
  "tab\there",
  "line\nbreak",
  "~[*?]^",
  "\u007f",
  "42",
  "",
);
/** A field's stored JSON value: text of any kind, or a number, a bool, null, absent. */
const value = fc.oneof(
  fc.array(word, { maxLength: 5 }).map((w) => w.join(" ")),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
);

describe("ftsPopulateSql", () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir("fts-populate");
  });
  afterEach(() => dir.remove());

  it("fills a full-text table as entdb_fts_text on every value does", () => {
    let run = 0;
    fc.assert(
      fc.property(fc.array(fc.tuple(value, value), { minLength: 1, maxLength: 40 }), (rows) => {
        run++;
        const files = ["gated", "every"].map((name) => {
          const db = TenantDb.open("acme", join(dir.path, `${name}-${run}.db`), true)!;
          const insert = db.db.prepare(
            "INSERT INTO nodes (id, type_id, payload, version, owner, created_at, updated_at) VALUES (?, ?, ?, 1, 'user:a', 0, 0)",
          );
          rows.forEach(([a, b], i) => {
            const payload: Record<string, unknown> = {};
            if (a !== undefined) payload[FIELDS[0]] = a;
            if (b !== undefined) payload[FIELDS[1]] = b;
            insert.run(`n${i}`, T.Team, JSON.stringify(payload));
          });
          // Created with the tables, then filled: the gated statement, or the function on
          // every value (what the statement was).
          db.db.transaction(() => db.migrateTo(TRACKER_V1))();
          const table = ftsTableName(T.Team);
          db.db.exec(`DELETE FROM ${table}`);
          db.db.exec(
            name === "gated"
              ? ftsPopulateSql(T.Team, FIELDS)
              : `INSERT INTO ${table}(rowid, ${FIELDS.map(ftsColumnName).join(", ")}) SELECT seq, ${FIELDS.map((f) => `${FTS_TEXT_FUNCTION}(${nodeFieldExpr(f)})`).join(", ")} FROM nodes WHERE type_id = ${T.Team}`,
          );
          db.close();
          return join(dir.path, `${name}-${run}.db`);
        });
        const gated = ftsState(files[0]!);
        expect(gated).toEqual(ftsState(files[1]!));
        expect(gated[`${ftsTableName(T.Team)}_content`]).toHaveLength(rows.length);
      }),
      { numRuns: 40 },
    );
  });
});

describe("ftsPopulateSql's order", () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir("fts-populate-order");
  });
  afterEach(() => dir.remove());

  it("fills a table as one segment whatever order the node ids are in", () => {
    const segments = (ids: (i: number) => string) => {
      const db = TenantDb.open("acme", join(dir.path, `${ids(0)}.db`), true)!;
      const insert = db.db.prepare(
        "INSERT INTO nodes (id, type_id, payload, version, owner, created_at, updated_at) VALUES (?, ?, ?, 1, 'user:a', 0, 0)",
      );
      db.db.transaction(() => {
        for (let i = 0; i < 500; i++)
          insert.run(ids(i), T.Team, JSON.stringify({ 1: `team ${i}`, 3: `about ${i % 7}` }));
      })();
      // The migration makes the full-text table and fills it (nodes_by_type: id order).
      db.db.transaction(() => db.migrateTo(TRACKER_V1))();
      const table = ftsTableName(T.Team);
      const count = (sql: string) => Number((db.db.prepare(sql).get() as { n: bigint }).n);
      const out = {
        segments: count(`SELECT count(DISTINCT segid) AS n FROM ${table}_idx`),
        rows: count(`SELECT count(*) AS n FROM ${table}_content`),
      };
      db.close();
      return out;
    };
    const pad = (n: number) => String(n).padStart(4, "0");
    // Ids in the nodes' order, then against it (each id sorts before the one stored before it).
    expect(segments((i) => `a${pad(i)}`)).toEqual({ segments: 1, rows: 500 });
    expect(segments((i) => `d${pad(9999 - i)}`)).toEqual({ segments: 1, rows: 500 });
  });
});
