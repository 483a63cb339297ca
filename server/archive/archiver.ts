/**
 * The archiver: ships the log to an object store as it is written, inside `entdb serve`
 * (`--archive s3://bucket/prefix`). It subscribes to the log like the applier does
 * (through the `Wal` interface, so every backend), gathers each partition's records and
 * uploads them as immutable segments (`segment-format.ts`).
 *
 * Invariants:
 * - No gap, no duplicate range: each partition resumes exactly at the end of its last
 *   archived segment, found by listing the bucket at start (never a local note that could
 *   disagree with it); segments of a partition are uploaded one at a time, in order, and
 *   the next starts where the previous one ended. A put is conditional, so a segment is
 *   never overwritten; a put refused because its key exists (a retry whose first attempt
 *   landed, or another server archiving the same log) is that same range, since the key
 *   names it.
 * - A failed upload is retried with back-off (from {@link ArchiverOptions.retry}) until it
 *   lands; records wait in memory meanwhile and, past `maxPendingRecords`, delivery from
 *   the log pauses (the log keeps them; writes go on). So an outage delays the archive,
 *   never skips a range.
 * - `close` uploads every record committed before it was called, then stops.
 *
 * - Offsets must be dense: the next record of a partition is at the offset after the
 *   previous one, or the archiver stops with "gap" (and `/ready` says so) rather than
 *   archive a hole. Every backend's offsets are: the embedded log assigns them one by one;
 *   the Kafka log's producer is idempotent but not transactional, so its topic holds no
 *   transaction markers (which take offsets that no consumer sees) and, with
 *   `cleanup.policy=delete`, no compaction holes; a subscriber of either refuses a jump.
 *   A Kafka topic whose retention deleted records before they were archived cannot be
 *   archived from there: the subscription refuses the start below the log start, and the
 *   archiver reports that as degraded instead of skipping the range.
 *
 * What it does not do: delete anything from the log. The embedded log's local retention
 * (`log-retention.ts`) deletes only below {@link Archiver.archivedEnd}, among other
 * bounds; Kafka's retention is the operator's (docs/kafka.md).
 */

import type { Logger } from "../log.ts";
import type { Wal, WalEntry, WalSubscription } from "../wal/index.ts";
import { claimArchive, listSegments } from "./archive-catalog.ts";
import { ArchiveError } from "./archive-error.ts";
import { type ArchiveLocation, segmentKey } from "./archive-location.ts";
import type { ObjectStore } from "./object-store.ts";
import { encodeSegmentAsync } from "./segment-format.ts";

/** Options for {@link Archiver.start}. */
export interface ArchiverOptions {
  readonly wal: Wal;
  readonly store: ObjectStore;
  readonly location: ArchiveLocation;
  readonly log: Logger;
  /** Most records per segment (default 10,000). */
  readonly segmentRecords?: number;
  /** Most uncompressed payload bytes per segment (default 16 MiB). */
  readonly segmentBytes?: number;
  /** Longest a committed record waits before its segment is uploaded (default 1 s). */
  readonly flushIntervalMs?: number;
  /** Records held in memory per partition before delivery pauses (default 50,000). */
  readonly maxPendingRecords?: number;
  /** Back-off between failed uploads (default 100 ms doubling to 5 s). */
  readonly retry?: { readonly firstMs: number; readonly maxMs: number };
  /** How long uploads may fail before `/ready` reports the archive degraded (default 30 s). */
  readonly degradedAfterMs?: number;
  /** Lock each segment (compliance mode) for this many days after its upload; none if undefined. */
  readonly lockDays?: number;
}

interface PartitionState {
  /** One past the last archived offset. */
  archivedEnd: number;
  /** Delivered, not yet archived: offsets `archivedEnd` up to `archivedEnd + pending.length`. */
  pending: WalEntry[];
  pendingBytes: number;
  /** The upload running now (uploads of a partition run one at a time). */
  uploading: Promise<void>;
}

