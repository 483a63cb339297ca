/**
 * The full-text writes of a tenant transaction under way, held back and written just
 * before it commits.
 *
 * Why: once an FTS5 table is part of a transaction, SQLite tells it of every SAVEPOINT,
 * and FTS5 then writes the terms it holds in memory out as a new index segment. The
 * applier opens a savepoint per event, so writing each node's full-text row as it goes
 * makes one tiny segment per event (and the merge work that follows). Written once per
 * transaction, the terms go out as one segment. The rows of the full-text tables are the
 * same, in the same order of statements; only the segment layout differs, and the
 * canonical dump leaves that out (canonical-dump.ts).
 *
 * What the caller must do (the applier does):
 * - take a {@link FtsWrites.mark} with each savepoint and {@link FtsWrites.rollbackTo}
 *   it when rolling back to that savepoint, and {@link FtsWrites.clear} when the
 *   transaction rolls back;
 * - {@link FtsWrites.flush} before the transaction commits. Anything that reads or
 *   rebuilds the full-text tables inside the transaction flushes first
 *   (`TenantDb.migrateTo` does).
 *
 * How the rows go in: each run of queued inserts into one table as a few multi-row
 * `INSERT`s (of {@link ROWS_PER_STATEMENT} rows, largest first) rather than one statement
 * per row, and each value turned into its full-text form (`ftsText`) here rather than by
 * the SQL function `entdb_fts_text` that the population of a new table uses: the same
 * text, without a call from SQLite back into JavaScript per value. FTS5 takes the rows
 * of one statement in order, so the tables hold the same rows either way.
 *
 * What it assumes: the queued statements cannot fail for a property of the event (the
 * tables exist, the values are strings or null); a failure while flushing is the
 * environment's (I/O, a full disk) and fails the whole transaction.
 */

import { ftsColumnName, ftsTableName, ftsText } from "../../codegen/store-layout/index.ts";
import type { TenantDb } from "./tenant-db.ts";

type FtsWrite =
  | {
      readonly kind: "insert";
      readonly typeId: number;
      readonly seq: bigint;
      readonly fields: readonly number[];
      readonly values: readonly (string | null)[];
    }
  | { readonly kind: "delete"; readonly typeId: number; readonly seq: bigint };

/** The rows of one multi-row insert, largest first; the last is 1, so every run fits. */
const ROWS_PER_STATEMENT = [64, 16, 4, 1] as const;

type Insert = Extract<FtsWrite, { readonly kind: "insert" }>;

/** Full-text writes queued in log order; see the module comment. Not safe for concurrent use. */
export class FtsWrites {
  #queue: FtsWrite[] = [];
  /**
   * Per list of searchable fields (`TenantDb.ftsFields` keeps the arrays), the INSERT of
   * each row count in {@link ROWS_PER_STATEMENT}.
   */
  readonly #insertSql = new WeakMap<readonly number[], Map<number, string>>();

  /** Whether nothing is queued. */
  get isEmpty(): boolean {
    return this.#queue.length === 0;
  }

  /** Queues the full-text row of node `seq` of type `typeId` (`values` in `fields` order). */
  insert(
    typeId: number,
    seq: bigint,
    fields: readonly number[],
    values: readonly (string | null)[],
  ): void {
    this.#queue.push({ kind: "insert", typeId, seq, fields, values });
  }

  /** Queues the removal of node `seq`'s full-text row of type `typeId`. */
  delete(typeId: number, seq: bigint): void {
    this.#queue.push({ kind: "delete", typeId, seq });
  }

  /** Where the queue stands; pass it to {@link rollbackTo} when rolling back a savepoint. */
  mark(): number {
    return this.#queue.length;
  }

  /** Drops what was queued after `mark` (its savepoint was rolled back). */
  rollbackTo(mark: number): void {
    if (this.#queue.length > mark) this.#queue.length = mark;
  }

  /** Drops everything queued (the transaction rolled back). */
  clear(): void {
    this.#queue = [];
  }

  /** Writes the queued rows in order inside the caller's transaction, and empties the queue. */
  flush(db: TenantDb): void {
    const queue = this.#queue;
    this.#queue = [];
    let i = 0;
    while (i < queue.length) {
      const w = queue[i]!;
      if (w.kind === "delete") {
        db.stmt(`DELETE FROM ${ftsTableName(w.typeId)} WHERE rowid = ?`).run(w.seq);
        i++;
        continue;
      }
      // The run of inserts into the same table with the same columns that starts here.
      let end = i + 1;
      while (end < queue.length) {
        const next = queue[end]!;
        if (next.kind !== "insert" || next.typeId !== w.typeId || next.fields !== w.fields) break;
        end++;
      }
      for (const rows of ROWS_PER_STATEMENT) {
        while (end - i >= rows) {
          db.stmt(this.#sql(w, rows)).run(params(queue, i, rows));
          i += rows;
        }
      }
    }
  }

  /** The INSERT of `rows` rows into `w`'s table and columns. */
  #sql(w: Insert, rows: number): string {
    let byRows = this.#insertSql.get(w.fields);
    if (byRows === undefined) {
      byRows = new Map();
      this.#insertSql.set(w.fields, byRows);
    }
    let sql = byRows.get(rows);
    if (sql === undefined) {
      const row = `(?${", ?".repeat(w.fields.length)})`;
      sql = `INSERT INTO ${ftsTableName(w.typeId)}(rowid, ${w.fields.map(ftsColumnName).join(", ")}) VALUES ${Array.from({ length: rows }, () => row).join(", ")}`;
      byRows.set(rows, sql);
    }
    return sql;
  }
}

/** The parameters of the inserts `queue[from]` to `queue[from + rows - 1]`, row by row. */
function params(
  queue: readonly FtsWrite[],
  from: number,
  rows: number,
): (bigint | string | null)[] {
  const out: (bigint | string | null)[] = [];
  for (let i = from; i < from + rows; i++) {
    const w = queue[i] as Insert;
    out.push(w.seq);
    for (const v of w.values) out.push(v === null ? null : ftsText(v));
  }
  return out;
}
