/**
 * The ids of the nodes granted (not denied) to a set of principals, sorted in SQLite's
 * order, kept per tenant database and principal set so a query of a private type can
 * walk its reader's grants in id order instead of testing every row of the type against
 * `access_grants` (`private-query.ts`), and a point read can decide from a binary search
 * (`node-point-reads.ts`); for a set not loaded, how many point reads SQLite decided for it
 * (which decides when a point read loads it); and whether the tenant has any deny at
 * all. Loading a set reads one range of the index `access_grants_by_principal` per
 * principal.
 *
 * Kept correct by the database itself: the first use on a connection adds temporary
 * triggers on `access_grants` (per connection, not stored in the file, so the canonical
 * dump does not change) that drop every set of that tenant on any insert, update or
 * delete, whoever runs it: a share, revoke or deny applied from the log, a replay, or a
 * test writing the table directly. A transaction that is rolled back also drops them, so
 * the next read reloads from committed state. Reads and the applier's transactions run on
 * one thread, so a read never loads a set from a transaction half done. Group and role
 * changes change the principal set a read is keyed by (`acl/read-scope.ts`), so they
 * reach a different entry.
 */

import { hasDenies } from "./access-tables.ts";
import type { SqlScalar } from "./stored-value-codec.ts";
import type { TenantDb } from "./tenant-db.ts";

/** A principal set's grants: ids ascending, each with its latest expiry (null: never). */
export interface GrantedIds {
  readonly ids: readonly string[];
  readonly until: readonly (bigint | null)[];
}

/** Most principal sets kept per tenant; past it the tenant's sets are dropped and reloaded. */
export const MAX_GRANT_SETS_PER_TENANT = 256;

/**
 * Point reads decide from a principal set's granted ids once loading them costs less
 * than what the reads decided by SQLite (a lookup on the node's grant rows, about 1 µs
 * more than a binary search) have cost since the last access change: loading costs
 * about 0.5 µs per grant row, so a point read loads the set once the set has had
 * {@link POINT_READS_BEFORE_LOAD} such reads and at least half as many as its grant
 * rows. Whatever a reader does, it pays at most about twice the cheaper of the two.
 * A query of a private type loads the set at once (it needs all of it).
 */
export const POINT_READS_BEFORE_LOAD = 16;

/**
 * Most principal sets per tenant whose point reads are counted (not loaded yet); past it
 * the counts are dropped and start again. Kept apart from the loaded sets, so that many
 * readers reading a few nodes each do not push out the sets that were loaded; as small
 * as that bound, because finding a set scans the ones kept for the same reader.
 */
export const MAX_COUNTED_SETS_PER_TENANT = 256;

/**
 * Most grant rows a point read loads; a larger set is loaded only by a query of a
 * private type, so that no single point read pays for loading thousands of rows.
 */
export const MAX_POINT_READ_GRANTS = 4_096;

interface TenantGrants {
  /**
   * The loaded sets by the principal set's first principal (the reader), each with its
   * whole principal set: finding one compares a few short strings instead of joining
   * and hashing the whole set on every read.
   */
  readonly sets: Map<string, Loaded[]>;
  /** How many sets `sets` holds. */
  size: number;
  /** The counted sets, found the same way. */
  readonly counted: Map<string, Counted[]>;
  /** How many sets `counted` holds. */
  countedSize: number;
  /** Whether the tenant has any deny; undefined until read. */
  denies: boolean | undefined;
}

/** A principal set's loaded grants. */
interface Loaded {
  readonly principals: readonly string[];
  readonly granted: GrantedIds;
}

/** A principal set not loaded, with its point reads since the tenant's last access change. */
interface Counted {
  readonly principals: readonly string[];
  /** Point reads SQLite decided for the set. */
  misses: number;
  /** Its grant rows, counted up to one past {@link MAX_POINT_READ_GRANTS}; undefined until needed. */
  rows: number | undefined;
}

const perDb = new WeakMap<TenantDb, TenantGrants>();

const CHANGED_FUNCTION = "entdb_access_grants_changed";

