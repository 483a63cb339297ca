/**
 * The Kafka log's topic: created on first open with the log's settings. An existing
 * topic is checked against them (see `docs/kafka.md` for why creation waits by itself):
 * - its partition count must be the configured one, or tenants would move;
 * - its replication factor and `min.insync.replicas` must be at least the configured
 *   ones, or an acknowledged write would be kept by fewer brokers than the operator
 *   asked for.
 */

import type { Admin, ConfigResourceTypes } from "kafkajs";
import { describeKafkaError, kafkaErrorType } from "./kafka-wal-errors.ts";
import { WalError } from "./wal.ts";

/** CreateTopics errors that retrying cannot fix: the settings are wrong for this cluster. */
const INVALID_TOPIC_ERRORS = new Set([
  "INVALID_REPLICATION_FACTOR",
  "INVALID_PARTITIONS",
  "INVALID_CONFIG",
  "INVALID_TOPIC_EXCEPTION",
  "POLICY_VIOLATION",
]);

/** How a missing topic is created. */
export interface KafkaTopicSettings {
  readonly partitions: number;
  readonly replicationFactor: number;
  readonly minInsync: number;
  readonly maxMessageBytes: number;
  readonly extra: Readonly<Record<string, string>> | undefined;
}

/**
 * Creates the topic if it is missing, waits until every partition has a leader, and
 * checks the partition count: `invalid` when it differs or the settings cannot be met.
 */
export async function ensureKafkaTopic(
  admin: Admin,
  topic: string,
  settings: KafkaTopicSettings,
): Promise<void> {
  const { partitions, replicationFactor, minInsync } = settings;
  const existing = await admin.listTopics();
  if (!existing.includes(topic)) {
    const config: Record<string, string> = {
      "min.insync.replicas": String(minInsync),
      "cleanup.policy": "delete",
      // The log is the source of truth: nothing is deleted before it is archived.
      "retention.ms": "-1",
      "retention.bytes": "-1",
      "max.message.bytes": String(settings.maxMessageBytes),
      ...settings.extra,
    };
    try {
      // false means another process created it first; its partition count is checked below.
      await admin.createTopics({
        topics: [
          {
            topic,
            numPartitions: partitions,
            replicationFactor,
            configEntries: Object.entries(config).map(([name, value]) => ({ name, value })),
          },
        ],
        // kafkajs's own wait gives up on the first UNKNOWN_TOPIC_OR_PARTITION from a
        // broker that has not heard of the new topic yet; waitForTopic retries it.
        waitForLeaders: false,
      });
    } catch (error) {
      const detail = describeKafkaError(error);
      const inner = (error as { errors?: unknown }).errors;
      const types = Array.isArray(inner) ? inner.map((e) => kafkaErrorType(e)) : [];
      const invalid = [kafkaErrorType(error), ...types].some(
        (type) => type !== undefined && INVALID_TOPIC_ERRORS.has(type),
      );
      if (invalid) {
        throw new WalError(
          "invalid",
          `Could not create topic "${topic}" with ${partitions} partitions, replication factor ` +
            `${replicationFactor}, min.insync.replicas ${minInsync}: ${detail}`,
          { cause: error },
        );
      }
      throw error;
    }
  }
  const replicas = await waitForTopic(admin, topic);
  const problem = topicMismatch(topic, settings, {
    partitions: replicas.length,
    replicationFactor: Math.min(...replicas),
    minInsync: await topicMinInsync(admin, topic),
  });
  if (problem !== undefined) throw new WalError("invalid", problem);
}

/** What an existing topic has, as far as the log's guarantees go. */
export interface FoundTopic {
  readonly partitions: number;
  /** The smallest replica count of its partitions. */
  readonly replicationFactor: number;
  /** Its effective `min.insync.replicas` (the broker's default when the topic sets none). */
  readonly minInsync: number;
}

/**
 * Why an existing topic cannot hold this log (a message saying what to change), or
 * `undefined` when it can. More replicas or a higher `min.insync.replicas` than
 * configured only make writes safer, and are accepted.
 */
