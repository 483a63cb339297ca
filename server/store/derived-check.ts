/**
 * The start-up check of the derived state (DESIGN.md contract 8): every file in the data
 * dir that was derived from the log records what it came from, and one that is missing,
 * stale, foreign or corrupt is rebuilt from the log, never served.
 *
 * Rules, in order (after setting aside `-wal`/`-shm` files whose database is gone, which
 * SQLite would replay into a new file of the same name):
 * 1. `meta.sqlite` must pass `PRAGMA quick_check` and record this log's identity. If it
 *    is missing (while tenant files or logged events exist), corrupt or from another
 *    log, it is set aside and made anew (logged at `warn`, but at `info` for a missing
 *    one in a data dir without tenant files or one a restore is filling: a new one): every partition is read again from offset 0,
 *    and every tenant of a partition is held until the log end found at start is
 *    applied (nothing says which tenant files are current).
 * 2. Each tenant file must open as that tenant's database, pass `PRAGMA quick_check`,
 *    record this log's identity and sit in the tenant's partition. One that does not is
 *    set aside and the tenant replayed from offset 0.
 * 3. A tenant file older than `meta.sqlite` records (the tenant's applied position at
 *    the last checkpoint) is kept and caught up from its own position.
 * 4. A tenant `meta.sqlite` knows but whose file is missing is replayed from offset 0.
 *
 * A tenant under 2–4 is held from readers (`tenant-unavailable`, "being rebuilt from
 * the log") until the applier has processed its partition up to the log end found at
 * start; the server starts and serves the other tenants meanwhile. Files are moved to
 * `<dataDir>/set-aside/`, never deleted, so an operator can look at them.
 *
 * A rebuild that needs records the log no longer holds (local retention deleted them
 * after archiving, `server/archive/log-retention.ts`) is refused: the start fails with a
 * `DataDirError` naming what needs rebuilding and how to restore it from the archive,
 * rather than serving a tenant rebuilt from part of its history.
 */

import { existsSync, mkdirSync, readdirSync, renameSync } from "node:fs";
import { basename, join } from "node:path";
import { DataDirError, RESTORE_UNFINISHED } from "../data-dir.ts";
import type { Logger } from "../log.ts";
import { BULK_LOAD_UNFINISHED } from "./bulk-load-marker.ts";
import { MetaDb, quickCheck, type TenantPosition } from "./meta-db.ts";
import { RebuildGate } from "./rebuild-gate.ts";
import { openStore, type Store, type StoreOptions } from "./store.ts";
import { TenantDb, type TenantState } from "./tenant-db.ts";
import { tenantIdFromFileName } from "./tenant-id.ts";

/** What the check needs of the log (a `Wal` has it). */
export interface DerivedSource {
  readonly identity: string;
  readonly partitions: number;
  partitionFor(tenant: string): number;
  endOffset(partition: number): Promise<number>;
  /** The lowest offset a partition still holds, for a log that deletes old records. */
  logStart?(partition: number): number;
  /** What deleted the records below `logStart` (default: the embedded log's local retention). */
  readonly logStartCause?: string;
}

/** Options of {@link openCheckedStore}. */
export interface CheckedStoreOptions extends Omit<StoreOptions, "logIdentity" | "gate"> {
  readonly wal: DerivedSource;
  readonly logger: Logger;
  /** Test hook, see `RebuildGateOptions.hold`. */
  readonly holdRebuild?: () => Promise<void>;
}

/** The checked store, and whether `meta.sqlite` was made anew (its recorded schemas are then gone). */
export interface CheckedStore {
  readonly store: Store;
  readonly metaRebuilt: boolean;
}

const SIDE_FILES = ["-wal", "-shm", "-journal"] as const;

