/**
 * The API's view of each tenant's membership, kept in memory so a request's access
 * check costs a map lookup rather than a query.
 *
 * Only committed state gets in: an entry is loaded from the tenant database on use, and
 * the applier drops a tenant's entry after the transaction that changed its access
 * tables committed (or rolled back). The applier never reads through this cache: its
 * decisions read the database inside their own transaction, so a change that is rolled
 * back is never seen by anyone. Reads and the applier's transactions do not interleave
 * (both run synchronously on one thread), so a load never sees a transaction half done.
 *
 * A tenant without a database is not cached (its database may appear with the next
 * event); the bound keeps memory flat however many tenants there are.
 */

import type { TenantAccess } from "../store/access-tables.ts";

/** Default number of tenants whose membership is kept. */
export const DEFAULT_ACCESS_CACHE_SIZE = 4096;

/** Loads a tenant's membership from its database; undefined when it has none. */
export type AccessLoader = (tenant: string) => TenantAccess | undefined;

/** The membership cache. */
export class AccessCache {
  readonly #load: AccessLoader;
  readonly #max: number;
  /** Least recently used first. */
  readonly #entries = new Map<string, TenantAccess>();

  constructor(load: AccessLoader, max = DEFAULT_ACCESS_CACHE_SIZE) {
    this.#load = load;
    this.#max = Math.max(1, max);
  }

  /** The tenant's committed membership; undefined when the tenant has no database. */
  get(tenant: string): TenantAccess | undefined {
    const hit = this.#entries.get(tenant);
    if (hit !== undefined) {
      this.#entries.delete(tenant);
      this.#entries.set(tenant, hit);
      return hit;
    }
    const loaded = this.#load(tenant);
    if (loaded === undefined) return undefined;
    this.#entries.set(tenant, loaded);
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    return loaded;
  }

  /** Drops a tenant's entry; the applier calls this once a change to it has committed. */
  invalidate(tenant: string): void {
    this.#entries.delete(tenant);
  }
}
