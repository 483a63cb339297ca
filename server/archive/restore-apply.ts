/**
 * The apply phase of a restore: the restored log applied to the data dir by the live
 * {@link Applier}, on one thread or split by tenant among several.
 *
 * Tenants are independent (one SQLite file each), so a restore may apply them on
 * several threads at once: each thread runs its own applier over the restored log (given
 * the records the read phase holds, every thread applies them from memory without
 * opening the log file, `heldRecordsLog` in restore-records.ts; where they are not held,
 * this thread opens the file and each other one a copy of its own, since the file takes
 * an exclusive lock) and writes only the tenants it was given, so every tenant still has
 * exactly one writer and sees its events in log order. The threads share `meta.sqlite`
 * (SQLite serializes its writers; each write is one short transaction): schema changes
 * and bad events under keys that are no tenant id are recorded by each of them, which is
 * idempotent, and each moves the checkpoints to the end of the log once it is done. Tenants are split by their number
 * of events, so the threads finish together.
 *
 * Tenants applied from nothing are bulk-loaded (`server/apply/bulk-load.ts`): their
 * non-unique indexes are built once, after their last event, before the store closes; a
 * tenant whose indexes could not be built (it was parked, or the restore failed) has its
 * file removed, so a server started on the data dir rebuilds it from the log instead of
 * serving it without them.
 *
 * The appliers run with {@link RESTORE_APPLIER_OPTIONS}: batches of 1,024 entries
 * (fewer transactions, each page of a tenant file written to its `-wal` fewer times;
 * larger ones keep more decoded events alive at once, and the garbage collector's
 * threads then cost more than the commits saved), no checkpoint of the tenant files
 * until the end (each new file is checkpointed and synced once after its index build,
 * the others at the applier's stop; the resume point in `meta.sqlite` moves then, and an
 * interrupted restore is run again with `--force` anyway), no in-memory outcomes, which only callers waiting on their plans read,
 * and creates decoded lean (`ApplierOptions.leanCreates`: their plain field values kept
 * as read, no `Value` messages made for them).
 * Tenants applied from nothing migrate without making what the bulk load defers
 * (`TenantDb.bulkLoading`): only their unique indexes.
 * A new tenant file is a copy of a template migrated to the schema version of the
 * tenant's first event (first-versions.ts), so that event migrates nothing; a tenant of at
 * most {@link SMALL_TENANT_EVENTS} events gets one built at that version (its indexes and
 * full-text tables kept per event, as live, instead of built at the end), and is closed
 * without planner statistics, which a server gathers when it opens the file.
 *
 * Wall time around the appliers: the other threads are started while the archive is
 * read (restore-workers.ts), so their module loading is not waited for; new tenant files
 * are copies of a template made once per thread (server/store/tenant-template.ts), the
 * other threads' while the archive is read; they open the data dir while this thread
 * makes its templates per schema version; each
 * applier is woken after every batch, so the end of the log is seen when it is reached;
 * and the deferred indexes are built before the applier stops. New tenant files are
 * written with `synchronous = OFF` (safe against a killed process, not a power loss, like
 * any interrupted restore) and each is made durable once, indexes included, by a
 * checkpoint and one sync (`TenantDb.makeDurable`, up to {@link CONCURRENT_SYNCS} at
 * once, off the thread) before the applier's stop moves the resume point in
 * `meta.sqlite`; then the tenants dir is synced. `meta.sqlite`, the schema files and the
 * templates are written without syncs: the restore syncs the ones that stay at its end,
 * before it removes its `restore-unfinished` mark (restore-sync.ts).
 */

import { copyFileSync, readFileSync, rmSync } from "node:fs";
import { open as openFile } from "node:fs/promises";
import { totalmem } from "node:os";
import { join } from "node:path";
// The applier's, the store's and the log's modules by file, not through their folders'
// index.ts: a restore's apply threads load this module and what it imports (their
// module load is most of what a thread's start costs), and those entry points bring the
// store's read paths and search, the API's protobuf descriptors, and the Kafka and
// Kinesis clients, which applying the log does not use.
import { Applier } from "../apply/applier.ts";
import { BulkLoad } from "../apply/bulk-load.ts";
import { restoreLostSchemaFiles } from "../apply/schema-changes.ts";
import type { ServedSchema } from "../engine.ts";
import type { Logger } from "../log.ts";
import { loadVersions } from "../schema-registry.ts";
import { openCheckedStore } from "../store/derived-check.ts";
import { tenantFileName } from "../store/tenant-id.ts";
import { removeTenantTemplate, writeTenantTemplate } from "../store/tenant-template.ts";
import { openEmbeddedWal } from "../wal/embedded-wal.ts";
import { type Wal, type WalEntry, withSubscribe } from "../wal/wal.ts";
import {
  heldRecordsLog,
  heldRecordsWal,
  type PackedPartition,
  packRecords,
  transferList,
} from "./restore-records.ts";
import type { RestoreWorkers } from "./restore-workers.ts";

