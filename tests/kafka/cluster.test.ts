/**
 * Several `entdb serve` processes over one Kafka log (`--cluster`, docs/kafka.md "Several
 * servers"): two real servers on a topic of 4 partitions of a real single-node broker of
 * this file's own, each owning the tenants of two partitions.
 *
 * - A client pointed at one server reads and writes every tenant: the runtime follows the
 *   other server's redirects and remembers the owner.
 * - The raw Connect protocol (fetch) sees the redirect: FAILED_PRECONDITION, the owner's
 *   URL in the `entdbcluster.v1.TenantOwner` detail and in the `entdb-tenant-owner` header.
 * - A browser app on an allowed origin can read the owner's header (CORS exposes it).
 * - `kill -9` of one server under writers: after the group's session timeout (6 s here) the
 *   other is assigned its partitions, catches their tenants up from the log and serves
 *   them; every acknowledged write is there exactly once. Restarted on its data dir, the
 *   killed server gets its partitions back and catches up from its own checkpoint.
 * - A wait at the surviving server (a position not applied yet) ends at the rebalance
 *   with UNAVAILABLE, as a new call then answers, instead of running to its timeout.
 * - Each tenant's canonical dump at its owner equals a single server's replay of the
 *   topic from offset 0, byte for byte.
 */

import { randomInt } from "node:crypto";
import { cpSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EntDbClientCore } from "../../runtime/client-core.ts";
import { createNodeTransport } from "../../runtime/node.ts";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import { tenantFileName } from "../../server/store/tenant-id.ts";
import { partitionForTenant } from "../../server/wal/partition.ts";
import { connectError, entDbClient, TRACKER, teamOp } from "../e2e/e2e-helpers.ts";
import {
  REPO_ROOT,
  removeDataDir,
  type ServerProcess,
  startServerProcess,
  tempDataDir,
} from "../e2e/server-process.ts";
import { type KafkaCluster, startKafkaCluster } from "../infra/kafka-cluster.ts";
import {
  clusterMember,
  type Member,
  rawQuery,
  startClusterMember,
  tenantsPerPartition,
  waitForOwners,
} from "./cluster-servers.ts";
import { applierLag, freshTopicName, type KafkaServeTopic, kafkaServeEnv } from "./kafka-serve.ts";

const PARTITIONS = 4;
const SESSION_TIMEOUT_MS = 6_000;
/** A browser app's origin the servers allow (`--cors-origins`). */
const APP_ORIGIN = "https://app.example";
/** Two tenants per partition, so each server owns four. */
const TENANTS = tenantsPerPartition(2, PARTITIONS);

const dir = join(REPO_ROOT, ".tmp", `kafka-cluster-${process.pid}`);
let kafka: KafkaCluster | undefined;
let topic: KafkaServeTopic;
const dataDirs: string[] = [];
const servers: ServerProcess[] = [];

async function member(name: string): Promise<Member> {
  const m = await clusterMember(name);
  dataDirs.push(m.dataDir);
  return m;
}

async function startMember(m: Member): Promise<ServerProcess> {
  const server = await startClusterMember(m, topic, SESSION_TIMEOUT_MS, [
    "--cors-origins",
    APP_ORIGIN,
  ]);
  servers.push(server);
  return server;
}

beforeAll(async () => {
  kafka = await startKafkaCluster({ nodes: 1, dir, fresh: true, port: randomInt(21_000, 29_000) });
  topic = { brokers: kafka.brokers, topic: freshTopicName("cluster"), partitions: PARTITIONS };
}, 330_000);

