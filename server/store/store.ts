/**
 * The tenant store: the data dir, the open tenant databases and the schema models
 * needed to read them.
 *
 * Layout of `<dataDir>`:
 * - `tenants/<file>.sqlite`, one per tenant (file name from `tenantFileName`);
 * - `meta.sqlite`, the applier's bookkeeping (`meta-db.ts`);
 * - `set-aside/`, derived files the start-up check found unusable (`derived-check.ts`).
 *
 * Open handles are kept in an LRU bounded by `maxOpenTenants`, so file descriptors stay
 * bounded however many tenants there are (each open database holds up to three: the
 * file, its `-wal` and its `-shm`). A tenant whose database cannot be used is marked
 * unavailable with the reason; reads of it throw `tenant-unavailable` while every other
 * tenant keeps working. The mark is kept in memory: an open after its wait (`openRetry`:
 * 1 s, doubling to a minute), a restart or `clearUnavailable` tries again, e.g. after an
 * operator restored the file; the applier retries the tenants it parked itself.
 *
 * A tenant whose database is being rebuilt from the log (`rebuild-gate.ts`, filled by
 * `derived-check.ts` at start) is held from readers, never from the applier:
 * {@link Store.readTenant} throws `tenant-unavailable` saying so until it caught up.
 *
 * Single-threaded by design: better-sqlite3 is synchronous and the applier never
 * awaits inside a transaction, so a read between two applier steps sees only
 * committed state.
 */

import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Schema } from "../../schema/served.ts";
import { modelFromLock } from "../../schema/served.ts";
import type { ServedSchema } from "../engine.ts";
import { MetaDb, type TenantPosition } from "./meta-db.ts";
import type { RebuildGate } from "./rebuild-gate.ts";
import { roomToRecover } from "./recovery-room.ts";
import { StoreError } from "./store-error.ts";
import { TenantDb, type TenantOrigin, type TenantState } from "./tenant-db.ts";
import { tenantFileName, validateTenantId } from "./tenant-id.ts";

/** Default bound of open tenant databases. */
export const DEFAULT_MAX_OPEN_TENANTS = 256;

/** Resolves a schema version to the schema the server registered under it. */
export type SchemaLookup = (version: number) => ServedSchema | undefined;

/** Options of {@link openStore}. */
export interface StoreOptions {
  /** The data directory; created if missing. */
  readonly dataDir: string;
  /** The server's registered schemas. Versions it does not know are looked up in the log's record. */
  readonly schemas: SchemaLookup;
  /** Bound of open tenant databases (default {@link DEFAULT_MAX_OPEN_TENANTS}). */
  readonly maxOpenTenants?: number;
  /** The identity of the log (`Wal.identity`); new tenant files record it. Default: what meta records. */
  readonly logIdentity?: string;
  /** Tenants being rebuilt, held from readers (`derived-check.ts` sets it). */
  readonly gate?: RebuildGate;
  /**
   * New tenant files are copies of this file (`TenantOrigin.template`, tenant-template.ts),
   * or of the one this names for the tenant (none: made by running the layout's DDL).
   */
  readonly tenantTemplate?: string | ((tenant: string) => string | undefined);
  /** Told each tenant marked unavailable (the serving threads then leave its reads to this thread). */
  readonly onUnavailable?: (tenant: string) => void;
  /**
   * When a tenant whose file could not be used is opened again: `firstMs` after the
   * failure, then twice the last wait after each failure, at most `maxMs` (default
   * {@link DEFAULT_OPEN_RETRY}). Tenants the applier marks (`markUnavailable`, a park)
   * are the applier's to retry.
   */
  readonly openRetry?: { readonly firstMs: number; readonly maxMs: number };
  /**
   * Told of a tenant this server knows (it applied up to `applied`) whose file went
   * missing or older while it ran, when an open finds it so: the server parks it, and the
   * park's retry rebuilds it from the log (applier.ts, `Applier.parkLost`).
   */
  readonly onLost?: (tenant: string, error: StoreError, applied: TenantPosition) => void;
  /** Told when a tenant marked unavailable opens again after its wait (`openRetry`). */
  readonly onAvailable?: (tenant: string) => void;
  /**
   * `meta.sqlite` written without syncs (`MetaDb`'s `unsynced`): for a restore, which
   * syncs it once at its end.
   */
  readonly unsyncedMeta?: boolean;
}

