/**
 * A subscription to the Kinesis log: one polling loop per shard, each reading from the
 * offset `startOffset` names (`kinesis-wal-cursor.ts`) and calling the handler with at
 * most `maxBatch` entries at a time, the next call only after the previous one settled.
 * A loop at the shard's tip sleeps `pollIntervalMs` or until this process acknowledged
 * new records in the shard. Read errors (outage, throttling) are retried with backoff;
 * a handler error, a record that is not the log's, or a closed (resharded) shard ends
 * the subscription with that error.
 */

import type { KinesisClient } from "@aws-sdk/client-kinesis";
import { KinesisShardCursor } from "./kinesis-wal-cursor.ts";
import { backoffMs, classifyKinesisError } from "./kinesis-wal-errors.ts";
import type { SequenceIndex } from "./kinesis-wal-record.ts";
import { type KinesisShardInfo, reshardedMessage } from "./kinesis-wal-stream.ts";
import type { SubscribeOptions, WalSubscription } from "./wal.ts";
import { WalError } from "./wal.ts";

/** Default largest handler batch. */
export const DEFAULT_KINESIS_MAX_BATCH = 256;

/** What a subscription reads from. */
export interface KinesisSubscriptionSource {
  readonly client: KinesisClient;
  readonly streamName: string;
  readonly shards: readonly KinesisShardInfo[];
  readonly indexes: readonly SequenceIndex[];
  /** The offset `TRIM_HORIZON` starts at (see `KinesisCursorStart`). */
  readonly horizonOffset: number | undefined;
  readonly pollIntervalMs: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  readonly warn: (message: string, fields: Readonly<Record<string, unknown>>) => void;
  readonly onResharded: (error: WalError) => void;
}

/** A running subscription; see the top of the file. */
export class KinesisWalSubscription implements WalSubscription {
  readonly done: Promise<void>;
  readonly #source: KinesisSubscriptionSource;
  readonly #options: SubscribeOptions;
  readonly #wakers = new Map<number, () => void>();
  /** Partitions woken while their loop was not sleeping: their next sleep returns at once. */
  readonly #woken = new Set<number>();
  readonly #stop = new AbortController();
  #failed: unknown;
  #hasFailed = false;

  constructor(source: KinesisSubscriptionSource, options: SubscribeOptions, onEnd: () => void) {
    this.#source = source;
    this.#options = options;
    const loops = source.shards.map((shard) => this.#loop(shard));
    this.done = Promise.all(loops).then(() => {
      onEnd();
      if (this.#hasFailed) throw this.#failed;
    });
    // `done` is awaited by whoever cares; an unobserved failure must not crash the process.
    this.done.catch(() => {});
  }

  /** Makes the loop of `partition` poll now (records were just acknowledged there). */
  wake(partition: number): void {
    const waker = this.#wakers.get(partition);
    if (waker === undefined) this.#woken.add(partition);
    else waker();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    for (const wake of this.#wakers.values()) wake();
    await this.done.catch(() => {});
  }

  #fail(error: unknown): void {
    if (!this.#hasFailed) {
      this.#hasFailed = true;
      this.#failed = error;
    }
    this.#stop.abort();
    for (const wake of this.#wakers.values()) wake();
  }

  /** Sleeps `ms`, or until woken or stopped. */
  #sleep(partition: number, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wakers.delete(partition);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wakers.set(partition, done);
      if (this.#stop.signal.aborted || this.#woken.delete(partition)) done();
    });
  }

  async #loop(shard: KinesisShardInfo): Promise<void> {
    const source = this.#source;
    const signal = this.#stop.signal;
    const maxBatch = this.#options.maxBatch ?? DEFAULT_KINESIS_MAX_BATCH;
    let start: number;
    try {
      start = await this.#options.startOffset(shard.partition);
    } catch (error) {
      this.#fail(error);
      return;
    }
    const cursor = new KinesisShardCursor(
      source.client,
      source.streamName,
      shard,
      source.indexes[shard.partition]!,
      { offset: start, horizonOffset: source.horizonOffset },
    );
    let failures = 0;
    while (!signal.aborted) {
      let page: Awaited<ReturnType<KinesisShardCursor["next"]>>;
      try {
        page = await cursor.next(Math.max(maxBatch, 100));
        failures = 0;
      } catch (error) {
        if (error instanceof WalError) {
          this.#fail(error);
          return;
        }
        const failure = classifyKinesisError(error);
        if (!failure.retriable) {
          this.#fail(
            new WalError(
              "unavailable",
              `Reading shard ${shard.shardId} of "${source.streamName}" failed: ${failure.description}`,
              { cause: error },
            ),
          );
          return;
        }
        const wait = backoffMs(failures++, source.retryBaseMs, source.retryMaxMs);
        source.warn("Kinesis read failed; retrying", {
          shard: shard.shardId,
          problem: failure.description,
          backoffMs: wait,
        });
        await this.#sleep(shard.partition, wait);
        continue;
      }
      for (let i = 0; i < page.entries.length && !signal.aborted; i += maxBatch) {
        try {
          await this.#options.handler(page.entries.slice(i, i + maxBatch));
        } catch (error) {
          this.#fail(error);
          return;
        }
      }
      if (page.closed) {
        const error = new WalError(
          "unavailable",
          reshardedMessage(source.streamName, `shard ${shard.shardId} was closed`),
        );
        source.onResharded(error);
        this.#fail(error);
        return;
      }
      if (page.caughtUp) await this.#sleep(shard.partition, source.pollIntervalMs);
    }
  }
}

/** A subscription that failed before it started. */
export function failedKinesisSubscription(error: WalError): WalSubscription {
  const done = Promise.reject(error);
  done.catch(() => {});
  return { done, stop: async () => {} };
}
