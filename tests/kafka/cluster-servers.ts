/**
 * Servers of one cluster (`entdb serve --cluster`) for the kafka tests: members with
 * fixed ports (so one can be restarted where the others redirect), the raw protocol's
 * answer for a tenant, and which server owns which tenant once the group settled.
 */

import { randomInt } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { partitionForTenant } from "../../server/wal/partition.ts";
import { TRACKER } from "../e2e/e2e-helpers.ts";
import {
  freePort,
  REPO_ROOT,
  removeDataDir,
  type ServerProcess,
  startServerProcess,
  tempDataDir,
} from "../e2e/server-process.ts";
import { type KafkaCluster, startKafkaCluster } from "../infra/kafka-cluster.ts";
import { freshTopicName, type KafkaServeTopic, kafkaServeEnv } from "./kafka-serve.ts";

/** A test file's broker and topic, and what its tests leave for the end to clean up. */
export interface ClusterTopic {
  /** A fresh topic on the file's broker (read it in a test or a hook, once it started). */
  readonly topic: KafkaServeTopic;
  /** The broker's state dir, removed at the end with what a test writes there. */
  readonly dir: string;
  /** The broker itself (a test may stop and start it). */
  readonly broker: KafkaCluster;
  /** Servers killed at the end (a test that stopped one may take it out). */
  readonly servers: ServerProcess[];
  /** Data dirs removed at the end. */
  readonly dataDirs: string[];
}

/**
 * A single-node broker of this file's own (`.tmp/kafka-NAME-PID`, a random port) with a
 * fresh topic of `partitions`, started before the file's tests; after them its servers
 * are killed, its data dirs removed and the broker stopped.
 */
export function useClusterTopic(name: string, partitions: number): ClusterTopic {
  const dir = join(REPO_ROOT, ".tmp", `kafka-${name}-${process.pid}`);
  let kafka: KafkaCluster | undefined;
  let topic: KafkaServeTopic | undefined;
  const servers: ServerProcess[] = [];
  const dataDirs: string[] = [];
  beforeAll(async () => {
    kafka = await startKafkaCluster({
      nodes: 1,
      dir,
      fresh: true,
      port: randomInt(21_000, 29_000),
    });
    topic = { brokers: kafka.brokers, topic: freshTopicName(name), partitions };
  }, 330_000);
  afterAll(async () => {
    for (const server of servers) await server.kill();
    for (const d of dataDirs) removeDataDir(d);
    await kafka?.stop();
    rmSync(dir, { recursive: true, force: true });
  }, 60_000);
  return {
    get topic() {
      if (topic === undefined)
        throw new Error("the broker has not started (read the topic in a test)");
      return topic;
    },
    dir,
    get broker() {
      if (kafka === undefined) throw new Error("the broker has not started (use it in a test)");
      return kafka;
    },
    servers,
    dataDirs,
  };
}

/** A cluster member's fixed ports and data dir. */
export interface Member {
  readonly name: string;
  readonly dataDir: string;
  readonly port: number;
  readonly httpPort: number;
  readonly url: string;
}

/** A member's data dir and free ports; the caller removes `dataDir`. */
export async function clusterMember(name: string): Promise<Member> {
  const dataDir = tempDataDir(`entdb-cluster-${name}-`);
  const port = await freePort();
  return {
    name,
    dataDir,
    port,
    httpPort: await freePort(),
    url: `http://127.0.0.1:${port}`,
  };
}

/**
 * Starts `m` in the cluster of `topic` (group `cluster-<topic>`), `args` and `env` added,
 * with the `--schema` file `schema` (default: the tracker example's).
 */
export function startClusterMember(
  m: Member,
  topic: KafkaServeTopic,
  sessionTimeoutMs: number,
  args: readonly string[] = [],
  more: { readonly env?: Readonly<Record<string, string>>; readonly schema?: string } = {},
): Promise<ServerProcess> {
  return startServerProcess({
    dataDir: m.dataDir,
    port: m.port,
    httpPort: m.httpPort,
    ...(more.schema ? { schema: more.schema } : {}),
    env: { ...kafkaServeEnv(topic), ...more.env },
    args: [
      "--cluster",
      `cluster-${topic.topic}`,
      "--advertise",
      m.url,
      "--cluster-session-timeout",
      String(sessionTimeoutMs),
      ...args,
    ],
    readyTimeoutMs: 60_000,
  });
}

/** `count` tenants in each of `partitions` partitions, in partition order. */
export function tenantsPerPartition(count: number, partitions: number): string[] {
  const found: string[][] = Array.from({ length: partitions }, () => []);
  for (let i = 0; found.some((list) => list.length < count); i++) {
    const tenant = `org-${i}`;
    const list = found[partitionForTenant(tenant, partitions)]!;
    if (list.length < count) list.push(tenant);
  }
  return found.flat();
}

/** What a raw Connect JSON call to `url` for `tenant` answers: status, owner header, body. */
export async function rawQuery(url: string, tenant: string) {
  const res = await fetch(`${url}/entdb.v1.EntDbService/QueryNodes`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ tenant, typeId: TRACKER.team, limit: 1000 }),
  });
  return {
    status: res.status,
    owner: res.headers.get("entdb-tenant-owner"),
    retryAfter: res.headers.get("retry-after"),
    body: (await res.json()) as {
      code?: string;
      nodes?: unknown[];
      details?: {
        type: string;
        debug?: { tenant?: string; url?: string; retryAfterMs?: number };
      }[];
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Which server serves each of `tenants`, once each is served by exactly one and redirected by the others. */
export async function waitForOwners(
  members: readonly Member[],
  tenants: readonly string[],
  timeoutMs: number,
): Promise<Map<string, string>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const owners = new Map<string, string>();
    for (const tenant of tenants) {
      const answers = await Promise.all(members.map((m) => rawQuery(m.url, tenant)));
      const serving = members.filter((_, i) => answers[i]!.status === 200);
      const redirecting = answers.filter((a) => a.owner !== null).map((a) => a.owner);
      if (serving.length === 1 && redirecting.every((o) => o === serving[0]!.url))
        if (redirecting.length === members.length - 1) owners.set(tenant, serving[0]!.url);
    }
    if (owners.size === tenants.length) return owners;
    if (Date.now() > deadline)
      throw new Error(`owners not settled: ${JSON.stringify([...owners])}`);
    await sleep(200);
  }
}
