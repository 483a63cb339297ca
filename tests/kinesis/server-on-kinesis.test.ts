/**
 * Crash test of `entdb serve` on the Kinesis WAL (moto on loopback, a fresh stream per
 * run): concurrent clients send atomic plans (Team + User + MemberOf), the server is
 * killed with SIGKILL at a random moment and restarted on the same data dir and stream,
 * round after round. After each restart the server must be ready (the applier caught up
 * with the stream, resuming after the last applied record of each tenant) with zero
 * applier lag, every acknowledged plan must be there exactly once with its acknowledged
 * ids, an unanswered plan wholly there or wholly absent (a retry with its key settles it
 * without duplicating), and a new write must work. The checks are the embedded crash
 * test's (`tests/e2e/server-crash-plans.ts`), as for Kafka (`tests/kafka/`).
 *
 * At the end a server on an EMPTY data dir (only `schemas/` copied) replays the stream,
 * and every tenant's canonical dump must equal the original's byte for byte (DESIGN.md
 * contract 8).
 *
 * Kill moments come from a seeded RNG: the seed is printed and `ENTDB_CRASH_SEED`
 * repeats the schedule (timing still varies); `ENTDB_KINESIS_CRASH_ROUNDS` sets the rounds.
 */

import { cpSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EntDbClient, entDbClient } from "../e2e/e2e-helpers.ts";
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
  startServerProcess,
  tempDataDir,
} from "../e2e/server-process.ts";
import { freshStreamName, kinesisServeEnv, startKinesisServer } from "../infra/kinesis-server.ts";
import { waitForZeroLag } from "../kafka/kafka-serve.ts";

const SEED = Number(process.env["ENTDB_CRASH_SEED"] ?? Math.floor(Math.random() * 2 ** 31));
const ROUNDS = Number(process.env["ENTDB_KINESIS_CRASH_ROUNDS"] ?? "3");
const RUN: CrashRun = { tenants: ["kinesis-a", "kinesis-b", "kinesis-c"], clients: 6 };
const SHARDS = 4;
const READY_TIMEOUT_MS = 60_000;

let endpoint = "";
const stream = freshStreamName("server-crash");
const dirs: string[] = [];

beforeAll(async () => {
  endpoint = await startKinesisServer();
}, 180_000);

afterAll(() => {
  for (const dir of dirs) removeDataDir(dir);
});

function clientOf(server: ServerProcess): EntDbClient {
  return entDbClient(server, { protocol: "grpc" });
}

function serve(dataDir: string): Promise<ServerProcess> {
  return startServerProcess({
    dataDir,
    env: kinesisServeEnv(endpoint, stream, SHARDS),
    readyTimeoutMs: READY_TIMEOUT_MS,
  });
}

const zeroLag = new Map(Array.from({ length: SHARDS }, (_, p) => [p, 0]));

describe("entdb serve on the Kinesis WAL under SIGKILL", () => {
  it(`keeps every acknowledged plan exactly once across ${ROUNDS} kills, resumes at zero lag, and a replay of the stream into an empty data dir gives the same tenants (seed ${SEED})`, async () => {
    console.log(`server-on-kinesis seed: ${SEED} (ENTDB_CRASH_SEED=${SEED} repeats it)`);
    const random = crashRng(SEED);
    const dataDir = tempDataDir("entdb-kinesis-crash-");
    dirs.push(dataDir);
    const ledger = new CrashLedger();

    let server = await serve(dataDir);
    for (let round = 1; round <= ROUNDS; round++) {
      const killAfterMs = Math.floor(random() * 1000);
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
      server = await serve(dataDir);
      const readyMs = Math.round(performance.now() - restartAt);
      expect(await waitForZeroLag(server.httpPort, 10_000), `round ${round}: lag`).toEqual(zeroLag);
      const client = clientOf(server);
      const open = await verifyAfterRestart(client, ledger, RUN);

      const next = { ...crashPlan(ledger.nextPlan++, RUN.tenants), noWait: false };
      await sendCrashPlan(client, ledger, next);
      expect(ledger.applied.has(next.n), `round ${round}: plan ${next.n} applied`).toBe(true);
      await verifyAfterRestart(client, ledger, RUN);
      console.log(
        `round ${round}: killed ${killAfterMs} ms after the first ack; ${acks} acks (${durable} durable only), ${open.unansweredPresent} unanswered found applied, ${open.unansweredAbsent} absent, ${ledger.applied.size} plans applied in total; restarted and ready in ${readyMs} ms`,
      );
    }
    expect(await server.stop()).toBe(0);

    // Replay: the stream and the schema versions only; no tenant file, no checkpoint.
    const replayDir = tempDataDir("entdb-kinesis-replay-");
    dirs.push(replayDir);
    cpSync(join(dataDir, "schemas"), join(replayDir, "schemas"), { recursive: true });
    expect(readdirSync(replayDir)).toEqual(["schemas"]);
    const replay = await serve(replayDir);
    expect(await waitForZeroLag(replay.httpPort, 10_000), "replay: lag").toEqual(zeroLag);
    expect(await replay.stop()).toBe(0);

    expectSameTenantDumps(dataDir, replayDir, RUN);
  }, 150_000);
});