/** SQLite's default page cache per connection (`cache_size = -2000`, in KiB). */
const PAGE_CACHE_BYTES = 2000 * 1024;

/**
 * Tenant files a thread syncs at once at the end (libuv's threads run them; the disk
 * groups them into fewer journal commits than one after the other).
 */
const CONCURRENT_SYNCS = 16;

/**
 * Tenants with at most this many events in the restored log are copied from a built
 * template (`BulkLoad.prepareVersionTemplate`): their indexes and full-text rows are
 * written per event, as live, instead of built at the end. Building them costs a tenant
 * about 2.5 ms whatever it holds (each of the schema's objects is created); keeping them
 * costs a few µs an event (docs/performance-log.md, "The applier's cost per event", item 15).
 */
export const SMALL_TENANT_EVENTS = 500;

/** What a restore's appliers are given beyond the live defaults (see the module comment). */
export const RESTORE_APPLIER_OPTIONS = {
  maxBatch: 1024,
  checkpointIntervalMs: Number.POSITIVE_INFINITY,
  recentOutcomes: 0,
  leanCreates: true,
} as const;

/**
 * Tenant files a restore keeps open at most, over all its threads: a file closed before
 * the end is checkpointed and opened again for its next batch and for its index build,
 * each time costing about what applying 50 events costs, and a log that interleaves more
 * tenants than this closes one at nearly every batch of a tenant. Bounded by half the
 * process's file descriptors (three per open file: the database, its `-wal` and its
 * `-shm`; 1,024 files where the limit cannot be read), and by 4,096 and a quarter of the
 * machine's memory for their page caches (SQLite's default, up to 2 MiB each).
 */
export const RESTORE_OPEN_TENANTS = Math.max(
  1,
  Math.min(4096, Math.floor(openFileLimit() / 6), Math.floor(totalmem() / 4 / PAGE_CACHE_BYTES)),
);

/** The process's soft limit of open files, from Linux's /proc; 6,144 elsewhere (1,024 tenant files). */
function openFileLimit(): number {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"));
    const soft = Number(line?.split(/\s+/)[3]);
    return Number.isSafeInteger(soft) && soft > 0 ? soft : 6144;
  } catch {
    return 6144;
  }
}

/** What one applier of a restore is given. */
export interface RestoreApplyOptions {
  readonly dataDir: string;
  /**
   * The restored log; with {@link identity} and {@link records}, only where this thread's
   * templates are made beside (`${logPath}.tenant-template`), no file being opened there.
   */
  readonly logPath: string;
  /**
   * The restored log's identity, for a thread given {@link records}: it applies them from
   * memory without opening the log file (`heldRecordsLog`, restore-records.ts). The file
   * takes an exclusive lock, so a thread that opens it needs a copy of its own.
   */
  readonly identity?: string;
  /** Per partition, one past its last record. */
  readonly ends: readonly number[];
  readonly log: Logger;
  /** Told of the events processed so far (all of the log's, applied here or passed over). */
  readonly progress?: (done: number, total: number) => void;
  /** The tenants to write; absent: all. */
  readonly tenants?: ReadonlySet<string>;
  /**
   * The restored log's records per partition, from offset 0, as the read phase holds them:
   * delivered to the applier instead of read back from `logPath` (restore-records.ts).
   */
  readonly records?: readonly (readonly WalEntry[])[];
  /**
   * Tenant files this thread keeps open at most (default {@link RESTORE_OPEN_TENANTS});
   * given to `applyRestoredLogInParallel`, over all its threads.
   */
  readonly maxOpenTenants?: number;
  /**
   * Told once this thread made the data dir's shared files (`meta.sqlite`, the schema
   * files), before it makes its templates per version: the other threads may open the dir.
   */
  readonly dirReady?: () => void;
  /** Resolves when every applier of the restore has opened its store (see the module comment). */
  readonly opened?: () => Promise<void>;
  /**
   * Per tenant, the schema version its first logged event is applied at (first-versions.ts):
   * its new file is copied from a template migrated to it. Absent: from the unmigrated one.
   */
  readonly firstVersions?: ReadonlyMap<string, number>;
  /**
   * Tenants with at most {@link SMALL_TENANT_EVENTS} events: those with a first version
   * are copied from a template built at it (indexes and full-text tables kept per event).
   */
  readonly small?: ReadonlySet<string>;
  /**
   * This thread's template for new tenant files, made ahead for the log's identity (while
   * the archive was read, {@link prepareBaseTemplate}); absent: made here first.
   */
  readonly template?: PreparedTemplate;
}

