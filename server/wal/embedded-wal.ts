/**
 * The embedded log: the default WAL backend, one SQLite database file owned by one
 * process. See `docs/durability.md` ("Embedded WAL") for how each guarantee is tested.
 *
 * Guarantees:
 * - Durable acknowledgement: `append` resolves only after the transaction holding its
 *   records committed and the `-wal` file was fsynced (by SQLite with `synchronous=FULL`,
 *   or, with the `"loop"` writer, by the writer's own `fdatasync`).
 *   A record whose `append` resolved survives a process crash and (given a disk that
 *   honours fsync) a power loss.
 * - Atomic appends: one `append` call's records are committed in one transaction, so
 *   after any crash they are all present or all absent.
 * - Dense, ordered offsets: each partition's offsets start at 0 and grow by one per
 *   record, without gaps, in the order `append` was called (calls are queued FIFO and
 *   offsets are assigned at call time), so a tenant's records keep their call order even
 *   across concurrent appends. Within one call, records of one tenant get contiguous
 *   offsets: records are grouped by tenant (stably, by first appearance) in each partition.
 * - Group commit: calls made while a commit is running, or in the same event-loop turn,
 *   share one transaction, hence one fsync; `stats.commits` counts them.
 * - Subscriptions see only committed records, in offset order, each exactly once per
 *   subscription (the applier's stored offsets make redelivery after restart harmless).
 * - Validation before anything is queued: an empty or malformed tenant id rejects the
 *   whole call with `invalid`, a record over `maxRecordBytes` (tenant UTF-8 bytes plus
 *   payload) with `too-large`; either way nothing of that call is written.
 *
 * Assumptions (what it does not check):
 * - One process owns the log. Enforced, not just assumed: the SQLite file lock is taken
 *   at open and held until `close`, so a second opener, in this or another process,
 *   fails with `unavailable`. The lock dies with the process, so crashes leave none.
 * - The file system honours fsync and does not reorder writes across it, and the file
 *   is not on a network share (SQLite's locking is unreliable there).
 * - Media corruption is out of scope: SQLite treats the first frame of the `-wal` file
 *   that fails its checksum as the end of the log and silently drops that transaction and
 *   everything after it, including acknowledged ones. A torn final write (a crash during
 *   an unacknowledged commit) is exactly that case and loses nothing acknowledged.
 *
 * After a failed commit (disk full, I/O error, writer thread died):
 * - Every append is refused with `unavailable`, naming the cause, and {@link failure}
 *   says why: what reached the disk is unknown until the file is reopened, which runs
 *   SQLite's recovery and re-reads the partition ends. The calls of the failed group
 *   and every queued call were rejected, so none of them was acknowledged.
 * - The log recovers by itself: it closes the file, then retries opening it with a probe
 *   commit (backing off from {@link RECOVERY_FIRST_DELAY_MS} to
 *   {@link RECOVERY_MAX_DELAY_MS}) until one succeeds. Only then are the partition ends
 *   re-read and appends offered again, so new offsets follow what the file really holds.
 *   A failed call whose records did reach the file stays there, whole (one transaction),
 *   and is delivered to subscribers; its caller's retry is made safe by its idempotency
 *   key. A partition that ends below what was acknowledged means the file lost
 *   acknowledged records: the log then stays failed with `corrupt`.
 * - Subscription reads wait while the file is closed for recovery; none is failed.
 *
 * Local retention: {@link EmbeddedWal.truncateBelow} deletes a partition's oldest
 * records, never its last one, so offsets go on from the same end after a reopen. Which
 * records may go is decided by `server/archive/log-retention.ts` (archived, covered by
 * snapshots, applied). Offsets stay dense from the log start ({@link EmbeddedWal.logStart})
 * to the end; a subscriber asking for an offset below the start is refused with
 * `corrupt`, naming the retention, never given a partial log.
 */

