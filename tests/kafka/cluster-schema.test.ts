import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import { tenantFileName } from "../../server/store/tenant-id.ts";
import { connectError, entDbClient, str, TRACKER } from "../e2e/e2e-helpers.ts";
import {
  REPO_ROOT,
  type ServerProcess,
  startServerProcess,
  tempDataDir,
} from "../e2e/server-process.ts";
import {
  clusterMember,
  type Member,
  startClusterMember,
  tenantsPerPartition,
  useClusterTopic,
  waitForOwners,
} from "./cluster-servers.ts";
import { kafkaServeEnv } from "./kafka-serve.ts";

const PARTITIONS = 4;
const SESSION_TIMEOUT_MS = 6_000;
const TENANTS = tenantsPerPartition(1, PARTITIONS);

const tracker = readFileSync(join(REPO_ROOT, "examples", "tracker", "schema.entdb"), "utf8");
const TEAM_DESCRIPTION = "  description: string = 3 [searchable];\n";
const LAST_EDGE = "edge Watches = 104 from User to Task [inverse = watchers];\n";
const TEAM_COLOR = 4;
const LABEL = 20;
/** Compatible with the tracker: a new indexed field and a new node type. */
const V2 = tracker
  .replace(TEAM_DESCRIPTION, `${TEAM_DESCRIPTION}  color: string = 4 [index];\n`)
  .replace(
    LAST_EDGE,
    `${LAST_EDGE}\nnode Label = 20 {\n  name: string = 1 [required, unique];\n}\n`,
  );
/** Breaking against V2: Team.description changes kind. */
const BREAKING = V2.replace(TEAM_DESCRIPTION, "  description: int = 3;\n");
/** Two compatible successors of V2 that are not compatible with each other. */
const RACE_A = V2.replace(TEAM_DESCRIPTION, `${TEAM_DESCRIPTION}  motto: string = 5;\n`);
const RACE_B = V2.replace(TEAM_DESCRIPTION, `${TEAM_DESCRIPTION}  motto: int = 5;\n`);

const cluster = useClusterTopic("cluster-schema", PARTITIONS);

beforeAll(() => {
  if (!tracker.includes(TEAM_DESCRIPTION) || !tracker.includes(LAST_EDGE))
    throw new Error("the tracker example changed");
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function member(name: string): Promise<Member> {
  const m = await clusterMember(name);
  cluster.dataDirs.push(m.dataDir);
  return m;
}

async function start(m: Member, schema?: string): Promise<ServerProcess> {
  const server = await startClusterMember(m, cluster.topic, SESSION_TIMEOUT_MS, [], {
    ...(schema ? { schema } : {}),
  });
  cluster.servers.push(server);
  return server;
}

/** The schema version `url` serves, once it is `version` (or the last one seen at the deadline). */
async function servedVersion(url: string, version: number): Promise<number> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const served = (await entDbClient({ url }).getSchema({})).version;
    if (served === version || Date.now() > deadline) return served;
    await sleep(100);
  }
}

/** Creates a Team with a color in `tenant` at its owner `url`; its id and receipt version. */
async function writeColored(url: string, tenant: string, color: string) {
  const made = await entDbClient({ url }).executePlan({
    tenant,
    idempotencyKey: `${tenant}-${color}`,
    operations: [
      {
        op: {
          case: "createNode",
          value: {
            typeId: TRACKER.team,
            fields: {
              [TRACKER.teamName]: str(color),
              [TRACKER.teamSlug]: str(color),
              [TEAM_COLOR]: str(color),
            },
          },
        },
      },
    ],
  });
  return { id: made.results[0]?.id ?? "", version: made.receipt?.schemaVersion };
}

/** The color of Team `id` in `tenant` at `url`. */
async function colorOf(url: string, tenant: string, id: string) {
  const got = await entDbClient({ url }).getNode({ tenant, typeId: TRACKER.team, id });
  return got.node?.fields[TEAM_COLOR]?.kind;
}

/** Creates a Label through the new version's typed service at `url`. */
async function createLabel(url: string, tenant: string, name: string) {
  const res = await fetch(`${url}/acme.tracker.LabelService/Create`, {
    method: "POST",
    headers: { "content-type": "application/json", "entdb-tenant": tenant },
    body: JSON.stringify({ fields: { name } }),
  });
  return { status: res.status, body: (await res.json()) as { node?: { id: string } } };
}

