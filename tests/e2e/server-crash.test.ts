/**
 * Crash test of `entdb serve`: 16 clients send atomic plans (Team + User + MemberOf)
 * to a real server child, which is killed with SIGKILL at a random moment and
 * restarted on the same data dir, round after round. After each restart:
 *
 * - every acknowledged plan is there exactly once with the ids it was acknowledged with
 *   (`no_wait` acknowledgements: the receipt is found at the acknowledged position);
 * - a plan that was sent but not answered is wholly there or wholly absent, and retrying
 *   it with its idempotency key replays the original outcome or applies it once;
 * - each tenant holds exactly the plans acknowledged so far, nothing more.
 *
 * At the end the WAL and the schema versions alone are copied into an empty data dir,
 * a server replays them, and every tenant's canonical dump must equal the original's
 * byte for byte (DESIGN.md contract 8). See docs/durability.md, "Server crash test".
 *
 * Kill moments come from a seeded RNG: the seed is printed and `ENTDB_CRASH_SEED`
 * repeats the schedule (timing still varies); `ENTDB_CRASH_ROUNDS` sets the rounds.
 */

import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { entDbClient } from "./e2e-helpers.ts";
import {
  CrashLedger,
  type CrashRun,
  crashRng,
  expectSameTenantDumps,
  loadAndKill,
  verifyAfterRestart,
} from "./server-crash-plans.ts";
import { removeDataDir, startServerProcess, tempDataDir } from "./server-process.ts";

const SEED = Number(process.env["ENTDB_CRASH_SEED"] ?? Math.floor(Math.random() * 2 ** 31));
const ROUNDS = Number(process.env["ENTDB_CRASH_ROUNDS"] ?? "8");
const RUN: CrashRun = { tenants: ["crash-a", "crash-b", "crash-c"], clients: 16 };

describe("entdb serve under SIGKILL", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) removeDataDir(dir);
  });

  it(`keeps every acknowledged plan exactly once across ${ROUNDS} kills, and a replay of the WAL gives the same tenants (seed ${SEED})`, async () => {
    console.log(`server crash test seed: ${SEED} (ENTDB_CRASH_SEED=${SEED} repeats it)`);
    const random = crashRng(SEED);
    const dataDir = tempDataDir("entdb-crash-");
    dirs.push(dataDir);
    const ledger = new CrashLedger();

    let server = await startServerProcess({ dataDir });
    for (let round = 1; round <= ROUNDS; round++) {
      const killAfterMs = Math.floor(random() * 1200);
      const acks = await loadAndKill(
        entDbClient(server, { protocol: "grpc" }),
        () => server.kill(),
        ledger,
        RUN,
        killAfterMs,
      );
      expect(acks, `round ${round}`).toBeGreaterThan(0);
      server = await startServerProcess({ dataDir });
      const open = ledger.unanswered.size;
      await verifyAfterRestart(entDbClient(server, { protocol: "grpc" }), ledger, RUN);
      console.log(
        `round ${round}: killed ${killAfterMs} ms after the first ack; ${acks} acks, ${open} unanswered, ${ledger.applied.size} plans applied in total`,
      );
    }
    expect(await server.stop()).toBe(0);

    // Replay: only the log and the schema versions go into an empty data dir.
    const replayDir = tempDataDir("entdb-replay-");
    dirs.push(replayDir);
    for (const f of readdirSync(dataDir).filter((f) => f.startsWith("wal.sqlite")))
      copyFileSync(join(dataDir, f), join(replayDir, f));
    cpSync(join(dataDir, "schemas"), join(replayDir, "schemas"), { recursive: true });
    mkdirSync(join(replayDir, "tenants"), { recursive: true });
    expect(existsSync(join(replayDir, "meta.sqlite"))).toBe(false);
    const replay = await startServerProcess({ dataDir: replayDir });
    expect(await replay.stop()).toBe(0);

    expectSameTenantDumps(dataDir, replayDir, RUN);
  }, 180_000);
});
