/**
 * One tenant's SQLite database: the file, its pragmas, the fixed tables and the
 * schema objects of the schema version it is at.
 *
 * Durability: `journal_mode=WAL` with `synchronous=NORMAL`. A commit is then durable
 * against a process crash but may be lost on a power failure until the next WAL
 * checkpoint. That is enough because this database is derived state: the log is the
 * source of truth, and the applier only moves its resume point (`meta.sqlite`) past
 * an event after the tenant databases holding it were checkpointed, so a lost commit
 * is simply applied again (DESIGN.md contract 8).
 *
 * Guarantees: the file belongs to the tenant it is opened for (the tenant id is kept
 * inside and checked); the fixed layout is {@link STORE_LAYOUT_VERSION}; a file created
 * with a log identity keeps it (`derived_from`), so one from another log can be told
 * apart (`derived-check.ts`). Assumes a single process uses the file (the store's owner
 * of the data dir). Does not check payloads against the schema; the applier does that
 * before writing.
 */

import { constants, copyFileSync, existsSync } from "node:fs";
import { open as openFile } from "node:fs/promises";
import Database from "better-sqlite3";
import {
  BASE_TABLE_DDL,
  FTS_TEXT_FUNCTION,
  ftsPopulateSql,
  ftsText,
  parseObjectName,
  STORE_LAYOUT_VERSION,
  schemaObjects,
} from "../../codegen/store-layout/index.ts";
import type { Schema } from "../../schema/index.ts";
import { ACCESS_TABLE_DDL } from "./access-tables.ts";
import { FtsWrites } from "./fts-writes.ts";
import { type HeldInsert, HeldRows } from "./held-rows.ts";
import { MAILBOX_TABLE_DDL } from "./mailbox-tables.ts";
import { NODE_TOMBSTONE_DDL } from "./node-tombstones.ts";
import { StoreError } from "./store-error.ts";

/** Pages in a tenant file's `-wal` file past which a COMMIT checkpoints (SQLite's default: 1,000). */
export const TENANT_WAL_AUTOCHECKPOINT_PAGES = 16_384;

/** Where a tenant database stands in the log. */
export interface TenantState {
  /** The partition of its last applied event; -1 before the first. */
  readonly partition: number;
  /** The offset after its last applied event (exclusive); 0 before the first. */
  readonly appliedOffset: number;
  /** The schema version whose objects (indexes, full-text tables) the file has; 0 for none. */
  readonly schemaVersion: number;
}

/** What a new file records about where it comes from, and who hears of its commits. */
export interface TenantOrigin {
  /** The identity of the log the file is derived from (`Wal.identity`). */
  readonly logIdentity?: string | undefined;
  /** Called with each state made visible by {@link TenantDb.commitState}. */
  readonly onCommit?: (state: TenantState) => void;
  /**
   * A new file's bytes are copied from this one (tenant-template.ts) instead of made by
   * running the layout's DDL; the copy is then opened as usual and given the tenant's id,
   * but with `synchronous = OFF` and `journal_mode = MEMORY` until
   * {@link TenantDb.makeDurable}, which its creator calls before anything relies on the
   * file (a restore, once the tenant is applied): a copy killed in the middle of a commit
   * may be torn (a restore's `restore-unfinished` marker covers it).
   */
  readonly template?: string | undefined;
  /**
   * A new file made without syncs (`synchronous = OFF` from its first write): one nothing
   * relies on after a crash, a restore's template (tenant-template.ts), removed when the
   * restore ends.
   */
  readonly unsynced?: boolean;
}

/**
 * Where the file comes from. Kept out of the fixed layout (and out of the canonical
 * dump): it is provenance, not state, and two logs with the same events give the same
 * tenant state.
 */
const DERIVED_FROM_DDL =
  "CREATE TABLE derived_from (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), log_identity TEXT NOT NULL) STRICT";

