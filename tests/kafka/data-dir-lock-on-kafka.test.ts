/**
 * One data dir, one server, on the Kafka WAL too: the data dir holds no log file there,
 * so before the data dir lock a second `entdb serve` on the same dir and topic started
 * and both applied the topic into the same tenant files. It is refused in one line, and
 * the first server keeps serving.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { entDbClient, teamPlan } from "../e2e/e2e-helpers.ts";
import {
  removeDataDir,
  runServeToExit,
  startServerProcess,
  tempDataDir,
} from "../e2e/server-process.ts";
import { type KafkaCluster, singleNodeKafka } from "../infra/kafka-cluster.ts";
import {
  deleteKafkaTopic,
  freshTopicName,
  type KafkaServeTopic,
  kafkaServeEnv,
} from "./kafka-serve.ts";

let cluster: KafkaCluster | undefined;
let log: KafkaServeTopic;
const dirs: string[] = [];

beforeAll(async () => {
  cluster = await singleNodeKafka();
  log = { brokers: cluster.brokers, topic: freshTopicName("data-dir-lock"), partitions: 2 };
}, 330_000);

afterAll(async () => {
  for (const dir of dirs) removeDataDir(dir);
  if (log !== undefined) await deleteKafkaTopic(log).catch(() => {});
  await cluster?.stop();
}, 60_000);

describe("entdb serve on the Kafka WAL", () => {
  it("refuses a data dir another server serves, and the first keeps serving", async () => {
    const dataDir = tempDataDir("entdb-kafka-lock-");
    dirs.push(dataDir);
    const env = kafkaServeEnv(log);
    const first = await startServerProcess({ dataDir, env, readyTimeoutMs: 60_000 });
    try {
      const run = await runServeToExit({ dataDir, env, timeoutMs: 60_000 });
      expect(run.code).toBe(1);
      expect(run.listened).toBe(false);
      expect(run.stderr).toBe(
        `error: the data dir ${dataDir} is in use by another entdb serve (it holds the lock on serve.lock); two servers on one data dir would apply the log into the same files. Stop that server first, or choose another --data-dir (ENTDB_DATA_DIR).\n`,
      );
      await entDbClient(first).executePlan(teamPlan("acme", "first-still-serves"));
    } finally {
      expect(await first.stop()).toBe(0);
    }
  }, 180_000);
});
