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
 * - `derived_from`: the identity of the log this file was derived from.
 * - `tenants`: per tenant, its applied position as of the last checkpoint move, written
 *   in the same transaction as the checkpoints. It tells a tenant whose database went
 *   missing (or was rolled back) from one that never existed.
 * - `rebuilds`: partitions being replayed because this file was rebuilt; until the
 *   applier reaches the recorded offset, no tenant of the partition is served.
 *
 * Everything here is derived from the log: a missing file, or one from another log, is
 * rebuilt by replaying from offset 0 (`derived-check.ts`). It is written with
 * `synchronous=FULL` because it is small and written rarely, and a checkpoint that
 * survived a power loss must describe tenant data that also survived; a restore writes
 * it unsynced and syncs it at its end, before its data dir may be served.
 */

import Database from "better-sqlite3";
import { StoreError } from "./store-error.ts";

/** `PRAGMA quick_check` of an open database: `undefined` when sound, else the findings. */
export function quickCheck(db: Database.Database): string | undefined {
  const rows = db.pragma("quick_check") as { quick_check: string }[];
  const found = rows.map((r) => r.quick_check);
  return found.length === 1 && found[0] === "ok" ? undefined : found.slice(0, 5).join("; ");
}

/** SQLite's primary codes (extended codes start with them) for a disk that cannot take a write. */
const DISK_FAULT_CODES = ["SQLITE_FULL", "SQLITE_IOERR"] as const;

/** Whether `err` is SQLite saying the disk could not take a write, not that the write is wrong. */
function isDiskFault(err: unknown): boolean {
  if (!(err instanceof Error) || err.name !== "SqliteError" || !("code" in err)) return false;
  const code = String(err.code);
  return DISK_FAULT_CODES.some((c) => code === c || code.startsWith(`${c}_`));
}

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
  "CREATE TABLE IF NOT EXISTS derived_from (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), log_identity TEXT NOT NULL) STRICT",
  "CREATE TABLE IF NOT EXISTS tenants (tenant TEXT PRIMARY KEY, log_partition INTEGER NOT NULL, applied_offset INTEGER NOT NULL) STRICT, WITHOUT ROWID",
  "CREATE TABLE IF NOT EXISTS rebuilds (log_partition INTEGER PRIMARY KEY, until_offset INTEGER NOT NULL) STRICT",
  "CREATE TABLE IF NOT EXISTS bad_events (log_partition INTEGER NOT NULL, log_offset INTEGER NOT NULL, tenant TEXT NOT NULL, error TEXT NOT NULL, PRIMARY KEY (log_partition, log_offset)) STRICT, WITHOUT ROWID",
];

/** A tenant's applied position as the meta database last recorded it. */
export interface TenantPosition {
  readonly partition: number;
  readonly appliedOffset: number;
}

/** The meta database. Single-threaded use from the process that owns the data dir. */
export class MetaDb {
  readonly path: string;
  readonly #db: Database.Database;
  /** Tenant positions committed since the last checkpoint move; written with the next one. */
  readonly #pendingTenants = new Map<string, TenantPosition>();
  #checkpointFailure: Error | undefined;