/** Statement cache bound; queries vary with their filters, so the cache must not grow forever. */
const MAX_CACHED_STATEMENTS = 256;

/**
 * What opening a copy of a template reads back from it, the same for every copy (the
 * bytes are the template's): kept per template path by the first copy opened, so the
 * others skip those reads. Forgotten when the template is written again or removed
 * ({@link TenantDb.forgetTemplate}, called by tenant-template.ts).
 */
interface TemplateReads {
  readonly state: TenantState;
  readonly logIdentity: string | undefined;
  readonly objects: ReadonlySet<string>;
  readonly fts: ReadonlyMap<number, readonly number[]>;
}
const templateReads = new Map<string, TemplateReads>();

/** An open tenant database. Create with {@link TenantDb.open}. */
export class TenantDb {
  readonly tenant: string;
  readonly path: string;
  readonly db: Database.Database;
  /** The identity of the log the file was created from; `undefined` if it records none. */
  readonly logIdentity: string | undefined;
  readonly #onCommit: ((state: TenantState) => void) | undefined;
  #state: TenantState;
  #commits = 0;
  readonly #statements = new Map<string, Database.Statement>();
  /** Rows held by an optimistic run of the applier, written before the next statement (held-rows.ts). */
  readonly #held = new HeldRows();
  /** Searchable field ids per node type that has a full-text table in the file. */
  #fts: ReadonlyMap<number, readonly number[]> = new Map();
  /** Full-text writes of the transaction under way, written before it commits (fts-writes.ts). */
  readonly ftsWrites = new FtsWrites();
  /** Names of the schema objects (`ix_…`, `ux_…`, `fts_…`) in the file. */
  #objects: ReadonlySet<string> = new Set();
  /**
   * Set while a restore bulk-loads the tenant (server/apply/bulk-load.ts): {@link migrateTo}
   * then makes only the unique indexes, which the applier's decisions read, and leaves the
   * rest to the migration that runs once this is cleared, after the tenant's last event.
   */
  bulkLoading = false;
  /**
   * Whether {@link close} refreshes the planner statistics (`PRAGMA optimize`). A restore
   * clears it for a tenant so small that the statistics are not worth their cost there:
   * the file is then like one created while the server runs, analyzed when a server
   * opens it (`optimize = 0x10002` in {@link open}).
   */
  optimizeOnClose = true;

  private constructor(
    tenant: string,
    path: string,
    db: Database.Database,
    state: TenantState,
    logIdentity: string | undefined,
    onCommit: ((state: TenantState) => void) | undefined,
    objects?: Pick<TemplateReads, "objects" | "fts">,
  ) {
    this.tenant = tenant;
    this.path = path;
    this.db = db;
    this.#state = state;
    this.logIdentity = logIdentity;
    this.#onCommit = onCommit;
    if (objects === undefined) this.#loadFts();
    else {
      // Shared with the other copies: never changed in place, only replaced (#loadFts).
      this.#objects = objects.objects;
      this.#fts = objects.fts;
    }
  }

  /** Forgets what copies of the template at `path` read back from it (it is rewritten or removed). */
  static forgetTemplate(path: string): void {
    templateReads.delete(path);
  }