/** Checks the data dir against the log, sets aside what cannot be served, and opens the store. */
export async function openCheckedStore(options: CheckedStoreOptions): Promise<CheckedStore> {
  const { wal, logger, dataDir } = options;
  const ends: number[] = [];
  for (let p = 0; p < wal.partitions; p++) ends.push(await wal.endOffset(p));
  const logged = ends.some((end) => end > 0);
  const tenantsDir = join(dataDir, "tenants");
  mkdirSync(tenantsDir, { recursive: true });
  const tenantFiles = readdirSync(tenantsDir).filter(
    (name) => !SIDE_FILES.some((suffix) => name.endsWith(suffix)),
  );
  const metaPath = join(dataDir, "meta.sqlite");
  setAsideOrphans(dataDir, tenantsDir, (name) => name.endsWith(".sqlite"), logger);
  setAsideOrphans(dataDir, dataDir, (name) => name === "meta.sqlite", logger);

  let metaProblem: string | undefined;
  if (existsSync(metaPath)) {
    metaProblem = inspectMeta(metaPath, wal.identity);
    if (metaProblem !== undefined) {
      const aside = setAside(dataDir, metaPath);
      logger.warn("meta.sqlite is rebuilt from the log", { reason: metaProblem, setAside: aside });
    }
  } else if (tenantFiles.length > 0 || logged) {
    metaProblem = "meta.sqlite is missing";
    // Only a data dir that holds tenant files lost a meta.sqlite. One without (a first
    // start on a log that has records) or one a restore is filling is new: it is built
    // from the log as a lost one would be, and nothing is wrong.
    if (tenantFiles.length > 0 && !existsSync(join(dataDir, RESTORE_UNFINISHED)))
      logger.warn("meta.sqlite is rebuilt from the log", { reason: metaProblem });
    else
      logger.info("meta.sqlite is built from the log", {
        reason: tenantFiles.length > 0 ? "a restore is filling the data dir" : "a new data dir",
      });
  }
  const fresh = !existsSync(metaPath);

  let store: Store | undefined;
  const gate = new RebuildGate({
    partitionFor: (tenant) => wal.partitionFor(tenant),
    logger,
    partitionDone: (partition) => store?.meta.setRebuild(partition, undefined),
    ...(options.holdRebuild ? { hold: options.holdRebuild } : {}),
  });
  store = openStore({ ...options, logIdentity: wal.identity, gate });
  try {
    const meta = store.meta;
    if (fresh) meta.setLogIdentity(wal.identity);
    if (metaProblem !== undefined) {
      ends.forEach((end, partition) => {
        if (end > 0) meta.setRebuild(partition, end);
      });
    }
    for (const [partition, until] of meta.rebuilds()) {
      gate.holdPartition(partition, until, metaProblem ?? "meta.sqlite was being rebuilt");
    }

    const known: ReadonlyMap<string, TenantPosition> =
      metaProblem === undefined ? meta.tenantPositions() : new Map();
    const found = new Set<string>();
    // A new meta.sqlite learns the tenants whose files are kept here: the replay only
    // notes tenants that apply something, and a tenant it does not know whose file later
    // goes missing would look like one that never existed.
    const kept = new Map<string, TenantPosition>();
    for (const name of tenantFiles) {
      const path = join(tenantsDir, name);
      const tenant = tenantIdFromFileName(name);
      if (tenant === undefined) {
        logger.warn("ignoring a file in tenants/ that no tenant id maps to", { file: name });
        continue;
      }
      found.add(tenant);
      const partition = wal.partitionFor(tenant);
      const end = ends[partition] ?? 0;
      const checked = inspectTenant(path, tenant, wal.identity, partition);
      if (typeof checked === "string") {
        const aside = setAside(dataDir, path);
        logger.warn("tenant database is rebuilt from the log", {
          tenant,
          reason: checked,
          setAside: aside,
        });
        gate.holdTenant(tenant, partition, end, 0, checked);
        continue;
      }
      if (checked.partition !== -1)
        kept.set(tenant, { partition: checked.partition, appliedOffset: checked.appliedOffset });
      const recorded = known.get(tenant);
      if (
        recorded !== undefined &&
        (checked.partition !== recorded.partition || checked.appliedOffset < recorded.appliedOffset)
      ) {
        const reason =
          `its database is older than meta.sqlite records (at ${checked.partition}:${checked.appliedOffset}, ` +
          `recorded ${recorded.partition}:${recorded.appliedOffset})`;
        logger.warn("tenant database catches up from the log", { tenant, reason });
        const from = checked.partition === partition ? checked.appliedOffset : 0;
        gate.holdTenant(tenant, partition, end, from, reason);
      }
    }
    for (const [tenant, recorded] of known) {
      if (found.has(tenant)) continue;
      const reason = "its database is missing";
      logger.warn("tenant database is rebuilt from the log", { tenant, reason });
      gate.holdTenant(tenant, recorded.partition, ends[recorded.partition] ?? 0, 0, reason);
    }
    if (metaProblem !== undefined) meta.recordTenants(kept);
    ends.forEach((end, partition) => {
      gate.holdAbsent(partition, end);
    });
    refuseRebuildBelowLogStart(options, store, gate, metaProblem);
    const held = gate.heldTenants().size;
    if (held > 0 || metaProblem !== undefined) {
      logger.info("derived state checked", {
        tenantFiles: tenantFiles.length,
        rebuilding: held,
        metaRebuilt: metaProblem !== undefined,
      });
    }
  } catch (err) {
    store.close();
    throw err;
  }
  return { store, metaRebuilt: metaProblem !== undefined };
}

