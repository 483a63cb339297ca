/**
 * The Kinesis stream behind the log: created when missing, and checked to have the
 * shape the log needs. Partition `p` is the `p`-th shard by hash key; a record goes to
 * it by `ExplicitHashKey` (the shard's starting hash key), so the stream's own hashing
 * of partition keys plays no part and the log uses `partition.ts` like every backend.
 *
 * Resharding is refused, not handled: a tenant must stay on one shard for the life of
 * the log (its order and its dense offsets live there). A stream whose shards are not
 * its original open ones (a shard with a parent, or a closed shard) fails the open with
 * `invalid`; a reshard while the log runs is detected by the writer and the readers
 * (`kinesis-wal.ts`).
 */

import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  ListShardsCommand,
  type Shard,
} from "@aws-sdk/client-kinesis";
import { pause, toKinesisWalError } from "./kinesis-wal-errors.ts";
import { WalError } from "./wal.ts";

/** One partition's shard. */
export interface KinesisShardInfo {
  readonly partition: number;
  readonly shardId: string;
  /** The shard's starting hash key: the `ExplicitHashKey` that routes a record to it. */
  readonly hashKey: string;
}

/** What the log knows of its stream. */
export interface KinesisStreamInfo {
  readonly streamName: string;
  readonly streamArn: string;
  readonly createdAt: Date;
  readonly retentionHours: number;
  readonly shards: readonly KinesisShardInfo[];
}

/** The message of a refused resharded stream; tests match its start. */
export function reshardedMessage(streamName: string, detail: string): string {
  return `The Kinesis stream "${streamName}" was resharded (${detail}). EntDB keeps each tenant on one shard for the life of the log, so it cannot use a resharded stream; restore the log into a new stream instead (docs/kinesis.md, "Resharding").`;
}

function isNamed(error: unknown, name: string): boolean {
  return typeof error === "object" && error !== null && (error as { name?: unknown }).name === name;
}

/**
 * Creates the stream with `partitions` shards if it is missing (waiting until it is
 * ACTIVE), and returns its shards in partition order. Rejects with `invalid` when an
 * existing stream has another shard count or was resharded, `unavailable` when Kinesis
 * cannot be reached.
 */
export async function ensureKinesisStream(
  client: KinesisClient,
  streamName: string,
  partitions: number,
  timeoutMs: number,
): Promise<KinesisStreamInfo> {
  const deadline = Date.now() + timeoutMs;
  const what = `Could not open the Kinesis stream "${streamName}"`;
  for (let created = false; ; ) {
    let summary: Awaited<ReturnType<typeof describe>> | undefined;
    try {
      summary = await describe(client, streamName);
    } catch (error) {
      if (!isNamed(error, "ResourceNotFoundException")) throw toKinesisWalError(error, what);
      if (!created) {
        try {
          await client.send(
            new CreateStreamCommand({
              StreamName: streamName,
              ShardCount: partitions,
              StreamModeDetails: { StreamMode: "PROVISIONED" },
            }),
          );
        } catch (createError) {
          // Another process created it first: fine, wait for it like our own.
          if (!isNamed(createError, "ResourceInUseException")) {
            throw toKinesisWalError(createError, `${what}: creating it failed`);
          }
        }
        created = true;
      }
    }
    if (summary?.StreamStatus === "ACTIVE" || summary?.StreamStatus === "UPDATING") {
      return describeShards(client, streamName, summary, partitions);
    }
    if (summary?.StreamStatus === "DELETING") {
      throw new WalError("unavailable", `${what}: it is being deleted.`);
    }
    if (Date.now() > deadline) {
      throw new WalError(
        "unavailable",
        `${what}: it did not become ACTIVE within ${timeoutMs} ms (status ${summary?.StreamStatus ?? "missing"}).`,
      );
    }
    await pause(250);
  }
}

async function describe(client: KinesisClient, streamName: string) {
  const out = await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName }));
  const summary = out.StreamDescriptionSummary;
  if (summary === undefined)
    throw new WalError("unavailable", "DescribeStreamSummary answered no summary.");
  return summary;
}

/** Every shard of the stream, open or closed (ListShards pages). */
export async function listShards(client: KinesisClient, streamName: string): Promise<Shard[]> {
  const shards: Shard[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      token === undefined
        ? new ListShardsCommand({ StreamName: streamName })
        : new ListShardsCommand({ NextToken: token }),
    );
    shards.push(...(page.Shards ?? []));
    token = page.NextToken;
  } while (token !== undefined);
  return shards;
}

/** Why the shards are not the stream's original open ones, or undefined if they are. */
export function reshardEvidence(shards: readonly Shard[]): string | undefined {
  const child = shards.find(
    (s) => s.ParentShardId !== undefined || s.AdjacentParentShardId !== undefined,
  );
  if (child !== undefined) return `shard ${child.ShardId} has a parent shard`;
  const closed = shards.find((s) => s.SequenceNumberRange?.EndingSequenceNumber !== undefined);
  if (closed !== undefined) return `shard ${closed.ShardId} is closed`;
  return undefined;
}

async function describeShards(
  client: KinesisClient,
  streamName: string,
  summary: Awaited<ReturnType<typeof describe>>,
  partitions: number,
): Promise<KinesisStreamInfo> {
  let shards: Shard[];
  try {
    shards = await listShards(client, streamName);
  } catch (error) {
    throw toKinesisWalError(
      error,
      `Could not list the shards of the Kinesis stream "${streamName}"`,
    );
  }
  const evidence = reshardEvidence(shards);
  if (evidence !== undefined) throw new WalError("invalid", reshardedMessage(streamName, evidence));
  if (shards.length !== partitions) {
    throw new WalError(
      "invalid",
      `The Kinesis stream "${streamName}" has ${shards.length} shards, but the log was asked for ${partitions} partitions; tenants would map to other shards. Set ENTDB_KINESIS_SHARDS=${shards.length} or use another stream.`,
    );
  }
  const sorted = shards
    .map((s) => ({ shardId: s.ShardId ?? "", hashKey: s.HashKeyRange?.StartingHashKey ?? "0" }))
    .sort((a, b) => (BigInt(a.hashKey) < BigInt(b.hashKey) ? -1 : 1));
  const { StreamARN, StreamCreationTimestamp, RetentionPeriodHours } = summary;
  if (StreamARN === undefined || StreamCreationTimestamp === undefined) {
    throw new WalError(
      "unavailable",
      `Kinesis described "${streamName}" without an ARN or creation time.`,
    );
  }
  return {
    streamName,
    streamArn: StreamARN,
    createdAt: StreamCreationTimestamp,
    retentionHours: RetentionPeriodHours ?? 24,
    shards: sorted.map((s, partition) => ({ partition, ...s })),
  };
}