/** A running archiver; see the module comment. */
export class Archiver {
  readonly location: ArchiveLocation;
  readonly #wal: Wal;
  readonly #store: ObjectStore;
  readonly #log: Logger;
  readonly #segmentRecords: number;
  readonly #segmentBytes: number;
  readonly #flushIntervalMs: number;
  readonly #maxPending: number;
  readonly #retry: { readonly firstMs: number; readonly maxMs: number };
  readonly #degradedAfterMs: number;
  readonly #lockDays: number | undefined;
  readonly #partitions: PartitionState[];
  #subscription: WalSubscription | undefined;
  /** The next flush round, armed while any partition has records waiting. */
  #round: NodeJS.Timeout | undefined;
  /** Set by `close`: retries give up after it. */
  #deadline = Number.POSITIVE_INFINITY;
  #stopping = false;
  /** The current run of failed uploads: when it began and its last error. */
  #failing: { since: number; error: string } | undefined;
  /** Why delivery from the log ended before `close` (a gap, Kafka retention); final. */
  #readFailure: string | undefined;
  #segments = 0;
  #bytes = 0;

  private constructor(options: ArchiverOptions, archivedEnds: readonly number[]) {
    this.location = options.location;
    this.#wal = options.wal;
    this.#store = options.store;
    this.#log = options.log;
    this.#segmentRecords = options.segmentRecords ?? 10_000;
    this.#segmentBytes = options.segmentBytes ?? 16 * 1024 * 1024;
    this.#flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.#maxPending = Math.max(options.maxPendingRecords ?? 50_000, this.#segmentRecords);
    this.#retry = options.retry ?? { firstMs: 100, maxMs: 5000 };
    this.#degradedAfterMs = options.degradedAfterMs ?? 30_000;
    this.#lockDays = options.lockDays;
    this.#partitions = archivedEnds.map((archivedEnd) => ({
      archivedEnd,
      pending: [],
      pendingBytes: 0,
      uploading: Promise.resolve(),
    }));
  }

  /**
   * Claims the location for this log (`log.json`), finds where each partition's archive
   * ends, and starts shipping from there. Throws `ArchiveError` if the location holds
   * another log's archive, has a gap, or runs ahead of the log.
   */
  static async start(options: ArchiverOptions): Promise<Archiver> {
    const { wal, store, location } = options;
    await claimArchive(store, location, wal);
    const ends: number[] = [];
    for (let p = 0; p < wal.partitions; p++) {
      const segments = await listSegments(store, location, p);
      const archivedEnd = segments.at(-1)?.end ?? 0;
      const logEnd = await wal.endOffset(p);
      if (archivedEnd > logEnd)
        throw new ArchiveError(
          "foreign",
          `${location.url} holds partition ${p} up to offset ${archivedEnd}, but this log ends at ${logEnd}: ` +
            "the archive is ahead of the log (a log restored to an earlier point, or replaced). Archive it under another prefix.",
        );
      ends.push(archivedEnd);
    }
    const archiver = new Archiver(options, ends);
    archiver.#subscription = wal.subscribe({
      startOffset: (p) => archiver.#partitions[p]?.archivedEnd ?? 0,
      handler: (entries) => archiver.#receive(entries),
      maxBatch: 1024,
    });
    archiver.#subscription.done.catch((error: unknown) => {
      if (archiver.#stopping) return;
      archiver.#readFailure = error instanceof Error ? error.message : String(error);
      options.log.error("archiver stopped reading the log", { err: error });
    });
    options.log.info("archiving the log", { archive: location.url, resumeAt: ends });
    return archiver;
  }

  /** One past the last archived offset of `partition`. */
  archivedEnd(partition: number): number {
    return this.#partitions[partition]?.archivedEnd ?? 0;
  }

  /** Records committed to the log but not yet archived, per partition. */
  async lag(): Promise<Map<number, number>> {
    const lag = new Map<number, number>();
    for (let p = 0; p < this.#partitions.length; p++)
      lag.set(p, Math.max(0, (await this.#wal.endOffset(p)) - this.archivedEnd(p)));
    return lag;
  }

  /** Segments and compressed bytes uploaded since start. */
  get uploaded(): { readonly segments: number; readonly bytes: number } {
    return { segments: this.#segments, bytes: this.#bytes };
  }

  /**
   * Why the archive is degraded: uploads have failed for longer than `degradedAfterMs`,
   * or reading the log failed for good (a gap, records Kafka's retention deleted before
   * they were archived). Cheap (no I/O), for `/ready`.
   */
  degradedReasons(): string[] {
    if (this.#readFailure !== undefined)
      return [
        `Archiving to ${this.location.url} stopped: it can no longer read the log (${this.#readFailure}). ` +
          "Nothing after the archived end is archived until this is fixed and the server restarted.",
      ];
    const failing = this.#failing;
    if (!failing || Date.now() - failing.since < this.#degradedAfterMs) return [];
    const behind = this.#partitions.reduce((n, s) => n + s.pending.length, 0);
    return [
      `Archiving to ${this.location.url} has failed for ${Math.round((Date.now() - failing.since) / 1000)} s ` +
        `(${behind} records waiting; the log keeps them): ${failing.error}`,
    ];
  }

  /**
   * Uploads every record committed before the call, then stops. Gives up after
   * `timeoutMs`, logging what stays unarchived (the log still holds it, and the next
   * start archives it). Idempotent.
   */
  async close(timeoutMs = 30_000): Promise<void> {
    if (this.#stopping) return;
    const ends: number[] = [];
    for (let p = 0; p < this.#partitions.length; p++) ends.push(await this.#wal.endOffset(p));
    this.#deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        const behind = ends.some((end, p) => this.archivedEnd(p) < end);
        if (!behind || Date.now() >= this.#deadline) break;
        const delivered = ends.every(
          (end, p) => this.archivedEnd(p) + (this.#partitions[p]?.pending.length ?? 0) >= end,
        );
        await Promise.all(this.#partitions.map((_, p) => this.#flush(p).catch(() => {})));
        // Delivery ended for good: what was delivered is uploaded, nothing more will come.
        if (
          this.#readFailure !== undefined &&
          this.#partitions.every((s) => s.pending.length === 0)
        )
          break;
        if (!delivered) await sleep(10);
      }
    } finally {
      this.#stopping = true;
      clearTimeout(this.#round);
      await this.#subscription?.stop();
    }
    const left = ends
      .map((end, p) => ({ partition: p, from: this.archivedEnd(p), to: end }))
      .filter((r) => r.from < r.to);
    // A log that deletes old records on its own (Kafka's retention) may have deleted
    // some before they were archived: those are in neither place, and the line says so.
    const deleted = left
      .map((r) => ({ ...r, to: Math.min(r.to, logStartOf(this.#wal, r.partition)) }))
      .filter((r) => r.from < r.to);
    const ranges = (rs: typeof left) => rs.map((r) => `${r.partition}:${r.from}-${r.to}`);
    if (deleted.length > 0)
      this.#log.error(
        "archive incomplete at shutdown; the log deleted some of these records before they were archived",
        {
          archive: this.location.url,
          unarchived: ranges(left),
          deleted: ranges(deleted),
          err: this.#readFailure ?? this.#failing?.error,
        },
      );
    else if (left.length > 0)
      this.#log.error("archive incomplete at shutdown; the log keeps these records", {
        archive: this.location.url,
        unarchived: ranges(left),
        err: this.#failing?.error,
      });
    else this.#log.info("archive flushed", { archive: this.location.url, ends });
  }

  /**
   * The subscription's handler: queue, upload when a segment is full, pause when far
   * behind, and arm the flush round for the rest.
   */
  async #receive(entries: readonly WalEntry[]): Promise<void> {
    const p = entries[0]?.position.partition;
    if (p === undefined) return;
    const state = this.#partitions[p]!;
    for (const entry of entries) {
      const next = state.archivedEnd + state.pending.length;
      if (entry.position.offset < next) continue; // delivered again (at least once)
      if (entry.position.offset > next)
        throw new ArchiveError(
          "gap",
          `The log delivered ${p}:${entry.position.offset} to the archiver, which expected ${p}:${next}.`,
        );
      state.pending.push(entry);
      state.pendingBytes += entry.payload.byteLength + entry.tenant.length;
    }
    if (state.pending.length >= this.#segmentRecords || state.pendingBytes >= this.#segmentBytes) {
      // Full segments only: the rest waits for the timer or for more records.
      const flushing = this.#flush(p, true);
      // Pause delivery only when far behind; otherwise let the upload run alongside.
      if (state.pending.length >= this.#maxPending) await flushing;
      else flushing.catch(() => {});
    }
    if (state.pending.length > 0 && this.#round === undefined && !this.#stopping)
      this.#round = setTimeout(() => this.#flushRound(), this.#flushIntervalMs);
  }

  /**
   * One flush round: every partition's waiting records, each partition's segment put
   * alongside the others'. One round for all partitions rather than a timer each, so a
   * round's puts go out together: a put sent right after another costs much less CPU
   * than one sent alone a fraction of a second later (the HTTP and signing code it runs
   * is still hot), and the puts per second stay one per active partition. A record
   * still waits at most `flushIntervalMs` before its upload begins: the round is armed
   * by the first record waiting anywhere, and a record arriving during a round's uploads
   * arms the next one.
   */
  #flushRound(): void {
    this.#round = undefined;
    for (let p = 0; p < this.#partitions.length; p++)
      if (this.#partitions[p]!.pending.length > 0) this.#flush(p).catch(() => {});
  }

  /**
   * Uploads what is pending in `partition` now, segment by segment, after the upload
   * running now. Records that arrive meanwhile are left to their own flush (the next
   * round, or a full segment): chasing them would cut a steady stream into a segment per
   * upload's round trip, many tiny objects instead of one per interval.
   */
  #flush(partition: number, fullOnly = false): Promise<void> {
    const state = this.#partitions[partition]!;
    const target = state.archivedEnd + state.pending.length;
    const run = state.uploading.then(async () => {
      while (state.pending.length > 0 && state.archivedEnd < target) {
        const limit = target - state.archivedEnd;
        if (fullOnly && !this.#nextSegment(state, limit).full) break;
        await this.#uploadNext(state, limit);
      }
    });
    state.uploading = run.catch(() => {});
    return run;
  }

  /**
   * How many of the first `limit` pending records the next segment takes, and whether
   * it is full (by record count or bytes) rather than cut short by `limit`.
   */
  #nextSegment(state: PartitionState, limit: number): { count: number; full: boolean } {
    let count = 0;
    let bytes = 0;
    while (count < state.pending.length && count < limit) {
      if (count === this.#segmentRecords) return { count, full: true };
      const entry = state.pending[count]!;
      if (count > 0 && bytes + entry.payload.byteLength > this.#segmentBytes)
        return { count, full: true };
      bytes += entry.payload.byteLength + entry.tenant.length;
      count++;
    }
    return { count, full: count === this.#segmentRecords || bytes >= this.#segmentBytes };
  }

  /**
   * Uploads the next segment of at most `limit` pending records, retrying until it lands
   * or `close` gives up.
   */
  async #uploadNext(state: PartitionState, limit: number): Promise<void> {
    const { count } = this.#nextSegment(state, limit);
    const segment = await encodeSegmentAsync(this.#wal.identity, state.pending.slice(0, count));
    const key = segmentKey(this.location, segment.range);
    let delay = this.#retry.firstMs;
    for (;;) {
      try {
        const lock =
          this.#lockDays === undefined
            ? {}
            : { retainUntil: new Date(Date.now() + this.#lockDays * 86_400_000) };
        const result = await this.#store.putIfAbsent(key, segment.body, segment.metadata, lock);
        if (result === "created") {
          this.#segments++;
          this.#bytes += segment.body.byteLength;
        }
        break;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        if (this.#failing === undefined) {
          this.#failing = { since: Date.now(), error: message };
          this.#log.warn("archive upload failed; retrying", { key, err: message });
        } else this.#failing.error = message;
        if (this.#stopping || Date.now() + delay > this.#deadline) throw error;
        await sleep(delay);
        delay = Math.min(delay * 2, this.#retry.maxMs);
      }
    }
    if (this.#failing !== undefined) {
      this.#log.info("archive uploads work again", {
        failedForMs: Date.now() - this.#failing.since,
      });
      this.#failing = undefined;
    }
    state.pending.splice(0, count);
    state.pendingBytes = state.pending.reduce(
      (n, e) => n + e.payload.byteLength + e.tenant.length,
      0,
    );
    state.archivedEnd = segment.range.end;
  }
}

/**
 * The lowest offset `wal` still holds in `partition`: 0 for a log that never deletes, as
 * of its last offsets request for Kafka (which `close` just made, reading the ends).
 */
function logStartOf(wal: Wal, partition: number): number {
  return "logStart" in wal && typeof wal.logStart === "function"
    ? Number(wal.logStart(partition))
    : 0;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