import { EmbeddedWalSubscription } from "./embedded-wal-subscription.ts";
import { openLoopWalWriter } from "./loop-wal-writer.ts";
import { partitionForTenant } from "./partition.ts";
import type { SqliteWalFileOptions, WalRow } from "./sqlite-wal-file.ts";
import { toWalError } from "./sqlite-wal-file.ts";
import { openThreadWalWriter } from "./thread-wal-writer.ts";
import type {
  SubscribeOptions,
  Wal,
  WalEntry,
  WalPosition,
  WalRecord,
  WalSubscription,
} from "./wal.ts";
import { WalError } from "./wal.ts";
import { groupLength, positiveInteger, walRecordSize } from "./wal-record-checks.ts";
import type { WalWriter, WalWriterPlacement } from "./wal-writer.ts";
import { openInlineWalWriter } from "./wal-writer.ts";

/** Default largest record, tenant bytes plus payload bytes (Kafka's default is ~1 MB too). */
export const DEFAULT_MAX_RECORD_BYTES = 1024 * 1024;

/** Tenant ids whose checks an open log remembers; past it, it forgets them all and starts over. */
const KNOWN_TENANTS = 4096;

/** Default byte budget of one commit group; a single larger call still commits alone. */
export const DEFAULT_MAX_GROUP_BYTES = 16 * 1024 * 1024;

/** Wait before the first reopen after a failed commit; each failed reopen doubles it. */
export const RECOVERY_FIRST_DELAY_MS = 250;

/** Longest wait between reopen attempts of a failed log. */
export const RECOVERY_MAX_DELAY_MS = 4000;

/** Options for {@link openEmbeddedWal}. */
export interface EmbeddedWalOptions {
  /** The SQLite database file; created if missing (its directory must exist). */
  readonly path: string;
  /**
   * Partition count of a new log (default 8). An existing log keeps its count; giving a
   * different one fails with `invalid`, since it would move tenants between partitions.
   */
  readonly partitions?: number;
  /** Largest accepted record, tenant UTF-8 bytes plus payload bytes. */
  readonly maxRecordBytes?: number;
  /** Stop adding calls to a commit group once it holds this many bytes. */
  readonly maxGroupBytes?: number;
  /**
   * Which thread runs SQLite. `"inline"` (default): the calling thread; opens fast and
   * gives the most appends/s where fsync is cheap and the CPU idle, but every commit
   * blocks the event loop for its fsync. `"thread"`: a worker thread (200–400 ms to
   * start); the event loop stays free while the worker fsyncs, but every commit costs two
   * thread wake-ups and a copy of its records. Use it for a server. `"loop"`: the calling
   * thread writes, and the fsync runs on it for a lone append (nothing else queued, the
   * last commit found nothing queued either) or on libuv's thread pool when appends are
   * arriving; less CPU for one writer, but its SQL runs on the event loop, which costs a
   * busy server more. Measurements: `docs/durability.md`, `docs/performance-log.md`.
   */
  readonly writer?: WalWriterPlacement;
  /** Reopen back-off after a failed commit (defaults: the `RECOVERY_*_DELAY_MS` constants). */
  readonly recoveryDelayMs?: { readonly first: number; readonly max: number };
}

/** Counters since open, for tests and metrics. */
export interface EmbeddedWalStats {
  /** `append` calls that resolved. */
  readonly appends: number;
  /** Records those calls held. */
  readonly records: number;
  /** Transactions committed by appends, i.e. fsyncs of the `-wal` file. */
  readonly commits: number;
  /** Subscription reads served from the recent entries kept in memory. */
  readonly memoryReads: number;
  /** Subscription reads that went to the file (a subscriber behind the kept tail). */
  readonly fileReads: number;
  /** Reopens that brought the log back after a failed commit. */
  readonly recoveries: number;
}

/**
 * Committed entries kept in memory per partition, so a subscriber that keeps up (the
 * applier, normally) reads what was just committed without a query. With the thread
 * writer, a query is also a round trip to its thread and a copy of every payload.
 */
