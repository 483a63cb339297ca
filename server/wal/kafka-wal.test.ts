/**
 * The Kafka log against a real single-node broker (`tests/infra/kafka.sh`, or the one
 * named by `ENTDB_KAFKA_BROKERS`): the WAL contract suite, then what only Kafka has
 * (topic creation and checks, foreign records, the shared partitioner, consumer groups).
 * Each log gets a fresh topic, deleted after its case. Broker faults: tests/kafka/.
 */

import { randomUUID } from "node:crypto";
import { type Admin, Kafka, logLevel, Partitioners } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KafkaCluster, singleNodeKafka } from "../../tests/infra/kafka-cluster.ts";
import {
  DEFAULT_KAFKA_MAX_RECORD_BYTES,
  type KafkaWalOptions,
  kafkaOffsetToNumber,
  openKafkaWal,
} from "./kafka-wal.ts";
import { readWalToEnd } from "./read-wal.ts";
import type { Wal, WalEntry } from "./wal.ts";
import { WalError } from "./wal.ts";
import { describeWalContract } from "./wal-contract.ts";

const run = randomUUID().slice(0, 8);
let cluster: KafkaCluster | undefined;
let admin: Admin;
let brokers: string[] = [];
let topicCount = 0;
const created: string[] = [];

/** A topic name no earlier run or case used. */
function freshTopic(label: string): string {
  const topic = `test-${label}-${run}-${++topicCount}`;
  created.push(topic);
  return topic;
}

function options(
  topic: string,
  partitions: number,
  extra: Partial<KafkaWalOptions> = {},
): KafkaWalOptions {
  return { brokers, topic, partitions, replicationFactor: 1, ...extra };
}

async function deleteCreatedTopics(): Promise<void> {
  const topics = created.splice(0);
  if (topics.length === 0) return;
  const existing = new Set(await admin.listTopics());
  const doomed = topics.filter((topic) => existing.has(topic));
  if (doomed.length > 0) await admin.deleteTopics({ topics: doomed, timeout: 10_000 });
}

