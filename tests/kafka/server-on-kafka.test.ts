/**
 * Crash test of `entdb serve` on the Kafka WAL (a real single-node broker, a fresh topic
 * per run, replication 1): concurrent clients send atomic plans (Team + User + MemberOf),
 * the server is killed with SIGKILL at a random moment and restarted on the same data
 * dir and topic, round after round. After each restart the server must be ready (the
 * applier caught up with the topic) with zero applier lag, every acknowledged plan must
 * be there exactly once with its acknowledged ids, an unanswered plan wholly there or
 * wholly absent (a retry with its key settles it without duplicating), and a new write
 * must work. The checks are the embedded crash test's (`tests/e2e/server-crash-plans.ts`).
 *
 * At the end a server on an EMPTY data dir (only `schemas/` copied) replays the topic,
 * and every tenant's canonical dump must equal the original's byte for byte (DESIGN.md
 * contract 8).
 *
 * Kill moments come from a seeded RNG: the seed is printed and `ENTDB_CRASH_SEED`
 * repeats the schedule (timing still varies); `ENTDB_KAFKA_CRASH_ROUNDS` sets the rounds.
 */

import { cpSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EntDbService } from "../../generated/entdb/v1/entdb_pb.js";
import type { EntDbClient } from "../e2e/e2e-helpers.ts";
import {
  CrashLedger,
  type CrashRun,
  crashPlan,
  crashRng,
  expectSameTenantDumps,
  loadAndKill,
  sendCrashPlan,
  verifyAfterRestart,
} from "../e2e/server-crash-plans.ts";
import {
  removeDataDir,
  type ServerProcess,
  type StartOptions,
  startServerProcess,
  tempDataDir,
} from "../e2e/server-process.ts";
import { type KafkaCluster, singleNodeKafka } from "../infra/kafka-cluster.ts";
import {
  deleteKafkaTopic,
  freshTopicName,
  type KafkaServeTopic,
  kafkaServeEnv,
  waitForZeroLag,
} from "./kafka-serve.ts";

const SEED = Number(process.env["ENTDB_CRASH_SEED"] ?? Math.floor(Math.random() * 2 ** 31));
const ROUNDS = Number(process.env["ENTDB_KAFKA_CRASH_ROUNDS"] ?? "4");
const RUN: CrashRun = { tenants: ["kafka-a", "kafka-b", "kafka-c"], clients: 8 };
const PARTITIONS = 4;
/** A restart joins a fresh consumer group and reads the topic's offsets: allow for a slow machine. */
const READY_TIMEOUT_MS = 60_000;

let cluster: KafkaCluster | undefined;
let log: KafkaServeTopic;
const dirs: string[] = [];

beforeAll(async () => {
  cluster = await singleNodeKafka();
  log = { brokers: cluster.brokers, topic: freshTopicName("server-crash"), partitions: PARTITIONS };
}, 330_000);

afterAll(async () => {
  for (const dir of dirs) removeDataDir(dir);
  if (log !== undefined) await deleteKafkaTopic(log).catch(() => {});
  await cluster?.stop();
}, 60_000);

function clientOf(server: ServerProcess): EntDbClient {
  return createClient(EntDbService, createGrpcTransport({ baseUrl: server.url }));
}

function serve(dataDir: string): Promise<ServerProcess> {
  const options: StartOptions = {
    dataDir,
    env: kafkaServeEnv(log),
    readyTimeoutMs: READY_TIMEOUT_MS,
  };
  return startServerProcess(options);
}

const zeroLag = new Map(Array.from({ length: PARTITIONS }, (_, p) => [p, 0]));

describe("entdb serve on the Kafka WAL under SIGKILL", () => {
  it(`keeps every acknowledged plan exactly once across ${ROUNDS} kills, resumes at zero lag, and a replay of the topic into an empty data dir gives the same tenants (seed ${SEED})`, async () => {
    console.log(`server-on-kafka seed: ${SEED} (ENTDB_CRASH_SEED=${SEED} repeats it)`);
    const random = crashRng(SEED);
    const dataDir = tempDataDir("entdb-kafka-crash-");
    dirs.push(dataDir);
    const ledger = new CrashLedger();

    let server = await serve(dataDir);
    const logs: string[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      const killAfterMs = Math.floor(random() * 1200);
      const acks = await loadAndKill(
        clientOf(server),
        () => server.kill(),
        ledger,
        RUN,
        killAfterMs,
      );
      expect(acks, `round ${round}`).toBeGreaterThan(0);
      const durable = ledger.durable.size;

      // startServerProcess returns once /ready answers 200: the applier caught up.
      const restartAt = performance.now();
      logs.push(server.logs());
      server = await serve(dataDir);
      const readyMs = Math.round(performance.now() - restartAt);
      expect(await waitForZeroLag(server.httpPort, 10_000), `round ${round}: lag`).toEqual(zeroLag);
      const client = clientOf(server);
      const open = await verifyAfterRestart(client, ledger, RUN);

      // A write after the restart is applied and acknowledged with its ids.
      const next = { ...crashPlan(ledger.nextPlan++, RUN.tenants), noWait: false };
      await sendCrashPlan(client, ledger, next);
      expect(ledger.applied.has(next.n), `round ${round}: plan ${next.n} applied`).toBe(true);
      await verifyAfterRestart(client, ledger, RUN);
      console.log(
        `round ${round}: killed ${killAfterMs} ms after the first ack; ${acks} acks (${durable} durable only), ${open.unansweredPresent} unanswered found applied, ${open.unansweredAbsent} absent, ${ledger.applied.size} plans applied in total; restarted and ready in ${readyMs} ms`,
      );
    }
    expect(await server.stop()).toBe(0);

    // Replay: the topic and the schema versions only; no tenant file, no checkpoint.
    const replayDir = tempDataDir("entdb-kafka-replay-");
    dirs.push(replayDir);
    cpSync(join(dataDir, "schemas"), join(replayDir, "schemas"), { recursive: true });
    expect(readdirSync(replayDir)).toEqual(["schemas"]);
    const replay = await serve(replayDir);
    expect(await waitForZeroLag(replay.httpPort, 10_000), "replay: lag").toEqual(zeroLag);
    expect(await replay.stop()).toBe(0);

    expectSameTenantDumps(dataDir, replayDir, RUN);
    // Every line each server wrote is a JSON log record: kafkajs's timer warning on
    // Node 24 (process-warnings.ts) is one, not a plain-text line between them.
    const plain = [...logs, server.logs(), replay.logs()]
      .flatMap((text) => text.split("\n"))
      .filter((line) => line !== "" && !line.startsWith("{"));
    expect(plain).toEqual([]);
    // The first server and the replay started on a healthy broker: what kafkajs retries
    // itself (the first start's "coordinator is loading") is a warning, not an error.
    const errors = [logs[0] ?? "", replay.logs()]
      .flatMap((text) => text.split("\n"))
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as { level?: string; msg?: string })
      .filter((record) => record.level === "error")
      .map((record) => record.msg);
    expect(errors).toEqual([]);
  }, 150_000);
});