describe("PushSchema on a cluster", () => {
  it("reaches every server, gates like one server, orders racing pushes, survives a failover and replays the same", async () => {
    const a = await member("a");
    const b = await member("b");
    await start(a);
    let serverB = await start(b);
    const owners = await waitForOwners([a, b], TENANTS, 60_000);
    const byServer = (url: string) => TENANTS.filter((t) => owners.get(t) === url);
    expect(byServer(a.url)).toHaveLength(2);
    expect(byServer(b.url)).toHaveLength(2);
    const clientA = entDbClient({ url: a.url });
    const clientB = entDbClient({ url: b.url });

    // V2 pushed through A reaches B, which owns no partition A logged in.
    const pushed = await clientA.pushSchema({ source: V2, path: "v2.entdb" });
    expect(pushed.version).toBe(2);
    expect(pushed.changed).toBe(true);
    expect((await clientA.getSchema({})).version).toBe(2);
    expect(await servedVersion(b.url, 2), serverB.logs()).toBe(2);
    const history = await clientB.listSchemaVersions({});
    expect(history.versions.map((v) => [v.version, v.principal])).toEqual([
      [1, "server"],
      [2, "dev"],
    ]);
    expect(history.versions[1]?.fingerprint).toBe(pushed.fingerprint);

    // The same schema again: a no-op on either server.
    const again = await clientB.pushSchema({ source: V2, path: "v2.entdb" });
    expect([again.version, again.changed]).toEqual([2, false]);

    // A breaking push is refused with its findings and changes nothing on either server.
    const refused = await connectError(clientA.pushSchema({ source: BREAKING, path: "v3.entdb" }));
    expect(refused.code).toBe(Code.FailedPrecondition);
    expect(refused.rawMessage).toMatch(/^The schema is not compatible with version 2 /);
    for (const m of [a, b]) {
      const versions = await entDbClient({ url: m.url }).listSchemaVersions({});
      expect(versions.versions.map((v) => v.version)).toEqual([1, 2]);
      expect(readdirSync(join(m.dataDir, "schemas")).sort()).toEqual([
        "v000001.info.json",
        "v000001.lock.json",
        "v000002.info.json",
        "v000002.lock.json",
      ]);
    }

    // The new field and the new type, written and read on tenants of both servers.
    const colored = new Map<string, string>();
    for (const tenant of TENANTS) {
      const owner = owners.get(tenant)!;
      const made = await writeColored(owner, tenant, "blue");
      expect(made.version).toBe(2);
      expect(await colorOf(owner, tenant, made.id)).toEqual({ case: "stringValue", value: "blue" });
      colored.set(tenant, made.id);
      const label = await createLabel(owner, tenant, "urgent");
      expect(label.status).toBe(200);
      const got = await entDbClient({ url: owner }).getNode({
        tenant,
        typeId: LABEL,
        id: label.body.node?.id ?? "",
      });
      expect(got.node?.typeId).toBe(LABEL);
    }

    // Two pushes racing through A and B: one version 3, both servers serve it.
    const raced = await Promise.allSettled([
      clientA.pushSchema({ source: RACE_A, path: "race-a.entdb" }),
      clientB.pushSchema({ source: RACE_B, path: "race-b.entdb" }),
    ]);
    const won = raced.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const lost = raced.flatMap((r) =>
      r.status === "rejected" ? [ConnectError.from(r.reason)] : [],
    );
    expect(won.map((w) => [w.version, w.changed])).toEqual([[3, true]]);
    expect(lost).toHaveLength(1);
    expect([Code.Aborted, Code.FailedPrecondition]).toContain(lost[0]!.code);
    console.log(
      `cluster-schema: the losing push answered ${Code[lost[0]!.code]}: ${lost[0]!.rawMessage}`,
    );
    for (const m of [a, b]) {
      expect(await servedVersion(m.url, 3)).toBe(3);
      expect((await entDbClient({ url: m.url }).getSchema({})).fingerprint).toBe(
        won[0]!.fingerprint,
      );
    }

    // kill -9 of B: A takes B's tenants, applies them with the pushed versions and writes them.
    await serverB.kill();
    cluster.servers.splice(cluster.servers.indexOf(serverB), 1);
    await waitForOwners([a], TENANTS, 60_000);
    for (const tenant of byServer(b.url)) {
      expect(await colorOf(a.url, tenant, colored.get(tenant)!)).toEqual({
        case: "stringValue",
        value: "blue",
      });
      const made = await writeColored(a.url, tenant, "green");
      expect(made.version).toBe(3);
    }

    // B restarted with its old --schema file (the tracker's): serves version 3 and its tenants.
    serverB = await start(b);
    expect(await waitForOwners([a, b], TENANTS, 60_000)).toEqual(owners);
    expect((await clientB.getSchema({})).version).toBe(3);
    for (const tenant of byServer(b.url)) {
      const made = await writeColored(b.url, tenant, "red");
      expect(made.version).toBe(3);
      expect(await colorOf(b.url, tenant, made.id)).toEqual({ case: "stringValue", value: "red" });
      expect(
        (await createLabel(b.url, tenant, "later")).status,
        `a Label in ${tenant} at the restarted B`,
      ).toBe(200);
    }

    // B restarted with a new compatible --schema file: registered as version 4 on both.
    const winner = raced[0]?.status === "fulfilled" ? RACE_A : RACE_B;
    const v4 = join(cluster.dir, "v4.entdb");
    writeFileSync(v4, winner.replace(TEAM_DESCRIPTION, `${TEAM_DESCRIPTION}  size: int = 6;\n`));
    expect(await serverB.stop()).toBe(0);
    cluster.servers.splice(cluster.servers.indexOf(serverB), 1);
    serverB = await start(b, v4);
    expect((await clientB.getSchema({})).version).toBe(4);
    expect(await servedVersion(a.url, 4)).toBe(4);
    expect(await waitForOwners([a, b], TENANTS, 60_000)).toEqual(owners);

    // Each tenant at its owner equals a single server's replay of the topic from nothing.
    for (const server of cluster.servers.splice(0)) expect(await server.stop()).toBe(0);
    const replayDir = tempDataDir("entdb-cluster-schema-replay-");
    cluster.dataDirs.push(replayDir);
    const replay = await startServerProcess({
      dataDir: replayDir,
      env: kafkaServeEnv(cluster.topic),
      readyTimeoutMs: 60_000,
    });
    cluster.servers.push(replay);
    expect(await replay.stop()).toBe(0);
    cluster.servers.pop();
    for (const tenant of TENANTS) {
      const ownerDir = owners.get(tenant) === a.url ? a.dataDir : b.dataDir;
      const file = tenantFileName(tenant);
      expect(canonicalDump(join(ownerDir, "tenants", file))).toBe(
        canonicalDump(join(replayDir, "tenants", file)),
      );
    }
    expect(readdirSync(join(replayDir, "schemas")).filter((f) => f.endsWith(".lock.json"))).toEqual(
      ["v000001.lock.json", "v000002.lock.json", "v000003.lock.json", "v000004.lock.json"],
    );
  }, 300_000);
});
