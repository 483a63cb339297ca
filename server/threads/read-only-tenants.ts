/**
 * A serving thread's tenant databases: read-only SQLite connections to the files the
 * main thread's applier writes (WAL mode, so each read transaction sees every commit
 * made before it began), in an LRU bounded like the main thread's.
 *
 * What it keeps of a tenant (the file's state and schema objects, and through the
 * handle's commit count the node and edge caches) is trusted only while the tenant's
 * commit counter (thread-state.ts) is the one it last saw: the main thread bumps it
 * after each commit and before the commit's writes are acknowledged, and a changed
 * counter refreshes the handle first (`TenantDb.refresh`), which drops the caches.
 */

import { join } from "node:path";
import type { Schema } from "../../schema/index.ts";
import type { ServedSchema } from "../engine.ts";
import { forgetGrants } from "../store/granted-ids.ts";
import { TenantDb } from "../store/tenant-db.ts";
import { tenantFileName, validateTenantId } from "../store/tenant-id.ts";
import { ThreadState } from "./thread-state.ts";

interface Handle {
  readonly db: TenantDb;
  commits: number;
  /** The slot's hold count when it was opened: a hold since means the file may be another. */
  readonly holds: number;
}

/** The read-only handles of one serving thread. */
export class ReadOnlyTenants {
  readonly tenantsDir: string;
  readonly #state: ThreadState;
  readonly #max: number;
  readonly #versions: () => ReadonlyMap<number, ServedSchema>;
  /** Least recently used first. */
  readonly #open = new Map<string, Handle>();

  constructor(options: {
    readonly dataDir: string;
    readonly state: ThreadState;
    readonly maxOpenTenants: number;
    /** The registered schema versions this thread loaded. */
    readonly versions: () => ReadonlyMap<number, ServedSchema>;
  }) {
    this.tenantsDir = join(options.dataDir, "tenants");
    this.#state = options.state;
    this.#max = Math.max(1, options.maxOpenTenants);
    this.#versions = options.versions;
  }

  /**
   * The database of `tenant` as of the last commit acknowledged, or `undefined` when it
   * has none. Throws `invalid-tenant` for a bad id and `tenant-unavailable` for a file
   * that cannot be used (the caller hands such reads to the main thread).
   */
  readTenant(tenant: string): TenantDb | undefined {
    const id = validateTenantId(tenant);
    // Read before the refresh: a commit counted after this is seen by the next read.
    const slot = ThreadState.slot(id);
    const commits = this.#state.commits(slot);
    const holds = this.#state.holds(slot);
    let handle = this.#open.get(id);
    if (handle !== undefined && handle.holds !== holds) {
      this.#open.delete(id);
      handle.db.close();
      handle = undefined;
    }
    if (handle !== undefined) {
      this.#open.delete(id);
      this.#open.set(id, handle);
      if (handle.commits !== commits) {
        handle.db.refresh();
        // Grants and denies are cached per handle and cleared by triggers that fire only
        // for this connection's writes: a commit of the writer's must clear them here.
        forgetGrants(handle.db);
        handle.commits = commits;
      }
      return handle.db;
    }
    // A tenant without a file is not remembered: the main thread may create it any time.
    const db = TenantDb.openReadOnly(id, join(this.tenantsDir, tenantFileName(id)));
    if (db === undefined) return undefined;
    this.#open.set(id, { db, commits, holds });
    while (this.#open.size > this.#max) {
      const [oldest, h] = this.#open.entries().next().value as [string, Handle];
      this.#open.delete(oldest);
      h.db.close();
    }
    return db;
  }

  /** As `Store.readModel`: the newest registered model, else the tenant's own version's. */
  readModel(db: TenantDb): Schema | undefined {
    const versions = this.#versions();
    let latest = db.state.schemaVersion;
    for (const v of versions.keys()) if (v > latest) latest = v;
    return versions.get(latest)?.model ?? versions.get(db.state.schemaVersion)?.model;
  }

  /** As `Store.model`: the model of a registered schema version. */
  model(version: number): Schema | undefined {
    return this.#versions().get(version)?.model;
  }

  /** Closes every handle. */
  close(): void {
    for (const h of this.#open.values()) h.db.close();
    this.#open.clear();
  }
}
