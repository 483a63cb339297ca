/**
 * `entdb serve` on the Kafka WAL while its only broker is down: a write fails UNAVAILABLE
 * within a bound (kafkajs's retry policy, docs/kafka.md "Appends"), and once the broker is
 * back the applier resumes within seconds, so a write is acknowledged (applied) again
 * (docs/kafka.md, "Subscriptions"). A real single-node broker of its own, on its own port
 * and state dir, since the test kills it.
 */

import { randomInt } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectError, countNodes, entDbClient, teamOp } from "../e2e/e2e-helpers.ts";
import {
  REPO_ROOT,
  removeDataDir,
  startServerProcess,
  tempDataDir,
} from "../e2e/server-process.ts";
import { type KafkaCluster, startKafkaCluster } from "../infra/kafka-cluster.ts";
import { freshTopicName, kafkaServeEnv } from "./kafka-serve.ts";

/**
 * A write with the broker down fails within this: two rounds of the retry policy's
 * backoff, about 36 s (docs/kafka.md, "Appends"), with room for a loaded machine.
 */
const FAIL_BOUND_MS = 50_000;
/**
 * After the broker is back, a write is applied within this: about 1 s measured; 30 s
 * while a restarted consumer waited for its own stale member's session to expire.
 */
const RESUME_BOUND_MS = 15_000;

const dir = join(REPO_ROOT, ".tmp", `kafka-outage-${process.pid}`);
let cluster: KafkaCluster | undefined;
const dataDirs: string[] = [];

beforeAll(async () => {
  cluster = await startKafkaCluster({
    nodes: 1,
    dir,
    fresh: true,
    port: randomInt(21_000, 29_000),
  });
}, 330_000);

afterAll(async () => {
  for (const d of dataDirs) removeDataDir(d);
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("entdb serve while its Kafka broker is down", () => {
  it("fails a write UNAVAILABLE within the bound, and applies writes again within seconds of the broker's return", async () => {
    const dataDir = tempDataDir("entdb-kafka-outage-");
    dataDirs.push(dataDir);
    const topic = { brokers: cluster!.brokers, topic: freshTopicName("outage"), partitions: 2 };
    const server = await startServerProcess({
      dataDir,
      env: kafkaServeEnv(topic),
      readyTimeoutMs: 60_000,
    });
    try {
      const api = entDbClient(server);
      await api.executePlan({ tenant: "acme", operations: [teamOp("Before", "before")] });

      await cluster!.killNodes(1);
      const down = Date.now();
      const failed = await connectError(
        api.executePlan({
          tenant: "acme",
          idempotencyKey: "while-down",
          operations: [teamOp("Down", "down")],
        }),
      );
      const failMs = Date.now() - down;
      console.log(`broker down: the write failed after ${failMs} ms: ${failed.rawMessage}`);
      expect(failed.code, failed.rawMessage).toBe(Code.Unavailable);
      expect(failed.rawMessage).toMatch(/Kafka did not acknowledge 1 records for partitions \d/);
      expect(failMs).toBeLessThan(FAIL_BOUND_MS);

      await cluster!.startNodes(1);
      const back = Date.now();
      // A write is logged once the producer reconnects; it is applied (and read) once the
      // applier's consumer has joined its group again and caught up.
      for (;;) {
        try {
          await api.executePlan({
            tenant: "acme",
            idempotencyKey: "after",
            operations: [teamOp("After", "after")],
          });
          break;
        } catch (error) {
          if (Date.now() - back > RESUME_BOUND_MS) throw error;
          await sleep(200);
        }
      }
      while ((await countNodes(api, "acme")) < 2 && Date.now() - back < RESUME_BOUND_MS)
        await sleep(100);
      const resumeMs = Date.now() - back;
      console.log(`broker back: a write was applied after ${resumeMs} ms`);
      expect(resumeMs, server.logs()).toBeLessThan(RESUME_BOUND_MS);
      // The write while down was answered UNAVAILABLE: retried with its key, it is there once.
      await api.executePlan({
        tenant: "acme",
        idempotencyKey: "while-down",
        operations: [teamOp("Down", "down")],
      });
      expect(await countNodes(api, "acme")).toBe(3);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  }, 300_000);
});
