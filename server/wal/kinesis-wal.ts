/**
 * The Kinesis log: the WAL backend on Amazon Kinesis Data Streams. One stream per
 * deployment; partition `p` is the stream's `p`-th shard (by hash key), and a tenant's
 * partition is `partitionForTenant` (`partition.ts`) as in every backend. See
 * `docs/kinesis.md` for operation, and `kinesis-wal-record.ts` for how positions map
 * to sequence numbers.
 *
 * Guarantees:
 * - Durable acknowledgement: `append` resolves only after `PutRecords` answered success
 *   for every one of its records (Kinesis replicates a record across three availability
 *   zones before it answers).
 * - Dense positions: each record carries its offset; readers keep the first copy of each
 *   offset in order, so positions are `partition/offset` with offsets 0, 1, 2, … as in
 *   the other backends, whatever duplicates or orphans partial failures left in the
 *   stream. Sequence numbers never leave this backend.
 * - Order: one request at a time per shard, in call order; after a partial failure the
 *   first failed record and everything after it are sent again, so a tenant's records
 *   are never reordered (`kinesis-wal-writer.ts`).
 * - Bounded failure: outages and throttling are retried with backoff; a call not
 *   acknowledged within `appendTimeoutMs` rejects with `unavailable` (some of its
 *   records may still be written; the idempotency key makes a retry safe).
 * - Validation before anything is sent, as in the other logs: `invalid` for an empty or
 *   invalid tenant id, `too-large` past `maxRecordBytes` (at most Kinesis's 1 MiB
 *   record limit, less this backend's header).
 * - Restarts: the open fences every shard with a new writer epoch before it counts the
 *   shard's end, so a dead writer's late request cannot take an offset handed out again
 *   (`kinesis-wal-record.ts`).
 * - Resharding is refused: a resharded stream fails the open with `invalid`; a reshard
 *   seen while running sets `failure` (every append then rejects with `unavailable`),
 *   and a reader that reaches the end of a closed shard ends its subscription with it.
 *
 * Assumptions (what it does not check):
 * - One process writes the stream at a time (the server that owns it; restarts are fine,
 *   two live writers are not). The open reads every retained record once to find each
 *   shard's end, so it takes time in proportion to the stream's retained size.
 * - Records stay in the stream until they are archived: Kinesis drops records older than
 *   the stream's retention period (24 h by default), and a reader asking for a dropped
 *   offset starts at the oldest retained one instead.
 * - Only this backend writes the stream: any other record fails reads with `corrupt`.
 */

