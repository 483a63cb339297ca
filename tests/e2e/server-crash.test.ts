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
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, describe, expect, it } from "vitest";
import { EntDbService } from "../../generated/entdb/v1/entdb_pb.js";
import { canonicalDump } from "../../server/store/index.ts";
import {
  allNodesBy,
  type CrashPlan,
  crashPlan,
  type EntDbClient,
  inPool,
  nodeByKey,
  type PlanIds,
  planOperations,
  TRACKER,
  teamsOfUser,
} from "./server-crash-plans.ts";
import {
  removeDataDir,
  type ServerProcess,
  startServerProcess,
  tempDataDir,
} from "./server-process.ts";

const SEED = Number(process.env["ENTDB_CRASH_SEED"] ?? Math.floor(Math.random() * 2 ** 31));
const ROUNDS = Number(process.env["ENTDB_CRASH_ROUNDS"] ?? "8");
const CLIENTS = 16;
const TENANTS = ["crash-a", "crash-b", "crash-c"] as const;

/** mulberry32: small, seedable, good enough to spread kill moments. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function clientOf(server: ServerProcess): EntDbClient {
  return createClient(EntDbService, createGrpcTransport({ baseUrl: server.url }));
}

/** What the test knows about every plan it has sent. */
class Ledger {
  nextPlan = 0;
  /** Acknowledged as applied (or confirmed after a restart), with their ids. */
  readonly applied = new Map<number, PlanIds>();
  /** Acknowledged as durable only (`no_wait`): the position the receipt gave. */
  readonly durable = new Map<number, { partition: number; offset: bigint }>();
  /** Sent and never answered. */
  readonly unanswered = new Set<number>();
  /** Applied plans whose edges have not been checked yet. */
  readonly unchecked: number[] = [];
  confirm(n: number, ids: PlanIds): void {
    this.applied.set(n, ids);
    this.unchecked.push(n);
  }
}

/**
 * Runs CLIENTS closed-loop writers until the server is killed, `killAfterMs` after the
 * first acknowledgement of the round. Resolves with how many plans were acknowledged.
 */
async function loadAndKill(
  server: ServerProcess,
  ledger: Ledger,
  killAfterMs: number,
): Promise<number> {
  const client = clientOf(server);
  let killed = false;
  let acks = 0;
  let firstAck: () => void = () => {};
  const gotFirstAck = new Promise<void>((resolve) => {
    firstAck = resolve;
  });
  const errors: unknown[] = [];
  const writer = async (): Promise<void> => {
    while (!killed) {
      const plan = crashPlan(ledger.nextPlan++, TENANTS);
      ledger.unanswered.add(plan.n);
      try {
        const res = await client.executePlan({
          tenant: plan.tenant,
          idempotencyKey: plan.key,
          noWait: plan.noWait,
          operations: planOperations(plan),
        });
        ledger.unanswered.delete(plan.n);
        const position = res.receipt?.position;
        if (!position) throw new Error(`plan ${plan.n}: a receipt without a position`);
        if (res.receipt?.applied) {
          ledger.confirm(plan.n, {
            teamId: res.results[0]?.id ?? "",
            userId: res.results[1]?.id ?? "",
            partition: position.partition,
            offset: position.offset,
          });
        } else {
          ledger.durable.set(plan.n, { partition: position.partition, offset: position.offset });
        }
        acks++;
        firstAck();
      } catch (err) {
        // Once the kill is sent, a failed call is expected; before it, it is a bug.
        if (!killed) errors.push(err);
        return;
      }
    }
  };
  const writers = Array.from({ length: CLIENTS }, writer);
  await Promise.race([gotFirstAck, Promise.all(writers)]);
  await sleep(killAfterMs);
  killed = true;
  await server.kill();
  await Promise.all(writers);
  if (errors.length > 0) throw errors[0];
  return acks;
}

