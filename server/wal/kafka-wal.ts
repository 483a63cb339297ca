/**
 * The Kafka log: the WAL backend for more than one machine. One topic, partitioned by
 * tenant with the same hash as the embedded log (`partition.ts`, Kafka's murmur2), so
 * both logs agree on where a tenant lives. See `docs/kafka.md` for operation and for
 * what kafkajs needed worked around.
 *
 * Guarantees:
 * - Durable acknowledgement: `append` resolves only after the partition leaders
 *   acknowledged with `acks=all`, i.e. every in-sync replica has the records and the
 *   in-sync set had at least `min.insync.replicas` members. Kafka does not fsync per
 *   write: durability is replication (an acknowledged record survives the loss of
 *   `min.insync.replicas - 1` brokers, not a power loss of the whole cluster).
 * - Ordered appends: calls are queued FIFO and sent one group at a time (group commit:
 *   calls queued while a send runs share the next one), so records reach each
 *   partition in call order. Within one call, a partition's records are grouped by
 *   tenant (by first appearance, keeping call order within a tenant), as in the
 *   embedded log, so one call's records of one tenant get contiguous offsets.
 * - Exact positions: the partition is chosen here, and a produce response gives each
 *   partition's base offset; a send puts a partition's records in one record batch,
 *   whose offsets Kafka assigns contiguously, so record i of that partition has
 *   base + i. A partition that kafkajs leaves out of its answer is sent again; one it
 *   names twice fails the calls in it with `corrupt`.
 * - Idempotent producer: a retried produce is not written twice. After any failed
 *   send the producer is replaced (new producer id) before the next one, so a batch
 *   that reached the broker unacknowledged can never make the broker discard a later
 *   batch as its duplicate.
 * - Bounded failure: transient errors are retried by kafkajs with exponential backoff
 *   (`retry`); once retries are exhausted the calls with records in a failed partition
 *   reject with `unavailable` (their records in other partitions may be written).
 *   Nothing is dropped silently.
 * - Validation before anything is queued, as in the embedded log: an empty or invalid
 *   tenant id rejects the call with `invalid`, a record over `maxRecordBytes` with
 *   `too-large`.
 *
 * Assumptions (what it does not check):
 * - Only this backend writes the topic. A foreign record without key or value is
 *   delivered with tenant "" and an empty payload (see `kafka-wal-subscription.ts`).
 * - The topic keeps every record until it is archived: it is created with infinite
 *   retention; an existing topic's retention is not checked (a subscriber asking for a
 *   deleted offset fails with `corrupt`). {@link KafkaWal.logStart} says where each
 *   partition starts, so the start-up check of the data dir refuses a rebuild that would
 *   need deleted records before anything is served (`store/derived-check.ts`).
 * - Partition count, replication factor and `min.insync.replicas` of an existing topic:
 *   only the partition count is checked (a mismatch fails `openKafkaWal` with `invalid`).
 */

import { randomUUID } from "node:crypto";
import { type Admin, type GroupDescription, Kafka } from "kafkajs";
import {
  describeKafkaError,
  isRetriable,
  type KafkaWalLog,
  type KafkaWalLogLevel,
  kafkaOffsetToNumber,
  toKafkaLogLevel,
  toWalError,
} from "./kafka-wal-errors.ts";
import { kafkaLogCreator } from "./kafka-wal-log.ts";
import { KafkaWalSender } from "./kafka-wal-sender.ts";
import {
  failedSubscription,
  type KafkaGroupMember,
  KafkaWalSubscription,
} from "./kafka-wal-subscription.ts";
import { ensureKafkaTopic } from "./kafka-wal-topic.ts";
import { partitionForTenant } from "./partition.ts";
import type { SubscribeOptions, Wal, WalPosition, WalRecord, WalSubscription } from "./wal.ts";
import { WalError } from "./wal.ts";
import { positiveInteger, walRecordsSize } from "./wal-record-checks.ts";