/** Throws when a rebuild would read a partition from below the log start (see the module comment). */
function refuseRebuildBelowLogStart(
  options: CheckedStoreOptions,
  store: Store,
  gate: RebuildGate,
  metaProblem: string | undefined,
): void {
  const { wal, dataDir } = options;
  if (wal.logStart === undefined) return;
  for (let p = 0; p < wal.partitions; p++) {
    const from = store.replayStart(p);
    const start = wal.logStart(p);
    if (from >= start) continue;
    const what =
      metaProblem !== undefined
        ? `meta.sqlite must be rebuilt (${metaProblem})`
        : [...gate.heldTenants()]
            .filter(([tenant]) => wal.partitionFor(tenant) === p)
            .map(([tenant, reason]) => `tenant '${tenant}' must be rebuilt (${reason})`)
            .join("; ");
    const cause = wal.logStartCause ?? "local retention deleted older records after archiving them";
    throw new DataDirError(
      `The data dir ${dataDir} cannot be rebuilt from its log: ${what || `partition ${p} must be read on from meta.sqlite's checkpoint`}, which needs partition ${p} ` +
        `from offset ${from}, but the log starts at ${start} (${cause}). ` +
        "Restore it from the archive into a new directory (entdb restore --from ARCHIVE --data-dir NEW, ARCHIVE being the s3:// URL or directory given to --archive) and serve that.",
    );
  }
}

/** Why `meta.sqlite` cannot be used, or `undefined` if it can. */
function inspectMeta(path: string, identity: string): string | undefined {
  let meta: MetaDb;
  try {
    meta = new MetaDb(path);
  } catch (err) {
    return `it cannot be opened: ${message(err)}`;
  }
  try {
    const damage = meta.quickCheck();
    if (damage !== undefined) return `PRAGMA quick_check found: ${damage}`;
    const recorded = meta.logIdentity();
    if (recorded === undefined) return "it records no log identity";
    if (recorded !== identity)
      return `it was derived from another log (${recorded}, not ${identity})`;
    return undefined;
  } catch (err) {
    return `it cannot be read: ${message(err)}`;
  } finally {
    meta.close();
  }
}

/** Whether a restore stopped between dropping the tenant's indexes and building them (server/apply/bulk-load.ts). */
function bulkLoadUnfinished(db: TenantDb): boolean {
  return (
    db.db
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?")
      .get(BULK_LOAD_UNFINISHED) !== undefined
  );
}

/** The tenant's state if its file can be served from, else why not. */
function inspectTenant(
  path: string,
  tenant: string,
  identity: string,
  partition: number,
): TenantState | string {
  let db: TenantDb | undefined;
  try {
    db = TenantDb.open(tenant, path, false);
  } catch (err) {
    return message(err);
  }
  if (db === undefined) return "its database is missing";
  try {
    const damage = quickCheck(db.db);
    if (damage !== undefined) return `PRAGMA quick_check found: ${damage}`;
    if (db.logIdentity === undefined) return "its database records no log identity";
    if (bulkLoadUnfinished(db))
      return "a restore's bulk load of it did not finish (its indexes are missing)";
    if (db.logIdentity !== identity)
      return `its database was derived from another log (${db.logIdentity}, not ${identity})`;
    const state = db.state;
    if (state.partition !== -1 && state.partition !== partition)
      return `its database is at partition ${state.partition}, but the tenant's events are in partition ${partition}`;
    return state;
  } catch (err) {
    return `its database cannot be read: ${message(err)}`;
  } finally {
    db.close();
  }
}

/**
 * Sets aside `-wal`, `-shm` and `-journal` files whose database file is gone (deleted
 * after a crash): SQLite would replay such a `-wal` into a new file of the same name.
 */
function setAsideOrphans(
  dataDir: string,
  dir: string,
  derived: (name: string) => boolean,
  logger: Logger,
): void {
  for (const name of readdirSync(dir)) {
    const suffix = SIDE_FILES.find((s) => name.endsWith(s));
    if (suffix === undefined) continue;
    const mainName = name.slice(0, -suffix.length);
    const main = join(dir, mainName);
    if (!derived(mainName) || existsSync(main) || !existsSync(join(dir, name))) continue;
    const aside = setAside(dataDir, main);
    logger.warn("side file without its database; set aside", { file: name, setAside: aside });
  }
}

/** Moves `path` and its SQLite side files to `<dataDir>/set-aside/`; returns the new path. */
function setAside(dataDir: string, path: string): string {
  const dir = join(dataDir, "set-aside");
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replaceAll(":", "-");
  const target = join(dir, `${basename(path)}.${stamp}`);
  for (const suffix of ["", ...SIDE_FILES]) {
    if (existsSync(path + suffix)) renameSync(path + suffix, target + suffix);
  }
  return target;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A test hook for {@link CheckedStoreOptions.holdRebuild}: holds rebuilds while `path`
 * exists (polled), so an end-to-end test can read a tenant mid-rebuild. The server sets
 * it from `ENTDB_TEST_HOLD_REBUILD`; never set it in production (a held partition is
 * not applied, and the server cannot stop until the file is gone).
 */
export function holdWhileFileExists(path: string): () => Promise<void> {
  return async () => {
    while (existsSync(path)) await new Promise((resolve) => setTimeout(resolve, 50));
  };
}
