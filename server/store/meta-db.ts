/**
 * `<dataDir>/meta.sqlite`: the applier's bookkeeping across tenants.
 *
 * - `checkpoints`: per partition, the offset the applier resumes from. It only ever
 *   advances to a point below which every event's effect is durable in its tenant
 *   database (see `server/apply/applier.ts`), so resuming there loses nothing; events
 *   at or after it that a tenant already applied are skipped by that tenant's own
 *   applied offset.
 * - `schemas`: the lock JSON of every `SchemaChange` event seen, so a replay can
 *   rebuild models the running server no longer registers.
 * - `bad_events`: positions whose payload could not be applied at all (undecodable,
 *   wrong tenant), with the reason, for operators.
 *
 * Everything here is derived from the log: deleting the file makes the next start
 * replay from offset 0 (each tenant skips what it already has). It is written with
 * `synchronous=FULL` because it is small and written rarely, and a checkpoint that
 * survived a power loss must describe tenant data that also survived.
 */

import Database from "better-sqlite3";
import { StoreError } from "./store-error.ts";

/** A position that could not be applied, with the reason. */
export interface BadEvent {
  readonly partition: number;
  readonly offset: number;
  readonly tenant: string;
  readonly error: string;
}

/** A schema version recorded from the log. */
export interface RecordedSchema {
  readonly version: number;
  readonly fingerprint: string;
  readonly lockJson: string;
}

const META_DDL = [
  "CREATE TABLE IF NOT EXISTS checkpoints (log_partition INTEGER PRIMARY KEY, next_offset INTEGER NOT NULL) STRICT",
  "CREATE TABLE IF NOT EXISTS schemas (version INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL, lock_json TEXT NOT NULL) STRICT",
  "CREATE TABLE IF NOT EXISTS bad_events (log_partition INTEGER NOT NULL, log_offset INTEGER NOT NULL, tenant TEXT NOT NULL, error TEXT NOT NULL, PRIMARY KEY (log_partition, log_offset)) STRICT, WITHOUT ROWID",
];

/** The meta database. Single-threaded use from the process that owns the data dir. */
export class MetaDb {
  readonly path: string;
  readonly #db: Database.Database;

  constructor(path: string) {
    this.path = path;
    try {
      this.#db = new Database(path);
      this.#db.pragma("journal_mode = WAL");
      this.#db.pragma("synchronous = FULL");
      for (const stmt of META_DDL) this.#db.exec(stmt);
    } catch (cause) {
      throw new StoreError(
        "corrupt",
        `Cannot open the store's meta database ${path}: ${String(cause)}`,
        { cause },
      );
    }
  }

  /** The stored resume offset of a partition, if any. */
  checkpoint(partition: number): number | undefined {
    const row = this.#db
      .prepare("SELECT next_offset FROM checkpoints WHERE log_partition = ?")
      .get(partition) as { next_offset: number } | undefined;
    return row?.next_offset;
  }

  /** Stores resume offsets of several partitions in one transaction. */
  setCheckpoints(offsets: ReadonlyMap<number, number>): void {
    const put = this.#db.prepare(
      "INSERT INTO checkpoints (log_partition, next_offset) VALUES (?, ?) ON CONFLICT (log_partition) DO UPDATE SET next_offset = excluded.next_offset",
    );
    this.#db.transaction(() => {
      for (const [partition, offset] of offsets) put.run(partition, offset);
    })();
  }

  /** Records a schema version from a `SchemaChange` event (the first record of a version stands). */
  recordSchema(schema: RecordedSchema): void {
    this.#db
      .prepare("INSERT OR IGNORE INTO schemas (version, fingerprint, lock_json) VALUES (?, ?, ?)")
      .run(schema.version, schema.fingerprint, schema.lockJson);
  }

  /** A recorded schema version. */
  schema(version: number): RecordedSchema | undefined {
    const row = this.#db
      .prepare("SELECT version, fingerprint, lock_json FROM schemas WHERE version = ?")
      .get(version) as { version: number; fingerprint: string; lock_json: string } | undefined;
    return row && { version: row.version, fingerprint: row.fingerprint, lockJson: row.lock_json };
  }

  /** The highest recorded schema version, 0 if none. */
  maxSchemaVersion(): number {
    const row = this.#db.prepare("SELECT max(version) AS v FROM schemas").get() as {
      v: number | null;
    };
    return row.v ?? 0;
  }

  /** Records a position that could not be applied (idempotent per position). */
  recordBadEvent(bad: BadEvent): void {
    this.#db
      .prepare(
        "INSERT OR IGNORE INTO bad_events (log_partition, log_offset, tenant, error) VALUES (?, ?, ?, ?)",
      )
      .run(bad.partition, bad.offset, bad.tenant, bad.error);
  }

  /** Every recorded bad position, in log order. */
  badEvents(): BadEvent[] {
    const rows = this.#db
      .prepare(
        "SELECT log_partition, log_offset, tenant, error FROM bad_events ORDER BY log_partition, log_offset",
      )
      .all() as { log_partition: number; log_offset: number; tenant: string; error: string }[];
    return rows.map((r) => ({
      partition: r.log_partition,
      offset: r.log_offset,
      tenant: r.tenant,
      error: r.error,
    }));
  }

  /** Closes the database. */
  close(): void {
    if (this.#db.open) this.#db.close();
  }
}