export const TAIL_ENTRIES = 4096;

interface PendingAppend {
  readonly rows: readonly WalRow[];
  readonly positions: WalPosition[];
  readonly bytes: number;
  readonly resolve: (positions: WalPosition[]) => void;
  readonly reject: (error: unknown) => void;
}

/** Opens (or creates) an embedded log. Rejects with `unavailable` if another owner holds it. */
export async function openEmbeddedWal(options: EmbeddedWalOptions): Promise<EmbeddedWal> {
  for (const key of ["maxRecordBytes", "maxGroupBytes"] as const) {
    const value = options[key];
    if (value !== undefined) positiveInteger(value, key);
  }
  const fileOptions =
    options.partitions === undefined
      ? { path: options.path }
      : { path: options.path, partitions: options.partitions };
  return new EmbeddedWal(options, await openWriter(options.writer, fileOptions));
}

/** Opens the file with the writer of `placement` (default `"inline"`). */
async function openWriter(
  placement: WalWriterPlacement | undefined,
  options: SqliteWalFileOptions,
): Promise<WalWriter> {
  if (placement === "thread") return openThreadWalWriter(options);
  // A microtask first, so that a synchronous open failure rejects like the thread's.
  await Promise.resolve();
  return placement === "loop" ? openLoopWalWriter(options) : openInlineWalWriter(options);
}

/**
 * The embedded SQLite-file log. Create it with {@link openEmbeddedWal}; the guarantees
 * and assumptions are listed at the top of `embedded-wal.ts`.
 */
