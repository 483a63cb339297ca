/**
 * Rows written behind: an optimistic run of the applier (server/apply/applier.ts) holds
 * the node and outcome rows its plans insert, and they are written several to an
 * `INSERT` (64, then 8, then one to a statement) instead of one statement each: one
 * statement of 64 rows costs SQLite and the driver much less than 64 of one row.
 *
 * What it guarantees: the held rows are written, in the order they were held, before any
 * other statement of their tenant handle runs (`TenantDb.stmt` writes them first), so
 * every read and write of the connection sees them, and the table holds what statements
 * of one row would have written (the same rowids, in the same order). What it does not:
 * a held row that fails (a taken id, a unique clash, a retried idempotency key) throws
 * from whichever statement wrote it, later than the plan it belongs to; the caller must
 * then undo what it held them for (the applier rolls the run back whole and applies it
 * again event by event, which writes each row at once and decides each plan as before)
 * and {@link HeldRows.clear} what is still held.
 *
 * What it assumes: a statement run on the connection past the handle (`db.db.exec`,
 * `db.db.prepare`) does not write them first, so the holder writes them before one
 * (the applier's run writes them before its `RELEASE`, which comes before the `COMMIT`).
 */

import type Database from "better-sqlite3";

/** An `INSERT` whose rows may be held: its text up to `VALUES`, one row's placeholders, and their count. */
export interface HeldInsert {
  /** The statement of one row: what a row not held is written with. */
  readonly one: string;
  readonly arity: number;
  /** Of {@link LARGE} rows and of {@link SMALL} rows. */
  readonly large: string;
  readonly small: string;
}

/** Rows of the large statement; the rest of what is held goes 8 to a statement, then one by one. */
const LARGE = 64;
const SMALL = 8;

/** The statements of `head` (`INSERT INTO t (a, b) VALUES `) with rows `row` (`(?, ?)`) of `arity` values. */
export function heldInsert(head: string, row: string, arity: number): HeldInsert {
  const of = (rows: number) => head + new Array<string>(rows).fill(row).join(", ");
  return { one: of(1), arity, large: of(LARGE), small: of(SMALL) };
}

/** The rows held for one statement. */
interface Held {
  readonly insert: HeldInsert;
  values: unknown[];
}

/** The rows a handle holds, per statement (see the module comment). */
export class HeldRows {
  readonly #held: Held[] = [];
  /** Rows held in all. */
  #rows = 0;

  /** Whether any row is held. */
  get any(): boolean {
    return this.#rows > 0;
  }

  /**
   * Holds one row of `insert` (its first `insert.arity` values of these); writes that
   * statement's held rows with `prepared` once {@link LARGE} of them are held.
   */
  hold(
    prepared: (sql: string) => Database.Statement,
    insert: HeldInsert,
    v0: unknown,
    v1: unknown,
    v2: unknown,
    v3: unknown,
    v4: unknown,
    v5?: unknown,
  ): void {
    let held: Held | undefined;
    for (const h of this.#held) if (h.insert === insert) held = h;
    if (held === undefined) {
      held = { insert, values: [] };
      this.#held.push(held);
    }
    const values = held.values;
    values.push(v0, v1, v2, v3, v4);
    if (insert.arity === 6) values.push(v5);
    this.#rows++;
    if (values.length === LARGE * insert.arity) {
      // Taken out first: a throw leaves nothing of them held.
      held.values = [];
      this.#rows -= LARGE;
      prepared(insert.large).run(values);
    }
  }

  /**
   * Writes every held row with `prepared` (statements that do not write held rows
   * themselves). On a throw, nothing stays held.
   */
  write(prepared: (sql: string) => Database.Statement): void {
    if (this.#rows === 0) return;
    this.#rows = 0;
    const taken = this.#held.map((h) => {
      const values = h.values;
      h.values = [];
      return { insert: h.insert, values };
    });
    for (const { insert, values } of taken) {
      const n = insert.arity;
      let at = 0;
      while (values.length - at >= SMALL * n) {
        prepared(insert.small).run(values.slice(at, at + SMALL * n));
        at += SMALL * n;
      }
      for (; at < values.length; at += n) prepared(insert.one).run(values.slice(at, at + n));
    }
  }

  /** Drops every held row (what they were held for was rolled back). */
  clear(): void {
    for (const h of this.#held) h.values = [];
    this.#rows = 0;
  }
}