  /**
   * Opens the database of `tenant` at `path`, creating it when `create` is set.
   * Returns `undefined` if it does not exist and `create` is not set. Throws
   * `tenant-unavailable` if the file is not a usable tenant database.
   */
  static open(
    tenant: string,
    path: string,
    create: boolean,
    origin: TenantOrigin = {},
  ): TenantDb | undefined {
    if (!create && !existsSync(path)) return undefined;
    let db: Database.Database | undefined;
    try {
      const copied = create && origin.template !== undefined && !existsSync(path);
      if (copied) copyFileSync(origin.template!, path, constants.COPYFILE_EXCL);
      db = new Database(path, { fileMustExist: !create });
      if (origin.unsynced === true) db.pragma("synchronous = OFF");
      // A copy of a template without WAL in its header (tenant-template.ts) is loaded with
      // its rollback journal in memory (pages written once, not to the `-wal` file and
      // again at the checkpoint; savepoints and rollbacks work) until makeDurable() puts it
      // in WAL mode; a copy of one in WAL mode (a small tenant's, bulk-load.ts) stays in it.
      if (!copied) db.pragma("journal_mode = WAL");
      else if (db.pragma("journal_mode", { simple: true }) !== "wal")
        db.pragma("journal_mode = MEMORY");
      // A copy of the template is written without syncs until makeDurable().
      db.pragma(copied || origin.unsynced === true ? "synchronous = OFF" : "synchronous = NORMAL");
      // The applier checkpoints every dirty tenant file once a second before it moves the
      // log checkpoint (Applier.flush). SQLite's own checkpoint, every 1,000 pages by
      // default, would run inside a COMMIT on the event loop (two fsyncs) every few dozen
      // single-write transactions and copy the same hot pages again each time; this
      // leaves it as a bound for bursts, and keeps an idle `-wal` file at most 16 MB.
      db.pragma(`wal_autocheckpoint = ${TENANT_WAL_AUTOCHECKPOINT_PAGES}`);
      db.pragma(`journal_size_limit = ${16 * 1024 * 1024}`);
      db.defaultSafeIntegers(true);
      // What a full-text column holds for a field value (codegen/store-layout/fts-text.ts).
      addFtsText(db);
      // Planner statistics: without them SQLite prefers `nodes_by_type` to a partial
      // expression index for range filters. Bounded work; only tables that need it.
      db.pragma("analysis_limit = 1000");
      // A fresh file has nothing to analyze yet; nor has a copy of the template, which
      // stands for one (analyzing its few rows would add statistics a fresh file lacks).
      if (!copied) db.pragma("optimize = 0x10002");
      const layout = Number(db.pragma("user_version", { simple: true }));
      if (layout === 0) {
        const fresh = db;
        fresh.transaction(() => {
          for (const stmt of BASE_TABLE_DDL) fresh.exec(stmt);
          fresh
            .prepare(
              "INSERT INTO tenant_state (singleton, tenant, log_partition, applied_offset, schema_version) VALUES (1, ?, -1, 0, 0)",
            )
            .run(tenant);
          if (origin.logIdentity !== undefined) {
            fresh.exec(DERIVED_FROM_DDL);
            fresh
              .prepare("INSERT INTO derived_from (singleton, log_identity) VALUES (1, ?)")
              .run(origin.logIdentity);
          }
          fresh.pragma(`user_version = ${STORE_LAYOUT_VERSION}`);
        })();
      } else if (layout !== STORE_LAYOUT_VERSION) {
        throw new StoreError(
          "tenant-unavailable",
          `the file has store layout ${layout}; this server reads layout ${STORE_LAYOUT_VERSION}`,
        );
      }
      if (copied) db.prepare("UPDATE tenant_state SET tenant = ? WHERE singleton = 1").run(tenant);
      // A copy has them: the template was made here (and a restore's bulk load may have
      // dropped `nodes_by_owner` from it on purpose, server/apply/bulk-load.ts).
      else {
        // Access tables (access-tables.ts): added to files of any age, in their own block.
        for (const stmt of ACCESS_TABLE_DDL) db.exec(stmt);
        // Mailbox table (mailbox-tables.ts): likewise.
        for (const stmt of MAILBOX_TABLE_DDL) db.exec(stmt);
        // Node tombstones (node-tombstones.ts): likewise.
        for (const stmt of NODE_TOMBSTONE_DDL) db.exec(stmt);
      }
      // Another copy of the same template was opened: the rest would read what it read.
      const known = copied ? templateReads.get(origin.template!) : undefined;
      if (known !== undefined)
        return new TenantDb(
          tenant,
          path,
          db,
          known.state,
          known.logIdentity,
          origin.onCommit,
          known,
        );
      const state = readState(db, tenant);
      const hasOrigin = db
        .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'derived_from'")
        .get();
      const from = hasOrigin
        ? (db.prepare("SELECT log_identity FROM derived_from").get() as
            | { log_identity: string }
            | undefined)
        : undefined;
      const opened = new TenantDb(tenant, path, db, state, from?.log_identity, origin.onCommit);
      if (copied)
        templateReads.set(origin.template!, {
          state: opened.#state,
          logIdentity: opened.logIdentity,
          objects: opened.#objects,
          fts: opened.#fts,
        });
      return opened;
    } catch (cause) {
      if (db?.open) db.close();
      throw unusableFile(tenant, cause);
    }
  }