afterAll(async () => {
  for (const server of servers) await server.kill();
  for (const d of dataDirs) removeDataDir(d);
  await kafka?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The ids of the Teams in `tenant`, through `client`. */
/** Every Team of `tenant`, page by page (a fast machine writes more than a page of 1,000). */
async function teamIds(client: EntDbClientCore, tenant: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor = "";
  do {
    const page = await client
      .withTenant(tenant)
      .queryNodes({ typeId: TRACKER.team, limit: 1000, cursor });
    ids.push(...page.nodes.map((n) => n.id));
    cursor = page.nextCursor;
  } while (cursor !== "");
  return ids.sort();
}

/** Writes a Team under `key` until it is acknowledged (the same key every time); its id. */
async function writeUntilAcknowledged(
  client: EntDbClientCore,
  tenant: string,
  key: string,
  deadline: number,
): Promise<string> {
  for (;;) {
    try {
      const result = await client
        .withTenant(tenant)
        .executePlan([teamOp(key, key)], { idempotencyKey: key });
      return result.results[0]!.id;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

describe("two entdb serve processes in one cluster", () => {
  it("split the partitions, redirect, fail over after a kill -9, take a restarted server back, and match a single server's replay", async () => {
    const a = await member("a");
    const b = await member("b");
    await startMember(a);
    let serverB = await startMember(b);
    const owners = await waitForOwners([a, b], TENANTS, 30_000);
    // The assigner sorts members by URL: each owns two whole partitions.
    const byServer = (url: string) => TENANTS.filter((t) => owners.get(t) === url);
    expect(byServer(a.url)).toHaveLength(4);
    expect(byServer(b.url)).toHaveLength(4);
    for (const tenant of TENANTS) {
      const sameOwner = TENANTS.filter(
        (t) => partitionForTenant(t, PARTITIONS) === partitionForTenant(tenant, PARTITIONS),
      );
      expect(new Set(sameOwner.map((t) => owners.get(t))).size).toBe(1);
    }

    // Each reports the applier's lag of its own partitions only.
    const partitionsOf = (url: string) =>
      [...new Set(byServer(url).map((t) => partitionForTenant(t, PARTITIONS)))].sort();
    expect([...(await applierLag(a.httpPort)).keys()].sort()).toEqual(partitionsOf(a.url));
    expect([...(await applierLag(b.httpPort)).keys()].sort()).toEqual(partitionsOf(b.url));

    // The raw protocol: the owner's URL in the header and the detail, nothing served.
    const elsewhere = byServer(b.url)[0]!;
    const raw = await rawQuery(a.url, elsewhere);
    expect(raw.status).toBe(400);
    expect(raw.owner).toBe(b.url);
    expect(raw.body.code).toBe("failed_precondition");
    expect(raw.body.nodes).toBeUndefined();
    expect(raw.body.details?.[0]?.type).toBe("entdbcluster.v1.TenantOwner");
    expect(raw.body.details?.[0]?.debug).toEqual({ tenant: elsewhere, url: b.url });
    // A browser app reads the owner's header: it is exposed to an allowed origin.
    const preflight = await fetch(`${a.url}/entdb.v1.EntDbService/QueryNodes`, {
      method: "OPTIONS",
      headers: {
        origin: APP_ORIGIN,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,connect-protocol-version",
      },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get("access-control-allow-origin")).toBe(APP_ORIGIN);
    const crossOrigin = await fetch(`${a.url}/entdb.v1.EntDbService/QueryNodes`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: APP_ORIGIN },
      body: JSON.stringify({ tenant: elsewhere, typeId: TRACKER.team }),
    });
    expect(crossOrigin.status).toBe(400);
    expect(crossOrigin.headers.get("access-control-allow-origin")).toBe(APP_ORIGIN);
    expect(crossOrigin.headers.get("entdb-tenant-owner")).toBe(b.url);
    const exposed = (crossOrigin.headers.get("access-control-expose-headers") ?? "")
      .split(",")
      .map((h) => h.trim().toLowerCase());
    expect(exposed).toEqual(expect.arrayContaining(["entdb-tenant-owner", "retry-after"]));
    // The typed services (the tenant in a header) go through the same check.
    const typed = await fetch(`${a.url}/acme.tracker.TeamService/Get`, {
      method: "POST",
      headers: { "content-type": "application/json", "entdb-tenant": elsewhere },
      body: JSON.stringify({ id: "01J00000000000000000000000" }),
    });
    expect(typed.status).toBe(400);
    expect(typed.headers.get("entdb-tenant-owner")).toBe(b.url);
    // A write sent to the wrong server is not logged by it.
    const refused = await connectError(
      entDbClient({ url: a.url }).executePlan({
        tenant: elsewhere,
        idempotencyKey: "sent-to-a",
        operations: [teamOp("x", "x")],
      }),
    );
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(refused.metadata.get("entdb-tenant-owner")).toBe(b.url);

    // A client pointed at A reads and writes every tenant.
    const client = new EntDbClientCore({
      transport: createNodeTransport({ baseUrl: a.url }),
      tenant: TENANTS[0]!,
    });
    const written = new Map<string, string[]>(TENANTS.map((t) => [t, []]));
    for (const tenant of TENANTS) {
      const id = await writeUntilAcknowledged(client, tenant, `${tenant}-first`, Date.now());
      written.get(tenant)!.push(id);
    }
    for (const tenant of TENANTS)
      expect(await teamIds(client, tenant)).toEqual(written.get(tenant));
    expect(await teamIds(client, elsewhere)).toEqual(written.get(elsewhere));

    // gRPC: the redirect is in the trailers, and the transport follows it too.
    const grpc = new EntDbClientCore({
      transport: createNodeTransport({ baseUrl: a.url, protocol: "grpc" }),
      tenant: elsewhere,
    });
    expect((await grpc.queryNodes({ typeId: TRACKER.team })).nodes.map((n) => n.id)).toEqual(
      written.get(elsewhere),
    );

    // A watch of B's tenant through A: a stream, redirected before its first message,
    // and resumed at the new owner after the kill.
    const watching = new AbortController();
    const seen: string[] = [];
    const watch = (async () => {
      for await (const change of client
        .withTenant(elsewhere)
        .watch({ fromStart: true, signal: watching.signal }))
        if (change.kind === "nodeCreated") seen.push(change.nodeId);
    })();

    // kill -9 of B under writers (through A): every acknowledged write is there once.
    let stop = false;
    let killedAt: number | undefined;
    let ackedAfterKill = 0;
    const writers = [0, 1, 2, 3].map(async (w) => {
      for (let i = 0; !stop; i++) {
        const tenant = TENANTS[(i * 4 + w) % TENANTS.length]!;
        const key = `${tenant}-w${w}-${i}`;
        const id = await writeUntilAcknowledged(client, tenant, key, Date.now() + 60_000);
        written.get(tenant)!.push(id);
        if (killedAt !== undefined && owners.get(tenant) === b.url) ackedAfterKill++;
      }
    });
    await sleep(1_000);
    // A wait at A for a position of its own tenant not logged yet: the rebalance that
    // follows the kill ends it with the answer a new call gets, not its 30 s timeout.
    const own = byServer(a.url)[0]!;
    const waitStarted = Date.now();
    const waiting = entDbClient({ url: a.url })
      .waitForPosition({
        tenant: own,
        position: { partition: partitionForTenant(own, PARTITIONS), offset: 1_000_000n },
        timeoutMs: 30_000,
      })
      .then(
        (answer) => ({ answer, ms: Date.now() - waitStarted }),
        (err: unknown) => ({ err: ConnectError.from(err), ms: Date.now() - waitStarted }),
      );
    await serverB.kill();
    servers.splice(servers.indexOf(serverB), 1);
    killedAt = Date.now();
    // Served again once A took B's partitions over: a read of B's tenant through A.
    let failoverMs = 0;
    const meanwhile = new Set<string>();
    for (;;) {
      const answer = await rawQuery(a.url, elsewhere);
      if (answer.status === 200) {
        failoverMs = Date.now() - killedAt;
        break;
      }
      // Until then: the (dead) owner's URL, or no owner during the rebalance.
      if (answer.status === 400) expect(answer.owner).toBe(b.url);
      else {
        expect(answer.status).toBe(503);
        expect(answer.body.code).toBe("unavailable");
        expect(answer.retryAfter).toBe("1");
        expect(answer.body.details?.[0]?.debug).toEqual({ tenant: elsewhere, retryAfterMs: 500 });
      }
      meanwhile.add(String(answer.status));
      expect(Date.now() - killedAt).toBeLessThan(30_000);
      await sleep(100);
    }
    console.log(
      `cluster: A served B's tenants ${failoverMs} ms after B's kill -9 (answered ${[...meanwhile]} before)`,
    );
    expect(meanwhile.has("400")).toBe(true);
    expect(failoverMs).toBeGreaterThanOrEqual(SESSION_TIMEOUT_MS / 2);
    const waited = await waiting;
    console.log(`cluster: A's wait for a position ended ${waited.ms} ms after it began`);
    expect("err" in waited && waited.err.code).toBe(Code.Unavailable);
    expect(waited.ms).toBeLessThan(20_000);
    await sleep(2_000);
    stop = true;
    await Promise.all(writers);
    expect(ackedAfterKill).toBeGreaterThan(0);
    for (const tenant of TENANTS)
      expect(await teamIds(client, tenant)).toEqual(written.get(tenant)!.sort());

    // The watch saw every create of B's tenant once, across the failover.
    const watchDeadline = Date.now() + 20_000;
    while (seen.length < written.get(elsewhere)!.length && Date.now() < watchDeadline)
      await sleep(100);
    watching.abort();
    await watch;
    expect([...seen].sort()).toEqual(written.get(elsewhere));

    // B restarted on its data dir gets its partitions back and catches up from its checkpoint.
    serverB = await startMember(b);
    const after = await waitForOwners([a, b], TENANTS, 30_000);
    expect(after).toEqual(owners);
    for (const tenant of byServer(b.url)) {
      const id = await writeUntilAcknowledged(client, tenant, `${tenant}-back`, Date.now());
      written.get(tenant)!.push(id);
    }
    for (const tenant of TENANTS) {
      const ids = await teamIds(client, tenant);
      expect(ids).toEqual(written.get(tenant)!.sort());
      expect(new Set(ids).size).toBe(ids.length);
    }
    const direct = entDbClient({ url: b.url });
    const served = await direct.queryNodes({
      tenant: elsewhere,
      typeId: TRACKER.team,
      limit: 1000,
    });
    expect(served.nodes.map((n) => n.id).sort()).toEqual(written.get(elsewhere));

    // Each tenant at its owner is byte-identical to a single server's replay of the topic.
    for (const server of servers.splice(0)) expect(await server.stop()).toBe(0);
    const replayDir = tempDataDir("entdb-cluster-replay-");
    dataDirs.push(replayDir);
    cpSync(join(a.dataDir, "schemas"), join(replayDir, "schemas"), { recursive: true });
    const replay = await startServerProcess({
      dataDir: replayDir,
      env: kafkaServeEnv(topic),
      readyTimeoutMs: 60_000,
    });
    servers.push(replay);
    expect(await replay.stop()).toBe(0);
    servers.pop();
    const replayed = readdirSync(join(replayDir, "tenants")).filter((f) => !/-(wal|shm)$/.test(f));
    expect(replayed.sort()).toEqual(TENANTS.map(tenantFileName).sort());
    for (const tenant of TENANTS) {
      const ownerDir = owners.get(tenant) === a.url ? a.dataDir : b.dataDir;
      const file = tenantFileName(tenant);
      expect(canonicalDump(join(ownerDir, "tenants", file))).toBe(
        canonicalDump(join(replayDir, "tenants", file)),
      );
    }
  }, 240_000);
});
