/**
 * `FtsWrites.flush` (server/store/fts-writes.ts) writes runs of queued rows as multi-row
 * inserts with the text turned into its full-text form in JavaScript; the full-text
 * tables must end up holding what one insert per row through the SQL function
 * `entdb_fts_text` gives, in any mix of runs, types, deletes and re-inserts.
 */

import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FTS_TEXT_FUNCTION, ftsColumnName, ftsTableName } from "../../codegen/index.ts";
import { TenantDb } from "../../server/store/tenant-db.ts";
import { ftsState } from "./fts-state.ts";
import { T, TRACKER_V1, tempDir } from "./store-fixtures.ts";

/** One queued write: a row of type User or Team, or the removal of one. */
type Write =
  | {
      readonly kind: "insert";
      readonly typeId: number;
      readonly seq: number;
      readonly text: (string | null)[];
    }
  | { readonly kind: "delete"; readonly typeId: number; readonly seq: number };

const word = fc.constantFrom(
  "ada",
  "Lovelace",
  "résumé",
  "東京タワー",
  "naïve",
  "zürich",
  "42",
  "",
);
const text = fc.oneof(
  fc.array(word, { maxLength: 5 }).map((w) => w.join(" ")),
  fc.string({ maxLength: 20 }),
  fc.constant(null),
);
/** Runs of inserts into one type (long ones too), and deletes of earlier rows. */
const writes: fc.Arbitrary<Write[]> = fc
  .array(
    fc.oneof(
      fc.record({
        typeId: fc.constantFrom(T.User, T.Team),
        rows: fc.oneof(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 60, max: 150 })),
        texts: fc.array(fc.tuple(text, text), { minLength: 1, maxLength: 8 }),
      }),
      fc.record({ typeId: fc.constantFrom(T.User, T.Team), back: fc.nat({ max: 300 }) }),
    ),
    { maxLength: 8 },
  )
  .map((steps) => {
    const out: Write[] = [];
    let seq = 1;
    for (const step of steps) {
      if ("back" in step) {
        out.push({ kind: "delete", typeId: step.typeId, seq: Math.max(1, seq - step.back) });
        continue;
      }
      for (let i = 0; i < step.rows; i++) {
        const [a, b] = step.texts[i % step.texts.length]!;
        // User has one searchable field (display_name), Team two (name, description).
        const texts = step.typeId === T.User ? [a] : [a, b];
        out.push({ kind: "insert", typeId: step.typeId, seq: seq++, text: texts });
      }
    }
    return out;
  });

describe("FtsWrites.flush", () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => {
    dir = tempDir("fts-writes");
  });
  afterEach(() => dir.remove());

  const open = (name: string): TenantDb => {
    const db = TenantDb.open("acme", join(dir.path, `${name}.db`), true)!;
    db.db.transaction(() => db.migrateTo(TRACKER_V1))();
    return db;
  };

  it("leaves the full-text tables as one insert per row through entdb_fts_text does", () => {
    let run = 0;
    fc.assert(
      fc.property(writes, (list) => {
        run++;
        const batched = open(`batched-${run}`);
        const single = open(`single-${run}`);
        batched.db.transaction(() => {
          for (const w of list) {
            if (w.kind === "delete") batched.ftsWrites.delete(w.typeId, BigInt(w.seq));
            else
              batched.ftsWrites.insert(
                w.typeId,
                BigInt(w.seq),
                batched.ftsFields(w.typeId)!,
                w.text,
              );
          }
          batched.ftsWrites.flush(batched);
        })();
        single.db.transaction(() => {
          for (const w of list) {
            const table = ftsTableName(w.typeId);
            if (w.kind === "delete") {
              single.db.prepare(`DELETE FROM ${table} WHERE rowid = ?`).run(w.seq);
              continue;
            }
            const fields = single.ftsFields(w.typeId)!;
            single.db
              .prepare(
                `INSERT INTO ${table}(rowid, ${fields.map(ftsColumnName).join(", ")}) VALUES (?, ${fields.map(() => `${FTS_TEXT_FUNCTION}(?)`).join(", ")})`,
              )
              .run(w.seq, ...w.text);
          }
        })();
        expect(batched.ftsWrites.isEmpty).toBe(true);
        batched.close();
        single.close();
        const got = ftsState(batched.path);
        expect(got).toEqual(ftsState(single.path));
        const rows = list.filter((w) => w.kind === "insert").length;
        if (rows > 0) expect(Object.values(got).some((lines) => lines.length > 0)).toBe(true);
      }),
      { numRuns: 25 },
    );
  });
});
