/**
 * The Kinesis log against a real Kinesis-compatible server (moto, `tests/infra/kinesis.sh`,
 * or the one named by `ENTDB_TEST_KINESIS_ENDPOINT`): the WAL contract suite, then what
 * only Kinesis has (stream checks, resharding) and its faults through a loopback proxy
 * (`tests/infra/kinesis-fault-proxy.ts`): partial PutRecords failures, throttling, an
 * outage and a lost acknowledgement. Each log gets a fresh stream, deleted after its case.
 */

import {
  DeleteStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  SplitShardCommand,
} from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { KinesisFaultProxy } from "../../tests/infra/kinesis-fault-proxy.ts";
import {
  freshStreamName,
  startKinesisServer,
  TEST_KINESIS_REGION,
  useKinesisTestEnv,
} from "../../tests/infra/kinesis-server.ts";
import {
  DEFAULT_KINESIS_MAX_RECORD_BYTES,
  type KinesisWalOptions,
  openKinesisWal,
} from "./kinesis-wal.ts";
import { readWalToEnd } from "./read-wal.ts";
import type { Wal, WalRecord } from "./wal.ts";
import { WalError } from "./wal.ts";
import { describeWalContract } from "./wal-contract.ts";

let endpoint = "";
let admin: KinesisClient;
const created: string[] = [];
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function freshStream(label: string): string {
  const name = freshStreamName(`test-${label}`);
  created.push(name);
  return name;
}

/** Fast timings: moto answers in milliseconds. */
function options(
  stream: string,
  partitions: number,
  extra: Partial<KinesisWalOptions> = {},
): KinesisWalOptions {
  return {
    stream,
    partitions,
    endpoint,
    region: TEST_KINESIS_REGION,
    pollIntervalMs: 20,
    retryBaseMs: 20,
    retryMaxMs: 200,
    ...extra,
  };
}

async function deleteCreatedStreams(): Promise<void> {
  for (const name of created.splice(0)) {
    await admin.send(new DeleteStreamCommand({ StreamName: name })).catch(() => {});
  }
}

beforeAll(async () => {
  endpoint = await startKinesisServer();
  useKinesisTestEnv(endpoint);
  admin = new KinesisClient({
    region: TEST_KINESIS_REGION,
    endpoint,
    requestHandler: new NodeHttpHandler(),
  });
}, 180_000);

afterAll(async () => {
  await deleteCreatedStreams();
  admin?.destroy();
});

let lastOpened: KinesisWalOptions | undefined;

describeWalContract("kinesis", {
  maxRecordBytes: DEFAULT_KINESIS_MAX_RECORD_BYTES,
  async open({ partitions }) {
    lastOpened = options(freshStream("contract"), partitions);
    return openKinesisWal(lastOpened);
  },
  async reopen() {
    if (lastOpened === undefined) throw new Error("reopen before open");
    return openKinesisWal(lastOpened);
  },
  cleanup: deleteCreatedStreams,
});

function rec(tenant: string, text: string): WalRecord {
  return { tenant, payload: encoder.encode(text) };
}

/** A partition's records as `payload@offset`, through a fresh subscription. */
async function stored(wal: Wal, partition: number): Promise<string[]> {
  return ((await readWalToEnd(wal))[partition] ?? []).map(
    (e) => `${decoder.decode(e.payload)}@${e.position.offset}`,
  );
}