export type { KafkaWalLog, KafkaWalLogEntry, KafkaWalLogLevel } from "./kafka-wal-errors.ts";
export { kafkaOffsetToNumber } from "./kafka-wal-errors.ts";
export type { KafkaGroupMember } from "./kafka-wal-subscription.ts";

/** Attempts of an offsets request; kafkajs's admin does not retry a moved leader itself. */
const OFFSET_ATTEMPTS = 5;

/** Default topic name. */
export const DEFAULT_KAFKA_TOPIC = "entdb-wal";

/** Default largest record, tenant UTF-8 bytes plus payload bytes (as the embedded log). */
export const DEFAULT_KAFKA_MAX_RECORD_BYTES = 1024 * 1024;

/** Default byte budget of one produce request; a single larger call is sent alone. */
export const DEFAULT_KAFKA_MAX_GROUP_BYTES = 4 * 1024 * 1024;

/** Default session timeout of a shared consumer group's members (`groupSessionTimeoutMs`). */
export const DEFAULT_KAFKA_GROUP_SESSION_TIMEOUT_MS = 30_000;

/** How kafkajs retries a failed request before the operation fails. */
export interface KafkaWalRetry {
  /** Retries after the first attempt (default 20: with the 1 s cap, about 19 s of backoff). */
  readonly retries?: number;
  /** First backoff in ms (default 250); each next one doubles, with ±20 % jitter. */
  readonly initialRetryTimeMs?: number;
  /**
   * Largest single backoff in ms (default 1000). Small on purpose: after a broker dies,
   * the stall ends at the first attempt after the cluster has recovered, so the cap
   * bounds how much a failover is lengthened (`docs/kafka.md`, "Failover stall").
   */
  readonly maxRetryTimeMs?: number;
}

/** Options for {@link openKafkaWal}. */
export interface KafkaWalOptions {
  /** Bootstrap brokers, `host:port`. */
  readonly brokers: readonly string[];
  /** Topic holding the log (default `entdb-wal`). */
  readonly topic?: string;
  /**
   * Partition count. A missing topic is created with it; an existing topic with another
   * count fails with `invalid`, since tenants would hash to other partitions.
   */
  readonly partitions: number;
  /** Replication factor of a created topic (default 3). */
  readonly replicationFactor?: number;
  /** `min.insync.replicas` of a created topic (default replication factor - 1, at least 1). */
  readonly minInsyncReplicas?: number;
  /** Extra topic configs for a created topic, e.g. `{ "retention.ms": "604800000" }`. */
  readonly topicConfig?: Readonly<Record<string, string>>;
  /** Kafka client id (default `entdb`). */
  readonly clientId?: string;
  /**
   * A consumer group that subscriptions share with other members (several processes
   * splitting the partitions). Without one, each subscription is alone in a group of
   * its own and receives every partition. See {@link KafkaWal.subscribe}.
   */
  readonly groupId?: string;
  /**
   * The session timeout of the members of the shared group `groupId`, in ms (default
   * {@link DEFAULT_KAFKA_GROUP_SESSION_TIMEOUT_MS}, 30 s). A member whose consumer crashed
   * while the brokers were down cannot leave the group; restarted in place, it joins as
   * a new member and the group waits for the old member's session to expire before it
   * assigns partitions again: so this bounds how long a shared group's subscription
   * stands still after an outage. It must outlast the longest handler call (heartbeats
   * are sent between calls) and lie within the broker's `group.min.session.timeout.ms`
   * and `group.max.session.timeout.ms` (6 s and 30 min by default). Private groups
   * (no `groupId`) are replaced after a crash instead and keep 30 s.
   */
  readonly groupSessionTimeoutMs?: number;
  /** Largest accepted record, tenant UTF-8 bytes plus payload bytes (default 1 MiB). */
  readonly maxRecordBytes?: number;
  /** Stop adding calls to one produce request once it holds this many bytes (default 4 MiB). */
  readonly maxGroupBytes?: number;
  /** TCP connect timeout in ms (default 3000). */
  readonly connectionTimeoutMs?: number;
  /** How long a leader waits for the in-sync replicas before failing a produce (default 10000). */
  readonly ackTimeoutMs?: number;
  /** Client-side timeout of one request in ms (default ackTimeoutMs + 5000). */
  readonly requestTimeoutMs?: number;
  /** Retry policy of every Kafka request. */
  readonly retry?: KafkaWalRetry;
  /** Partitions a subscription processes at once (default min(partitions, 8)). */
  readonly consumerConcurrency?: number;
  /** Diagnostics sink; without one the client is silent. */
  readonly log?: KafkaWalLog;
  /** Lowest level passed to `log` (default "warn"). */
  readonly logLevel?: KafkaWalLogLevel;
}

