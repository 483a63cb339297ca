/**
 * Restore: a data dir rebuilt from an archive alone (`entdb restore`). The archived
 * segments are read and checked (sha256, contiguity), written into a log file, each
 * tenant starts from its newest snapshot at or before the target (`snapshot-restore.ts`),
 * and the log is applied by the same `Applier` that applies live traffic (tenants split
 * among threads and bulk-loaded, restore-apply.ts), so the restored tenants are what a
 * replay of the log gives, byte for byte in a canonical dump.
 *
 * What the restored data dir holds, by case:
 * - The whole archive of an embedded log: `wal.sqlite` with every archived record at its
 *   archived offset and the archived log's identity. It *is* that log, up to the last
 *   archived record: a server started on it appends after it, and with the same
 *   `--archive` its archiver resumes exactly where the archive ends.
 * - Cut at a point (`toPosition`, `toTime`) of an embedded log: the same, ending at the
 *   point, under a new identity, since from there on it is another history; archive it
 *   under another prefix.
 * - The archive of a Kafka log: tenant databases and `meta.sqlite` recording the Kafka
 *   log's identity and positions, and no `wal.sqlite`: a server started on it with that
 *   topic continues the live log after the restored positions.
 * - One tenant (`tenant`, optionally renamed with `asTenant`): a new log holding the
 *   schema changes and that tenant's events only, in their order (positions differ from
 *   the original's), and that tenant's database: a copy to inspect or serve beside the
 *   live one, which it never touches. It starts from the tenant's newest snapshot in
 *   reach, with the positions the snapshot records renumbered to the new log's.
 */

import { randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { type WalEvent, WalEventSchema } from "../../generated/entdb/v1/wal_pb.js";
import { SCHEMA_LOG_KEY } from "../apply/index.ts";
import { clearRestoreUnfinished, markRestoreUnfinished } from "../data-dir.ts";
import type { Logger } from "../log.ts";
import { isTenantId, validateTenantId } from "../store/index.ts";
import type { WalEntry } from "../wal/index.ts";
import { partitionForTenant } from "../wal/index.ts";
import { SqliteWalFile, type WalRow } from "../wal/sqlite-wal-file.ts";
import { type ArchivedSegment, listSegments, readManifest } from "./archive-catalog.ts";
import { ArchiveError } from "./archive-error.ts";
import { type ArchiveLocation, objectUrl } from "./archive-location.ts";
import { FirstVersions } from "./first-versions.ts";
import type { ObjectStore } from "./object-store.ts";
import {
  applyRestoredLog,
  applyRestoredLogInParallel,
  SMALL_TENANT_EVENTS,
} from "./restore-apply.ts";
import { DEFAULT_HELD_RECORD_BYTES, HeldRecords } from "./restore-records.ts";
import { syncPath, syncRestoredDataDir } from "./restore-sync.ts";
import { RestoreWorkers } from "./restore-workers.ts";
import { decodeSegmentAsync } from "./segment-format.ts";
import { listSnapshots, placeSnapshots, placeTenantSnapshot } from "./snapshot-restore.ts";

/** Threads a restore applies tenants on: the machine's cores, up to 4. */
export const DEFAULT_RESTORE_THREADS = Math.min(4, availableParallelism());

/** Segments downloaded and checked ahead of the one being written. */
const READ_AHEAD_SEGMENTS = 4;
/** About how much the restored log's `-wal` file holds before it is checkpointed. */
const LOG_CHECKPOINT_BYTES = 64 * 1024 * 1024;
/** What a record adds to the log's pages beyond its payload, roughly (its key, its index entry). */
const ROW_BYTES = 48;

/** Options of {@link restoreArchive}. */
export interface RestoreOptions {
  readonly store: ObjectStore;
  readonly location: ArchiveLocation;
  readonly dataDir: string;
  /** Restore this tenant only. */
  readonly tenant?: string;
  /** With `tenant`: restore it under this id instead. */
  readonly asTenant?: string;
  /** Stop after this offset (inclusive) of the tenant's partition (needs `tenant`, or a one-partition log). */
  readonly toPosition?: number;
  /** Stop before the first event logged after this time, in every partition. */
  readonly toTime?: Date;
  /** Replace what the data dir holds (otherwise a non-empty dir is refused). */
  readonly force?: boolean;
  readonly log: Logger;
  /**
   * Threads that apply tenants at once (default {@link DEFAULT_RESTORE_THREADS}); each
   * tenant is applied by one of them (restore-apply.ts).
   */
  readonly threads?: number;
  /**
   * Records the read phase keeps for the appliers at most, in bytes, instead of their
   * reading the restored log back (restore-records.ts; default
   * {@link DEFAULT_HELD_RECORD_BYTES}); 0: the appliers read the log back.
   */
  readonly heldRecordBytes?: number;
  /**
   * Tenant files the apply phase keeps open at most, over all its threads (default
   * `RESTORE_OPEN_TENANTS`, restore-apply.ts); a file closed before the end is opened
   * again for its next batch and its index build.
   */
  readonly openTenants?: number;
  /**
   * Tenants with at most this many events keep their indexes and full-text rows per event
   * instead of building them at the end (default `SMALL_TENANT_EVENTS`, restore-apply.ts;
   * 0: none).
   */
  readonly smallTenantEvents?: number;
  /**
   * How much the restored log's `-wal` file holds, about, before it is checkpointed
   * (default {@link LOG_CHECKPOINT_BYTES}).
   */
  readonly logCheckpointBytes?: number;
  /** Told as segments are read and as events are applied. */
  readonly progress?: (progress: RestoreProgress) => void;
}

/** Where a restore is: `done` of `total` segments read, or events applied. */
export interface RestoreProgress {
  readonly phase: "read" | "apply";
  readonly done: number;
  readonly total: number;
}

/** What a restore produced. */
export interface RestoreResult {
  /** The identity of the log the restored files record. */
  readonly identity: string;
  /** Per partition of the restored log, one past its last record. */
  readonly ends: readonly number[];
  readonly records: number;
  readonly segments: number;
  /** Tenant snapshots the restore started from. */
  readonly snapshots: number;
  /** Whether the data dir holds the log (`wal.sqlite`) or only what was derived from it. */
  readonly holdsLog: boolean;
  /** Tenants that could not be applied (see the log); none when all went well. */
  readonly parked: readonly string[];
  /**
   * The CPU time of each thread that applied tenants, in ms: the longest bounds the apply
   * phase's wall time on idle cores. Empty where the runtime cannot tell (Node < 23.9).
   */
  readonly threadCpuMs: readonly number[];
}

/** Restores `options.dataDir` from the archive; see the module comment. */
export async function restoreArchive(options: RestoreOptions): Promise<RestoreResult> {
  const workers = new RestoreWorkers();
  try {
    return await restore(options, workers);
  } finally {
    await workers.close();
  }
}

async function restore(options: RestoreOptions, workers: RestoreWorkers): Promise<RestoreResult> {
  const { store, location, dataDir, log } = options;
  if (options.asTenant !== undefined && options.tenant === undefined)
    throw new ArchiveError(
      "invalid",
      "--as-tenant renames the tenant given with --tenant; add --tenant.",
    );
  if (options.toPosition !== undefined && options.toTime !== undefined)
    throw new ArchiveError("invalid", "Give --to-position or --to-time, not both.");
  const tenant = options.tenant === undefined ? undefined : checkTenant(options.tenant, "--tenant");
  const asTenant =
    options.asTenant === undefined ? tenant : checkTenant(options.asTenant, "--as-tenant");
  // Checked now, cleared (with --force) only once the archive is found and listed: a
  // mistyped --from must not cost what the data dir held.
  checkDataDir(dataDir, options.force === true);
  const dataDirExisted = existsSync(dataDir);
  // The apply phase's other threads load their modules while the archive is read
  // (restore-workers.ts), from its first request on: the manifest and the listings are
  // round trips this thread waits for. A one-tenant restore applies on this thread alone.
  if (tenant === undefined) workers.start((options.threads ?? DEFAULT_RESTORE_THREADS) - 1);

  const manifest = await readManifest(store, location);
  if (manifest === undefined)
    throw new ArchiveError(
      "not-found",
      `There is no archive at ${location.url} (no log.json); check --from and the S3 endpoint.`,
    );
  const { partitions } = manifest;
  const tenantPartition = tenant === undefined ? undefined : partitionForTenant(tenant, partitions);
  if (options.toPosition !== undefined && tenantPartition === undefined && partitions !== 1)
    throw new ArchiveError(
      "invalid",
      `--to-position is an offset within one partition and this log has ${partitions}; name the tenant with --tenant (or use --to-time).`,
    );
  const cutPartition = tenantPartition ?? 0;
  const kafka = manifest.identity.startsWith("kafka:");
  const cut = options.toPosition !== undefined || options.toTime !== undefined;
  const resequence = tenant !== undefined;
  const identity =
    kafka && !resequence
      ? manifest.identity
      : cut || resequence
        ? `embedded:${randomUUID()}`
        : manifest.identity;
  const holdsLog = !(kafka && !resequence);
  const logPath = join(dataDir, holdsLog ? "wal.sqlite" : "restore-log.sqlite");

  // Which partitions to read: all, or for one tenant its own and the schema changes'.
  const wanted = new Set<number>();
  for (let p = 0; p < partitions; p++)
    if (
      !resequence ||
      p === tenantPartition ||
      p === partitionForTenant(SCHEMA_LOG_KEY, partitions)
    )
      wanted.add(p);
  // The partitions are listed at once, each a request or more of its own.
  const listed = new Map<number, ArchivedSegment[]>(
    await Promise.all(
      [...wanted].map(async (p) => [p, await listSegments(store, location, p)] as const),
    ),
  );
  // The snapshots are listed while the log is read (placed after it, placeSnapshots).
  const snapshotsListed = resequence ? undefined : listSnapshots(store, location);
  snapshotsListed?.catch(() => {});

  // From here the data dir is written: a server refuses it until the restore finishes.
  prepareDataDir(dataDir);
  markRestoreUnfinished(dataDir, `from ${location.url}, begun ${new Date().toISOString()}`);
  // And make their templates for new tenant files meanwhile (removed when they end).
  workers.makeTemplates(identity, (i) => `${logPath}.thread-${i + 1}.tenant-template`);
  // Written without syncs (`sync: "caller"`, and its close's checkpoint unsynced too; it is
  // synced while the log is applied, and again at the end, restore-sync.ts): until the
  // restore finishes the data dir is marked unfinished, so no server reads this file
  // before it is durable, and a restore cut short is run again from the start. For the
  // same reason its checkpoints along the way (every LOG_CHECKPOINT_BYTES, so the `-wal`
  // file stays that small) need no sync first.
  const file = SqliteWalFile.open({
    path: logPath,
    partitions,
    identity,
    preallocate: false,
    sync: "caller",
  });
  const held = new HeldRecords(partitions, options.heldRecordBytes ?? DEFAULT_HELD_RECORD_BYTES);
  const next = new Array<number>(partitions).fill(0);
  // One-tenant restore: the tenant's original offsets → new ones, and how far its partition was read.
  const renumbered = new Map<number, number>();
  let tenantEnd = 0;
  /** Records per log key, to split tenants among the apply threads. */
  const events = new Map<string, number>();
  /** Each tenant's first schema version, for its new file's template (first-versions.ts). */
  const firstVersions = new FirstVersions();
  let records = 0;
  let segments = 0;
  let sinceCheckpoint = 0;
  try {
    for (const [p, list] of listed)
      if (!resequence && list.length > 0 && list[0]!.first !== 0)
        throw new ArchiveError(
          "gap",
          `The archive of partition ${p} starts at offset ${list[0]!.first}, not 0 (${objectUrl(location, list[0]!.key)}): the start of the log was never archived.`,
        );
    // A cut at a position is known from the keys: the segments after it are not read.
    const cutList = listed.get(cutPartition);
    if (options.toPosition !== undefined && cutList !== undefined) {
      const position = options.toPosition;
      listed.set(
        cutPartition,
        cutList.filter((segment) => segment.first <= position),
      );
    }
    // What the progress counts: the segments to read. A cut at a time is known only once
    // read (segments name offsets, not times): a partition's unread segments leave the
    // total when it stops, so the last line says all of them.
    let totalSegments = [...listed.values()].reduce((n, list) => n + list.length, 0);
    // Every segment, partition after partition; the next few are downloaded and checked
    // (sha256 and decompression on the thread pool) while one is written, across the
    // partitions' boundaries too.
    const order = [...listed].flatMap(([p, list]) =>
      list.map((segment, k) => ({ p, segment, after: list.length - k - 1 })),
    );
    /** Partitions read up to the target: their later segments are not read. */
    const stopped = new Set<number>();
    const fetches = new Map<number, Promise<WalEntry[]>>();
    const fetch = (i: number) => {
      const item = order[i];
      if (item === undefined || fetches.has(i) || stopped.has(item.p)) return;
      const { segment } = item;
      const fetched = store
        .get(segment.key)
        .then(({ body, metadata }) =>
          decodeSegmentAsync(objectUrl(location, segment.key), segment, body, metadata),
        );
      // Read-aheads past a cut or a failure are never awaited: none rejects unobserved.
      fetched.catch(() => {});
      fetches.set(i, fetched);
    };
    for (let i = 0; i < order.length; i++) {
      const { p, after } = order[i]!;
      if (stopped.has(p)) continue;
      for (let j = i; j < i + READ_AHEAD_SEGMENTS; j++) fetch(j);
      const entries = await fetches.get(i)!;
      fetches.delete(i);
      const rows: WalRow[] = [];
      for (const entry of entries) {
        if (beyondTarget(entry, options, cutPartition)) {
          stopped.add(p);
          totalSegments -= after;
          break;
        }
        if (!resequence) {
          const { partition, offset } = entry.position;
          rows.push({ partition, offset, tenant: entry.tenant, payload: entry.payload });
          held.add(entry);
          events.set(entry.tenant, (events.get(entry.tenant) ?? 0) + 1);
          firstVersions.note(entry.tenant, entry.payload);
          next[p] = offset + 1;
          continue;
        }
        const row = resequenced(entry, tenant!, asTenant!, partitions, next);
        if (row) {
          rows.push(row);
          held.add({
            tenant: row.tenant,
            payload: row.payload,
            position: { partition: row.partition, offset: row.offset },
          });
          events.set(row.tenant, (events.get(row.tenant) ?? 0) + 1);
          firstVersions.note(row.tenant, row.payload);
        }
        if (p === tenantPartition) {
          tenantEnd = entry.position.offset + 1;
          if (row && entry.tenant === tenant) renumbered.set(entry.position.offset, row.offset);
        }
      }
      file.commit(rows);
      for (const row of rows) sinceCheckpoint += row.payload.byteLength + ROW_BYTES;
      if (sinceCheckpoint >= (options.logCheckpointBytes ?? LOG_CHECKPOINT_BYTES)) {
        file.checkpoint();
        sinceCheckpoint = 0;
      }
      records += rows.length;
      segments++;
      options.progress?.({ phase: "read", done: segments, total: totalSegments });
    }
  } finally {
    file.close({ unsynced: true });
  }
  if (resequence && renumbered.size === 0) {
    // A mistyped --tenant (or a target before the tenant's first event) would otherwise
    // "restore" an empty tenant and exit 0. What was written goes; the dir is as it was
    // made ready (new, or empty).
    for (const name of readdirSync(dataDir)) rmSync(join(dataDir, name), { recursive: true });
    if (!dataDirExisted) rmSync(dataDir, { recursive: true });
    throw new ArchiveError(
      "not-found",
      cut
        ? `The archive at ${location.url} holds no event of tenant '${tenant}' up to the target; nothing was restored. Check --tenant, and the target against the tenant's first write.`
        : `The archive at ${location.url} holds no event of tenant '${tenant}'; nothing was restored. Check --tenant (entdb tenant list names a server's tenants).`,
    );
  }
  // The log's pages go to the disk while it is applied (it is synced again at the end).
  const logSynced = holdsLog ? syncPath(logPath) : Promise.resolve();
  logSynced.catch(() => {});
  log.info("archive read", { archive: location.url, segments, records, ends: next });

  // A one-tenant restore's log is renumbered: its snapshot's positions are moved to match.
  mkdirSync(join(dataDir, "tenants"), { recursive: true });
  const snapshots = resequence
    ? [
        await placeTenantSnapshot({
          store,
          location,
          dataDir,
          tenant: tenant!,
          asTenant: asTenant!,
          end: tenantEnd,
          offsets: renumbered,
          partition: partitionForTenant(asTenant!, partitions),
          identity,
        }),
      ].filter((x) => x !== undefined)
    : await placeSnapshots({
        store,
        location,
        dataDir,
        ends: next,
        identity,
        ...(snapshotsListed ? { listed: snapshotsListed } : {}),
      });
  if (snapshots.length > 0) log.info("snapshots placed", { snapshots: snapshots.length });
  const tenantEvents = new Map([...events].filter(([key]) => isTenantId(key)));
  // Their files copied from a built template (restore-apply.ts).
  const small = new Set(
    [...tenantEvents]
      .filter(([, n]) => n <= (options.smallTenantEvents ?? SMALL_TENANT_EVENTS))
      .map(([tenant]) => tenant),
  );
  const threads = Math.min(options.threads ?? DEFAULT_RESTORE_THREADS, tenantEvents.size);
  const progress = (done: number, total: number) =>
    options.progress?.({ phase: "apply", done, total });
  // The records the read phase holds are handed to the appliers (restore-records.ts).
  const heldRecords = held.records;
  const applied =
    threads > 1
      ? await applyRestoredLogInParallel({
          dataDir,
          logPath,
          identity,
          ends: next,
          log,
          progress,
          threads,
          events: tenantEvents,
          workers,
          firstVersions: firstVersions.versions,
          small,
          ...(options.openTenants ? { maxOpenTenants: options.openTenants } : {}),
          ...(heldRecords ? { records: heldRecords } : {}),
        })
      : [
          await applyRestoredLog({
            dataDir,
            logPath,
            // Given the records, this thread applies them without opening the log file.
            ...(heldRecords ? { identity } : {}),
            ends: next,
            log,
            progress,
            firstVersions: firstVersions.versions,
            small,
            ...(heldRecords ? { records: heldRecords } : {}),
            ...(options.openTenants ? { maxOpenTenants: options.openTenants } : {}),
          }),
        ];
  const parked = applied.flatMap((a) => a.parked);
  const threadCpuMs = applied.flatMap((a) => (a.cpuMs === undefined ? [] : [a.cpuMs]));
  if (!holdsLog)
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${logPath}${suffix}`, { force: true });
  // What was written without syncs, durable before the mark goes (restore-sync.ts).
  await logSynced;
  await syncRestoredDataDir(dataDir, holdsLog ? [logPath] : []);
  clearRestoreUnfinished(dataDir);
  return {
    identity,
    ends: next,
    records,
    segments,
    snapshots: snapshots.length,
    holdsLog,
    parked,
    threadCpuMs,
  };
}

/** Whether `entry` lies past the restore's target. */
function beyondTarget(entry: WalEntry, options: RestoreOptions, cutPartition: number): boolean {
  if (options.toPosition !== undefined)
    return entry.position.partition === cutPartition && entry.position.offset > options.toPosition;
  if (options.toTime !== undefined) {
    const time = ingressMs(entry);
    return time !== undefined && time > options.toTime.getTime();
  }
  return false;
}

function ingressMs(entry: WalEntry): number | undefined {
  const event = decodedOrUndefined(entry.payload);
  return event?.ingressTime ? timestampMs(event.ingressTime) : undefined;
}

/** For a one-tenant restore: the entry as a record of the new log, or undefined to leave it out. */
function resequenced(
  entry: WalEntry,
  tenant: string,
  asTenant: string,
  partitions: number,
  next: number[],
): WalRow | undefined {
  let key: string;
  let payload = entry.payload;
  if (entry.tenant === SCHEMA_LOG_KEY) key = SCHEMA_LOG_KEY;
  else if (entry.tenant === tenant) {
    key = asTenant;
    const event = asTenant === tenant ? undefined : decodedOrUndefined(entry.payload);
    // An undecodable payload, or an event naming another tenant than its key, is left as
    // it was logged: the applier records it as a bad event of the new id, as it did of the old.
    if (event !== undefined && event.tenant === tenant) {
      event.tenant = asTenant;
      payload = toBinary(WalEventSchema, event);
    }
  } else return undefined;
  const partition = partitionForTenant(key, partitions);
  const offset = next[partition]!;
  next[partition] = offset + 1;
  return { partition, offset, tenant: key, payload };
}

/** The logged event, or undefined for a payload that is none: the applier records it as bad. */
function decodedOrUndefined(payload: Uint8Array): WalEvent | undefined {
  try {
    return fromBinary(WalEventSchema, payload);
  } catch {
    return undefined;
  }
}

function checkTenant(id: string, flag: string): string {
  try {
    return validateTenantId(id);
  } catch (error) {
    throw new ArchiveError("invalid", `${flag}: ${(error as Error).message}`);
  }
}

/** Refuses a `dir` that holds anything unless `force`; writes nothing. */
function checkDataDir(dir: string, force: boolean): void {
  if (existsSync(dir) && readdirSync(dir).length > 0 && !force)
    throw new ArchiveError(
      "invalid",
      `The data dir ${dir} is not empty; restore into an empty or new directory, or pass --force to replace what it holds.`,
    );
}

/** Makes `dir` an empty directory (what it holds was allowed to go by {@link checkDataDir}). */
function prepareDataDir(dir: string): void {
  if (existsSync(dir))
    for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
}