/** What {@link Store.prepareRetry} found of a tenant's file. */
export type RetryFile =
  /** It opens and holds everything this server knows the tenant applied (or it is unknown). */
  | "current"
  /** It went missing or older: held from readers and replayed from the log. */
  | "rebuilding"
  /** It went missing or older and cannot be rebuilt now (no rebuild gate), or it cannot be opened. */
  | "unusable"
  /**
   * It went missing or older, and the log no longer holds the records its rebuild would
   * read: retention deleted them. The error says so and what the operator can do.
   */
  | { readonly beyondLog: StoreError };

/** Tries a tenant file that could not be used again after 1 s, doubling to once a minute. */
export const DEFAULT_OPEN_RETRY = { firstMs: 1_000, maxMs: 60_000 } as const;

/** Opens (creating if needed) the store in `options.dataDir`. */
export function openStore(options: StoreOptions): Store {
  return new Store(options);
}

/** The tenant store. Create with {@link openStore}; close with {@link Store.close}. */
export class Store {
  readonly dataDir: string;
  readonly tenantsDir: string;
  readonly meta: MetaDb;
  readonly maxOpenTenants: number;
  readonly #schemas: SchemaLookup;
  /** Open handles, least recently used first (Map keeps insertion order). */
  readonly #open = new Map<string, TenantDb>();
  /**
   * The handle last put at the end of {@link #open} (its most recently used): a read of
   * the tenant it serves leaves the order as it is, where moving an entry to the end
   * deletes and sets it, and a Map that does that on every read makes a new table every
   * few reads.
   */
  #newest: TenantDb | undefined;
  readonly #unavailable = new Map<string, StoreError>();
  /** Of those, the ones whose open failed: when the next open may try again, and how many failed. */
  readonly #openRetries = new Map<string, { at: number; failures: number }>();
  readonly #openRetry: { readonly firstMs: number; readonly maxMs: number };
  readonly #models = new Map<number, Schema>();
  readonly #logIdentity: string | undefined;
  readonly #gate: RebuildGate | undefined;
  readonly #template: StoreOptions["tenantTemplate"];
  readonly #onUnavailable: StoreOptions["onUnavailable"];
  readonly #onLost: StoreOptions["onLost"];
  readonly #onAvailable: StoreOptions["onAvailable"];
  #latestSchemaVersion: number;
  #closed = false;

  constructor(options: StoreOptions) {
    this.dataDir = options.dataDir;
    this.tenantsDir = join(options.dataDir, "tenants");
    mkdirSync(this.tenantsDir, { recursive: true });
    this.maxOpenTenants = Math.max(1, options.maxOpenTenants ?? DEFAULT_MAX_OPEN_TENANTS);
    this.#schemas = options.schemas;
    this.meta = new MetaDb(
      join(options.dataDir, "meta.sqlite"),
      options.unsyncedMeta === true ? { unsynced: true } : {},
    );
    this.#latestSchemaVersion = this.meta.maxSchemaVersion();
    this.#logIdentity = options.logIdentity ?? this.meta.logIdentity();
    this.#gate = options.gate;
    this.#template = options.tenantTemplate;
    this.#onUnavailable = options.onUnavailable;
    this.#openRetry = options.openRetry ?? DEFAULT_OPEN_RETRY;
    this.#onLost = options.onLost;
    this.#onAvailable = options.onAvailable;
  }

