/**
 * A `Subscribe` stream on a server of a cluster that stops serving its tenant
 * (docs/kafka.md "Several servers"): two real `entdb serve --cluster` processes on a topic
 * of 4 partitions of a real single-node broker of this file's own, with a heartbeat
 * (`ENTDB_SUBSCRIBER_HEARTBEAT_MS`) of two minutes. A third server joining starts a
 * rebalance; the stream at the server that owned the tenant ends then, with the answer a
 * new call gets (UNAVAILABLE during the rebalance, the redirect once the tenant has an
 * owner), not at its next heartbeat.
 */

import { randomInt } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { entDbClient } from "../e2e/e2e-helpers.ts";
import { REPO_ROOT, removeDataDir, type ServerProcess } from "../e2e/server-process.ts";
import { type KafkaCluster, startKafkaCluster } from "../infra/kafka-cluster.ts";
import {
  clusterMember,
  type Member,
  startClusterMember,
  tenantsPerPartition,
  waitForOwners,
} from "./cluster-servers.ts";
import { freshTopicName, type KafkaServeTopic } from "./kafka-serve.ts";

const PARTITIONS = 4;
const SESSION_TIMEOUT_MS = 6_000;
const HEARTBEAT_MS = 120_000;
const TENANTS = tenantsPerPartition(1, PARTITIONS);

const dir = join(REPO_ROOT, ".tmp", `kafka-cluster-subscribe-${process.pid}`);
let kafka: KafkaCluster | undefined;
let topic: KafkaServeTopic;
const members: Member[] = [];
const servers: ServerProcess[] = [];

beforeAll(async () => {
  kafka = await startKafkaCluster({ nodes: 1, dir, fresh: true, port: randomInt(21_000, 29_000) });
  topic = {
    brokers: kafka.brokers,
    topic: freshTopicName("cluster-subscribe"),
    partitions: PARTITIONS,
  };
}, 330_000);

afterAll(async () => {
  for (const server of servers) await server.kill();
  for (const m of members) removeDataDir(m.dataDir);
  await kafka?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

async function start(name: string): Promise<Member> {
  const m = await clusterMember(name);
  members.push(m);
  servers.push(
    await startClusterMember(m, topic, SESSION_TIMEOUT_MS, [], {
      env: { ENTDB_SUBSCRIBER_HEARTBEAT_MS: String(HEARTBEAT_MS) },
    }),
  );
  return m;
}

describe("Subscribe on a server of a cluster", () => {
  it("ends when the server stops serving the tenant, not at the next heartbeat", async () => {
    const a = await start("a");
    const b = await start("b");
    const owners = await waitForOwners([a, b], TENANTS, 60_000);
    const tenant = TENANTS.find((t) => owners.get(t) === a.url)!;

    const abort = new AbortController();
    const stream = entDbClient({ url: a.url }).subscribe({ tenant }, { signal: abort.signal });
    const responses = stream[Symbol.asyncIterator]();
    const first = await responses.next();
    expect(first.done).toBe(false);
    // The rest of the stream: how it ends, and when.
    const joining = Date.now();
    const ended = (async () => {
      try {
        // Only checkpoints: nothing is written.
        while (!(await responses.next()).done) {}
        return { ms: Date.now() - joining, code: undefined };
      } catch (err) {
        return { ms: Date.now() - joining, code: ConnectError.from(err).code };
      }
    })();
    // A third server joins: the group rebalances, and A stops serving while it does.
    await start("c");
    const { ms, code } = await ended;
    abort.abort();
    console.log(`cluster-subscribe: the stream at A ended ${ms} ms after C began to start`);
    expect([Code.Unavailable, Code.FailedPrecondition]).toContain(code);
    // Far below the two-minute heartbeat, the only other end of a quiet stream.
    expect(ms).toBeLessThan(HEARTBEAT_MS / 2);
  }, 240_000);
});