/** Checks a restarted server against the ledger and settles every open plan. */
async function verifyAfterRestart(client: EntDbClient, ledger: Ledger): Promise<void> {
  // Durable-only acknowledgements: applied during recovery, at the acknowledged position.
  for (const [n, position] of ledger.durable) {
    const plan = crashPlan(n, TENANTS);
    const res = await client.getReceipt({ tenant: plan.tenant, idempotencyKey: plan.key });
    expect(res.failure, `plan ${n}`).toBeUndefined();
    expect(res.receipt?.position?.partition, `plan ${n}`).toBe(position.partition);
    expect(res.receipt?.position?.offset, `plan ${n}`).toBe(position.offset);
    ledger.confirm(n, {
      teamId: res.results[0]?.id ?? "",
      userId: res.results[1]?.id ?? "",
      ...position,
    });
  }
  ledger.durable.clear();

  // Unanswered plans: all or nothing, then a retry with the same key settles them.
  const open = [...ledger.unanswered].map((n) => crashPlan(n, TENANTS));
  await inPool(open, CLIENTS, async (plan: CrashPlan) => {
    const team = await nodeByKey(client, plan.tenant, TRACKER.team, TRACKER.teamSlug, plan.slug);
    const user = await nodeByKey(client, plan.tenant, TRACKER.user, TRACKER.userEmail, plan.email);
    const teams = user ? await teamsOfUser(client, plan.tenant, user.id) : [];
    const parts = `team ${team?.id ?? "-"}, user ${user?.id ?? "-"}, edges [${teams.join(",")}]`;
    if (team && user) expect(teams, `plan ${plan.n}: ${parts}`).toEqual([team.id]);
    else
      expect([team, user, teams.length], `plan ${plan.n}: ${parts}`).toEqual([
        undefined,
        undefined,
        0,
      ]);

    const res = await client.executePlan({
      tenant: plan.tenant,
      idempotencyKey: plan.key,
      operations: planOperations(plan),
    });
    expect(res.receipt?.applied, `plan ${plan.n}`).toBe(true);
    expect(res.receipt?.replayed, `plan ${plan.n}: ${parts}`).toBe(team !== undefined);
    const ids = { teamId: res.results[0]?.id ?? "", userId: res.results[1]?.id ?? "" };
    if (team && user) expect(ids, `plan ${plan.n}`).toEqual({ teamId: team.id, userId: user.id });
    ledger.unanswered.delete(plan.n);
    ledger.confirm(plan.n, {
      ...ids,
      partition: res.receipt?.position?.partition ?? -1,
      offset: res.receipt?.position?.offset ?? -1n,
    });
  });

  // Exactly the applied plans, each once, with the acknowledged ids.
  for (const tenant of TENANTS) {
    const expectTeams = new Map<string, string>();
    const expectUsers = new Map<string, string>();
    for (const [n, ids] of ledger.applied) {
      const plan = crashPlan(n, TENANTS);
      if (plan.tenant !== tenant) continue;
      expectTeams.set(plan.slug, ids.teamId);
      expectUsers.set(plan.email, ids.userId);
    }
    const teams = await allNodesBy(client, tenant, TRACKER.team, TRACKER.teamSlug);
    const users = await allNodesBy(client, tenant, TRACKER.user, TRACKER.userEmail);
    expect(sorted(teams), `teams of ${tenant}`).toEqual(sorted(expectTeams));
    expect(sorted(users), `users of ${tenant}`).toEqual(sorted(expectUsers));
  }

  // Each newly applied plan's edge links its own user and team, and only those.
  const fresh = ledger.unchecked.splice(0);
  await inPool(fresh, CLIENTS, async (n) => {
    const plan = crashPlan(n, TENANTS);
    const ids = ledger.applied.get(n);
    if (!ids) throw new Error(`plan ${n} is not applied`);
    expect(await teamsOfUser(client, plan.tenant, ids.userId), `plan ${n}`).toEqual([ids.teamId]);
  });
}

function sorted(map: ReadonlyMap<string, string>): [string, string][] {
  return [...map].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

function tenantFiles(dataDir: string): string[] {
  return readdirSync(join(dataDir, "tenants"))
    .filter((f) => f.endsWith(".sqlite"))
    .sort();
}

describe("entdb serve under SIGKILL", () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) removeDataDir(dir);
  });

  it(`keeps every acknowledged plan exactly once across ${ROUNDS} kills, and a replay of the WAL gives the same tenants (seed ${SEED})`, async () => {
    console.log(`server crash test seed: ${SEED} (ENTDB_CRASH_SEED=${SEED} repeats it)`);
    const random = rng(SEED);
    const dataDir = tempDataDir("entdb-crash-");
    dirs.push(dataDir);
    const ledger = new Ledger();

    let server = await startServerProcess({ dataDir });
    for (let round = 1; round <= ROUNDS; round++) {
      const killAfterMs = Math.floor(random() * 1200);
      const acks = await loadAndKill(server, ledger, killAfterMs);
      expect(acks, `round ${round}`).toBeGreaterThan(0);
      server = await startServerProcess({ dataDir });
      const open = ledger.unanswered.size;
      await verifyAfterRestart(clientOf(server), ledger);
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

    const files = tenantFiles(dataDir);
    expect(files).toHaveLength(TENANTS.length);
    expect(tenantFiles(replayDir)).toEqual(files);
    for (const f of files) {
      const original = canonicalDump(join(dataDir, "tenants", f));
      const replayed = canonicalDump(join(replayDir, "tenants", f));
      expect(replayed === original, `canonical dump of ${f}`).toBe(true);
    }
  }, 180_000);
});
