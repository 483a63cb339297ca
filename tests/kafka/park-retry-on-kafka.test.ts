/**
 * A server's data dir on the Kafka WAL (a real single-node broker, a fresh topic per
 * case), where the data dir holds no log file.
 *
 * A parked tenant's retry: the retry stops the applier's consumer and subscribes again
 * from the checkpoint, which on Kafka is a new consumer joining the group and seeking. A
 * tenant file deleted while the server runs is refused and its tenant parked at the first
 * read that finds it so, and the retry rebuilds it from the topic while the server keeps
 * serving the others.
 *
 * The data dir lock: before it, a second `entdb serve` on the same dir and topic started
 * and both applied the topic into the same tenant files. It is refused in one line, and
 * the first server keeps serving.
 */

import { rmSync } from "node:fs";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tenantFileName } from "../../server/store/tenant-id.ts";
import {
  connectError,
  countNodes,
  countWhenServed,
  entDbClient,
  refusedKeyedWrite,
  teamOp,
  teamPlan,
} from "../e2e/e2e-helpers.ts";
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
let lockLog: KafkaServeTopic;
const dirs: string[] = [];

beforeAll(async () => {
  cluster = await singleNodeKafka();
  log = { brokers: cluster.brokers, topic: freshTopicName("park-retry"), partitions: 2 };
  lockLog = { brokers: cluster.brokers, topic: freshTopicName("data-dir-lock"), partitions: 2 };
}, 330_000);

afterAll(async () => {
  for (const dir of dirs) removeDataDir(dir);
  for (const topic of [log, lockLog])
    if (topic !== undefined) await deleteKafkaTopic(topic).catch(() => {});
  await cluster?.stop();
}, 60_000);

describe("a parked tenant on the Kafka WAL", () => {
  it("is rebuilt by its retry while the server runs, and every other tenant goes on", async () => {
    const dataDir = tempDataDir("entdb-park-kafka-");
    dirs.push(dataDir);
    const server = await startServerProcess({
      dataDir,
      env: { ...kafkaServeEnv(log), ENTDB_MAX_OPEN_TENANTS: "1" },
      readyTimeoutMs: 60_000,
    });
    try {
      const api = entDbClient(server);
      for (let i = 0; i < 5; i++) {
        await api.executePlan({ tenant: "acme", operations: [teamOp(`A${i}`, `acme-${i}`)] });
        await api.executePlan({ tenant: "globex", operations: [teamOp(`G${i}`, `globex-${i}`)] });
      }
      // globex was opened last, so acme's file is closed: delete it.
      const file = join(dataDir, "tenants", tenantFileName("acme"));
      for (const suffix of ["", "-wal", "-shm"]) rmSync(file + suffix, { force: true });

      const read = await connectError(countNodes(api, "acme"));
      expect(read.code).toBe(Code.Unavailable);
      expect(read.rawMessage).toMatch(
        /^The database of tenant "acme" is missing, but it had applied/,
      );
      // The read parked it; a write with a key (as the generated client sends) is refused.
      await refusedKeyedWrite(api, "acme", "acme-during", "acme-during");

      // While acme waits for its retry, globex keeps writing.
      await api.executePlan({ tenant: "globex", operations: [teamOp("G5", "globex-5")] });
      expect(
        await countWhenServed(api, "acme", { timeoutMs: 60_000, everyMs: 100, logs: server.logs }),
      ).toBe(5);
      expect(server.logs()).toContain("tenant applies the log again");
      await api.executePlan({ tenant: "acme", operations: [teamOp("Later", "acme-later")] });
      expect(await countNodes(api, "acme")).toBe(6);
      expect(await countNodes(api, "globex")).toBe(6);
      expect((await fetch(`http://127.0.0.1:${server.httpPort}/ready`)).status).toBe(200);
    } finally {
      expect(await server.stop(), server.logs()).toBe(0);
    }
  }, 180_000);
});

describe("entdb serve on the Kafka WAL", () => {
  it("refuses a data dir another server serves, and the first keeps serving", async () => {
    const dataDir = tempDataDir("entdb-kafka-lock-");
    dirs.push(dataDir);
    const env = kafkaServeEnv(lockLog);
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
