import { createServer } from "node:net";
import { Kafka, logLevel } from "kafkajs";
import { describe, expect, it } from "vitest";
import type { KafkaWalLogEntry } from "./kafka-wal-errors.ts";
import { kafkaLogCreator, REPEAT_WINDOW_MS } from "./kafka-wal-log.ts";

/** A creator's logger, its lines, and a clock the test moves. */
function harness() {
  const lines: KafkaWalLogEntry[] = [];
  let t = 1_000_000;
  const logger = kafkaLogCreator(
    (entry) => lines.push(entry),
    () => t,
  )(logLevel.DEBUG);
  const error = (namespace: string, message: string, fields: Record<string, unknown> = {}) =>
    logger({
      namespace,
      level: logLevel.ERROR,
      label: "ERROR",
      log: { timestamp: "", message, ...fields },
    });
  return { lines, error, advance: (ms: number) => (t += ms) };
}

const LOADING = "The coordinator is loading and hence can't process requests for this group";

describe("kafkajs log mapping", () => {
  it("logs a retriable protocol error at warn, and a protocol error that is not at error", () => {
    const { lines, error } = harness();
    error("Connection", "Response GroupCoordinator(key: 10, version: 2)", { error: LOADING });
    error("Connection", "Response Produce(key: 0, version: 7)", {
      error:
        "The request included a message larger than the max message size the server will accept",
    });
    error("Consumer", "Crash: KafkaJSNumberOfRetriesExceeded: Connection error", { retryCount: 5 });
    expect(lines.map((l) => [l.level, l.message])).toEqual([
      ["warn", "[Connection] Response GroupCoordinator(key: 10, version: 2)"],
      ["error", "[Connection] Response Produce(key: 0, version: 7)"],
      ["error", "[Consumer] Crash: KafkaJSNumberOfRetriesExceeded: Connection error"],
    ]);
  });

  it("logs one line per kind of retried error per window, the next one with how many were left out", () => {
    const { lines, error, advance } = harness();
    const refused = "Connection error: connect ECONNREFUSED 127.0.0.1:9";
    for (let i = 0; i < 20; i += 1) {
      error("Connection", refused, { broker: "127.0.0.1:9" });
      error(
        "BrokerPool",
        `Failed to connect to seed broker, trying another broker from the list: ${refused}`,
      );
      advance(50);
    }
    advance(REPEAT_WINDOW_MS);
    error("Connection", refused, { broker: "127.0.0.1:9" });
    expect(lines.map((l) => [l.level, l.message, l.fields])).toEqual([
      ["warn", `[Connection] ${refused}`, { broker: "127.0.0.1:9" }],
      [
        "warn",
        `[BrokerPool] Failed to connect to seed broker, trying another broker from the list: ${refused}`,
        {},
      ],
      ["warn", `[Connection] ${refused}`, { broker: "127.0.0.1:9", repeated: 19 }],
    ]);
  });

  it("passes warn, info and debug lines through as they are", () => {
    const lines: KafkaWalLogEntry[] = [];
    const logger = kafkaLogCreator((entry) => lines.push(entry))(logLevel.DEBUG);
    for (const level of [logLevel.WARN, logLevel.INFO, logLevel.DEBUG])
      logger({ namespace: "", level, label: "", log: { timestamp: "", message: "m", n: level } });
    expect(lines).toEqual([
      { level: "warn", message: "m", fields: { n: logLevel.WARN } },
      { level: "info", message: "m", fields: { n: logLevel.INFO } },
      { level: "debug", message: "m", fields: { n: logLevel.DEBUG } },
    ]);
  });

  it("logs a real client's refused connections at warn, once per kind, while the broker is down", async () => {
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, "127.0.0.1", () => {
        const address = probe.address();
        probe.close(() => resolve(typeof address === "object" && address ? address.port : 0));
      });
    });
    const lines: KafkaWalLogEntry[] = [];
    const kafka = new Kafka({
      clientId: "kafka-wal-log-test",
      brokers: [`127.0.0.1:${port}`],
      logLevel: logLevel.WARN,
      logCreator: kafkaLogCreator((entry) => lines.push(entry)),
      retry: { retries: 8, initialRetryTime: 20, maxRetryTime: 50 },
    });
    const producer = kafka.producer();
    await expect(producer.connect()).rejects.toThrow();
    const retried = lines.filter((l) => l.message.includes("ECONNREFUSED"));
    expect(retried.length).toBeGreaterThan(0);
    expect(retried.every((l) => l.level === "warn")).toBe(true);
    expect(new Set(retried.map((l) => l.message)).size).toBe(retried.length);
  });
});
