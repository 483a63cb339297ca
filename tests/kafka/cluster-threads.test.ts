import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  connectError,
  type EntDbClient,
  entDbClient,
  TRACKER,
  teamOp,
} from "../e2e/e2e-helpers.ts";
import type { ServerProcess } from "../e2e/server-process.ts";
import {
  clusterMember,
  type Member,
  rawQuery,
  startClusterMember,
  tenantsPerPartition,
  useClusterTopic,
  waitForOwners,
} from "./cluster-servers.ts";

const PARTITIONS = 4;
const SESSION_TIMEOUT_MS = 6_000;
const TENANTS = tenantsPerPartition(2, PARTITIONS);
/** Connections per protocol: enough that both threads get some (2^-11 that one gets all). */
const CONNECTIONS = 6;
const THREADS = ["--serve-threads", "1"];

const cluster = useClusterTopic("cluster-threads", PARTITIONS);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function start(m: Member): Promise<ServerProcess> {
  const server = await startClusterMember(m, cluster.topic, SESSION_TIMEOUT_MS, THREADS);
  cluster.servers.push(server);
  return server;
}

/** One client per connection: Connect binary over HTTP/2 (the fast path) and gRPC. */
function pool(url: string): EntDbClient[] {
  const clients: EntDbClient[] = [];
  for (let i = 0; i < CONNECTIONS; i++) {
    clients.push(entDbClient({ url }, { protocol: "connect", httpVersion: "2", binary: true }));
    clients.push(entDbClient({ url }, { protocol: "grpc" }));
  }
  return clients;
}

/** Calls each thread answered itself so far, from `/metrics` (thread 0: the main thread). */
async function threadCalls(server: ServerProcess): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^entdb_thread_requests_total\{thread="(\d+)"\} (\d+)$/gm))
    out.set(m[1] ?? "", Number(m[2]));
  return out;
}

/** The Team slugs of `tenant` as `client` reads them. */
async function slugs(client: EntDbClient, tenant: string): Promise<string[]> {
  const page = await client.queryNodes({ tenant, typeId: TRACKER.team, limit: 1000 });
  return page.nodes
    .map((n) => {
      const slug = n.fields[TRACKER.teamSlug]?.kind;
      return slug?.case === "stringValue" ? slug.value : "";
    })
    .sort();
}

/** Reads every tenant of `tenants` on every connection of `clients`; the serving thread must answer some. */
async function readOnBothThreads(
  server: ServerProcess,
  clients: readonly EntDbClient[],
  tenants: readonly string[],
  expected: ReadonlyMap<string, string[]>,
): Promise<void> {
  const before = (await threadCalls(server)).get("1") ?? 0;
  for (const client of clients)
    for (const tenant of tenants) expect(await slugs(client, tenant)).toEqual(expected.get(tenant));
  const after = await threadCalls(server);
  expect(after.get("1") ?? 0, "the serving thread answered reads").toBeGreaterThan(before);
  expect(after.get("0") ?? 0, "the main thread answered calls").toBeGreaterThan(0);
}

/** Every connection of `clients` gets the redirect to `owner` for each of `tenants`. */
async function redirectedEverywhere(
  clients: readonly EntDbClient[],
  tenants: readonly string[],
  owner: string,
): Promise<void> {
  for (const client of clients)
    for (const tenant of tenants) {
      const err = await connectError(slugs(client, tenant));
      expect([err.code, err.metadata.get("entdb-tenant-owner")]).toEqual([
        Code.FailedPrecondition,
        owner,
      ]);
    }
}

describe("a cluster of servers with a serving thread each", () => {
  it("redirects on both threads, fails over, and never serves a partition it gave back", async () => {
    const a = await clusterMember("a");
    const b = await clusterMember("b");
    cluster.dataDirs.push(a.dataDir, b.dataDir);
    const serverA = await start(a);
    let serverB = await start(b);
    const owners = await waitForOwners([a, b], TENANTS, 30_000);
    const ofA = TENANTS.filter((t) => owners.get(t) === a.url);
    const ofB = TENANTS.filter((t) => owners.get(t) === b.url);
    expect([ofA.length, ofB.length]).toEqual([4, 4]);

    // One Team in each tenant, written at its owner.
    const expected = new Map<string, string[]>();
    for (const tenant of TENANTS) {
      const owner = owners.get(tenant) === a.url ? a : b;
      await entDbClient(owner).executePlan({
        tenant,
        idempotencyKey: `${tenant}-first`,
        operations: [teamOp("first", "first")],
      });
      expected.set(tenant, ["first"]);
    }

    const atA = pool(a.url);
    await readOnBothThreads(serverA, atA, ofA, expected);
    await redirectedEverywhere(atA, ofB, b.url);

    // kill -9 of B: A takes B's partitions over and serves them on both threads.
    await serverB.kill();
    cluster.servers.splice(cluster.servers.indexOf(serverB), 1);
    const killedAt = Date.now();
    for (const tenant of ofB) {
      while ((await rawQuery(a.url, tenant)).status !== 200) {
        expect(Date.now() - killedAt).toBeLessThan(30_000);
        await sleep(100);
      }
    }
    for (const tenant of ofB) {
      await atA[0]!.executePlan({
        tenant,
        idempotencyKey: `${tenant}-at-a`,
        operations: [teamOp("at-a", "at-a")],
      });
      expected.set(tenant, ["at-a", "first"]);
    }
    await readOnBothThreads(serverA, atA, [...ofA, ...ofB], expected);

    // B restarted takes its partitions back; A still holds its copies of B's tenants.
    serverB = await start(b);
    expect(await waitForOwners([a, b], TENANTS, 30_000)).toEqual(owners);
    for (const tenant of ofB) {
      await entDbClient(b).executePlan({
        tenant,
        idempotencyKey: `${tenant}-back`,
        operations: [teamOp("back", "back")],
      });
      expected.set(tenant, ["at-a", "back", "first"]);
    }
    await redirectedEverywhere(atA, ofB, b.url);
    await readOnBothThreads(serverA, atA, ofA, expected);
    const atB = pool(b.url);
    await readOnBothThreads(serverB, atB, ofB, expected);
    await redirectedEverywhere(atB, ofA, a.url);
  }, 240_000);
});
