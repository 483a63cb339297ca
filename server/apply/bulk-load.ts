/**
 * Bulk load: a tenant applied from nothing (a restore into an empty data dir) keeps its
 * non-unique secondary indexes and its full-text tables off while its events are
 * applied, and builds them once at the end, as `pg_restore` does. Built in one pass
 * instead of one B-tree insertion per row and index (and one full-text write per batch),
 * they cost a fraction of what each event paid for them.
 *
 * What is deferred: the nodes' `nodes_by_type` and `nodes_by_owner`, the schema's
 * non-unique node and edge indexes (`ix_…`), and the full-text tables (`fts_n…`, filled
 * at the end from the nodes' searchable fields, as a migration that adds one fills it:
 * the same rows and text; only FTS5's segment layout differs, which replay does not
 * promise, docs/durability.md). Nothing the applier decides reads them:
 * its lookups go by node id, by unique index (which stays, so unique checks and the
 * UNIQUE constraints work as they do live), by the edges' primary key and by
 * `edges_by_to` (which stays: deleting a node names it with `INDEXED BY`). Rows are the
 * same with or without an index, and what is built at the end has the same SQL as what a
 * live-applied tenant has, so the canonical dump is the same byte for byte
 * (`tests/apply/bulk-load.test.ts` proves it, and the full-text state, on the replay
 * scenario and random logs).
 *
 * What it assumes: the caller {@link BulkLoad.finish}es before anyone reads the tenants;
 * until then their indexes and full-text tables are missing (a query that names an index
 * with `INDEXED BY` fails, a search finds nothing). So that a process killed in between
 * cannot leave such a file to be served, the drops and the table
 * {@link BULK_LOAD_UNFINISHED} are made in one transaction, and that table is dropped in
 * the transaction that builds them again: the start-up check (server/store/derived-check.ts)
 * sets aside a tenant file that has it and rebuilds the tenant from the log. A restore's
 * template for new files is put in that state once ({@link BulkLoad.prepareTemplate}), so
 * a copy has the table from the moment it exists and its first batch drops nothing; and
 * from it, one template per schema version the restore's tenants start at, migrated to it
 * as a bulk-loaded file migrates ({@link BulkLoad.prepareVersionTemplate}), so their first
 * event migrates nothing.
 * A tenant that had anything applied before (one placed from a snapshot) is left alone.
 */

import Database from "better-sqlite3";
import { parseObjectName } from "../../codegen/store-layout/index.ts";
import type { Schema } from "../../schema/index.ts";
import { BULK_LOAD_UNFINISHED } from "../store/bulk-load-marker.ts";
import type { Store } from "../store/store.ts";
import { StoreError } from "../store/store-error.ts";
import { TenantDb } from "../store/tenant-db.ts";
import { removeTenantTemplate, TEMPLATE_TENANT } from "../store/tenant-template.ts";
import type { ApplierOptions } from "./applier.ts";

/** The base layout's non-unique node indexes (tenant-ddl.ts, access-tables.ts). */
const BASE_INDEXES = new Set(["nodes_by_type", "nodes_by_owner"]);

interface Deferred {
  /** The handle last prepared and its schema version: reopening or migrating may add indexes back. */
  db: TenantDb | undefined;
  version: number;
  /** The base indexes dropped, with the SQL that creates them again. */
  readonly base: Map<string, string>;
  /**
   * Copied from a built template ({@link BulkLoad.prepareVersionTemplate}): its indexes and
   * full-text tables are kept and written per event, as live; only the mark is dropped at the end.
   */
  readonly built: boolean;
}

/** The deferred indexes and full-text tables of the tenants a restore applies from nothing; one per restore. */
export class BulkLoad {
  readonly #tenants = new Map<string, Deferred>();
  /** Tenants seen with state already applied: not bulk-loaded. */
  readonly #skipped = new Set<string>();
  /** The base indexes {@link prepareTemplate} dropped from the template, with their SQL. */
  readonly #templateBase = new Map<string, string>();