export class EmbeddedWal implements Wal {
  readonly partitions: number;
  /** `embedded:<uuid>`, minted when the file was created and stored in it. */
  readonly identity: string;
  /** The database file. */
  readonly path: string;
  /** Replaced only by a recovery, while no commit runs and appends are refused. */
  #writer: WalWriter;
  /** False from the moment a recovery closes the writer until a reopen succeeds. */
  #writerOpen = true;
  readonly #openWriter: () => Promise<WalWriter>;
  readonly #recoveryDelayMs: { readonly first: number; readonly max: number };
  /** The running recovery (close, then reopen attempts), if any. */
  #recovery: Promise<void> | undefined;
  /** Ends the recovery's current wait early (used by `close`). */
  #wakeRecovery: (() => void) | undefined;
  readonly #maxRecordBytes: number;
  readonly #maxGroupBytes: number;
  /** Next offset to assign per partition (includes queued and committing records). */
  readonly #assigned: number[];
  /** One past the last committed offset per partition. */
  readonly #committed: number[];
  /** The lowest offset the file holds per partition (raised by `truncateBelow`). */
  readonly #starts: number[];
  readonly #queue: PendingAppend[] = [];
  /** Tenant ids that passed the record checks: UTF-8 size and partition (see `#recordsSize`). */
  readonly #tenants = new Map<string, { readonly bytes: number; readonly partition: number }>();
  readonly #subscriptions = new Set<EmbeddedWalSubscription>();
  /** Resolved when the queue is empty and no commit runs (awaited by `close`). */
  #idleWaiters: (() => void)[] = [];
  #flushScheduled = false;
  #committing = false;
  /** No append arrived while the last commit ran (see `quiet` in {@link WalWriter.commit}). */
  #lastCommitQuiet = false;
  /** The last group was one append, and none arrived while it committed. */
  #lastGroupLone = false;
  /** The commit running is of one append. */
  #committingLone = false;
  #failure: WalError | undefined;
  #closing: Promise<void> | undefined;
  readonly #stats = {
    appends: 0,
    records: 0,
    commits: 0,
    memoryReads: 0,
    fileReads: 0,
    recoveries: 0,
  };
  /** Per partition: the last committed entries, consecutive offsets (see TAIL_ENTRIES). */
  readonly #tail: WalEntry[][];

  /** Must be called with a freshly opened writer that nothing else uses. */
  constructor(options: EmbeddedWalOptions, writer: WalWriter) {
    this.path = options.path;
    this.#writer = writer;
    const reopenOptions = { path: options.path, partitions: writer.partitions, probe: true };
    this.#openWriter = () => openWriter(options.writer, reopenOptions);
    this.#recoveryDelayMs = options.recoveryDelayMs ?? {
      first: RECOVERY_FIRST_DELAY_MS,
      max: RECOVERY_MAX_DELAY_MS,
    };
    this.partitions = writer.partitions;
    this.identity = writer.identity;
    this.#maxRecordBytes = options.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
    this.#maxGroupBytes = options.maxGroupBytes ?? DEFAULT_MAX_GROUP_BYTES;
    this.#assigned = [...writer.ends];
    this.#committed = [...writer.ends];
    this.#starts = [...writer.starts];
    this.#tail = writer.ends.map(() => []);
  }

  /** Counters since open. */
  get stats(): EmbeddedWalStats {
    return { ...this.#stats };
  }

  partitionFor(tenant: string): number {
    return this.#tenants.get(tenant)?.partition ?? partitionForTenant(tenant, this.partitions);
  }

  /** Why appends are refused (a failed commit not yet recovered from), or undefined. */
  get failure(): WalError | undefined {
    return this.#failure;
  }

  append(records: readonly WalRecord[]): Promise<WalPosition[]> {
    if (this.#closing !== undefined) {
      return Promise.reject(new WalError("closed", `The log ${this.path} is closed.`));
    }
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const bytes = this.#recordsSize(records);
    if (bytes instanceof WalError) return Promise.reject(bytes);
    if (records.length === 0) return Promise.resolve([]);
    const planned = this.#assign(records);
    if (planned instanceof WalError) return Promise.reject(planned);
    return new Promise<WalPosition[]>((resolve, reject) => {
      this.#queue.push({
        rows: planned.rows,
        positions: planned.positions,
        bytes,
        resolve,
        reject,
      });
      this.#scheduleFlush();
    });
  }

  /**
   * `walRecordsSize` (the same checks and refusals), with a tenant id checked once: its
   * UTF-8 size and partition are remembered, so the next record of that tenant costs
   * neither the encoding, the round trip that proves it valid, nor the hash.
   */
  #recordsSize(records: readonly WalRecord[]): number | WalError {
    let total = 0;
    for (let index = 0; index < records.length; index++) {
      const record = records[index]!;
      const { tenant, payload } = record;
      const known = typeof tenant === "string" ? this.#tenants.get(tenant) : undefined;
      if (known !== undefined && payload instanceof Uint8Array) {
        const size = known.bytes + payload.byteLength;
        if (size <= this.#maxRecordBytes) {
          total += size;
          continue;
        }
      }
      const size = walRecordSize(record, index, this.#maxRecordBytes);
      if (size instanceof WalError) return size;
      if (this.#tenants.size >= KNOWN_TENANTS) this.#tenants.clear();
      this.#tenants.set(tenant, {
        bytes: size - payload.byteLength,
        partition: partitionForTenant(tenant, this.partitions),
      });
      total += size;
    }
    return total;
  }

  async endOffset(partition: number): Promise<number> {
    if (this.#closing !== undefined) {
      throw new WalError("closed", `The log ${this.path} is closed.`);
    }
    const end = this.#committed[partition];
    if (!Number.isInteger(partition) || end === undefined) {
      throw new WalError("invalid", `No partition ${partition}; the log has ${this.partitions}.`);
    }
    return end;
  }

  /**
   * The lowest offset `partition` still holds: 0 unless local retention deleted older
   * records (then reading from below it is refused).
   */
  logStart(partition: number): number {
    return this.#starts[partition] ?? 0;
  }

  /**
   * Deletes up to `limit` of the oldest records of `partition` below `below`, never the
   * last committed one; resolves with how many went. Does nothing (0) while the log is
   * closing or recovering from a failed commit. The caller must know the records are no
   * longer needed here (`server/archive/log-retention.ts`).
   */
  async truncateBelow(partition: number, below: number, limit: number): Promise<number> {
    const start = this.#starts[partition];
    const end = this.#committed[partition];
    if (start === undefined || end === undefined)
      throw new WalError("invalid", `No partition ${partition}; the log has ${this.partitions}.`);
    // Offsets are dense from the start: below `target` lie at most `limit` records.
    const target = Math.min(below, end - 1, start + limit);
    if (target <= start || this.#closing !== undefined || this.#failure !== undefined) return 0;
    if (this.#recovery !== undefined || !this.#writerOpen) return 0;
    // Raised before the delete, so no subscriber starts a read of what is being deleted.
    this.#starts[partition] = target;
    return this.#writer.truncate(partition, target, limit);
  }

  /**
   * {@link Wal.takeCompletions}: with a commit of one append running on the writer's
   * thread, settles it now if the fsync is done, so the append is answered in this turn
   * rather than after every other callback of the next. A commit of a group is left to
   * the event loop: taken early, it would close the next group early too, and many
   * writers would pay smaller groups (more commits a write) for it.
   */
  takeCompletions(): void {
    if (this.#committingLone) this.#writer.takeCompletions?.();
  }

  subscribe(options: SubscribeOptions): WalSubscription {
    const source = {
      partitions: this.partitions,
      logStart: (partition: number) => this.#starts[partition] ?? 0,
      committedEnd: (partition: number) => this.#committed[partition] ?? 0,
      read: (partition: number, from: number, limit: number): Promise<WalEntry[]> =>
        this.#read(partition, from, limit),
    };
    if (this.#closing !== undefined) {
      return EmbeddedWalSubscription.failed(
        new WalError("closed", `The log ${this.path} is closed.`),
      );
    }
    const subscription: EmbeddedWalSubscription = new EmbeddedWalSubscription(source, options, () =>
      this.#subscriptions.delete(subscription),
    );
    this.#subscriptions.add(subscription);
    return subscription;
  }

  /**
   * Committed entries from `from`: from memory when the tail holds them, else the file
   * (after any running recovery, which closes it). Empty once the log is closing.
   */
  async #read(partition: number, from: number, limit: number): Promise<WalEntry[]> {
    while (this.#recovery !== undefined) await this.#recovery;
    if (!this.#writerOpen) return [];
    const tail = this.#tail[partition] ?? [];
    const first = tail[0]?.position.offset;
    if (first !== undefined && from >= first && from - first < tail.length) {
      this.#stats.memoryReads++;
      return Promise.resolve(tail.slice(from - first, from - first + limit));
    }
    this.#stats.fileReads++;
    // Never past the committed end: the file may hold a group whose fsync still runs.
    const end = this.#committed[partition] ?? 0;
    return this.#writer.read(partition, from, Math.max(0, Math.min(limit, end - from)));
  }

  /**
   * Keeps `rows` (just committed, in offset order per partition) in the tail: with the
   * writer's own copies of their payloads when it returned them (`kept`, in row order),
   * else with copies made here.
   */
  #keep(rows: readonly WalRow[], kept: readonly Uint8Array[] | undefined): void {
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      const tail = this.#tail[row.partition]!;
      // A copy: the caller's buffer was only promised to be read until the commit.
      const payload = kept?.[i] ?? row.payload.slice();
      tail.push({
        tenant: row.tenant,
        payload,
        position: { partition: row.partition, offset: row.offset },
      });
    }
    for (const tail of this.#tail) {
      if (tail.length > 2 * TAIL_ENTRIES) tail.splice(0, tail.length - TAIL_ENTRIES);
    }
  }

  /**
   * Commits every append already accepted, stops subscriptions, checkpoints and
   * releases the file. Idempotent; appends made after the call reject with `closed`.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#committing || this.#queue.length > 0) {
        await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
      }
      // Ends a recovery's wait; subscriptions are stopped before their reads (which wait
      // for the recovery) return, so those reads end them quietly rather than as a gap.
      this.#wakeRecovery?.();
      await Promise.all([...this.#subscriptions].map((subscription) => subscription.stop()));
      await this.#recovery;
      if (this.#writerOpen) await this.#writer.close();
    })();
    return this.#closing;
  }

  /**
   * Assigns offsets to one call's records: per partition, records are grouped by tenant in
   * order of first appearance, keeping call order within a tenant. Must be called only
   * after every record was validated, since it advances the partition ends.
   */
  #assign(records: readonly WalRecord[]): Pick<PendingAppend, "rows" | "positions"> | WalError {
    if (records.length === 1) {
      // One record, as every API write appends: nothing to group.
      const { tenant, payload } = records[0]!;
      const partition = this.partitionFor(tenant);
      const offset = this.#assigned[partition]!;
      if (offset + 1 > Number.MAX_SAFE_INTEGER) {
        return new WalError("too-large", `Partition ${partition} has reached the largest offset.`);
      }
      this.#assigned[partition] = offset + 1;
      return { rows: [{ partition, offset, tenant, payload }], positions: [{ partition, offset }] };
    }
    const byPartition = new Map<number, Map<string, number[]>>();
    records.forEach((record, index) => {
      const partition = this.partitionFor(record.tenant);
      const tenants = byPartition.get(partition) ?? new Map<string, number[]>();
      byPartition.set(partition, tenants);
      const indexes = tenants.get(record.tenant) ?? [];
      tenants.set(record.tenant, indexes);
      indexes.push(index);
    });
    for (const [partition, tenants] of byPartition) {
      let count = 0;
      for (const indexes of tenants.values()) count += indexes.length;
      if (this.#assigned[partition]! + count > Number.MAX_SAFE_INTEGER) {
        return new WalError("too-large", `Partition ${partition} has reached the largest offset.`);
      }
    }
    const rows: WalRow[] = [];
    const positions = new Array<WalPosition>(records.length);
    for (const [partition, tenants] of byPartition) {
      for (const indexes of tenants.values()) {
        for (const index of indexes) {
          const offset = this.#assigned[partition]!++;
          const { tenant, payload } = records[index]!;
          rows.push({ partition, offset, tenant, payload });
          positions[index] = { partition, offset };
        }
      }
    }
    return { rows, positions };
  }

  /**
   * Flushes at the end of this turn (`setImmediate`), so that every append of the turn
   * joins the group; a lone writer's append (the last group was one append, nothing
   * arrived while it committed, and this one is alone) is flushed at once instead, since
   * waiting would only put the rest of the turn's callbacks (other clients' reads)
   * before its fsync. Appends arriving in the same turn then form the next group.
   */
  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#committing) return;
    if (this.#lastGroupLone && this.#queue.length === 1) {
      void this.#flush();
      return;
    }
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      void this.#flush();
    });
  }

  /**
   * Commits the longest prefix of the queue that fits the group budget (at least one
   * call). Must be called with no commit running: offsets reach the file in order only
   * because commits are serialized here.
   */
  async #flush(): Promise<void> {
    if (this.#committing || this.#queue.length === 0) return;
    this.#committing = true;
    const group = this.#queue.splice(0, groupLength(this.#queue, this.#maxGroupBytes));
    this.#committingLone = group.length === 1;
    // Quiet: a lone append, and none arrived during the last commit either.
    const quiet = group.length === 1 && this.#queue.length === 0 && this.#lastCommitQuiet;
    const rows: WalRow[] = [];
    for (const pending of group) for (const row of pending.rows) rows.push(row);
    let kept: readonly Uint8Array[] | undefined;
    try {
      kept = await this.#writer.commit(rows, quiet);
    } catch (error) {
      this.#failure = refusal(error);
      for (const pending of [...group, ...this.#queue.splice(0)]) pending.reject(this.#failure);
      this.#committing = false;
      this.#committingLone = false;
      this.#settleIdle();
      this.#recovery = this.#recover().finally(() => {
        this.#recovery = undefined;
      });
      return;
    }
    this.#keep(rows, kept);
    const touched = new Set<number>();
    for (const row of rows) {
      this.#committed[row.partition] = Math.max(this.#committed[row.partition]!, row.offset + 1);
      touched.add(row.partition);
    }
    this.#stats.appends += group.length;
    this.#stats.records += rows.length;
    this.#stats.commits++;
    this.#committing = false;
    this.#committingLone = false;
    this.#lastCommitQuiet = this.#queue.length === 0;
    this.#lastGroupLone = group.length === 1 && this.#queue.length === 0;
    for (const pending of group) pending.resolve(pending.positions);
    for (const subscription of this.#subscriptions) {
      for (const partition of touched) subscription.notify(partition);
    }
    if (this.#queue.length > 0) this.#scheduleFlush();
    else this.#settleIdle();
  }

  /**
   * Brings the log back after a failed commit: closes the file, then reopens it (with a
   * probe commit) until that succeeds or the log is closed, and takes the partition ends
   * from the reopened file. Must be started with no commit running and `#failure` set,
   * which keeps appends out until it clears it.
   */
  async #recover(): Promise<void> {
    this.#writerOpen = false;
    // The file lock is exclusive even within this process: release it before reopening.
    await this.#writer.close().catch(() => {});
    let delay = this.#recoveryDelayMs.first;
    while (this.#closing === undefined) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        // A failed log must not keep an otherwise finished process alive.
        timer.unref();
        this.#wakeRecovery = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wakeRecovery = undefined;
      if (this.#closing !== undefined) return;
      let writer: WalWriter;
      try {
        writer = await this.#openWriter();
      } catch (error) {
        this.#failure = refusal(error);
        delay = Math.min(2 * delay, this.#recoveryDelayMs.max);
        continue;
      }
      this.#writer = writer;
      this.#writerOpen = true;
      this.#resume(writer);
      return;
    }
  }

  /** Takes the ends of the reopened file as the truth, then offers appends again. */
  #resume(writer: WalWriter): void {
    const { ends } = writer;
    const lost = ends.findIndex((end, partition) => end < this.#committed[partition]!);
    if (lost !== -1) {
      this.#failure = new WalError(
        "corrupt",
        `The log ${this.path} lost acknowledged records: partition ${lost} ends at offset` +
          ` ${ends[lost]} after reopening, but offsets below ${this.#committed[lost]} were` +
          " acknowledged. Restore it from a backup.",
      );
      return;
    }
    const grown: number[] = [];
    ends.forEach((end, partition) => {
      if (end > this.#committed[partition]!) grown.push(partition);
      this.#assigned[partition] = end;
      this.#committed[partition] = end;
      this.#starts[partition] = Math.max(this.#starts[partition]!, writer.starts[partition] ?? 0);
      // Records of a failed call may have reached the file; the tail must stay dense.
      this.#tail[partition]!.length = 0;
    });
    this.#failure = undefined;
    this.#stats.recoveries++;
    for (const subscription of this.#subscriptions) {
      for (const partition of grown) subscription.notify(partition);
    }
  }

  #settleIdle(): void {
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/**
 * The error appends get while the log cannot commit: the cause in the operator's words
 * (`toWalError` names it: "the log's disk is full") and what happens next.
 */
function refusal(error: unknown): WalError {
  const cause = error instanceof WalError ? error : toWalError(error, "");
  if (cause.code === "corrupt") {
    return new WalError(
      "corrupt",
      `${cause.message} Writes are refused until the file is repaired or restored.`,
      { cause: error },
    );
  }
  return new WalError(
    "unavailable",
    `${cause.message} Writes are refused until the log can commit again; it retries by` +
      " itself, so no restart is needed once the cause is fixed.",
    { cause: error },
  );
}