/** The grants of `principals` in `db`, from the cache or loaded with one statement. */
export function grantedIds(db: TenantDb, principals: readonly string[]): GrantedIds {
  const tenant = grantsOf(db);
  const found = find(tenant.sets, principals);
  if (found !== undefined) return found.granted;
  const granted = load(db, principals);
  // Inside a transaction the set may hold what a rollback undoes: used, not kept.
  if (db.db.inTransaction) return granted;
  return keep(tenant, principals, granted);
}

/**
 * For a point read: the grants of `principals` if they alone decide whether a node is
 * visible to them, that is the tenant has no deny and the set is loaded, or is loaded
 * now by the rule of {@link POINT_READS_BEFORE_LOAD} (never inside a transaction).
 * Undefined otherwise, and the read is counted: the caller asks SQLite about its node.
 */
export function loadedGrantsWithoutDenies(
  db: TenantDb,
  principals: readonly string[],
): GrantedIds | undefined {
  const tenant = grantsOf(db);
  if (tenantHasDenies(db)) return undefined;
  const found = find(tenant.sets, principals);
  if (found !== undefined) return found.granted;
  // Inside a transaction nothing is kept (a rollback could undo what it would hold).
  if (db.db.inTransaction) return undefined;
  let counted = find(tenant.counted, principals);
  if (counted === undefined) {
    if (tenant.countedSize >= MAX_COUNTED_SETS_PER_TENANT) {
      tenant.counted.clear();
      tenant.countedSize = 0;
    }
    counted = { principals: ownCopy(principals), misses: 0, rows: undefined };
    add(tenant.counted, counted);
    tenant.countedSize++;
  }
  if (++counted.misses < POINT_READS_BEFORE_LOAD) return undefined;
  if (counted.rows === undefined) {
    const bound = MAX_POINT_READ_GRANTS + 1;
    const { n } = db.stmt(COUNT_SQL).get(JSON.stringify(principals), bound) as { n: number };
    counted.rows = Number(n);
  }
  if (counted.rows > MAX_POINT_READ_GRANTS || counted.misses * 2 < counted.rows) return undefined;
  return keep(tenant, principals, load(db, principals));
}

/** Keeps `granted` as the loaded set of `principals` (no longer counted); returns it. */
function keep(
  tenant: TenantGrants,
  principals: readonly string[],
  granted: GrantedIds,
): GrantedIds {
  if (tenant.size >= MAX_GRANT_SETS_PER_TENANT) {
    tenant.sets.clear();
    tenant.size = 0;
  }
  add(tenant.sets, { principals: ownCopy(principals), granted });
  tenant.size++;
  const counted = find(tenant.counted, principals);
  if (counted !== undefined) {
    const same = tenant.counted.get(principals[0] ?? "") ?? [];
    same.splice(same.indexOf(counted), 1);
    tenant.countedSize--;
  }
  return granted;
}

function find<T extends { readonly principals: readonly string[] }>(
  sets: ReadonlyMap<string, readonly T[]>,
  principals: readonly string[],
): T | undefined {
  const same = sets.get(principals[0] ?? "");
  if (same === undefined) return undefined;
  next: for (const entry of same) {
    // A read scope's principals are one frozen array per membership snapshot
    // (acl/read-scope.ts), kept as is: the same array is the same set.
    if (entry.principals === principals) return entry;
    if (entry.principals.length !== principals.length) continue;
    for (let i = 1; i < principals.length; i++)
      if (entry.principals[i] !== principals[i]) continue next;
    return entry;
  }
  return undefined;
}

function add<T extends { readonly principals: readonly string[] }>(
  sets: Map<string, T[]>,
  entry: T,
): void {
  const reader = entry.principals[0] ?? "";
  const same = sets.get(reader);
  if (same === undefined) sets.set(reader, [entry]);
  else same.push(entry);
}

/** `principals` itself when frozen (nobody can change it), else a copy. */
function ownCopy(principals: readonly string[]): readonly string[] {
  return Object.isFrozen(principals) ? principals : [...principals];
}