/**
 * Connects to Kafka, creates the topic if it is missing (or checks its partition count)
 * and starts the idempotent producer. Rejects with `invalid` for bad options or a
 * partition-count mismatch, `unavailable` when the cluster cannot be reached in time.
 */
export async function openKafkaWal(options: KafkaWalOptions): Promise<KafkaWal> {
  const topic = options.topic ?? DEFAULT_KAFKA_TOPIC;
  const partitions = positiveInteger(options.partitions, "partitions");
  const replicationFactor = positiveInteger(options.replicationFactor ?? 3, "replicationFactor");
  const minInsync = positiveInteger(
    options.minInsyncReplicas ?? Math.max(1, replicationFactor - 1),
    "minInsyncReplicas",
  );
  if (minInsync > replicationFactor) {
    throw new WalError(
      "invalid",
      `minInsyncReplicas (${minInsync}) exceeds replicationFactor (${replicationFactor}): no write could succeed.`,
    );
  }
  if (options.brokers.length === 0) throw new WalError("invalid", "No Kafka brokers given.");
  positiveInteger(
    options.groupSessionTimeoutMs ?? DEFAULT_KAFKA_GROUP_SESSION_TIMEOUT_MS,
    "groupSessionTimeoutMs",
  );
  const retry = options.retry ?? {};
  const ackTimeout = positiveInteger(options.ackTimeoutMs ?? 10_000, "ackTimeoutMs");
  const kafka = new Kafka({
    clientId: options.clientId ?? "entdb",
    brokers: [...options.brokers],
    connectionTimeout: positiveInteger(options.connectionTimeoutMs ?? 3_000, "connectionTimeoutMs"),
    requestTimeout: positiveInteger(
      options.requestTimeoutMs ?? ackTimeout + 5_000,
      "requestTimeoutMs",
    ),
    retry: {
      retries: retry.retries ?? 20,
      initialRetryTime: retry.initialRetryTimeMs ?? 250,
      maxRetryTime: retry.maxRetryTimeMs ?? 1_000,
    },
    logLevel:
      options.log === undefined
        ? toKafkaLogLevel("nothing")
        : toKafkaLogLevel(options.logLevel ?? "warn"),
    logCreator: kafkaLogCreator(options.log),
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const maxBatchBytes = Math.max(
      options.maxGroupBytes ?? DEFAULT_KAFKA_MAX_GROUP_BYTES,
      options.maxRecordBytes ?? DEFAULT_KAFKA_MAX_RECORD_BYTES,
    );
    await ensureKafkaTopic(admin, topic, {
      partitions,
      replicationFactor,
      minInsync,
      // A group of calls may put its whole budget into one partition's record batch;
      // the margin covers Kafka's per-record and per-batch overhead.
      maxMessageBytes: maxBatchBytes + 1024 * 1024,
      extra: options.topicConfig,
    });
    // Kafka exposes no topic id through kafkajs; the cluster id and topic name tell one
    // log from another unless the topic is deleted and recreated under the same name.
    const { clusterId } = await admin.describeCluster();
    const wal = new KafkaWal(kafka, admin, {
      ...options,
      identity: `kafka:${clusterId}/${topic}`,
      topic,
      partitions,
      ackTimeoutMs: ackTimeout,
    });
    await wal.connectProducer();
    await wal.readLogStarts();
    return wal;
  } catch (error) {
    await admin.disconnect().catch(() => {});
    throw toWalError(
      error,
      `Could not open the Kafka log "${topic}" at ${options.brokers.join(",")}`,
    );
  }
}

/**
 * The Kafka-topic log. Open it with {@link openKafkaWal}; the guarantees and assumptions
 * are listed at the top of `kafka-wal.ts`.
 */
export class KafkaWal implements Wal {
  readonly partitions: number;
  /** `kafka:<cluster id>/<topic>`. */
  readonly identity: string;
  /** The topic holding the log. */
  readonly topic: string;
  /** The consumer group subscriptions share, if any. */
  readonly groupId: string | undefined;
  readonly #kafka: Kafka;
  /** Replaced when kafkajs's cached metadata is stale (see `#topicOffsets`). */
  #admin: Admin;
  readonly #sender: KafkaWalSender;
  readonly #clientId: string;
  readonly #maxRecordBytes: number;
  readonly #concurrency: number;
  readonly #groupSessionTimeoutMs: number;
  readonly #log: KafkaWalLog | undefined;
  readonly #subscriptions = new Set<WalSubscription>();
  /** Each partition's log start at the last offsets request. */
  readonly #starts: number[] = [];
  #closing: Promise<void> | undefined;
  /** Why records below {@link logStart} are gone, for messages that name it. */
  readonly logStartCause = "the topic's retention deleted older records";

  /** Use {@link openKafkaWal}; the topic must exist with `options.partitions` partitions. */
  constructor(
    kafka: Kafka,
    admin: Admin,
    options: KafkaWalOptions & {
      readonly topic: string;
      readonly ackTimeoutMs: number;
      readonly identity: string;
    },
  ) {
    this.#kafka = kafka;
    this.identity = options.identity;
    this.#admin = admin;
    this.topic = options.topic;
    this.partitions = options.partitions;
    this.groupId = options.groupId;
    this.#groupSessionTimeoutMs = positiveInteger(
      options.groupSessionTimeoutMs ?? DEFAULT_KAFKA_GROUP_SESSION_TIMEOUT_MS,
      "groupSessionTimeoutMs",
    );
    this.#clientId = options.clientId ?? "entdb";
    this.#maxRecordBytes = positiveInteger(
      options.maxRecordBytes ?? DEFAULT_KAFKA_MAX_RECORD_BYTES,
      "maxRecordBytes",
    );
    this.#sender = new KafkaWalSender(kafka, {
      topic: options.topic,
      ackTimeoutMs: options.ackTimeoutMs,
      maxGroupBytes: positiveInteger(
        options.maxGroupBytes ?? DEFAULT_KAFKA_MAX_GROUP_BYTES,
        "maxGroupBytes",
      ),
      log: options.log,
    });
    this.#concurrency = positiveInteger(
      options.consumerConcurrency ?? Math.min(options.partitions, 8),
      "consumerConcurrency",
    );
    this.#log = options.log;
  }

  /** Starts the idempotent producer (gets a producer id). Called by {@link openKafkaWal}. */
  async connectProducer(): Promise<void> {
    await this.#sender.connect();
  }

  partitionFor(tenant: string): number {
    return partitionForTenant(tenant, this.partitions);
  }

  /**
   * Always undefined: a failed send fails only the calls in it (the producer is replaced
   * and the next call is tried afresh), so there is no state in which every append is
   * refused. A cluster that cannot take writes shows as those calls' `unavailable`.
   */
  get failure(): WalError | undefined {
    return undefined;
  }

  append(records: readonly WalRecord[]): Promise<WalPosition[]> {
    if (this.#closing !== undefined) {
      return Promise.reject(new WalError("closed", `The Kafka log "${this.topic}" is closed.`));
    }
    const bytes = walRecordsSize(records, this.#maxRecordBytes);
    if (bytes instanceof WalError) return Promise.reject(bytes);
    if (records.length === 0) return Promise.resolve([]);
    const plan = new Map<number, { index: number; record: WalRecord }[]>();
    const byTenant = new Map<string, { index: number; record: WalRecord }[]>();
    records.forEach((record, index) => {
      const list = byTenant.get(record.tenant);
      if (list === undefined) byTenant.set(record.tenant, [{ index, record }]);
      else list.push({ index, record });
    });
    // Map iteration follows first appearance: tenants in order, call order within each.
    for (const [tenant, list] of byTenant) {
      const partition = this.partitionFor(tenant);
      const inPartition = plan.get(partition);
      if (inPartition === undefined) plan.set(partition, [...list]);
      else inPartition.push(...list);
    }
    return this.#sender.send(plan, records.length, bytes);
  }

  async endOffset(partition: number): Promise<number> {
    if (this.#closing !== undefined) {
      throw new WalError("closed", `The Kafka log "${this.topic}" is closed.`);
    }
    if (!Number.isInteger(partition) || partition < 0 || partition >= this.partitions) {
      throw new WalError("invalid", `No partition ${partition}; the log has ${this.partitions}.`);
    }
    const offsets = await this.#topicOffsets(
      `Could not read the end of partition ${partition} of "${this.topic}"`,
    );
    const found = offsets.find((o) => o.partition === partition);
    return kafkaOffsetToNumber(found?.high, `log end of partition ${partition}`);
  }

  /**
   * The lowest offset `partition` still holds, as of the last offsets request: Kafka's
   * retention moves it on its own, so it may be higher by now, never lower. Every
   * {@link endOffset} and {@link readLogStarts} call refreshes it; `openKafkaWal` makes
   * the first.
   */
  logStart(partition: number): number {
    return this.#starts[partition] ?? 0;
  }

  /** Reads every partition's log start now (see {@link logStart}). */
  async readLogStarts(): Promise<number[]> {
    await this.#topicOffsets(`Could not read the log start of "${this.topic}"`);
    return Array.from({ length: this.partitions }, (_, p) => this.logStart(p));
  }

  /**
   * Every partition's log start (`low`) and end (`high`). kafkajs's admin gives up on the
   * first NOT_LEADER_OR_FOLLOWER (a leader moved) and keeps the stale leaders for its
   * metadata max age (5 minutes), so a retriable failure replaces the admin client,
   * whose first request loads current metadata, and tries again (bounded).
   */
  async #topicOffsets(what: string): Promise<Awaited<ReturnType<Admin["fetchTopicOffsets"]>>> {
    for (let attempt = 1; ; attempt++) {
      const admin = this.#admin;
      try {
        const offsets = await admin.fetchTopicOffsets(this.topic);
        for (const o of offsets)
          this.#starts[o.partition] = kafkaOffsetToNumber(
            o.low,
            `log start of partition ${o.partition}`,
          );
        return offsets;
      } catch (error) {
        if (attempt >= OFFSET_ATTEMPTS || !isRetriable(error) || this.#closing !== undefined) {
          throw toWalError(error, what);
        }
        this.#log?.({
          level: "warn",
          message: `Reading offsets failed (${describeKafkaError(error)}); retrying with a new admin client.`,
          fields: { topic: this.topic, attempt },
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 100 * 2 ** attempt));
      // Concurrent callers may have replaced it already; replace only the one that failed.
      if (this.#admin === admin) {
        const fresh = this.#kafka.admin();
        try {
          await fresh.connect();
        } catch (error) {
          throw toWalError(error, what);
        }
        this.#admin = fresh;
        void admin.disconnect().catch(() => {});
      }
    }
  }

  /**
   * Starts a kafkajs consumer. Without `groupId` the consumer is alone in a fresh group
   * (`<clientId>-<topic>-<uuid>`) and receives every partition, like a subscriber of the
   * embedded log. With `groupId` it joins that group and receives the partitions Kafka
   * assigns to it: subscriptions of this and other processes share the partitions, each
   * partition has one subscriber at a time, and it moves on a rebalance, after which its
   * new owner is asked `startOffset` again. Only shared groups commit offsets to Kafka
   * (every 5 s, advisory: for lag monitoring; positions of record are the subscriber's).
   */
  subscribe(options: SubscribeOptions): WalSubscription {
    return this.#subscribe(
      options,
      this.groupId ?? `${this.#clientId}-${this.topic}-${randomUUID()}`,
      this.groupId !== undefined,
      undefined,
    );
  }

  /**
   * A subscription that is one member of a cluster's consumer group `groupId` (whatever
   * the log's own `groupId`), with the member's session timeout and partition assigner;
   * `member` is told of each assignment, of each rebalance and of each heartbeat
   * (server/cluster). Positions are the subscriber's, as in {@link subscribe}; the group
   * commits delivered offsets (advisory).
   */
  subscribeInGroup(
    options: SubscribeOptions,
    groupId: string,
    member: KafkaGroupMember,
  ): WalSubscription {
    return this.#subscribe(options, groupId, true, member);
  }

  #subscribe(
    options: SubscribeOptions,
    groupId: string,
    commitOffsets: boolean,
    member: KafkaGroupMember | undefined,
  ): WalSubscription {
    if (this.#closing !== undefined) {
      return failedSubscription(new WalError("closed", `The Kafka log "${this.topic}" is closed.`));
    }
    const subscription: WalSubscription = KafkaWalSubscription.start(
      {
        kafka: this.#kafka,
        offsets: () => this.#topicOffsets(`Could not read the offsets of topic "${this.topic}"`),
        topic: this.topic,
        groupId,
        commitOffsets,
        // A cluster member's own; a shared group's option; a private group's crashed
        // consumer is replaced instead, so its session matters only to the coordinator.
        sessionTimeoutMs:
          member !== undefined
            ? member.sessionTimeoutMs
            : commitOffsets
              ? this.#groupSessionTimeoutMs
              : DEFAULT_KAFKA_GROUP_SESSION_TIMEOUT_MS,
        partitions: this.partitions,
        concurrency: this.#concurrency,
        log: this.#log,
        ...(member === undefined ? {} : { member }),
      },
      options,
      () => this.#subscriptions.delete(subscription),
    );
    this.#subscriptions.add(subscription);
    return subscription;
  }

  /**
   * The members of consumer group `groupId` as the coordinator describes them (state,
   * each member's protocol metadata and assignment, encoded as kafkajs's
   * `AssignerProtocol` reads them). Rejects with a `WalError`.
   */
  async describeGroup(groupId: string): Promise<GroupDescription | undefined> {
    if (this.#closing !== undefined) {
      throw new WalError("closed", `The Kafka log "${this.topic}" is closed.`);
    }
    try {
      const { groups } = await this.#admin.describeGroups([groupId]);
      return groups.find((g) => g.groupId === groupId);
    } catch (error) {
      throw toWalError(error, `Could not describe the consumer group "${groupId}"`);
    }
  }

  /**
   * Sends every append already accepted, stops subscriptions and disconnects. Idempotent;
   * appends made after the call reject with `closed`.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      await this.#sender.idle();
      await Promise.all([...this.#subscriptions].map((subscription) => subscription.stop()));
      await this.#sender.disconnect();
      await this.#admin.disconnect().catch(() => {});
    })();
    return this.#closing;
  }
}
