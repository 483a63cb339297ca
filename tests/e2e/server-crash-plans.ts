/**
 * The plans and checks of the server crash test (`server-crash.test.ts`): each plan
 * creates a Team, a User and a MemberOf edge between them atomically, and every value
 * that must be unique (slug, email, handle, idempotency key) encodes the plan number,
 * so a plan's effects can be found, counted and told apart after any number of crashes.
 * The ledger, the load-and-kill loop and the after-restart checks are shared with the
 * same test on the Kafka WAL (`tests/kafka/server-on-kafka.test.ts`).
 */

import { readdirSync } from "node:fs";
import { join } from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { expect } from "vitest";
import { Direction, type Node } from "../../generated/entdb/v1/entdb_pb.js";
import type { OperationSchema } from "../../generated/entdb/v1/plan_pb.js";
import type { ValueSchema } from "../../generated/entdb/v1/values_pb.js";
import { canonicalDump } from "../../server/store/index.ts";
import { type EntDbClient, str, TRACKER } from "./e2e-helpers.ts";

type Operation = MessageInitShape<typeof OperationSchema>;
type Value = MessageInitShape<typeof ValueSchema>;

/** Plan number `n`: where it goes and the unique values that identify its effects. */
export interface CrashPlan {
  readonly n: number;
  readonly tenant: string;
  readonly key: string;
  readonly slug: string;
  readonly email: string;
  /** Sent with `no_wait`: acknowledged once durable, before it is applied. */
  readonly noWait: boolean;
}

/** The ids and log position an acknowledgement returned (or a retry confirmed). */
export interface PlanIds {
  readonly teamId: string;
  readonly userId: string;
  readonly partition: number;
  readonly offset: bigint;
}

/** Plan number `n` spread over `tenants`; every fourth plan is `no_wait`. */
export function crashPlan(n: number, tenants: readonly string[]): CrashPlan {
  const tenant = tenants[n % tenants.length] ?? "crash";
  return {
    n,
    tenant,
    key: `plan-${n}`,
    slug: `team-${n}`,
    email: `user-${n}@example.com`,
    noWait: n % 4 === 3,
  };
}

const at = (n: number): Value => ({
  kind: { case: "timestampValue", value: { seconds: BigInt(1_700_000_000 + n), nanos: 0 } },
});

/** The operations of a plan: Team, User and MemberOf(User → Team), linked by aliases. */
export function planOperations(plan: CrashPlan): Operation[] {
  const { n } = plan;
  return [
    {
      op: {
        case: "createNode",
        value: {
          typeId: TRACKER.team,
          alias: "team",
          fields: { [TRACKER.teamName]: str(`Team ${n}`), [TRACKER.teamSlug]: str(plan.slug) },
        },
      },
    },
    {
      op: {
        case: "createNode",
        value: {
          typeId: TRACKER.user,
          alias: "user",
          fields: {
            [TRACKER.userEmail]: str(plan.email),
            [TRACKER.userDisplayName]: str(`User ${n}`),
            [TRACKER.userHandle]: str(`user${n}`),
            [TRACKER.userJoinedAt]: at(n),
          },
        },
      },
    },
    {
      op: {
        case: "createEdge",
        value: {
          edgeTypeId: TRACKER.memberOf,
          fromId: "$user",
          toId: "$team",
          props: { [TRACKER.memberOfSince]: at(n) },
        },
      },
    },
  ];
}

/** The node with `fieldId` = `value`, or undefined when there is none. */
export async function nodeByKey(
  client: EntDbClient,
  tenant: string,
  typeId: number,
  fieldId: number,
  value: string,
): Promise<Node | undefined> {
  try {
    const res = await client.getNodeByKey({ tenant, typeId, key: { [fieldId]: str(value) } });
    return res.node;
  } catch (err) {
    if (err instanceof ConnectError && err.code === Code.NotFound) return undefined;
    throw err;
  }
}

/** Every node of `typeId` in `tenant`, keyed by the string field `fieldId`; duplicates throw. */
export async function allNodesBy(
  client: EntDbClient,
  tenant: string,
  typeId: number,
  fieldId: number,
): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = "";
  do {
    const page = await client.queryNodes({ tenant, typeId, limit: 1000, cursor });
    for (const node of page.nodes) {
      const kind = node.fields[fieldId]?.kind;
      const value = kind?.case === "stringValue" ? kind.value : "";
      if (out.has(value))
        throw new Error(`tenant ${tenant}: two nodes of type ${typeId} hold '${value}'`);
      out.set(value, node.id);
    }
    cursor = page.nextCursor;
  } while (cursor !== "");
  return out;
}

/** The `to` ids of the MemberOf edges leaving `userId`. */
export async function teamsOfUser(
  client: EntDbClient,
  tenant: string,
  userId: string,
): Promise<string[]> {
  const res = await client.listEdges({
    tenant,
    edgeTypeId: TRACKER.memberOf,
    nodeId: userId,
    direction: Direction.OUT,
    limit: 10,
  });
  return res.edges.map((e) => e.toId);
}

/** Runs `fn` over `items` with at most `width` calls in flight. */
export async function inPool<T>(
  items: readonly T[],
  width: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, worker));
}

/** mulberry32: a small seedable RNG, good enough to spread kill moments. */
export function crashRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Where a crash run sends its plans and how many writers it runs. */
export interface CrashRun {
  readonly tenants: readonly string[];
  /** Concurrent closed-loop writers (also the width of the verification pools). */
  readonly clients: number;
}