  /**
   * Opens the existing database of `tenant` at `path` read only, for a thread that serves
   * reads beside the applier (server/threads): nothing is created or migrated and no
   * pragma writes; `refresh` re-reads what the writer committed. Returns `undefined` if
   * the file does not exist; throws `tenant-unavailable` if it is not a usable tenant
   * database of this layout.
   */
  static openReadOnly(tenant: string, path: string): TenantDb | undefined {
    if (!existsSync(path)) return undefined;
    let db: Database.Database | undefined;
    try {
      db = new Database(path, { readonly: true, fileMustExist: true });
      db.defaultSafeIntegers(true);
      addFtsText(db);
      const layout = Number(db.pragma("user_version", { simple: true }));
      if (layout !== STORE_LAYOUT_VERSION)
        throw new StoreError(
          "tenant-unavailable",
          `the file has store layout ${layout}; this server reads layout ${STORE_LAYOUT_VERSION}`,
        );
      const state = readState(db, tenant);
      const opened = new TenantDb(tenant, path, db, state, undefined, undefined);
      opened.optimizeOnClose = false;
      return opened;
    } catch (cause) {
      if (db?.open) db.close();
      throw unusableFile(tenant, cause);
    }
  }

  /**
   * For a handle from {@link openReadOnly}: re-reads the state the writer committed (and
   * the schema objects, when its schema version moved) and counts a commit, so the read
   * caches drop what they hold of the tenant (they trust an entry only while
   * {@link commits} is unchanged).
   */
  refresh(): void {
    const state = readState(this.db, this.tenant);
    if (state.schemaVersion !== this.#state.schemaVersion) this.reloadSchemaObjects();
    // Counted as a commit the caches were not told about (see `commits`); not through
    // commitState, which is the writer's (its `onCommit` records the state in meta).
    this.#commits++;
    this.#state = state;
  }

  /** Where the tenant stands, as of its last commit. */
  get state(): TenantState {
    return this.#state;
  }

  /** Whether the handle is still open (the store's LRU may have closed it). */
  get isOpen(): boolean {
    return this.db.open;
  }

  /**
   * A prepared statement for `sql`, cached. The rows held (held-rows.ts) are written
   * first, so whatever the statement does sees them.
   */
  stmt(sql: string): Database.Statement {
    if (this.#held.any) this.#held.write(this.#cached);
    return this.#cached(sql);
  }

  /**
   * Holds a row of `insert` instead of writing it now (held-rows.ts): it is written before
   * this handle's next statement, several to an `INSERT`. For a caller that can undo
   * what a failure of the row, thrown later, stands for (an optimistic run of the applier).
   */
  hold(
    insert: HeldInsert,
    v0: unknown,
    v1: unknown,
    v2: unknown,
    v3: unknown,
    v4: unknown,
    v5?: unknown,
  ): void {
    this.#held.hold(this.#cached, insert, v0, v1, v2, v3, v4, v5);
  }

  /** Writes the held rows now (see {@link hold}); on a throw nothing stays held. */
  writeHeld(): void {
    this.#held.write(this.#cached);
  }

  /** Drops the held rows: what they were held for was rolled back. */
  clearHeld(): void {
    this.#held.clear();
  }

  /** A prepared statement for `sql`, cached; writes no held rows. */
  readonly #cached = (sql: string): Database.Statement => {
    let s = this.#statements.get(sql);
    if (s === undefined) {
      if (this.#statements.size >= MAX_CACHED_STATEMENTS) this.#statements.clear();
      s = this.db.prepare(sql);
      this.#statements.set(sql, s);
    }
    return s;
  };

  /** Whether the file has the schema object (index or full-text table) named `name`. */
  hasObject(name: string): boolean {
    return this.#objects.has(name);
  }

  /** The searchable field ids of a node type's full-text table, if the file has one. */
  ftsFields(typeId: number): readonly number[] | undefined {
    return this.#fts.get(typeId);
  }

  /**
   * Writes the applied position inside the caller's transaction. Call
   * {@link commitState} after the transaction committed.
   */
  writeState(state: TenantState): void {
    this.stmt(
      "UPDATE tenant_state SET log_partition = ?, applied_offset = ?, schema_version = ? WHERE singleton = 1",
    ).run(state.partition, state.appliedOffset, state.schemaVersion);
  }

  /**
   * Transactions that changed rows committed through this handle ({@link commitState}):
   * the read caches (`node-cache.ts`) trust an entry only while this is the count they
   * were last told about, so a commit that names nothing clears them.
   */
  get commits(): number {
    return this.#commits;
  }

  /** Makes a committed {@link writeState} visible to readers of {@link state}. */
  commitState(state: TenantState): void {
    this.#commits++;
    this.#state = state;
    this.#onCommit?.(state);
  }

  /**
   * Brings the schema objects to those of `schema`: drops indexes and full-text tables
   * it no longer declares (or declares differently), creates the new ones and fills new
   * full-text tables from the stored nodes. Must run inside the caller's transaction,
   * so a failure (e.g. a new unique index over duplicate data) leaves the file as it
   * was. The caller records the version with {@link writeState}.
   */
  migrateTo(schema: Schema): void {
    this.ftsWrites.flush(this);
    const desired = schemaObjects(schema);
    const wanted = new Map(desired.map((o) => [o.name, o.sql]));
    const existing = (
      this.db
        .prepare("SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'table')")
        .all() as {
        type: string;
        name: string;
        sql: string | null;
      }[]
    ).filter((o) => parseObjectName(o.name) !== undefined);
    const have = new Map(existing.map((o) => [o.name, o.sql]));
    this.#statements.clear();
    for (const o of existing) {
      if (wanted.get(o.name) === o.sql) continue;
      this.db.exec(`DROP ${o.type === "index" ? "INDEX" : "TABLE"} ${o.name}`);
    }
    for (const o of desired) {
      if (have.get(o.name) === o.sql) continue;
      if (this.bulkLoading && o.kind !== "unique") continue;
      this.db.exec(o.sql);
      if (o.kind === "fts") this.db.exec(ftsPopulateSql(o.typeId, o.fieldIds));
    }
    this.#loadFts();
  }

  /** Re-reads which full-text tables exist (after a migration or a rollback of one). */
  reloadSchemaObjects(): void {
    this.ftsWrites.clear();
    this.#statements.clear();
    this.#loadFts();
  }

  /**
   * The edge type ids that have edges in the database, ascending. Each step is one
   * seek on the primary key (edge_type_id first), so this costs one lookup per edge
   * type rather than a scan of the edges, and it needs no schema model (edges of a
   * type a newer schema dropped are still found).
   */
  edgeTypeIds(): number[] {
    const stmt = this.stmt("SELECT min(edge_type_id) AS t FROM edges WHERE edge_type_id > ?");
    const out: number[] = [];
    let after = -1n;
    for (;;) {
      const row = stmt.get(after) as { t: bigint | null };
      if (row.t === null) return out;
      out.push(Number(row.t));
      after = row.t;
    }
  }

  /**
   * Makes what was written durable with one sync of the file: puts a copy of a template
   * back in WAL mode, checkpoints the `-wal` file into it (without syncs, if the handle
   * has them off), turns the connection's syncs back to `synchronous = NORMAL`, and syncs
   * the file off the thread (so a caller can sync several at once and go on meanwhile). A
   * file copied from a template is written without syncs and with its rollback journal in
   * memory (safe against neither a power loss nor a process killed mid-commit) and needs
   * this before anything relies on it; three syncs a file (the `-wal` header at the first
   * write, and the `-wal` file and the file at the checkpoint) become one.
   */
  async makeDurable(): Promise<void> {
    // A copy of a template was loaded in `journal_mode = MEMORY` (open): into WAL mode, as
    // a server finds every tenant file (the mode is in the file's header).
    if (this.db.pragma("journal_mode", { simple: true }) !== "wal")
      this.db.pragma("journal_mode = WAL");
    const [result] = this.db.pragma("wal_checkpoint(TRUNCATE)") as { busy: bigint | number }[];
    if (result === undefined || Number(result.busy) !== 0)
      throw new StoreError(
        "tenant-unavailable",
        `The database of tenant ${JSON.stringify(this.tenant)} could not be checkpointed: another connection reads it.`,
      );
    this.db.pragma("synchronous = NORMAL");
    const file = await openFile(this.path, "r");
    try {
      await file.sync();
    } finally {
      await file.close();
    }
  }

  /** Closes the handle; SQLite checkpoints the WAL into the file on the last close. */
  close(): void {
    this.#statements.clear();
    if (!this.db.open) return;
    try {
      // Refreshes planner statistics where they drifted (SQLite's advice for closing).
      if (this.optimizeOnClose) this.db.pragma("optimize");
    } catch {
      // Statistics only steer the planner; a failure here must not keep the file open.
    }
    this.db.close();
  }

  #loadFts(): void {
    const names = (
      this.db.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'index')").all() as {
        name: string;
      }[]
    ).map((r) => r.name);
    this.#objects = new Set(names.filter((n) => parseObjectName(n) !== undefined));
    const fts = new Map<number, readonly number[]>();
    for (const name of this.#objects) {
      const parsed = parseObjectName(name);
      if (parsed?.kind !== "fts") continue;
      const cols = this.db.pragma(`table_info(${name})`) as { name: string }[];
      fts.set(
        parsed.typeId,
        cols.map((c) => Number(c.name.slice(1))),
      );
    }
    this.#fts = fts;
  }
}