beforeAll(async () => {
  cluster = await singleNodeKafka();
  brokers = [...cluster.brokers];
  admin = new Kafka({ clientId: "kafka-wal-test", brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
}, 330_000);

afterAll(async () => {
  await deleteCreatedTopics().catch(() => {});
  await admin?.disconnect();
  await cluster?.stop();
}, 60_000);

let lastOpened: KafkaWalOptions | undefined;

describeWalContract("kafka", {
  maxRecordBytes: DEFAULT_KAFKA_MAX_RECORD_BYTES,
  async open({ partitions }) {
    lastOpened = options(freshTopic("contract"), partitions);
    return openKafkaWal(lastOpened);
  },
  async reopen() {
    if (lastOpened === undefined) throw new Error("reopen before open");
    return openKafkaWal(lastOpened);
  },
  cleanup: deleteCreatedTopics,
});

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function show(entries: readonly WalEntry[]): string[] {
  return entries.map(
    (e) => `${e.tenant}:${decoder.decode(e.payload)}@${e.position.partition}/${e.position.offset}`,
  );
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("kafka log", () => {
  const opened: Wal[] = [];
  const open = async (opts: KafkaWalOptions): Promise<Wal> => {
    const wal = await openKafkaWal(opts);
    opened.push(wal);
    return wal;
  };

  afterAll(async () => {
    await Promise.all(opened.splice(0).map((wal) => wal.close()));
    await deleteCreatedTopics();
  });

  it("creates a missing topic with the configured partitions and topic configs", async () => {
    const topic = freshTopic("create");
    await open(
      options(topic, 3, { minInsyncReplicas: 1, topicConfig: { "segment.ms": "3600000" } }),
    );
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(metadata.topics[0]!.partitions.map((p) => p.replicas.length)).toEqual([1, 1, 1]);
    const described = await admin.describeConfigs({
      resources: [{ type: 2, name: topic }],
      includeSynonyms: false,
    });
    const config = new Map(
      described.resources[0]!.configEntries.map((entry) => [entry.configName, entry.configValue]),
    );
    expect({
      "min.insync.replicas": config.get("min.insync.replicas"),
      "retention.ms": config.get("retention.ms"),
      "retention.bytes": config.get("retention.bytes"),
      "cleanup.policy": config.get("cleanup.policy"),
      "max.message.bytes": config.get("max.message.bytes"),
      "segment.ms": config.get("segment.ms"),
    }).toEqual({
      "min.insync.replicas": "1",
      "retention.ms": "-1",
      "retention.bytes": "-1",
      "cleanup.policy": "delete",
      "max.message.bytes": String(5 * 1024 * 1024),
      "segment.ms": "3600000",
    });
  });

  it("refuses an existing topic with another partition count, naming both counts", async () => {
    const topic = freshTopic("mismatch");
    await admin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 1 }] });
    const error = await openKafkaWal(options(topic, 4)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WalError);
    expect((error as WalError).code).toBe("invalid");
    expect((error as WalError).message).toBe(
      `Topic "${topic}" has 2 partitions but the log is configured with 4; tenants would hash ` +
        "to other partitions. Configure 2 or use another topic.",
    );
  });

  it("refuses a group session timeout that is not a positive integer, before connecting", async () => {
    const topic = freshTopic("session");
    for (const groupSessionTimeoutMs of [0, 1.5, -6000]) {
      const error = await openKafkaWal(
        options(topic, 2, { groupId: `session-${run}`, groupSessionTimeoutMs }),
      ).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WalError);
      expect((error as WalError).code).toBe("invalid");
      expect((error as WalError).message).toBe(
        `groupSessionTimeoutMs must be a positive integer, got ${groupSessionTimeoutMs}.`,
      );
    }
    expect((await admin.listTopics()).includes(topic)).toBe(false);
  });

  it("refuses an existing topic with fewer replicas than configured, before writing", async () => {
    const topic = freshTopic("fewer-replicas");
    await admin.createTopics({ topics: [{ topic, numPartitions: 2, replicationFactor: 1 }] });
    const error = await openKafkaWal(options(topic, 2, { replicationFactor: 3 })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WalError);
    expect((error as WalError).code).toBe("invalid");
    expect((error as WalError).message).toBe(
      `Topic "${topic}" has replication factor 1 but the log is configured with 3; acknowledged ` +
        "writes would be kept by fewer brokers than configured. Add replicas to the topic " +
        "(kafka-reassign-partitions), configure 1, or use another topic.",
    );
    const offsets = await admin.fetchTopicOffsets(topic);
    expect(offsets.map((o) => o.high)).toEqual(["0", "0"]);
  });

  it("refuses a replication factor the cluster cannot give with invalid", async () => {
    const error = await openKafkaWal(options(freshTopic("rf"), 2, { replicationFactor: 3 })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(WalError);
    expect((error as WalError).code).toBe("invalid");
    expect((error as WalError).message).toMatch(
      /^Could not create topic "test-rf-[^"]+" with 2 partitions, replication factor 3, min.insync.replicas 2: /,
    );
  });

  it("puts each tenant where Kafka's default partitioner puts its key", async () => {
    const topic = freshTopic("partitioner");
    const wal = await open(options(topic, 6));
    const producer = new Kafka({
      clientId: "foreign",
      brokers,
      logLevel: logLevel.NOTHING,
    }).producer({
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    const tenants = Array.from({ length: 40 }, (_, i) => `tenant-${i}-é`);
    // No partition given: kafkajs's murmur2 partitioner picks it from the key.
    await producer.send({ topic, acks: -1, messages: tenants.map((t) => ({ key: t, value: t })) });
    await producer.disconnect();
    // A plain producer may write a batch twice when it retries; that is fine here.
    const stored = (await readWalToEnd(wal)).flat();
    expect(new Set(stored.map((e) => e.tenant))).toEqual(new Set(tenants));
    for (const entry of stored) {
      expect(entry.position.partition).toBe(wal.partitionFor(entry.tenant));
    }
  });

  it("delivers a record without key or value as tenant '' with an empty payload, in its place", async () => {
    const topic = freshTopic("null");
    const wal = await open(options(topic, 1));
    await wal.append([{ tenant: "acme", payload: encoder.encode("before") }]);
    const producer = new Kafka({
      clientId: "foreign",
      brokers,
      logLevel: logLevel.NOTHING,
    }).producer();
    await producer.connect();
    await producer.send({
      topic,
      acks: -1,
      messages: [
        { key: null, value: null, partition: 0 },
        { key: "acme", value: null, partition: 0 },
      ],
    });
    await producer.disconnect();
    await wal.append([{ tenant: "acme", payload: encoder.encode("after") }]);
    const [entries] = await readWalToEnd(wal);
    expect(show(entries!)).toEqual(["acme:before@0/0", ":@0/1", "acme:@0/2", "acme:after@0/3"]);
    expect(entries!.map((e) => e.payload.constructor)).toEqual(Array(4).fill(Uint8Array));
  });

  it("round-trips a record of exactly maxRecordBytes through produce and fetch", async () => {
    const wal = await open(options(freshTopic("big"), 1));
    const payload = new Uint8Array(DEFAULT_KAFKA_MAX_RECORD_BYTES - 4).map((_, i) => i % 251);
    const small = { tenant: "acme", payload: encoder.encode("small") };
    expect(await wal.append([small, { tenant: "acme", payload }, small])).toEqual([
      { partition: 0, offset: 0 },
      { partition: 0, offset: 1 },
      { partition: 0, offset: 2 },
    ]);
    const [entries] = await readWalToEnd(wal);
    expect(entries!.map((e) => e.payload.byteLength)).toEqual([5, payload.byteLength, 5]);
    expect(Buffer.compare(entries![1]!.payload, payload)).toBe(0);
  });

  it("ends a subscription with corrupt when asked to start past the log end", async () => {
    const topic = freshTopic("past-end");
    const wal = await open(options(topic, 2));
    await wal.append([{ tenant: "acme", payload: encoder.encode("only") }]);
    const partition = wal.partitionFor("acme");
    const delivered: WalEntry[] = [];
    const sub = wal.subscribe({
      startOffset: (p) => (p === partition ? 2 : 0),
      handler: async (entries) => {
        delivered.push(...entries);
      },
    });
    const error = await sub.done.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WalError);
    expect((error as WalError).code).toBe("corrupt");
    expect((error as WalError).message).toBe(
      `The subscriber asks for partition ${partition} of topic "${topic}" from offset 2, but the ` +
        "log ends at 1: the topic lost records or was recreated.",
    );
    expect(delivered).toEqual([]);
  });

  it("ends a subscription with corrupt when records it needs were deleted", async () => {
    const topic = freshTopic("deleted");
    const wal = await open(options(topic, 1));
    for (let i = 0; i < 4; i++)
      await wal.append([{ tenant: "acme", payload: encoder.encode(`v${i}`) }]);
    // What retention does to old segments: the log start moves past unapplied records.
    // (kafkajs finds the partition leaders only for topics whose offsets it fetched.)
    await admin.fetchTopicOffsets(topic);
    await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: "2" }] });
    const sub = wal.subscribe({ startOffset: () => 1, handler: async () => {} });
    const error = await sub.done.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WalError);
    expect((error as WalError).message).toBe(
      `The subscriber asks for partition 0 of topic "${topic}" from offset 1, but the log starts ` +
        "at 2: retention deleted records that were never applied.",
    );
    const rest: string[] = [];
    const from2 = wal.subscribe({
      startOffset: () => 2,
      handler: async (entries) => {
        rest.push(...show(entries));
      },
    });
    await waitFor(() => rest.length === 2, "the records left");
    await from2.stop();
    expect(rest).toEqual(["acme:v2@0/2", "acme:v3@0/3"]);
  });

  it("ends a subscription with invalid for a bad start offset or maxBatch", async () => {
    const wal = await open(options(freshTopic("bad-start"), 1));
    const bad = wal.subscribe({ startOffset: () => -1, handler: async () => {} });
    await expect(bad.done).rejects.toThrow(
      "startOffset(0) returned -1; expected a non-negative integer.",
    );
    const zero = wal.subscribe({ startOffset: () => 0, maxBatch: 0, handler: async () => {} });
    await expect(zero.done).rejects.toThrow("maxBatch must be a positive integer, got 0.");
  });

  it("sends appends accepted before close, then rejects appends with closed", async () => {
    const topic = freshTopic("close");
    const wal = await openKafkaWal(options(topic, 2));
    const pending = wal.append([{ tenant: "acme", payload: encoder.encode("in flight") }]);
    const closing = wal.close();
    const late = await wal
      .append([{ tenant: "acme", payload: encoder.encode("late") }])
      .catch((e: unknown) => e);
    expect((late as WalError).code).toBe("closed");
    expect(await pending).toEqual([{ partition: wal.partitionFor("acme"), offset: 0 }]);
    await closing;
    const again = await open(options(topic, 2));
    expect(await again.endOffset(wal.partitionFor("acme"))).toBe(1);
  });

  it("leaves the group when stopped right after subscribing", async () => {
    const groupId = `stopped-${run}`;
    const wal = await open(options(freshTopic("stop-early"), 2, { groupId }));
    const sub = wal.subscribe({ startOffset: () => 0, handler: async () => {} });
    await sub.stop();
    await sub.done;
    await new Promise((resolve) => setTimeout(resolve, 500));
    const { groups } = await admin.describeGroups([groupId]);
    expect(groups.map((g) => g.members.length)).toEqual([0]);
  });

  it("splits the partitions between subscriptions that share a groupId", async () => {
    const topic = freshTopic("group");
    const groupId = `group-${run}`;
    const first = await open(options(topic, 4, { groupId }));
    const second = await open(options(topic, 4, { groupId }));
    // The member last asked for a partition's start offset owns it (until a rebalance).
    const owner = new Map<number, number>();
    let lastAssigned = Date.now();
    const got: WalEntry[][] = [[], []];
    const subscribe = (wal: Wal, member: number) =>
      wal.subscribe({
        startOffset: async (partition) => {
          owner.set(partition, member);
          lastAssigned = Date.now();
          // The topic is new: everything in it is this test's.
          return 0;
        },
        handler: async (entries) => {
          got[member]!.push(...entries);
        },
      });
    const owned = (member: number) => [...owner].filter(([, m]) => m === member).map(([p]) => p);
    const a = subscribe(first, 0);
    await waitFor(() => owned(0).length === 4, "the first member to own every partition");
    const b = subscribe(second, 1);
    // The first member gives up partitions at its next heartbeat after the second joins.
    await waitFor(
      () => owned(0).length > 0 && owned(1).length > 0,
      "both members to own partitions",
      30_000,
    );
    // A join can take more than one rebalance round; partitions that moved after the
    // records were read would be read again by their new owner. So the records go in
    // once no partition has been assigned for a few seconds (kafkajs heartbeats every 3 s).
    await waitFor(() => Date.now() - lastAssigned > 5_000, "the group to settle", 40_000);
    const tenants = Array.from({ length: 24 }, (_, i) => `tenant-${i}`);
    await first.append(tenants.map((t) => ({ tenant: t, payload: encoder.encode(t) })));
    await waitFor(() => got[0]!.length + got[1]!.length === tenants.length, "every record once");
    await Promise.all([a.stop(), b.stop()]);
    expect(got[0]!.length + got[1]!.length).toBe(tenants.length);
    expect(owned(0).length + owned(1).length).toBe(4);
    expect(owned(0).length).toBeGreaterThan(0);
    expect(owned(1).length).toBeGreaterThan(0);
    for (const member of [0, 1]) {
      const partitions = new Set(got[member]!.map((e) => e.position.partition));
      expect([...partitions].every((p) => owner.get(p) === member)).toBe(true);
    }
  }, 90_000);
});

describe("kafkaOffsetToNumber", () => {
  it("converts offsets up to 2^53 - 1 exactly", () => {
    expect(kafkaOffsetToNumber("0", "x")).toBe(0);
    expect(kafkaOffsetToNumber("9007199254740991", "x")).toBe(9007199254740991);
    expect(kafkaOffsetToNumber(9007199254740991n, "x")).toBe(9007199254740991);
  });

  it("rejects offsets past 2^53 - 1, negative or malformed with corrupt", () => {
    for (const value of ["9007199254740992", "-1", "1.5", "", undefined]) {
      const error = (() => {
        try {
          return kafkaOffsetToNumber(value, "the end of partition 0");
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(WalError);
      expect((error as WalError).code).toBe("corrupt");
    }
    expect(() => kafkaOffsetToNumber("9007199254740992", "the end of partition 0")).toThrow(
      "Kafka returned 9007199254740992 as the end of partition 0; offsets must lie in [0, 9007199254740991].",
    );
  });
});