  /**
   * `unsynced`: written with `synchronous = OFF` instead, by a restore, which syncs the
   * file once at its end (its data dir is marked unfinished until then, so nothing relies
   * on what is written before, server/archive/restore.ts).
   */
  constructor(path: string, options: { readonly unsynced?: boolean } = {}) {
    this.path = path;
    try {
      this.#db = new Database(path);
      // Before the first write (the switch to WAL), so an unsynced file is never synced.
      if (options.unsynced === true) this.#db.pragma("synchronous = OFF");
      this.#db.pragma("journal_mode = WAL");
      if (options.unsynced !== true) this.#db.pragma("synchronous = FULL");
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

  /**
   * Stores resume offsets of several partitions in one transaction, with the positions
   * of the tenants committed since the last call (see {@link noteTenant}). Must be called
   * only once those tenants' commits are durable in their files.
   */
  setCheckpoints(offsets: ReadonlyMap<number, number>): void {
    const put = this.#db.prepare(
      "INSERT INTO checkpoints (log_partition, next_offset) VALUES (?, ?) ON CONFLICT (log_partition) DO UPDATE SET next_offset = excluded.next_offset",
    );
    const putTenant = this.#db.prepare(
      "INSERT INTO tenants (tenant, log_partition, applied_offset) VALUES (?, ?, ?) ON CONFLICT (tenant) DO UPDATE SET log_partition = excluded.log_partition, applied_offset = excluded.applied_offset",
    );
    try {
      this.#db.transaction(() => {
        for (const [partition, offset] of offsets) put.run(partition, offset);
        for (const [tenant, at] of this.#pendingTenants)
          putTenant.run(tenant, at.partition, at.appliedOffset);
      })();
    } catch (err) {
      // A checkpoint is a resume point: one left behind costs a longer replay at the next
      // start (tenants skip what they hold), never data. So a disk that cannot take it
      // now (full, an I/O error) keeps the previous one, reported by `checkpointFailure`
      // until a later call writes it; the applier must not stop over it, or nothing
      // would be applied once the disk has room again.
      if (!isDiskFault(err)) throw err;
      this.#checkpointFailure = err as Error;
      return;
    }
    this.#checkpointFailure = undefined;
    this.#pendingTenants.clear();
  }

  /**
   * Why the last {@link setCheckpoints} could not be written (the disk is full, an I/O
   * error), until one succeeds; the stored checkpoint is then older than what was applied.
   */
  get checkpointFailure(): Error | undefined {
    return this.#checkpointFailure;
  }

  /** Notes a tenant's committed position; recorded by the next {@link setCheckpoints}. */
  noteTenant(tenant: string, position: TenantPosition): void {
    this.#pendingTenants.set(tenant, position);
  }

  /** Records tenants' positions at once (tenant files checked at start, whose state is durable). */
  recordTenants(positions: ReadonlyMap<string, TenantPosition>): void {
    const put = this.#db.prepare(
      "INSERT INTO tenants (tenant, log_partition, applied_offset) VALUES (?, ?, ?) ON CONFLICT (tenant) DO UPDATE SET log_partition = excluded.log_partition, applied_offset = excluded.applied_offset",
    );
    this.#db.transaction(() => {
      for (const [tenant, at] of positions) put.run(tenant, at.partition, at.appliedOffset);
    })();
  }

  /**
   * The last applied position this process knows of `tenant`: noted since the last
   * checkpoint move, else recorded at it; `undefined` for a tenant never recorded.
   */
  tenantPosition(tenant: string): TenantPosition | undefined {
    const pending = this.#pendingTenants.get(tenant);
    if (pending !== undefined) return pending;
    const row = this.#db
      .prepare("SELECT log_partition, applied_offset FROM tenants WHERE tenant = ?")
      .get(tenant) as { log_partition: number; applied_offset: number } | undefined;
    return row && { partition: row.log_partition, appliedOffset: row.applied_offset };
  }

  /** Every tenant's applied position as of the last checkpoint move. */
  tenantPositions(): Map<string, TenantPosition> {
    const rows = this.#db
      .prepare("SELECT tenant, log_partition, applied_offset FROM tenants ORDER BY tenant")
      .all() as { tenant: string; log_partition: number; applied_offset: number }[];
    return new Map(
      rows.map((r) => [r.tenant, { partition: r.log_partition, appliedOffset: r.applied_offset }]),
    );
  }

  /** The identity of the log this file was derived from, if recorded. */
  logIdentity(): string | undefined {
    const row = this.#db.prepare("SELECT log_identity FROM derived_from").get() as
      | { log_identity: string }
      | undefined;
    return row?.log_identity;
  }

  /** Records the identity of the log this file is derived from. */
  setLogIdentity(identity: string): void {
    this.#db
      .prepare(
        "INSERT INTO derived_from (singleton, log_identity) VALUES (1, ?) ON CONFLICT (singleton) DO UPDATE SET log_identity = excluded.log_identity",
      )
      .run(identity);
  }

  /** Partitions under replay after a rebuild of this file, with the offset to reach. */
  rebuilds(): Map<number, number> {
    const rows = this.#db
      .prepare("SELECT log_partition, until_offset FROM rebuilds ORDER BY log_partition")
      .all() as { log_partition: number; until_offset: number }[];
    return new Map(rows.map((r) => [r.log_partition, r.until_offset]));
  }

  /** Records (offset given) or clears (undefined) a partition's rebuild. */
  setRebuild(partition: number, untilOffset: number | undefined): void {
    if (untilOffset === undefined)
      this.#db.prepare("DELETE FROM rebuilds WHERE log_partition = ?").run(partition);
    else
      this.#db
        .prepare(
          "INSERT INTO rebuilds (log_partition, until_offset) VALUES (?, ?) ON CONFLICT (log_partition) DO UPDATE SET until_offset = excluded.until_offset",
        )
        .run(partition, untilOffset);
  }

  /** `PRAGMA quick_check`: `undefined` when the file is sound, else what SQLite found. */
  quickCheck(): string | undefined {
    return quickCheck(this.#db);
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

  /** Every recorded schema version, in version order. */
  schemas(): RecordedSchema[] {
    const rows = this.#db
      .prepare("SELECT version, fingerprint, lock_json FROM schemas ORDER BY version")
      .all() as { version: number; fingerprint: string; lock_json: string }[];
    return rows.map((r) => ({
      version: r.version,
      fingerprint: r.fingerprint,
      lockJson: r.lock_json,
    }));
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