  /**
   * Puts a template for new tenant files (server/store/tenant-template.ts) in the state
   * {@link prepare} puts a new tenant's file in: the base indexes dropped and the
   * {@link BULK_LOAD_UNFINISHED} marker made, in one transaction. A copy then starts as a
   * bulk-loaded file, and its first batch has nothing to drop (no schema change there,
   * so the statements prepared on it stay compiled). The template holds no schema
   * objects yet (version 0). Call before the template is first copied.
   */
  prepareTemplate(path: string): void {
    const db = new Database(path, { fileMustExist: true });
    try {
      // A template is a restore's own file, removed when it ends: never synced.
      db.pragma("synchronous = OFF");
      const indexes = db
        .prepare("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        .all() as { name: string; sql: string }[];
      db.transaction(() => {
        db.exec(`CREATE TABLE IF NOT EXISTS ${BULK_LOAD_UNFINISHED} (x)`);
        for (const { name, sql } of indexes) {
          if (!BASE_INDEXES.has(name)) continue;
          db.exec(`DROP INDEX ${name}`);
          this.#templateBase.set(name, sql);
        }
      })();
    } finally {
      db.close();
    }
  }

  /**
   * Writes at `path` a copy of the template `base` ({@link prepareTemplate} prepared it)
   * migrated to `schema`, schema version `version`, as a bulk-loaded tenant's first event
   * at that version migrates its copy: only the unique indexes made (`TenantDb.bulkLoading`),
   * the version recorded, nothing applied (partition -1, offset 0). A tenant whose first
   * event is at that version, copied from it, is then the file that event's migration
   * would have made, and its first batch migrates nothing; {@link finish} builds the rest,
   * as for any other. One transaction: on failure nothing is left at `path`.
   *
   * `built`: with everything instead, the base indexes made again and the version's
   * indexes and full-text tables (empty), the mark kept. For tenants so small that keeping
   * their indexes and full-text rows per event, as the live applier does, costs less than
   * building them at the end (each of the schema's objects is created whatever the tenant
   * holds): a copy is recognized by {@link prepare} (marked, its base indexes there), which
   * drops nothing from it, and {@link finish} only removes its mark.
   */
  prepareVersionTemplate(
    base: string,
    path: string,
    schema: Schema,
    version: number,
    built = false,
  ): void {
    removeTenantTemplate(path);
    let db: TenantDb | undefined;
    try {
      db = TenantDb.open(TEMPLATE_TENANT, path, true, { template: base })!;
      const made = db;
      made.bulkLoading = !built;
      made.db.transaction(() => {
        if (built) for (const sql of this.#templateBase.values()) made.db.exec(sql);
        made.migrateTo(schema);
        made.writeState({ partition: -1, appliedOffset: 0, schemaVersion: version });
      })();
      // A built template's copies (small tenants) are written in WAL mode, as before: a
      // copy's switch from `journal_mode = MEMORY` back to WAL costs a file of a few
      // dozen events more than writing its pages twice (docs/performance-log.md, "The
      // applier's cost per event", item 18).
      if (built) made.db.pragma("journal_mode = WAL");
      // Closed without `TenantDb.close`'s `PRAGMA optimize`: it stands for a file just made.
      made.db.close();
    } catch (error) {
      if (db?.isOpen) db.db.close();
      removeTenantTemplate(path);
      throw error;
    }
  }

  /**
   * Drops the deferrable indexes and full-text tables of `db` if its tenant is bulk-loaded (nothing applied
   * when first seen). Runs before each of the tenant's batches, outside its transaction
   * (`ApplierOptions.beforeTenantBatch`); cheap when nothing changed since the last call.
   */
  prepare(db: TenantDb): void {
    let deferred = this.#tenants.get(db.tenant);
    if (deferred === undefined) {
      if (this.#skipped.has(db.tenant)) return;
      if (db.state.partition !== -1) {
        this.#skipped.add(db.tenant);
        return;
      }
      const objects = db.db
        .prepare("SELECT name FROM sqlite_master WHERE name IN (?, ?)")
        .pluck()
        .all(BULK_LOAD_UNFINISHED, "nodes_by_type");
      // A copy of a built template: marked, with its base indexes (a fresh file has them
      // unmarked; a copy of the other templates, marked without them).
      const built = objects.length === 2;
      // A copy of the template prepareTemplate() made lacks these from the start.
      deferred = { db: undefined, version: -1, base: new Map(this.#templateBase), built };
      this.#tenants.set(db.tenant, deferred);
    }
    // Nothing deferred: it is written as live, migrations included.
    if (deferred.built) return;
    // A handle this prepared makes nothing deferrable when it migrates (`bulkLoading`).
    if (deferred.db === db && (db.bulkLoading || deferred.version === db.state.schemaVersion))
      return;
    const objects = db.db
      .prepare(
        "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'table') AND sql IS NOT NULL",
      )
      .all() as { type: string; name: string; sql: string }[];
    let fts = false;
    const base = deferred.base;
    let marked = false;
    const drops: string[] = [];
    for (const { type, name, sql } of objects) {
      const kind = parseObjectName(name)?.kind;
      if (type === "table") {
        if (name === BULK_LOAD_UNFINISHED) marked = true;
        // A full-text table (its shadow tables go with it): the applier then queues no
        // full-text rows for the type, and the build at the end fills it from the nodes.
        if (kind !== "fts") continue;
        drops.push(`DROP TABLE ${name}`);
        fts = true;
        continue;
      }
      if (BASE_INDEXES.has(name)) base.set(name, sql);
      else if (kind !== "index" && kind !== "edge-index") continue;
      drops.push(`DROP INDEX ${name}`);
    }
    // One transaction with the marker: a file is never without its indexes unmarked. A
    // copy of a prepared template has nothing to drop and its marker already.
    if (drops.length > 0 || !marked)
      db.db.transaction(() => {
        db.db.exec(`CREATE TABLE IF NOT EXISTS ${BULK_LOAD_UNFINISHED} (x)`);
        for (const drop of drops) db.db.exec(drop);
      })();
    // Re-reads which full-text tables exist; nothing is queued between two batches.
    if (fts) db.reloadSchemaObjects();
    // Its migrations now make only the unique indexes, until finish().
    db.bulkLoading = true;
    deferred.db = db;
    deferred.version = db.state.schemaVersion;
  }

  /**
   * Drops again what a migration of `db` just made, inside the transaction of the batch
   * that migrated (`ApplierOptions.afterMigration`): without it, the rest of that batch
   * would write the new indexes and full-text rows. Rolled back with the migration if
   * its event fails; the next {@link prepare} looks again either way.
   */
  afterMigration(db: TenantDb): void {
    const deferred = this.#tenants.get(db.tenant);
    // A handle prepared here (`bulkLoading`) migrated without making them.
    if (deferred === undefined || deferred.built || db.bulkLoading) return;
    deferred.db = undefined;
    this.prepare(db);
    // `db.state` is still the version before the migration: the next batch looks again.
    deferred.db = undefined;
  }

  /** The applier options that make an applier bulk-load through this: {@link prepare} and {@link afterMigration}. */
  get applierHooks(): Pick<ApplierOptions, "beforeTenantBatch" | "afterMigration"> {
    return {
      beforeTenantBatch: (db) => this.prepare(db),
      afterMigration: (db) => this.afterMigration(db),
    };
  }

  /** Tenants whose indexes are deferred. */
  get tenants(): readonly string[] {
    return [...this.#tenants.keys()];
  }

  /**
   * Builds the deferred indexes and full-text tables of `tenant`: the base indexes with
   * the SQL they were made with, the schema's objects as a migration to the tenant's own
   * version makes them. One transaction: on failure the tenant is left without them and
   * the error is thrown.
   */
  finish(store: Store, tenant: string): void {
    const deferred = this.#tenants.get(tenant);
    if (deferred === undefined) return;
    const db = store.tenant(tenant, false);
    if (db === undefined) return;
    if (deferred.built) {
      // Its objects are those of its version already, kept as live: only the mark goes.
      db.db.exec(`DROP TABLE IF EXISTS ${BULK_LOAD_UNFINISHED}`);
      this.#tenants.delete(tenant);
      return;
    }
    const version = db.state.schemaVersion;
    const model = version === 0 ? undefined : store.model(version);
    if (version !== 0 && model === undefined)
      throw new StoreError(
        "tenant-unavailable",
        `Tenant ${JSON.stringify(tenant)} is at schema version ${version}, which the restored log does not hold; its indexes were not built.`,
      );
    db.bulkLoading = false;
    db.db.transaction(() => {
      for (const [name, sql] of deferred.base) {
        const exists = db.db
          .prepare("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?")
          .get(name);
        if (!exists) db.db.exec(sql);
      }
      if (model !== undefined) db.migrateTo(model);
      db.db.exec(`DROP TABLE IF EXISTS ${BULK_LOAD_UNFINISHED}`);
    })();
    this.#tenants.delete(tenant);
  }
}