/** How many Kinesis records the shard of `partition` holds (duplicates and orphans included). */
async function rawCount(stream: string, partition: number): Promise<number> {
  const shards = (await admin.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? [];
  shards.sort((a, b) =>
    BigInt(a.HashKeyRange!.StartingHashKey!) < BigInt(b.HashKeyRange!.StartingHashKey!) ? -1 : 1,
  );
  const { ShardIterator } = await admin.send(
    new GetShardIteratorCommand({
      StreamName: stream,
      ShardId: shards[partition]!.ShardId!,
      ShardIteratorType: "TRIM_HORIZON",
    }),
  );
  const page = await admin.send(
    new GetRecordsCommand({ ShardIterator: ShardIterator!, Limit: 10_000 }),
  );
  return page.Records?.length ?? 0;
}

describe("kinesis log", () => {
  const opened: Wal[] = [];
  const proxies: KinesisFaultProxy[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((wal) => wal.close()));
    await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
    await deleteCreatedStreams();
  });

  async function open(stream: string, partitions: number, extra: Partial<KinesisWalOptions> = {}) {
    const wal = await openKinesisWal(options(stream, partitions, extra));
    opened.push(wal);
    return wal;
  }

  async function openBehindProxy(partitions: number, extra: Partial<KinesisWalOptions> = {}) {
    const proxy = await KinesisFaultProxy.start(endpoint);
    proxies.push(proxy);
    const stream = freshStream("faults");
    const wal = await open(stream, partitions, { endpoint: proxy.url, ...extra });
    return { proxy, wal, stream };
  }

  it("names the stream ARN and creation time in its identity", async () => {
    const stream = freshStream("identity");
    const wal = await open(stream, 2);
    expect(wal.identity).toMatch(
      new RegExp(`^kinesis:arn:aws:kinesis:${TEST_KINESIS_REGION}:\\d+:stream/${stream}/\\d+$`),
    );
  });

  it("refuses an existing stream with another shard count", async () => {
    const stream = freshStream("count");
    await (await open(stream, 2)).close();
    const error = await openKinesisWal(options(stream, 3)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WalError);
    expect((error as WalError).code).toBe("invalid");
    expect((error as WalError).message).toBe(
      `The Kinesis stream "${stream}" has 2 shards, but the log was asked for 3 partitions; tenants would map to other shards. Set ENTDB_KINESIS_SHARDS=2 or use another stream.`,
    );
  });

  it("refuses to open a resharded stream", async () => {
    const stream = freshStream("resharded");
    await (await open(stream, 2)).close();
    const shards = (await admin.send(new ListShardsCommand({ StreamName: stream }))).Shards!;
    await admin.send(
      new SplitShardCommand({
        StreamName: stream,
        ShardToSplit: shards[0]!.ShardId!,
        NewStartingHashKey: "1000",
      }),
    );
    const error = await openKinesisWal(options(stream, 2)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WalError);
    expect((error as WalError).code).toBe("invalid");
    expect((error as WalError).message).toMatch(
      new RegExp(
        `^The Kinesis stream "${stream}" was resharded \\(shard shardId-\\d+ has a parent shard\\)\\. EntDB keeps each tenant on one shard`,
      ),
    );
  });

  it("refuses every append once it sees the stream resharded while running", async () => {
    const stream = freshStream("reshard-live");
    const wal = await open(stream, 2, { shardCheckIntervalMs: 50 });
    expect(await wal.append([rec("acme", "before")])).toEqual([
      { partition: wal.partitionFor("acme"), offset: 0 },
    ]);
    expect(wal.failure).toBeUndefined();
    const shards = (await admin.send(new ListShardsCommand({ StreamName: stream }))).Shards!;
    const range = shards[1]!.HashKeyRange!;
    const middle = (BigInt(range.StartingHashKey!) + BigInt(range.EndingHashKey!)) / 2n;
    await admin.send(
      new SplitShardCommand({
        StreamName: stream,
        ShardToSplit: shards[1]!.ShardId!,
        NewStartingHashKey: String(middle),
      }),
    );
    await expect.poll(() => wal.failure?.code, { timeout: 5_000 }).toBe("unavailable");
    expect(wal.failure?.message).toMatch(
      new RegExp(`^The Kinesis stream "${stream}" was resharded`),
    );
    const error = await wal.append([rec("acme", "after")]).catch((e: unknown) => e);
    expect(error).toBe(wal.failure);
  });

  it("fails a write that Kinesis put into another shard, and refuses appends from then on", async () => {
    const { proxy, wal, stream } = await openBehindProxy(1);
    expect(await wal.append([rec("acme", "a0")])).toEqual([{ partition: 0, offset: 0 }]);
    proxy.reshardOnWrite();
    const error = await wal.append([rec("acme", "a1")]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WalError);
    expect((error as WalError).code).toBe("unavailable");
    expect((error as WalError).message).toBe(
      `The Kinesis stream "${stream}" was resharded (a record for shard shardId-000000000000 went to shardId-000000000999). EntDB keeps each tenant on one shard for the life of the log, so it cannot use a resharded stream; restore the log into a new stream instead (docs/kinesis.md, "Resharding").`,
    );
    expect(wal.failure).toBe(error);
    expect(await wal.append([rec("acme", "a2")]).catch((e: unknown) => e)).toBe(error);
    expect(await wal.endOffset(0)).toBe(1);
  });

  it("delivers what a closed shard holds, then ends the subscription with the reshard error", async () => {
    const { proxy, wal, stream } = await openBehindProxy(1);
    await wal.append([rec("acme", "a0"), rec("acme", "a1")]);
    proxy.endShardReads();
    const seen: string[] = [];
    const sub = wal.subscribe({
      startOffset: () => 0,
      handler: async (entries) => {
        for (const e of entries) seen.push(`${decoder.decode(e.payload)}@${e.position.offset}`);
      },
    });
    const error = await sub.done.catch((e: unknown) => e);
    expect(seen).toEqual(["a0@0", "a1@1"]);
    expect(error).toBeInstanceOf(WalError);
    expect((error as WalError).message).toMatch(
      new RegExp(
        `^The Kinesis stream "${stream}" was resharded \\(shard shardId-000000000000 was closed\\)`,
      ),
    );
    expect(wal.failure).toBe(error);
  });

  it("re-sends a partially failed request from its first failed record, keeping a tenant's order", async () => {
    const { proxy, wal, stream } = await openBehindProxy(1);
    proxy.failRecords((i) => i === 1 || i === 3);
    const records = ["a0", "a1", "a2", "a3", "a4"].map((t) => rec("acme", t));
    expect(await wal.append(records)).toEqual(
      [0, 1, 2, 3, 4].map((offset) => ({ partition: 0, offset })),
    );
    expect(await stored(wal, 0)).toEqual(["a0@0", "a1@1", "a2@2", "a3@3", "a4@4"]);
    // The open wrote a fence; the first request a0 and the orphans a2 and a4 (which
    // readers skip); the second one a1 to a4.
    expect(await rawCount(stream, 0)).toBe(1 + 3 + 4);
    expect(await wal.append([rec("acme", "a5")])).toEqual([{ partition: 0, offset: 5 }]);
    expect(await stored(wal, 0)).toEqual(["a0@0", "a1@1", "a2@2", "a3@3", "a4@4", "a5@5"]);
  });

  it("backs off while Kinesis throttles whole requests, then writes once", async () => {
    const warnings: string[] = [];
    const { proxy, wal } = await openBehindProxy(1, {
      log: (entry) => warnings.push(`${entry.message}: ${String(entry.fields["problem"])}`),
    });
    const requestsBefore = proxy.putRequests;
    proxy.throttleRequests(3);
    const started = performance.now();
    expect(await wal.append([rec("acme", "x")])).toEqual([{ partition: 0, offset: 0 }]);
    // Backoff 20, 40, 80 ms (±20 %) before the fourth request.
    expect(performance.now() - started).toBeGreaterThanOrEqual(100);
    expect(proxy.putRequests - requestsBefore).toBe(4);
    expect(await stored(wal, 0)).toEqual(["x@0"]);
    expect(warnings).toEqual(
      Array(3).fill(
        "Kinesis write failed; retrying: ProvisionedThroughputExceededException: Rate exceeded for shard (injected).",
      ),
    );
  });

  it("fails appends cleanly as unavailable during an outage, and continues after it without a gap", async () => {
    // Backoffs of 400, 800, … ms: when the failed call gives up at 500 ms, the writer is in
    // the middle of one, which the next call must not wait out.
    const { proxy, wal } = await openBehindProxy(1, {
      appendTimeoutMs: 500,
      retryBaseMs: 400,
      retryMaxMs: 5_000,
    });
    expect(await wal.append([rec("acme", "before")])).toEqual([{ partition: 0, offset: 0 }]);
    await proxy.down();
    const error = await wal.append([rec("acme", "during")]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WalError);
    expect((error as WalError).code).toBe("unavailable");
    expect((error as WalError).message).toMatch(
      /^Kinesis did not accept the records for shard shardId-\d+ of stream "[^"]+" within 500 ms \(last problem: .*ECONNREFUSED.*\); retry with the same idempotency key\.$/,
    );
    expect(await wal.endOffset(0)).toBe(1);
    await proxy.up();
    expect(await wal.append([rec("acme", "after")])).toEqual([{ partition: 0, offset: 1 }]);
    expect(await stored(wal, 0)).toEqual(["before@0", "after@1"]);
  });

  it("re-sends a request whose acknowledgement was lost, and readers see its records once", async () => {
    const { proxy, wal, stream } = await openBehindProxy(1);
    proxy.cutAfterWrite(1);
    expect(await wal.append([rec("acme", "a0"), rec("acme", "a1")])).toEqual([
      { partition: 0, offset: 0 },
      { partition: 0, offset: 1 },
    ]);
    // The open's fence, then both records twice.
    expect(await rawCount(stream, 0)).toBe(1 + 4);
    expect(await wal.append([rec("acme", "a2")])).toEqual([{ partition: 0, offset: 2 }]);
    expect(await stored(wal, 0)).toEqual(["a0@0", "a1@1", "a2@2"]);
  });

  it("keeps an offset whose record may be in the stream, even after its call was rejected", async () => {
    const { proxy, wal } = await openBehindProxy(1, { appendTimeoutMs: 300 });
    // Every attempt is written but never answered: the call cannot know its outcome.
    const requestsBefore = proxy.putRequests;
    proxy.cutAfterWrite(1_000);
    const pending = wal.append([rec("acme", "unknown")]);
    await expect(pending).rejects.toMatchObject({ code: "unavailable" });
    expect(proxy.putRequests - requestsBefore).toBeGreaterThan(1);
    proxy.cutAfterWrite(0);
    // The next call waits behind the re-sent record and gets the offset after it.
    expect(await wal.append([rec("acme", "next")])).toEqual([{ partition: 0, offset: 1 }]);
    expect(await stored(wal, 0)).toEqual(["unknown@0", "next@1"]);
  });

  it("skips a replaced writer's request that lands after the new writer's fence", async () => {
    const stream = freshStream("fence");
    const old = await open(stream, 1);
    expect(await old.append([rec("acme", "a0")])).toEqual([{ partition: 0, offset: 0 }]);
    // A restart: the new writer fences the stream while the old one's last request is
    // still on its way (here: sent after the fence, as a dead process's late request).
    const next = await open(stream, 1);
    expect(await old.append([rec("acme", "late")])).toEqual([{ partition: 0, offset: 1 }]);
    expect(await next.append([rec("acme", "b1")])).toEqual([{ partition: 0, offset: 1 }]);
    expect(await stored(next, 0)).toEqual(["a0@0", "b1@1"]);
    // A third writer reads the same: the late record stays stale for every reader.
    await next.close();
    const third = await open(stream, 1);
    expect(await stored(third, 0)).toEqual(["a0@0", "b1@1"]);
    expect(await third.endOffset(0)).toBe(2);
  });

  it("resumes after a reopen exactly after a stored offset", async () => {
    const stream = freshStream("resume");
    const first = await open(stream, 1);
    for (let i = 0; i < 6; i++) await first.append([rec("acme", `v${i}`)]);
    await first.close();
    const again = await open(stream, 1);
    const seen: string[] = [];
    const sub = again.subscribe({
      startOffset: () => 4,
      handler: async (entries) => {
        for (const e of entries) seen.push(`${decoder.decode(e.payload)}@${e.position.offset}`);
      },
    });
    await expect.poll(() => seen.length).toBe(2);
    await again.append([rec("acme", "v6")]);
    await expect.poll(() => seen.length).toBe(3);
    await sub.stop();
    expect(seen).toEqual(["v4@4", "v5@5", "v6@6"]);
  });
});
