/**
 * The outcome rows of an optimistic run (applier.ts), held and written several to an
 * `INSERT`: one statement of 64 rows costs SQLite and the driver less than 64 statements
 * of one row (about 0.6 µs a row of the 2.1 an outcome row costs written alone).
 *
 * What it assumes: nothing reads the `outcomes` table between {@link hold} and
 * {@link write}. An optimistic run looks no key up (a retried key fails its row's
 * INSERT on the primary key, which ends the run), so the rows of the run may wait until
 * its end. A held row that fails its INSERT (a key recorded before, or twice in the run)
 * throws from {@link hold} or {@link write}, later than the event it belongs to: the run
 * is rolled back whole and applied again event by event up to and past that point, so
 * the key is decided where it was before. After a throw or a rollback the caller calls
 * {@link clear}.
 *
 * The rows are written in the order they were held (log order), so the table's contents
 * and the canonical dump are those of rows written one by one.
 */

import type { TenantDb } from "../store/tenant-db.ts";

const COLUMNS =
  "INSERT INTO outcomes (idempotency_key, log_partition, log_offset, schema_version, outcome) VALUES ";
/** Values per row, in {@link COLUMNS}' order. */
const ARITY = 5;
/** Rows of the large statement; the rest of a run goes 8 to a statement, then one by one. */
const LARGE = 64;
const SMALL = 8;

function insertOf(rows: number): string {
  return COLUMNS + new Array<string>(rows).fill("(?, ?, ?, ?, ?)").join(", ");
}

const INSERT_LARGE = insertOf(LARGE);
const INSERT_SMALL = insertOf(SMALL);
/** The statement the applier writes a single outcome row with (the same text, one cached statement). */
export const INSERT_OUTCOME = insertOf(1);

/** Outcome rows of one run of one tenant's database; see the module comment. */
export class HeldOutcomes {
  readonly #values: (string | number)[] = [];

  /** Holds a row; writes the held rows once a large statement's worth is held. */
  hold(
    db: TenantDb,
    key: string,
    partition: number,
    offset: number,
    schemaVersion: number,
    outcome: string,
  ): void {
    const values = this.#values;
    values.push(key, partition, offset, schemaVersion, outcome);
    if (values.length === LARGE * ARITY) {
      db.stmt(INSERT_LARGE).run(values);
      values.length = 0;
    }
  }

  /** Writes the held rows (the run's end, before its savepoint is released). */
  write(db: TenantDb): void {
    const values = this.#values;
    let at = 0;
    while (values.length - at >= SMALL * ARITY) {
      db.stmt(INSERT_SMALL).run(values.slice(at, at + SMALL * ARITY));
      at += SMALL * ARITY;
    }
    for (; at < values.length; at += ARITY)
      db.stmt(INSERT_OUTCOME).run(values.slice(at, at + ARITY));
    values.length = 0;
  }

  /** Drops the held rows (their run threw, or was rolled back). */
  clear(): void {
    this.#values.length = 0;
  }
}