/** Registers the function that gives what a full-text column holds for a field value. */
function addFtsText(db: Database.Database): void {
  db.function(FTS_TEXT_FUNCTION, { deterministic: true }, (value: unknown) =>
    typeof value === "string" ? ftsText(value) : value,
  );
}

/** What `open` and `openReadOnly` throw when a tenant's file cannot be used. */
function unusableFile(tenant: string, cause: unknown): StoreError {
  return new StoreError(
    "tenant-unavailable",
    `The database of tenant ${JSON.stringify(tenant)} cannot be used: ${cause instanceof Error ? cause.message : String(cause)}.`,
    { cause },
  );
}

/** The `tenant_state` row of a tenant file, checked to be `tenant`'s. */
function readState(db: Database.Database, tenant: string): TenantState {
  const row = db
    .prepare(
      "SELECT tenant, log_partition, applied_offset, schema_version FROM tenant_state WHERE singleton = 1",
    )
    .get() as
    | { tenant: string; log_partition: bigint; applied_offset: bigint; schema_version: bigint }
    | undefined;
  if (!row) throw new StoreError("corrupt", "the file has no tenant_state row");
  if (row.tenant !== tenant)
    throw new StoreError(
      "tenant-unavailable",
      `the file belongs to tenant ${JSON.stringify(row.tenant)}`,
    );
  return {
    partition: Number(row.log_partition),
    appliedOffset: Number(row.applied_offset),
    schemaVersion: Number(row.schema_version),
  };
}
