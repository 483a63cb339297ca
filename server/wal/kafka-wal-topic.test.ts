import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { TOPIC_RESOURCE, topicMismatch } from "./kafka-wal-topic.ts";

describe("TOPIC_RESOURCE", () => {
  it("is kafkajs's ConfigResourceTypes.TOPIC", () => {
    const kafkajs = createRequire(import.meta.url)("kafkajs") as {
      ConfigResourceTypes: { TOPIC: number };
    };
    expect(TOPIC_RESOURCE).toBe(kafkajs.ConfigResourceTypes.TOPIC);
  });
});

const configured = { partitions: 8, replicationFactor: 3, minInsync: 2 };

describe("topicMismatch", () => {
  it("accepts a topic with the configured settings, or with more replicas and a higher min.insync.replicas", () => {
    expect(topicMismatch("log", configured, configured)).toBeUndefined();
    expect(
      topicMismatch("log", configured, { partitions: 8, replicationFactor: 5, minInsync: 3 }),
    ).toBeUndefined();
  });

  it("refuses another partition count, naming both", () => {
    expect(topicMismatch("log", configured, { ...configured, partitions: 4 })).toBe(
      'Topic "log" has 4 partitions but the log is configured with 8; tenants would hash to ' +
        "other partitions. Configure 4 or use another topic.",
    );
  });

  it("refuses fewer replicas than configured, saying what to change", () => {
    expect(topicMismatch("log", configured, { ...configured, replicationFactor: 1 })).toBe(
      'Topic "log" has replication factor 1 but the log is configured with 3; acknowledged ' +
        "writes would be kept by fewer brokers than configured. Add replicas to the topic " +
        "(kafka-reassign-partitions), configure 1, or use another topic.",
    );
  });

  it("refuses a lower min.insync.replicas than configured, saying what to change", () => {
    expect(topicMismatch("log", configured, { ...configured, minInsync: 1 })).toBe(
      'Topic "log" has min.insync.replicas 1 but the log is configured with 2; a write could ' +
        "be acknowledged by fewer brokers than configured. Raise the topic's " +
        "min.insync.replicas (kafka-configs --alter), configure 1, or use another topic.",
    );
  });
});