/** What a crash test knows about every plan it has sent. */
export class CrashLedger {
  nextPlan = 0;
  /** Acknowledged as applied (or confirmed after a restart), with their ids. */
  readonly applied = new Map<number, PlanIds>();
  /** Acknowledged as durable only (`no_wait`): the position the receipt gave. */
  readonly durable = new Map<number, { partition: number; offset: bigint }>();
  /** Sent and never answered. */
  readonly unanswered = new Set<number>();
  /** Applied plans whose edges have not been checked yet. */
  readonly unchecked: number[] = [];

  /** Records plan `n` as applied with `ids`. */
  confirm(n: number, ids: PlanIds): void {
    this.applied.set(n, ids);
    this.unchecked.push(n);
  }
}

/**
 * Sends plan `plan` once and records the answer in `ledger` (applied or durable-only).
 * Rejects with the call's error, leaving the plan in `unanswered`.
 */
export async function sendCrashPlan(
  client: EntDbClient,
  ledger: CrashLedger,
  plan: CrashPlan,
): Promise<void> {
  ledger.unanswered.add(plan.n);
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
}

/**
 * Runs `run.clients` closed-loop writers until `kill` is called, `killAfterMs` after the
 * first acknowledgement of the round. Resolves with how many plans were acknowledged;
 * rejects with the first error a call got before the kill (that is a bug).
 */
export async function loadAndKill(
  client: EntDbClient,
  kill: () => Promise<void>,
  ledger: CrashLedger,
  run: CrashRun,
  killAfterMs: number,
): Promise<number> {
  let killed = false;
  let acks = 0;
  let firstAck: () => void = () => {};
  const gotFirstAck = new Promise<void>((resolve) => {
    firstAck = resolve;
  });
  const errors: unknown[] = [];
  const writer = async (): Promise<void> => {
    while (!killed) {
      try {
        await sendCrashPlan(client, ledger, crashPlan(ledger.nextPlan++, run.tenants));
        acks++;
        firstAck();
      } catch (err) {
        // Once the kill is sent, a failed call is expected; before it, it is a bug.
        if (!killed) errors.push(err);
        return;
      }
    }
  };
  const writers = Array.from({ length: run.clients }, writer);
  await Promise.race([gotFirstAck, Promise.all(writers)]);
  await new Promise<void>((resolve) => setTimeout(resolve, killAfterMs));
  killed = true;
  await kill();
  await Promise.all(writers);
  if (errors.length > 0) throw errors[0];
  return acks;
}

function sorted(map: ReadonlyMap<string, string>): [string, string][] {
  return [...map].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/**
 * Checks a restarted server against `ledger` (with vitest's `expect`; call it inside a
 * test) and settles every open plan:
 *
 * - a durable-only acknowledgement's receipt is found at the acknowledged position;
 * - an unanswered plan is wholly there or wholly absent, and a retry with its key
 *   replays the original outcome (`replayed` exactly when it was there) or applies it once;
 * - each tenant holds exactly the applied plans, each once, with the acknowledged ids,
 *   and each newly applied plan's edge links its own user and team only.
 *
 * Resolves with how many unanswered plans were found applied and how many absent.
 */
export async function verifyAfterRestart(
  client: EntDbClient,
  ledger: CrashLedger,
  run: CrashRun,
): Promise<{ readonly unansweredPresent: number; readonly unansweredAbsent: number }> {
  // Durable-only acknowledgements: applied during recovery, at the acknowledged position.
  for (const [n, position] of ledger.durable) {
    const plan = crashPlan(n, run.tenants);
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
  const open = [...ledger.unanswered].map((n) => crashPlan(n, run.tenants));
  let unansweredPresent = 0;
  await inPool(open, run.clients, async (plan: CrashPlan) => {
    const team = await nodeByKey(client, plan.tenant, TRACKER.team, TRACKER.teamSlug, plan.slug);
    const user = await nodeByKey(client, plan.tenant, TRACKER.user, TRACKER.userEmail, plan.email);
    const teams = user ? await teamsOfUser(client, plan.tenant, user.id) : [];
    const parts = `team ${team?.id ?? "-"}, user ${user?.id ?? "-"}, edges [${teams.join(",")}]`;
    if (team) unansweredPresent++;
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
  for (const tenant of run.tenants) {
    const expectTeams = new Map<string, string>();
    const expectUsers = new Map<string, string>();
    for (const [n, ids] of ledger.applied) {
      const plan = crashPlan(n, run.tenants);
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
  await inPool(fresh, run.clients, async (n) => {
    const plan = crashPlan(n, run.tenants);
    const ids = ledger.applied.get(n);
    if (!ids) throw new Error(`plan ${n} is not applied`);
    expect(await teamsOfUser(client, plan.tenant, ids.userId), `plan ${n}`).toEqual([ids.teamId]);
  });
  return { unansweredPresent, unansweredAbsent: open.length - unansweredPresent };
}

function tenantFiles(dataDir: string): string[] {
  return readdirSync(join(dataDir, "tenants"))
    .filter((f) => f.endsWith(".sqlite"))
    .sort();
}

/**
 * Checks that a replay into `replayDir` rebuilt the tenants of `dataDir` (with vitest's
 * `expect`; call it inside a test, after both servers stopped): one database per tenant
 * of `run`, the same files in both dirs, and each tenant's canonical dump equal byte
 * for byte (DESIGN.md contract 8).
 */
export function expectSameTenantDumps(dataDir: string, replayDir: string, run: CrashRun): void {
  const files = tenantFiles(dataDir);
  expect(files).toHaveLength(run.tenants.length);
  expect(tenantFiles(replayDir)).toEqual(files);
  for (const f of files) {
    const original = canonicalDump(join(dataDir, "tenants", f));
    const replayed = canonicalDump(join(replayDir, "tenants", f));
    expect(replayed === original, `canonical dump of ${f}`).toBe(true);
  }
}