export function topicMismatch(
  topic: string,
  settings: Pick<KafkaTopicSettings, "partitions" | "replicationFactor" | "minInsync">,
  found: FoundTopic,
): string | undefined {
  if (found.partitions !== settings.partitions) {
    return (
      `Topic "${topic}" has ${found.partitions} partitions but the log is configured with ${settings.partitions}; ` +
      `tenants would hash to other partitions. Configure ${found.partitions} or use another topic.`
    );
  }
  if (found.replicationFactor < settings.replicationFactor) {
    return (
      `Topic "${topic}" has replication factor ${found.replicationFactor} but the log is configured with ` +
      `${settings.replicationFactor}; acknowledged writes would be kept by fewer brokers than configured. ` +
      `Add replicas to the topic (kafka-reassign-partitions), configure ${found.replicationFactor}, or use another topic.`
    );
  }
  if (found.minInsync < settings.minInsync) {
    return (
      `Topic "${topic}" has min.insync.replicas ${found.minInsync} but the log is configured with ` +
      `${settings.minInsync}; a write could be acknowledged by fewer brokers than configured. ` +
      `Raise the topic's min.insync.replicas (kafka-configs --alter), configure ${found.minInsync}, or use another topic.`
    );
  }
  return undefined;
}

/**
 * `ConfigResourceTypes.TOPIC`. kafkajs's CommonJS build does not expose its enums as
 * named exports to Node's ES module loader, so the value is spelled out here.
 */
export const TOPIC_RESOURCE = 2 as ConfigResourceTypes;

/**
 * The topic's effective `min.insync.replicas`. The broker that answers may learn of a
 * new topic later than the one that gave its metadata, so "not ready" answers are
 * retried until the same deadline as {@link waitForTopic}.
 */
async function topicMinInsync(admin: Admin, topic: string): Promise<number> {
  const deadline = Date.now() + TOPIC_READY_TIMEOUT_MS;
  let described: Awaited<ReturnType<Admin["describeConfigs"]>>;
  for (;;) {
    try {
      described = await admin.describeConfigs({
        resources: [{ type: TOPIC_RESOURCE, name: topic, configNames: ["min.insync.replicas"] }],
        includeSynonyms: false,
      });
      break;
    } catch (error) {
      const type = kafkaErrorType(error);
      if (type === undefined || !TOPIC_NOT_READY.has(type) || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  const entry = described.resources[0]?.configEntries.find(
    (e) => e.configName === "min.insync.replicas",
  );
  const value = Number(entry?.configValue);
  if (!Number.isInteger(value) || value < 1) {
    throw new WalError(
      "unavailable",
      `Could not read min.insync.replicas of topic "${topic}" (got ${JSON.stringify(entry?.configValue)}).`,
    );
  }
  return value;
}

/** Errors of a topic that exists, or is about to, but is not known or led everywhere yet. */
const TOPIC_NOT_READY = new Set(["UNKNOWN_TOPIC_OR_PARTITION", "LEADER_NOT_AVAILABLE"]);

/** How long a new topic may take to be known, with a leader per partition, by the broker asked. */
const TOPIC_READY_TIMEOUT_MS = 30_000;

/**
 * Waits until the topic's metadata names a leader for every partition; returns each
 * partition's replica count. Metadata reaches the brokers of a cluster one by one, so
 * right after creation the broker asked may not know the topic yet.
 */
async function waitForTopic(admin: Admin, topic: string): Promise<number[]> {
  const deadline = Date.now() + TOPIC_READY_TIMEOUT_MS;
  for (;;) {
    let why: string;
    try {
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      const found = metadata.topics.find((t) => t.name === topic)?.partitions ?? [];
      if (found.length > 0 && found.every((p) => p.leader >= 0)) {
        return found.map((p) => p.replicas.length);
      }
      why = "not every partition has a leader";
    } catch (error) {
      const type = kafkaErrorType(error);
      if (type === undefined || !TOPIC_NOT_READY.has(type)) throw error;
      why = describeKafkaError(error);
    }
    if (Date.now() > deadline) {
      throw new WalError(
        "unavailable",
        `Topic "${topic}" is not ready after ${TOPIC_READY_TIMEOUT_MS} ms: ${why}.`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
