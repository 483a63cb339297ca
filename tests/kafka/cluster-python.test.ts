/**
 * The Python client follows a cluster's redirects (docs/python.md "Several servers"):
 * two real `entdb serve --cluster` processes on a topic of 4 partitions of a real
 * single-node broker of this file's own, and pytest (tests/kafka/python/) runs the
 * generated tracker client, pointed at one of them, against both.
 */

import { execFileSync } from "node:child_process";
import { randomInt } from "node:crypto";
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCommand } from "../e2e/e2e-helpers.ts";
import { REPO_ROOT, removeDataDir, type ServerProcess } from "../e2e/server-process.ts";
import { type KafkaCluster, startKafkaCluster } from "../infra/kafka-cluster.ts";
import { runtimeVenv } from "../python/python-venv.ts";
import {
  clusterMember,
  type Member,
  startClusterMember,
  tenantsPerPartition,
  waitForOwners,
} from "./cluster-servers.ts";
import { freshTopicName, type KafkaServeTopic } from "./kafka-serve.ts";

const PARTITIONS = 4;
const TENANTS = tenantsPerPartition(2, PARTITIONS);

const dir = join(REPO_ROOT, ".tmp", `kafka-cluster-python-${process.pid}`);
let kafka: KafkaCluster | undefined;
let work: string | undefined;
let python: string;
const members: Member[] = [];
const servers: ServerProcess[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "entdb-cluster-python-"));
  python = runtimeVenv(work);
  execFileSync(
    process.execPath,
    [
      join(REPO_ROOT, "bin", "entdb.ts"),
      "generate",
      join(REPO_ROOT, "examples/tracker/schema.entdb"),
      "--out",
      join(work, "ts"),
      "--python",
      join(work, "gen"),
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  cpSync(join(import.meta.dirname, "python"), join(work, "tests"), { recursive: true });
  kafka = await startKafkaCluster({ nodes: 1, dir, fresh: true, port: randomInt(21_000, 29_000) });
  const topic: KafkaServeTopic = {
    brokers: kafka.brokers,
    topic: freshTopicName("cluster-python"),
    partitions: PARTITIONS,
  };
  for (const name of ["a", "b"]) members.push(await clusterMember(name));
  for (const m of members) servers.push(await startClusterMember(m, topic, 6_000));
}, 330_000);

afterAll(async () => {
  for (const server of servers) await server.kill();
  for (const m of members) removeDataDir(m.dataDir);
  await kafka?.stop();
  rmSync(dir, { recursive: true, force: true });
  if (work) rmSync(work, { recursive: true, force: true });
}, 60_000);

describe("the Python client in a cluster", () => {
  it("follows redirects, remembers owners and keeps a plan's key (pytest)", async () => {
    const [a, b] = members as [Member, Member];
    const owners = await waitForOwners(members, TENANTS, 30_000);
    const of = (m: Member) => TENANTS.filter((tenant) => owners.get(tenant) === m.url);
    expect(of(a)).toHaveLength(4);
    expect(of(b)).toHaveLength(4);
    const result = await runCommand(
      python,
      ["-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
      {
        cwd: work!,
        env: {
          ...process.env,
          PYTHONPATH: join(work!, "gen"),
          ENTDB_A_URL: a.url,
          ENTDB_B_URL: b.url,
          ENTDB_A_TENANTS: of(a).join(","),
          ENTDB_B_TENANTS: of(b).join(","),
        },
        timeout: 240_000,
      },
    );
    expect(result.stdout).toMatch(/\b7 passed\b/);
    expect(result.code).toBe(0);
  }, 300_000);
});