/** A template for new tenant files and the bulk load that prepared it ({@link prepareBaseTemplate}). */
export interface PreparedTemplate {
  readonly path: string;
  readonly bulk: BulkLoad;
}

/**
 * Writes at `path` the template for new tenant files derived from the log `identity`, in
 * the bulk load's state (`BulkLoad.prepareTemplate`: its copies start bulk-loaded, their
 * first batch has no indexes to drop); the thread applying with `bulk` copies it. A
 * restore's other threads make theirs while the archive is read (restore-workers.ts).
 */
export function prepareBaseTemplate(
  path: string,
  identity: string,
  bulk = new BulkLoad(),
): PreparedTemplate {
  try {
    writeTenantTemplate(path, identity);
    bulk.prepareTemplate(path);
  } catch (error) {
    removeTenantTemplate(path);
    throw error;
  }
  return { path, bulk };
}

/** What one applier of a restore did. */
export interface AppliedShard {
  /** Tenants it parked. */
  readonly parked: readonly string[];
  /** Its thread's CPU time in ms; undefined where the runtime cannot tell (Node < 23.9). */
  readonly cpuMs: number | undefined;
}

/** Applies the restored log with the live applier on this thread. */
export async function applyRestoredLog(options: RestoreApplyOptions): Promise<AppliedShard> {
  const cpu = typeof process.threadCpuUsage === "function" ? process.threadCpuUsage() : undefined;
  const parked = await applyOnThisThread(options);
  if (cpu === undefined) return { parked, cpuMs: undefined };
  const used = process.threadCpuUsage(cpu);
  return { parked, cpuMs: (used.user + used.system) / 1000 };
}

