/**
 * Delivery for {@link EmbeddedWal.subscribe}: one loop per partition that reads
 * committed entries in batches and hands them to the handler, then sleeps until the log
 * notifies it of a commit to that partition. No polling: the log is written only by this
 * process, so every commit is seen by `notify`.
 *
 * Invariants:
 * - A partition's loop awaits the handler before reading again, so one partition never
 *   has two handler calls in flight; different partitions run concurrently.
 * - Only entries below the source's committed end are read, so a subscriber never sees
 *   a record whose `append` could still fail.
 * - Every batch is checked to continue exactly at the expected offset with no gap; a
 *   gap means the file lost records and ends the subscription with `corrupt`.
 * - Reading from below the log start (records local retention deleted) ends the
 *   subscription with `corrupt`, saying so, before anything of that partition is delivered.
 */

import type { SubscribeOptions, WalEntry, WalSubscription } from "./wal.ts";
import { WalError } from "./wal.ts";

/** Default upper bound on entries per handler call. */
export const DEFAULT_MAX_BATCH = 256;

/** What a subscription needs from the log. */
export interface SubscriptionSource {
  readonly partitions: number;
  /** One past the last committed offset of a partition. */
  committedEnd(partition: number): number;
  /** The lowest offset a partition still holds (local retention deletes below it). */
  logStart(partition: number): number;
  /** Up to `limit` committed entries of a partition from `from`. */
  read(partition: number, from: number, limit: number): Promise<WalEntry[]>;
}

/** A running subscription of the embedded log. */
export class EmbeddedWalSubscription implements WalSubscription {
  readonly done: Promise<void>;
  readonly #source: SubscriptionSource;
  readonly #options: SubscribeOptions;
  readonly #maxBatch: number;
  /** Wakes a partition loop sleeping for a commit; at most one per partition. */
  readonly #wakers = new Map<number, () => void>();
  readonly #loops: Promise<void>;
  #stopped = false;
  #failure: { readonly error: unknown } | undefined;

  /**
   * Starts delivery at once. `onEnd` runs when every partition loop has finished (so
   * the log can forget the subscription).
   */
  constructor(source: SubscriptionSource, options: SubscribeOptions, onEnd: () => void) {
    this.#source = source;
    this.#options = options;
    this.#maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH;
    const loops: Promise<void>[] = [];
    if (!Number.isSafeInteger(this.#maxBatch) || this.#maxBatch < 1) {
      this.#fail(
        new WalError("invalid", `maxBatch must be a positive integer, got ${this.#maxBatch}.`),
      );
    } else {
      for (let partition = 0; partition < source.partitions; partition++) {
        loops.push(this.#run(partition).catch((error: unknown) => this.#fail(error)));
      }
    }
    this.#loops = Promise.all(loops).then(() => onEnd());
    this.done = this.#loops.then(() => {
      if (this.#failure !== undefined) throw this.#failure.error;
    });
  }

  /** A subscription that delivers nothing and whose `done` rejects with `error`. */
  static failed(error: WalError): EmbeddedWalSubscription {
    const subscription = new EmbeddedWalSubscription(
      { partitions: 0, committedEnd: () => 0, logStart: () => 0, read: () => Promise.resolve([]) },
      { startOffset: () => 0, handler: () => Promise.resolve() },
      () => {},
    );
    subscription.#fail(error);
    return subscription;
  }

  /** Tells the loop of `partition` that a commit reached it. */
  notify(partition: number): void {
    const wake = this.#wakers.get(partition);
    if (wake === undefined) return;
    this.#wakers.delete(partition);
    wake();
  }

  /** Stops delivery; resolves once no handler call is running (even if `done` rejects). */
  async stop(): Promise<void> {
    this.#halt();
    await this.#loops;
  }

  #halt(): void {
    this.#stopped = true;
    for (const wake of this.#wakers.values()) wake();
    this.#wakers.clear();
  }

  #fail(error: unknown): void {
    this.#failure ??= { error };
    this.#halt();
  }

  async #run(partition: number): Promise<void> {
    let next = await this.#options.startOffset(partition);
    if (!Number.isSafeInteger(next) || next < 0) {
      throw new WalError(
        "invalid",
        `startOffset(${partition}) returned ${next}; expected an offset >= 0.`,
      );
    }
    while (!this.#stopped) {
      if (next >= this.#source.committedEnd(partition)) {
        // Registering the waker right after the check, in the same turn, cannot miss a
        // commit: commits are announced on this thread after `committedEnd` moved.
        await new Promise<void>((resolve) => this.#wakers.set(partition, resolve));
        continue;
      }
      const start = this.#source.logStart(partition);
      if (next < start)
        throw new WalError(
          "corrupt",
          `Partition ${partition} of the log starts at offset ${start}: the records below it were ` +
            `deleted by local retention after they were archived, so it cannot be read from ${next}. ` +
            "Restore the data dir from the archive (entdb restore) to rebuild from them.",
        );
      const entries = await this.#source.read(partition, next, this.#maxBatch);
      if (this.#stopped) return;
      const gap = entries.findIndex((entry, index) => entry.position.offset !== next + index);
      if (entries.length === 0 || gap !== -1) {
        const missing = next + (gap === -1 ? 0 : gap);
        throw new WalError(
          "corrupt",
          `Partition ${partition} of the log has no record at offset ${missing} below its end` +
            ` ${this.#source.committedEnd(partition)}: the log is damaged. Restore the data dir` +
            " from the archive into a new directory (entdb restore --from ARCHIVE --data-dir NEW," +
            " ARCHIVE being the s3:// URL or directory given to --archive) and serve that.",
        );
      }
      await this.#options.handler(entries);
      next += entries.length;
    }
  }
}