function clear(tenant: TenantGrants): void {
  tenant.sets.clear();
  tenant.size = 0;
  tenant.counted.clear();
  tenant.countedSize = 0;
}

/**
 * Forgets what `db`'s grants were: for a read-only handle (a serving thread's) after it
 * moved to a later commit. The temporary triggers that clear them fire only for writes
 * through their own connection, and the writer's is another.
 */
export function forgetGrants(db: TenantDb): void {
  const tenant = perDb.get(db);
  if (tenant === undefined) return;
  clear(tenant);
  tenant.denies = undefined;
}

/** Whether `granted` holds `id` with a grant unexpired at `atMicros`. */
export function isGranted(granted: GrantedIds, id: string, atMicros: bigint): boolean {
  const i = firstAfter(granted.ids, id) - 1;
  if (i < 0 || granted.ids[i] !== id) return false;
  const until = granted.until[i];
  return until === null || until === undefined || until > atMicros;
}

/**
 * Whether the tenant has any deny (`hasDenies`, which every restricted read asks), kept
 * and dropped with the granted-id sets.
 */
export function tenantHasDenies(db: TenantDb): boolean {
  const tenant = grantsOf(db);
  if (tenant.denies !== undefined) return tenant.denies;
  const denies = hasDenies(db);
  if (!db.db.inTransaction) tenant.denies = denies;
  return denies;
}

function grantsOf(db: TenantDb): TenantGrants {
  let tenant = perDb.get(db);
  if (tenant === undefined) {
    const fresh: TenantGrants = {
      sets: new Map(),
      size: 0,
      counted: new Map(),
      countedSize: 0,
      denies: undefined,
    };
    // A rollback would drop triggers created inside its transaction while the sets stayed
    // kept: inside one, nothing is kept (every caller checks), so an empty entry serves.
    if (db.db.inTransaction) return fresh;
    db.db.function(CHANGED_FUNCTION, { deterministic: false }, () => {
      clear(fresh);
      fresh.denies = undefined;
      return null;
    });
    for (const op of ["INSERT", "UPDATE", "DELETE"])
      db.db.exec(
        `CREATE TEMP TRIGGER IF NOT EXISTS entdb_access_grants_${op.toLowerCase()} AFTER ${op} ON main.access_grants BEGIN SELECT ${CHANGED_FUNCTION}(); END`,
      );
    tenant = fresh;
    perDb.set(db, tenant);
  }
  return tenant;
}

/** How many grant rows (not denies) the principals have, counted up to the bound given. */
const COUNT_SQL =
  "SELECT count(*) AS n FROM (SELECT 1 FROM access_grants WHERE deny = 0 AND principal IN (SELECT value FROM json_each(?)) LIMIT +?)";

const LOAD_SQL =
  "SELECT node_id, CASE WHEN max(expires_at IS NULL) THEN NULL ELSE max(expires_at) END AS until FROM access_grants WHERE deny = 0 AND principal IN (SELECT value FROM json_each(?)) GROUP BY node_id ORDER BY node_id";

function load(db: TenantDb, principals: readonly string[]): GrantedIds {
  const rows = db.stmt(LOAD_SQL).all(JSON.stringify(principals)) as {
    node_id: string;
    until: SqlScalar;
  }[];
  const ids: string[] = [];
  const until: (bigint | null)[] = [];
  for (const r of rows) {
    ids.push(r.node_id);
    until.push(r.until === null ? null : BigInt(r.until as bigint | number));
  }
  return { ids, until };
}

/**
 * Compares two strings as SQLite's BINARY collation orders their UTF-8 bytes, which is
 * code point order; JavaScript's `<` compares UTF-16 units, which differs only where a
 * surrogate meets a unit from U+E000 to U+FFFF.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return rank(x) - rank(y);
  }
  return a.length - b.length;
}

function rank(unit: number): number {
  if (unit < 0xd800) return unit;
  return unit <= 0xdfff ? unit + 0x2000 : unit - 0x800;
}

/** The index of the first id in `ids` after `id` (binary search, code point order). */
export function firstAfter(ids: readonly string[], id: string): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareCodePoints(ids[mid]!, id) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