async function applyOnThisThread(options: RestoreApplyOptions): Promise<string[]> {
  const { dataDir, logPath, ends, log } = options;
  const wal =
    options.identity !== undefined && options.records
      ? heldRecordsLog(options.identity, options.records)
      : await openEmbeddedWal({ path: logPath, writer: "inline" });
  let versions: ReadonlyMap<number, ServedSchema> = new Map();
  const bulk = options.template?.bulk ?? new BulkLoad();
  // Tenants built but not synced (an I/O error): removed like those not built.
  const unsynced: string[] = [];
  // New tenant files are copies of one made for this thread (server/store/tenant-template.ts).
  const template = options.template?.path ?? `${logPath}.tenant-template`;
  // And per schema version its tenants start at, a copy migrated to it (`prepareVersionTemplate`).
  const versionTemplates = new Map<number, string>();
  // And for small tenants, built at that version (`SMALL_TENANT_EVENTS`).
  const builtTemplates = new Map<number, string>();
  const templateFor = (tenant: string): string => {
    const version = options.firstVersions?.get(tenant);
    if (version === undefined) return template;
    const built = options.small?.has(tenant) ? builtTemplates.get(version) : undefined;
    return built ?? versionTemplates.get(version) ?? template;
  };
  try {
    if (options.template === undefined) prepareBaseTemplate(template, wal.identity, bulk);
    const { store, metaRebuilt } = await openCheckedStore({
      dataDir,
      schemas: (v) => versions.get(v),
      maxOpenTenants: options.maxOpenTenants ?? RESTORE_OPEN_TENANTS,
      wal,
      logger: log,
      tenantTemplate: templateFor,
      // Synced once at the restore's end, with the schema files (restore.ts): its data
      // dir is marked unfinished until then.
      unsyncedMeta: true,
    });
    try {
      // Before the other threads open the dir (`dirReady`), so they find the files made.
      // Unsynced, as meta.sqlite: the restore syncs them at its end (restore.ts).
      await restoreLostSchemaFiles(
        dataDir,
        wal,
        metaRebuilt ? undefined : store.meta.schemas(),
        "unsynced",
      );
      versions = loadVersions(join(dataDir, "schemas"));
      // They open it (and make their own templates) while this thread makes its templates.
      options.dirReady?.();
      for (const [tenant, version] of options.firstVersions ?? []) {
        if (options.tenants && !options.tenants.has(tenant)) continue;
        const small = options.small?.has(tenant) ?? false;
        const made = small ? builtTemplates : versionTemplates;
        if (made.has(version)) continue;
        // A version whose model is missing: its tenants park at their first event, as before.
        const model = store.model(version);
        if (model === undefined) continue;
        const path = `${template}.v${version}${small ? "-built" : ""}`;
        bulk.prepareVersionTemplate(template, path, model, version, small);
        made.set(version, path);
      }
      await options.opened?.();
      // Woken after each batch, so the end of the log is seen when it is reached.
      let wake = () => {};
      const applier = new Applier({
        wal: afterEachBatch(options.records ? heldRecordsWal(wal, options.records) : wal, () =>
          wake(),
        ),
        store,
        ...RESTORE_APPLIER_OPTIONS,
        ...bulk.applierHooks,
        ...(options.tenants ? { tenants: options.tenants } : {}),
        onPark: (p) =>
          log.error("tenant parked while restoring", {
            tenant: p.tenant,
            position: `${p.position.partition}:${p.position.offset}`,
            err: p.error.cause ?? p.error,
          }),
      });
      const total = ends.reduce((a, b) => a + b, 0);
      const applied = () => ends.reduce((n, _, p) => n + applier.processedOffset(p), 0);
      applier.start();
      let failed: unknown;
      applier.done.catch((error: unknown) => {
        failed = error;
        wake();
      });
      let lastProgress = 0;
      while (applied() < total && failed === undefined) {
        if (Date.now() - lastProgress >= 100) {
          options.progress?.(applied(), total);
          lastProgress = Date.now();
        }
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
      // Every event is applied and the subscription waits for records that never come:
      // the indexes are built now, and each file checkpointed and synced once, with them,
      // so neither the applier's stop nor the store's close has anything left to write.
      const parked = new Set(applier.parkedTenants().map((p) => p.tenant));
      const notBuilt = (tenant: string, error: unknown) => {
        log.error("tenant parked while restoring: its indexes could not be built", {
          tenant,
          err: error,
        });
        parked.add(tenant);
      };
      // Files being synced (off the thread, while the next ones are built).
      const syncing = new Set<Promise<void>>();
      if (failed === undefined)
        // Last seen first: those are still open, the first ones the store may have closed.
        for (const tenant of [...bulk.tenants].reverse()) {
          if (parked.has(tenant)) continue;
          try {
            bulk.finish(store, tenant);
            const db = store.tenant(tenant, false);
            if (db === undefined) continue;
            // The statistics the store's close would gather, gathered now, so they are
            // written with the rest; none for a small tenant (`SMALL_TENANT_EVENTS`), a
            // server analyzes it when it opens it, as a tenant it created itself.
            if (options.small?.has(tenant)) db.optimizeOnClose = false;
            else db.db.pragma("optimize");
            // Written without syncs since it was copied from the template: one sync now,
            // before the applier's stop moves the resume point past its events.
            const synced: Promise<void> = db.makeDurable().then(
              () => {
                syncing.delete(synced);
              },
              (error: unknown) => {
                syncing.delete(synced);
                unsynced.push(tenant);
                notBuilt(tenant, error);
              },
            );
            syncing.add(synced);
            if (syncing.size >= CONCURRENT_SYNCS) await Promise.race(syncing);
          } catch (error) {
            notBuilt(tenant, error);
          }
        }
      await Promise.all(syncing);
      // The new files' names, durable as their contents are.
      if (failed === undefined) await syncDir(join(dataDir, "tenants"));
      await applier.stop();
      if (failed !== undefined) throw failed;
      options.progress?.(total, total);
      return [...parked];
    } finally {
      store.close();
      // A file without its indexes must not be served: without it, a server started on
      // the data dir rebuilds the tenant from the log (derived-check.ts).
      for (const tenant of [...bulk.tenants, ...unsynced]) {
        for (const suffix of ["", "-wal", "-shm", "-journal"])
          rmSync(`${join(dataDir, "tenants", tenantFileName(tenant))}${suffix}`, { force: true });
        log.error(
          "tenant file removed: a server started on this data dir rebuilds it from the log",
          { tenant },
        );
      }
    }
  } finally {
    removeTenantTemplate(template);
    for (const path of [...versionTemplates.values(), ...builtTemplates.values()])
      removeTenantTemplate(path);
    await wal.close();
  }
}

/** Syncs a directory, so the files made in it are found after a power loss. */
async function syncDir(path: string): Promise<void> {
  const dir = await openFile(path, "r");
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** `wal` whose subscriptions call `after` once each delivered batch was handled. */
function afterEachBatch(wal: Wal, after: () => void): Wal {
  return withSubscribe(wal, (options) =>
    wal.subscribe({
      ...options,
      handler: async (entries) => {
        await options.handler(entries);
        after();
      },
    }),
  );
}

/** What a restore's apply worker is started with (restore-apply-worker.ts). */
export interface RestoreWorkerData {
  readonly dataDir: string;
  /** Its copy of the log; with `identity`, where its templates are made (`RestoreApplyOptions.logPath`). */
  readonly logPath: string;
  /** With `records`: the log's identity, and no copy of the log (`RestoreApplyOptions.identity`). */
  readonly identity?: string;
  readonly ends: readonly number[];
  readonly tenants: readonly string[];
  readonly maxOpenTenants: number;
  /** The records, packed (restore-records.ts); absent: the thread reads its log copy back. */
  readonly records?: readonly PackedPartition[];
  /** Its tenants' first schema versions (`RestoreApplyOptions.firstVersions`). */
  readonly firstVersions?: ReadonlyMap<string, number>;
  /** Its small tenants (`RestoreApplyOptions.small`). */
  readonly small?: readonly string[];
}

/**
 * Messages to a restore's apply worker, in this order: perhaps its template to make; its
 * work; the word that the data dir (and its log copy, if it has one) is ready to open; the
 * word to start writing.
 */
export type RestoreWorkerCommand =
  /** Before its work, while the archive is read: make its template (`prepareBaseTemplate`). */
  | { readonly kind: "template"; readonly identity: string; readonly path: string }
  | { readonly kind: "work"; readonly data: RestoreWorkerData }
  | { readonly kind: "open" }
  | { readonly kind: "start" };

/** Messages from a restore's apply worker. */
export type RestoreWorkerMessage =
  | { readonly kind: "opened" }
  | { readonly kind: "progress"; readonly done: number }
  | {
      readonly kind: "log";
      readonly level: "debug" | "info" | "warn" | "error";
      readonly msg: string;
      readonly fields?: Record<string, unknown>;
    }
  | { readonly kind: "done"; readonly applied: AppliedShard }
  /** The thread's error, as structured cloning copies it (message and stack kept). */
  | { readonly kind: "failed"; readonly error: unknown };

/**
 * Applies the restored log on `threads` threads, tenants split among them by their
 * event counts (`events`, from the read phase); returns what each thread did. The
 * threads other than this one are taken from `workers` (started ahead, restore-workers.ts);
 * the caller ends them.
 */
export async function applyRestoredLogInParallel(
  options: Omit<RestoreApplyOptions, "tenants" | "dirReady" | "opened" | "identity"> & {
    /** The restored log's identity, given to the threads that apply held records. */
    readonly identity: string;
    readonly threads: number;
    readonly events: ReadonlyMap<string, number>;
    readonly workers: RestoreWorkers;
  },
): Promise<AppliedShard[]> {
  const { dataDir, logPath, ends, log } = options;
  const shards = splitTenants(options.events, options.threads);
  const total = ends.reduce((a, b) => a + b, 0);
  options.progress?.(0, total);
  const paths = shards.map((_, i) => (i === 0 ? logPath : `${logPath}.apply-${i}`));
  // Shard 0 is applied on this thread, whose modules are loaded already; each other
  // shard on a worker of its own, started while the archive was read.
  const maxOpenTenants = Math.max(
    1,
    Math.floor((options.maxOpenTenants ?? RESTORE_OPEN_TENANTS) / shards.length),
  );
  // A thread given the records opens no log file: it needs no copy of its own.
  if (!options.records) for (const path of paths.slice(1)) copyFileSync(logPath, path);
  const started = options.workers.take(shards.length - 1);
  const workers = started.map(({ worker }, i) => {
    const tenants = shards[i + 1]!;
    const records = options.records ? packRecords(options.records, new Set(tenants)) : undefined;
    const firstVersions = options.firstVersions;
    const data: RestoreWorkerData = {
      dataDir,
      logPath: paths[i + 1]!,
      ...(records ? { identity: options.identity } : {}),
      ends,
      tenants,
      maxOpenTenants,
      ...(records ? { records } : {}),
      ...(firstVersions
        ? {
            firstVersions: new Map(
              tenants.flatMap((t) => {
                const v = firstVersions.get(t);
                return v === undefined ? [] : [[t, v] as const];
              }),
            ),
          }
        : {}),
      ...(options.small ? { small: tenants.filter((t) => options.small!.has(t)) } : {}),
    };
    worker.postMessage({ kind: "work", data }, records ? transferList(records) : []);
    return worker;
  });
  const done = new Array<number>(shards.length).fill(0);
  const report = (shard: number, count: number) => {
    done[shard] = count;
    options.progress?.(Math.min(...done), total);
  };
  // Every store is open before any thread writes a tenant file, so none sees another's
  // new files as strays while it checks the data dir.
  let opened = 0;
  let releaseAll: () => void = () => {};
  let failAll: (error: unknown) => void = () => {};
  const allOpened = new Promise<void>((resolve, reject) => {
    releaseAll = resolve;
    failAll = reject;
  });
  let released = false;
  const open = () => {
    if (++opened < shards.length) return;
    for (const w of workers) w.postMessage({ kind: "start" } satisfies RestoreWorkerCommand);
    released = true;
    releaseAll();
  };
  // A thread that fails before the others start must not leave them waiting.
  allOpened.catch(() => {});
  const runs = workers.map(
    (worker, i) =>
      new Promise<AppliedShard>((resolve, reject) => {
        let settled = false;
        const fail = (error: unknown) => {
          settled = true;
          failAll(error);
          reject(error);
        };
        worker.on("message", (message: RestoreWorkerMessage) => {
          switch (message.kind) {
            case "opened":
              open();
              break;
            case "progress":
              report(i + 1, message.done);
              break;
            case "log":
              log[message.level](message.msg, message.fields);
              break;
            case "done":
              settled = true;
              resolve(message.applied);
              break;
            case "failed":
              fail(message.error);
          }
        });
        started[i]!.ended.then((reason) => {
          if (!settled) fail(reason);
        });
      }),
  );
  const here = applyRestoredLog({
    dataDir,
    logPath,
    // Given the records, this thread applies them without opening the log file, as the others.
    ...(options.records ? { identity: options.identity } : {}),
    ends,
    log,
    tenants: new Set(shards[0]),
    maxOpenTenants,
    ...(options.records ? { records: options.records } : {}),
    ...(options.firstVersions ? { firstVersions: options.firstVersions } : {}),
    ...(options.small ? { small: options.small } : {}),
    // The first opener of a fresh data dir creates meta.sqlite and the schema files: this
    // thread, while the others unpack their records; then they open the dir.
    dirReady: () => {
      for (const w of workers) w.postMessage({ kind: "open" } satisfies RestoreWorkerCommand);
    },
    opened: () => {
      open();
      return allOpened;
    },
    progress: (count) => report(0, count),
  });
  // Failing before every thread was told to start, this thread would leave the others
  // waiting: they are ended, which settles their runs.
  here.catch(() => {
    if (!released) for (const w of workers) void w.terminate();
  });
  try {
    // Every thread runs to its end before the restore answers, even when one failed.
    const results = await Promise.allSettled([here, ...runs]);
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
    options.progress?.(total, total);
    return results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  } finally {
    for (const path of paths.slice(1))
      for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
  }
}

/**
 * Tenants in `shards` groups of about equal event counts: the largest first, each to
 * the group with the fewest events so far (ties by group order, so the split is stable).
 */
export function splitTenants(events: ReadonlyMap<string, number>, shards: number): string[][] {
  const groups = Array.from({ length: shards }, () => ({ tenants: [] as string[], events: 0 }));
  const order = [...events].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  for (const [tenant, count] of order) {
    let least = groups[0]!;
    for (const g of groups) if (g.events < least.events) least = g;
    least.tenants.push(tenant);
    least.events += count;
  }
  return groups.map((g) => g.tenants);
}
