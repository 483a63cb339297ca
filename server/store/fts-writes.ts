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
 * What it assumes: the queued statements cannot fail for a property of the event (the
 * tables exist, the values are strings or null); a failure while flushing is the
 * environment's (I/O, a full disk) and fails the whole transaction.
 */

import { FTS_TEXT_FUNCTION, ftsColumnName, ftsTableName } from "../../codegen/index.ts";
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

/** Full-text writes queued in log order; see the module comment. Not safe for concurrent use. */
export class FtsWrites {
  #queue: FtsWrite[] = [];
  /** The INSERT of each list of searchable fields (`TenantDb.ftsFields` keeps the arrays). */
  readonly #insertSql = new WeakMap<readonly number[], string>();

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
    for (const w of queue) {
      if (w.kind === "delete") {
        db.stmt(`DELETE FROM ${ftsTableName(w.typeId)} WHERE rowid = ?`).run(w.seq);
      } else {
        let sql = this.#insertSql.get(w.fields);
        if (sql === undefined) {
          sql = `INSERT INTO ${ftsTableName(w.typeId)}(rowid, ${w.fields.map(ftsColumnName).join(", ")}) VALUES (?, ${w.fields.map(() => `${FTS_TEXT_FUNCTION}(?)`).join(", ")})`;
          this.#insertSql.set(w.fields, sql);
        }
        db.stmt(sql).run(w.seq, ...w.values);
      }
    }
  }
}