import { KinesisClient, PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { KinesisShardCursor } from "./kinesis-wal-cursor.ts";
import { backoffMs, pause, toKinesisWalError } from "./kinesis-wal-errors.ts";
import { encodeKinesisRecord, KINESIS_HEADER_BYTES, SequenceIndex } from "./kinesis-wal-record.ts";
import {
  ensureKinesisStream,
  type KinesisStreamInfo,
  listShards,
  reshardEvidence,
  reshardedMessage,
} from "./kinesis-wal-stream.ts";
import { failedKinesisSubscription, KinesisWalSubscription } from "./kinesis-wal-subscription.ts";
import { KinesisShardWriter, type KinesisWriterSettings } from "./kinesis-wal-writer.ts";
import { partitionForTenant } from "./partition.ts";
import type { SubscribeOptions, Wal, WalPosition, WalRecord, WalSubscription } from "./wal.ts";
import { WalError } from "./wal.ts";
import { positiveInteger, walRecordsSize } from "./wal-record-checks.ts";

/** Kinesis's largest record: data plus partition key. */
const KINESIS_RECORD_LIMIT = 1024 * 1024;

/** Default and largest record this log accepts, tenant UTF-8 bytes plus payload bytes. */
export const DEFAULT_KINESIS_MAX_RECORD_BYTES = KINESIS_RECORD_LIMIT - KINESIS_HEADER_BYTES - 8;

/** Default stream name. */
export const DEFAULT_KINESIS_STREAM = "entdb-wal";

/** One diagnostic line of the Kinesis log (retries, throttling). */
export interface KinesisWalLogEntry {
  readonly level: "warn" | "info";
  readonly message: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** Options for {@link openKinesisWal}. */
export interface KinesisWalOptions {
  /** Stream name (default `entdb-wal`). */
  readonly stream?: string;
  /**
   * Shard count. A missing stream is created with it; an existing stream with another
   * count fails with `invalid`, since tenants would map to other shards.
   */
  readonly partitions: number;
  /** AWS region (default: the SDK's, from `AWS_REGION`). */
  readonly region?: string;
  /** Endpoint URL, e.g. a local Kinesis-compatible server (default: the SDK's). */
  readonly endpoint?: string;
  /** Largest accepted record, tenant UTF-8 bytes plus payload bytes (default and most: 1 MiB less 26 bytes). */
  readonly maxRecordBytes?: number;
  /** How long an append may wait for Kinesis before it rejects with `unavailable` (default 20000). */
  readonly appendTimeoutMs?: number;
  /** How often a reader at a shard's tip asks for new records (default 200: Kinesis allows 5 reads/s per shard). */
  readonly pollIntervalMs?: number;
  /** First retry backoff in ms (default 100); doubles per attempt, with ±20 % jitter. */
  readonly retryBaseMs?: number;
  /** Largest retry backoff in ms (default 2000). */
  readonly retryMaxMs?: number;
  /** Timeout of one HTTP request in ms (default 10000). */
  readonly requestTimeoutMs?: number;
  /** TCP connect timeout in ms (default 3000). */
  readonly connectionTimeoutMs?: number;
  /** How long the open may wait for a created stream to become ACTIVE (default 120000). */
  readonly createTimeoutMs?: number;
  /** How often the log lists the stream's shards to detect a reshard (default 60000). */
  readonly shardCheckIntervalMs?: number;
  /** Diagnostics sink; without one the log is silent. */
  readonly log?: (entry: KinesisWalLogEntry) => void;
}

/**
 * Connects, creates the stream if it is missing (or checks its shards), and reads each
 * shard once to find its end. Rejects with `invalid` for bad options, a shard-count
 * mismatch or a resharded stream, `unavailable` when Kinesis cannot be reached, and
 * `corrupt` when the stream holds a record this backend did not write.
 */
export async function openKinesisWal(options: KinesisWalOptions): Promise<KinesisWal> {
  const streamName = options.stream ?? DEFAULT_KINESIS_STREAM;
  const partitions = positiveInteger(options.partitions, "partitions");
  const maxRecordBytes = positiveInteger(
    options.maxRecordBytes ?? DEFAULT_KINESIS_MAX_RECORD_BYTES,
    "maxRecordBytes",
  );
  if (maxRecordBytes > DEFAULT_KINESIS_MAX_RECORD_BYTES) {
    throw new WalError(
      "invalid",
      `maxRecordBytes ${maxRecordBytes} exceeds what a Kinesis record can hold (${DEFAULT_KINESIS_MAX_RECORD_BYTES}).`,
    );
  }
  const client = new KinesisClient({
    ...(options.region === undefined ? {} : { region: options.region }),
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    // Kinesis speaks HTTP/1.1 for everything but SubscribeToShard, which this log does not
    // use; local Kinesis-compatible servers speak only HTTP/1.1.
    requestHandler: new NodeHttpHandler({
      connectionTimeout: positiveInteger(
        options.connectionTimeoutMs ?? 3_000,
        "connectionTimeoutMs",
      ),
      requestTimeout: positiveInteger(options.requestTimeoutMs ?? 10_000, "requestTimeoutMs"),
    }),
    // Retries are this log's (kinesis-wal-writer.ts): it must know what each attempt did.
    maxAttempts: 1,
  });
  try {
    const info = await ensureKinesisStream(
      client,
      streamName,
      partitions,
      positiveInteger(options.createTimeoutMs ?? 120_000, "createTimeoutMs"),
    );
    // Younger than its retention: nothing was dropped, so TRIM_HORIZON is offset 0.
    const horizonOffset =
      Date.now() - info.createdAt.getTime() < info.retentionHours * 3_600_000 ? 0 : undefined;
    const indexes = info.shards.map(() => new SequenceIndex());
    const cursors = info.shards.map(
      (shard) =>
        new KinesisShardCursor(client, streamName, shard, indexes[shard.partition]!, {
          offset: 0,
          horizonOffset,
        }),
    );
    /** Reads a shard to its tip, or (given `fence`) until past that sequence number. */
    const readShard = async (partition: number, fence?: string): Promise<void> => {
      const cursor = cursors[partition]!;
      const index = indexes[partition]!;
      for (;;) {
        const page = await cursor.next(10_000);
        page.entries.forEach((entry, i) => {
          index.add(entry.position.offset, page.sequences[i]!, page.epochs[i]!);
        });
        if (page.closed) return;
        if (fence === undefined) {
          if (page.caughtUp) return;
          continue;
        }
        const seen = cursor.lastSeen;
        if (seen !== undefined && BigInt(seen) >= BigInt(fence)) return;
        if (page.caughtUp) await pause(100);
      }
    };
    // Each shard to its tip; then a fence of a new epoch into every shard, and each shard
    // again up to its fence: a dead writer's request that landed before the fence is
    // counted, one that lands after it is stale (kinesis-wal-record.ts).
    await Promise.all(info.shards.map((shard) => readShard(shard.partition)));
    const epoch = Math.max(0, ...cursors.map((cursor) => cursor.epoch)) + 1;
    const fences = await writeFences(client, info, epoch, cursors);
    await Promise.all(
      info.shards.map((shard) => readShard(shard.partition, fences[shard.partition])),
    );
    const ends = cursors.map((cursor) => cursor.expected ?? 0);
    return new KinesisWal(client, info, {
      ...options,
      maxRecordBytes,
      indexes,
      ends,
      epoch,
      horizonOffset,
    });
  } catch (error) {
    client.destroy();
    throw toKinesisWalError(error, `Could not open the Kinesis log "${streamName}"`);
  }
}

/** Fence writes at open before it gives up (throttling, a shard being busy). */
const FENCE_ATTEMPTS = 8;

/**
 * Writes one fence record of `epoch` into every shard, at the offset each shard's cursor
 * expects next; resolves with each fence's sequence number, by partition.
 */
async function writeFences(
  client: KinesisClient,
  info: KinesisStreamInfo,
  epoch: number,
  cursors: readonly KinesisShardCursor[],
): Promise<string[]> {
  const fences: (string | undefined)[] = info.shards.map(() => undefined);
  for (let attempt = 0; ; attempt++) {
    const missing = info.shards.filter((shard) => fences[shard.partition] === undefined);
    if (missing.length === 0) return fences as string[];
    if (attempt === FENCE_ATTEMPTS) {
      throw new WalError(
        "unavailable",
        `Kinesis did not accept the fence records of "${info.streamName}" for shards ${missing.map((s) => s.shardId).join(", ")}.`,
      );
    }
    if (attempt > 0) await pause(backoffMs(attempt - 1, 100, 2_000));
    const out = await client.send(
      new PutRecordsCommand({
        StreamName: info.streamName,
        Records: missing.map((shard) => ({
          Data: encodeKinesisRecord(
            epoch,
            cursors[shard.partition]!.expected ?? 0,
            "",
            new Uint8Array(),
            true,
          ),
          PartitionKey: String(shard.partition),
          ExplicitHashKey: shard.hashKey,
        })),
      }),
    );
    (out.Records ?? []).forEach((result, i) => {
      const shard = missing[i];
      if (shard === undefined || result.ErrorCode !== undefined) return;
      if (result.ShardId !== shard.shardId) {
        throw new WalError(
          "invalid",
          reshardedMessage(
            info.streamName,
            `a record for shard ${shard.shardId} went to ${result.ShardId ?? "no shard"}`,
          ),
        );
      }
      fences[shard.partition] = result.SequenceNumber;
    });
  }
}

/**
 * The Kinesis-stream log. Open it with {@link openKinesisWal}; the guarantees and
 * assumptions are listed at the top of `kinesis-wal.ts`.
 */
export class KinesisWal implements Wal {
  readonly partitions: number;
  /** `kinesis:<stream ARN>/<creation time, ms since the epoch>`. */
  readonly identity: string;
  /** The stream holding the log. */
  readonly stream: string;
  readonly #client: KinesisClient;
  readonly #writers: readonly KinesisShardWriter[];
  readonly #maxRecordBytes: number;
  readonly #subscriptions = new Set<KinesisWalSubscription>();
  readonly #subscriptionSource: ConstructorParameters<typeof KinesisWalSubscription>[0];
  readonly #onResharded: (error: WalError) => void;
  readonly #shardCheck: NodeJS.Timeout;
  #failure: WalError | undefined;
  #closing: Promise<void> | undefined;

  /** Use {@link openKinesisWal}. */
  constructor(
    client: KinesisClient,
    info: KinesisStreamInfo,
    options: KinesisWalOptions & {
      readonly maxRecordBytes: number;
      readonly indexes: readonly SequenceIndex[];
      readonly ends: readonly number[];
      readonly epoch: number;
      readonly horizonOffset: number | undefined;
    },
  ) {
    this.#client = client;
    this.partitions = info.shards.length;
    this.stream = info.streamName;
    this.identity = `kinesis:${info.streamArn}/${info.createdAt.getTime()}`;
    this.#maxRecordBytes = options.maxRecordBytes;
    const log = options.log;
    const warn = (message: string, fields: Readonly<Record<string, unknown>>): void =>
      log?.({ level: "warn", message, fields: { stream: info.streamName, ...fields } });
    const retryBaseMs = positiveInteger(options.retryBaseMs ?? 100, "retryBaseMs");
    const retryMaxMs = positiveInteger(options.retryMaxMs ?? 2_000, "retryMaxMs");
    const onResharded = (error: WalError): void => {
      if (this.#failure !== undefined) return;
      this.#failure = error;
      for (const writer of this.#writers) writer.stop(error);
    };
    const settings: KinesisWriterSettings = {
      client,
      streamName: info.streamName,
      epoch: options.epoch,
      appendTimeoutMs: positiveInteger(options.appendTimeoutMs ?? 20_000, "appendTimeoutMs"),
      retryBaseMs,
      retryMaxMs,
      onResharded,
      onAccepted: (partition) => {
        for (const subscription of this.#subscriptions) subscription.wake(partition);
      },
      warn,
    };
    this.#writers = info.shards.map(
      (shard) =>
        new KinesisShardWriter(
          settings,
          shard,
          options.indexes[shard.partition]!,
          options.ends[shard.partition]!,
        ),
    );
    this.#onResharded = onResharded;
    this.#shardCheck = setInterval(
      () => void this.checkShards().catch(() => {}),
      positiveInteger(options.shardCheckIntervalMs ?? 60_000, "shardCheckIntervalMs"),
    );
    this.#shardCheck.unref();
    this.#subscriptionSource = {
      client,
      streamName: info.streamName,
      shards: info.shards,
      indexes: options.indexes,
      horizonOffset: options.horizonOffset,
      pollIntervalMs: positiveInteger(options.pollIntervalMs ?? 200, "pollIntervalMs"),
      retryBaseMs,
      retryMaxMs,
      warn,
      onResharded,
    };
  }

  /**
   * Lists the stream's shards and, if it was resharded, sets `failure` (appends reject
   * from then on). Runs every `shardCheckIntervalMs`; a reshard is also seen at once when
   * Kinesis routes a record to another shard or a reader reaches the end of a closed one.
   */
  async checkShards(): Promise<void> {
    let shards: Awaited<ReturnType<typeof listShards>>;
    try {
      shards = await listShards(this.#client, this.stream);
    } catch (error) {
      throw toKinesisWalError(error, `Could not list the shards of "${this.stream}"`);
    }
    const evidence = reshardEvidence(shards);
    if (evidence !== undefined) {
      this.#onResharded(new WalError("unavailable", reshardedMessage(this.stream, evidence)));
    }
  }

  partitionFor(tenant: string): number {
    return partitionForTenant(tenant, this.partitions);
  }

  /** Set once the stream was seen resharded; the log then refuses every append. */
  get failure(): WalError | undefined {
    return this.#failure;
  }

  append(records: readonly WalRecord[]): Promise<WalPosition[]> {
    if (this.#closing !== undefined) {
      return Promise.reject(new WalError("closed", `The Kinesis log "${this.stream}" is closed.`));
    }
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    const bytes = walRecordsSize(records, this.#maxRecordBytes);
    if (bytes instanceof WalError) return Promise.reject(bytes);
    if (records.length === 0) return Promise.resolve([]);
    // A partition's records of one call: tenants by first appearance, call order within
    // each, so one call's records of one tenant get contiguous offsets.
    const byTenant = new Map<string, number[]>();
    records.forEach((record, index) => {
      const list = byTenant.get(record.tenant);
      if (list === undefined) byTenant.set(record.tenant, [index]);
      else list.push(index);
    });
    const plan = new Map<number, number[]>();
    for (const [tenant, indexes] of byTenant) {
      const partition = this.partitionFor(tenant);
      const list = plan.get(partition);
      if (list === undefined) plan.set(partition, [...indexes]);
      else list.push(...indexes);
    }
    const positions: WalPosition[] = new Array(records.length);
    return Promise.all(
      [...plan].map(async ([partition, indexes]) => {
        const first = await this.#writers[partition]!.write(indexes.map((i) => records[i]!));
        indexes.forEach((index, k) => {
          positions[index] = { partition, offset: first + k };
        });
      }),
    ).then(() => positions);
  }

  async endOffset(partition: number): Promise<number> {
    if (this.#closing !== undefined) {
      throw new WalError("closed", `The Kinesis log "${this.stream}" is closed.`);
    }
    const writer = this.#writers[partition];
    if (!Number.isInteger(partition) || writer === undefined) {
      throw new WalError("invalid", `No partition ${partition}; the log has ${this.partitions}.`);
    }
    return writer.end;
  }

  /**
   * Starts one polling reader per shard. Every subscription receives every partition
   * (Kinesis has no consumer groups here: one process owns the stream).
   */
  subscribe(options: SubscribeOptions): WalSubscription {
    if (this.#closing !== undefined) {
      return failedKinesisSubscription(
        new WalError("closed", `The Kinesis log "${this.stream}" is closed.`),
      );
    }
    const subscription = new KinesisWalSubscription(this.#subscriptionSource, options, () =>
      this.#subscriptions.delete(subscription),
    );
    this.#subscriptions.add(subscription);
    return subscription;
  }

  /**
   * Waits for queued appends (each is acknowledged or rejects within `appendTimeoutMs`),
   * stops subscriptions and releases the client. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#shardCheck);
      for (const writer of this.#writers) writer.close();
      await Promise.all(this.#writers.map((writer) => writer.idle()));
      await Promise.all([...this.#subscriptions].map((subscription) => subscription.stop()));
      this.#client.destroy();
    })();
    return this.#closing;
  }
}