  /** The database file of a tenant (validates the id). */
  tenantPath(tenant: string): string {
    return join(this.tenantsDir, tenantFileName(validateTenantId(tenant)));
  }

  /**
   * The open database of `tenant`, opening it if needed (and creating it when
   * `create` is set; otherwise `undefined` if it does not exist yet). Throws
   * `invalid-tenant` for a bad id and `tenant-unavailable` for a tenant marked so.
   */
  tenant(tenant: string, create: boolean): TenantDb | undefined {
    if (this.#closed) throw new StoreError("closed", "The store is closed.");
    const id = validateTenantId(tenant);
    const down = this.#unavailable.get(id);
    if (down) {
      // A file that could not be used is tried again once its wait is over.
      const retry = this.#openRetries.get(id);
      if (retry === undefined || Date.now() < retry.at) throw down;
    }
    const cached = this.#open.get(id);
    if (cached) {
      if (cached !== this.#newest) {
        this.#open.delete(id);
        this.#open.set(id, cached);
        this.#newest = cached;
      }
      return cached;
    }
    let db: TenantDb | undefined;
    let lost: TenantPosition | undefined;
    try {
      const path = join(this.tenantsDir, tenantFileName(id));
      const applied = this.#gate?.rebuilds(id) ? undefined : this.meta.tenantPosition(id);
      if (applied !== undefined && !existsSync(path)) {
        lost = applied;
        throw missingFile(id, applied);
      }
      const origin: TenantOrigin = {
        logIdentity: this.#logIdentity,
        onCommit: (state) =>
          this.meta.noteTenant(id, {
            partition: state.partition,
            appliedOffset: state.appliedOffset,
          }),
        template: typeof this.#template === "function" ? this.#template(id) : this.#template,
      };
      db = TenantDb.open(id, path, create, origin);
      if (db !== undefined && applied !== undefined && behind(db.state, applied)) {
        const state = db.state;
        db.close();
        lost = applied;
        throw olderFile(id, state, applied);
      }
    } catch (err) {
      if (err instanceof StoreError && err.code === "tenant-unavailable") {
        const failures = (this.#openRetries.get(id)?.failures ?? 0) + 1;
        const wait = Math.min(this.#openRetry.maxMs, this.#openRetry.firstMs * 2 ** (failures - 1));
        this.#unavailable.set(id, err);
        this.#openRetries.set(id, { at: Date.now() + wait, failures });
        if (down === undefined) this.#onUnavailable?.(id);
        if (lost !== undefined) this.#onLost?.(id, err, lost);
      }
      throw err;
    }
    if (down !== undefined) {
      this.#unavailable.delete(id);
      this.#openRetries.delete(id);
      this.#onAvailable?.(id);
    }
    if (!db) return undefined;
    this.#open.set(id, db);
    this.#newest = db;
    while (this.#open.size > this.maxOpenTenants) {
      const [oldest, handle] = this.#open.entries().next().value as [string, TenantDb];
      this.#open.delete(oldest);
      handle.close();
    }
    return db;
  }

  /**
   * The database of `tenant` for a reader: like `tenant(tenant, false)`, but throws
   * `tenant-unavailable` while the tenant is being rebuilt from the log, so a reader never
   * sees it empty or stale.
   */
  readTenant(tenant: string): TenantDb | undefined {
    const db = this.tenant(tenant, false);
    const held = this.#gate?.check(validateTenantId(tenant), db !== undefined);
    if (held) throw held;
    return db;
  }

  /** Whether some tenants may be held from readers while they are rebuilt from the log. */
  get rebuilding(): boolean {
    return this.#gate?.holdsAny() ?? false;
  }

  /** Whether some tenants of `partition` may be held from readers while they are rebuilt. */
  rebuildingIn(partition: number): boolean {
    return this.#gate?.holdsIn(partition) ?? false;
  }

  /** Where the applier starts reading `partition`: its checkpoint, or earlier for a rebuild. */
  replayStart(partition: number): number {
    const checkpoint = this.meta.checkpoint(partition) ?? 0;
    return this.#gate ? this.#gate.replayStart(partition, checkpoint) : checkpoint;
  }

  /** Resolves when the applier may read `partition` (a test hook can hold a rebuild). */
  async beforeReading(partition: number): Promise<void> {
    await this.#gate?.beforeReading(partition);
  }

  /** The applier processed `partition` up to `offset` (exclusive): lifts satisfied rebuild holds. */
  noteProcessed(partition: number, offset: number): void {
    this.#gate?.processed(partition, offset);
  }

  /** Marks a tenant unavailable: its handle is closed and reads throw `error` until cleared. */
  markUnavailable(tenant: string, error: StoreError): void {
    const handle = this.#open.get(tenant);
    if (handle) {
      this.#open.delete(tenant);
      handle.close();
    }
    this.#unavailable.set(tenant, error);
    this.#openRetries.delete(tenant);
    this.#onUnavailable?.(tenant);
  }

  /** The tenants marked unavailable now. */
  unavailableTenants(): IterableIterator<string> {
    return this.#unavailable.keys();
  }

  /** Why a tenant is unavailable, if it is. */
  unavailable(tenant: string): StoreError | undefined {
    return this.#unavailable.get(tenant);
  }

  /**
   * Before the applier retries a parked tenant (applier.ts, `ParkRetry`): a database file
   * that went missing, or was replaced by an older copy, while the server ran is caught
   * up from the log as the start-up check would (derived-check.ts): held from readers
   * until `partition` is applied up to `untilOffset`, read again from the file's own
   * position (from 0 without a file). Nothing is held where the log no longer reaches
   * back that far (`logStart`) or without a rebuild gate: the retry then fails as the
   * park did, and the error says what to do.
   */
  prepareRetry(
    tenant: string,
    at: {
      readonly partition: number;
      readonly untilOffset: number;
      readonly logStart: number;
      /** What deleted the records below `logStart` (the log's `logStartCause`). */
      readonly logStartCause?: string;
    },
  ): RetryFile {
    const id = validateTenantId(tenant);
    if (this.#gate?.rebuilds(id)) return "rebuilding";
    const applied = this.meta.tenantPosition(id);
    const path = join(this.tenantsDir, tenantFileName(id));
    let from: number;
    let reason: string;
    if (!existsSync(path)) {
      if (applied === undefined) return "current";
      from = 0;
      reason = "its database went missing while the server ran";
    } else {
      let state: TenantState;
      try {
        const db = TenantDb.open(id, path, false);
        if (db === undefined) return "current";
        state = db.state;
        db.close();
      } catch {
        return "unusable";
      }
      if (applied === undefined || !behind(state, applied)) return "current";
      from = state.partition === at.partition ? state.appliedOffset : 0;
      reason = "its database was replaced by an older copy while the server ran";
    }
    if (this.#gate === undefined) return "unusable";
    if (from < at.logStart) return { beyondLog: beyondLog(id, reason, at, from) };
    this.#gate.holdTenant(id, at.partition, at.untilOffset, from, reason);
    return "rebuilding";
  }

  /**
   * For a tenant parked by a full disk: which file's disk needs room, and how much, for
   * its retry to succeed (recovery-room.ts); undefined when `err` is no full disk.
   */
  roomToRecover(tenant: string, err: unknown): string | undefined {
    return roomToRecover(join(this.tenantsDir, tenantFileName(validateTenantId(tenant))), err);
  }

  /** Forgets an unavailable mark, so the next use tries to open the tenant again. */
  clearUnavailable(tenant: string): void {
    this.#unavailable.delete(tenant);
    this.#openRetries.delete(tenant);
  }

  /** Number of open tenant databases (at most {@link maxOpenTenants}). */
  get openCount(): number {
    return this.#open.size;
  }

  /**
   * The model of a schema version: the server's registration first, then the lock
   * JSON a `SchemaChange` event left in the log's record. Cached.
   */
  model(version: number): Schema | undefined {
    const cached = this.#models.get(version);
    if (cached !== undefined) return cached;
    let model: Schema | undefined = this.#schemas(version)?.model;
    if (!model) {
      const recorded = this.meta.schema(version);
      if (recorded) {
        try {
          model = modelFromLock(recorded.lockJson, `schema version ${version} (from the log)`);
        } catch {
          model = undefined;
        }
      }
    }
    // Unknown versions are not cached: the server may register them later.
    if (model) this.#models.set(version, model);
    return model;
  }

  /** The highest schema version seen (registered with a `SchemaChange` or used by an event). */
  get latestSchemaVersion(): number {
    return this.#latestSchemaVersion;
  }

  /** Notes that `version` exists (the applier calls this as it sees versions in the log). */
  noteSchemaVersion(version: number): void {
    if (version > this.#latestSchemaVersion) this.#latestSchemaVersion = version;
  }

  /**
   * The model reads of a tenant decode with: the newest one known (field ids are
   * stable, so the newest model reads old payloads), falling back to the tenant's own.
   */
  readModel(db: TenantDb): Schema | undefined {
    const latest = Math.max(this.#latestSchemaVersion, db.state.schemaVersion);
    return this.model(latest) ?? this.model(db.state.schemaVersion);
  }

  /** Closes every handle and the meta database. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const handle of this.#open.values()) handle.close();
    this.#open.clear();
    this.meta.close();
  }
}

/** Whether a tenant file's state is short of the position this process knows it applied. */
function behind(state: TenantState, applied: TenantPosition): boolean {
  return state.partition !== applied.partition || state.appliedOffset < applied.appliedOffset;
}

/** A tenant's file deleted while the server ran: never served, nor created again, as empty. */
function missingFile(tenant: string, applied: TenantPosition): StoreError {
  return new StoreError(
    "tenant-unavailable",
    `The database of tenant ${JSON.stringify(tenant)} is missing, but it had applied the log up to ` +
      `${applied.partition}:${applied.appliedOffset}: it was deleted while the server ran. ` +
      "The server rebuilds it from the log at its next retry (or at a restart).",
  );
}

/**
 * A tenant's file that went missing or older while the server ran, whose rebuild would
 * read the log from `from`, below where the log now starts.
 */
function beyondLog(
  tenant: string,
  reason: string,
  at: { readonly partition: number; readonly logStart: number; readonly logStartCause?: string },
  from: number,
): StoreError {
  const cause = at.logStartCause ?? "local retention deleted older records after archiving them";
  return new StoreError(
    "tenant-unavailable",
    `The database of tenant ${JSON.stringify(tenant)} cannot be rebuilt from the log: ${reason}, and its rebuild ` +
      `needs partition ${at.partition} from offset ${from}, but the log starts at ${at.logStart} (${cause}). ` +
      `Put back a copy of its file that had applied partition ${at.partition} up to offset ${at.logStart} or later ` +
      "(the next retry catches it up from there), or restore the data dir from the archive " +
      "(entdb restore --from ARCHIVE --data-dir NEW, ARCHIVE being the s3:// URL or directory given to --archive) and serve that.",
  );
}

/** A tenant's file replaced by an older copy while the server ran: never served as current. */
function olderFile(tenant: string, state: TenantState, applied: TenantPosition): StoreError {
  return new StoreError(
    "tenant-unavailable",
    `The database of tenant ${JSON.stringify(tenant)} is older than what it applied (the file is at ` +
      `${state.partition}:${state.appliedOffset}, the log was applied up to ${applied.partition}:${applied.appliedOffset}): ` +
      "it was replaced while the server ran. The server catches it up from the log at its next retry (or at a restart).",
  );
}
