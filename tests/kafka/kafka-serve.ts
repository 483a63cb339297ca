/**
 * Running `entdb serve` on the Kafka WAL in tests and benchmarks: the environment that
 * selects a topic, and the server's applier lag read from its `/metrics`.
 */

import { randomUUID } from "node:crypto";
import { Kafka, logLevel } from "kafkajs";

/** Where a server's Kafka log lives. */
export interface KafkaServeTopic {
  readonly brokers: readonly string[];
  readonly topic: string;
  readonly partitions: number;
}

/** A topic name no earlier run used (`<label>-<random>`). */
export function freshTopicName(label: string): string {
  return `${label}-${randomUUID().slice(0, 8)}`;
}

/**
 * The `ENTDB_*` variables that put a server on `topic` with replication 1 (one broker).
 * `ENTDB_WAL=kafka` is explicit so a missing broker list fails the start instead of
 * silently falling back to the embedded log.
 */
export function kafkaServeEnv(topic: KafkaServeTopic): Record<string, string> {
  return {
    ENTDB_WAL: "kafka",
    ENTDB_KAFKA_BROKERS: topic.brokers.join(","),
    ENTDB_KAFKA_TOPIC: topic.topic,
    ENTDB_KAFKA_PARTITIONS: String(topic.partitions),
    ENTDB_KAFKA_REPLICATION: "1",
  };
}

/**
 * The environment of a server on the embedded log even when the caller's environment
 * names Kafka brokers (which would otherwise select Kafka and its default topic).
 */
export const EMBEDDED_SERVE_ENV: Readonly<Record<string, string>> = {
  ENTDB_WAL: "embedded",
  ENTDB_KAFKA_BROKERS: "",
};

/** `entdb_applier_lag_events` by partition, scraped from the server's `/metrics`. */
export async function applierLag(httpPort: number): Promise<Map<number, number>> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
  const lag = new Map<number, number>();
  for (const match of (await res.text()).matchAll(
    /^entdb_applier_lag_events\{partition="(\d+)"\} (\S+)$/gm,
  )) {
    lag.set(Number(match[1]), Number(match[2]));
  }
  return lag;
}

/**
 * Polls {@link applierLag} until every partition reports 0 and returns the last sample;
 * after `timeoutMs` returns the last (non-zero) sample for the caller to assert on.
 */
export async function waitForZeroLag(
  httpPort: number,
  timeoutMs: number,
): Promise<Map<number, number>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lag = await applierLag(httpPort);
    const zero = lag.size > 0 && [...lag.values()].every((n) => n === 0);
    if (zero || Date.now() >= deadline) return lag;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Deletes the topic (after a run, so runs do not pile up data in the broker). */
export async function deleteKafkaTopic(topic: KafkaServeTopic): Promise<void> {
  const admin = new Kafka({
    clientId: "entdb-test-cleanup",
    brokers: [...topic.brokers],
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    await admin.deleteTopics({ topics: [topic.topic], timeout: 10_000 });
  } finally {
    await admin.disconnect();
  }
}
