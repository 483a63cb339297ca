/**
 * `entdb schema push` against a real `entdb serve` taking writes: a compatible version
 * (a new field, node type, edge type, index and searchable field) is served live with no
 * failed or lost write and its typed service answers without a restart; a breaking one
 * is refused with its findings and changes nothing; `entdb schema history` lists the
 * versions; a restart with the old `--schema` file keeps the pushed version; and a replay
 * of the log into an empty data dir gives the same tenant databases.
 */

import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import { tenantFileName } from "../../server/store/tenant-id.ts";
import {
  connectError,
  countNodes,
  entDbClient,
  runCommand,
  str,
  TRACKER,
  teamOp,
} from "./e2e-helpers.ts";
import {
  REPO_ROOT,
  removeDataDir,
  type ServerProcess,
  startServerProcess,
  tempDataDir,
} from "./server-process.ts";

const tracker = readFileSync(join(REPO_ROOT, "examples", "tracker", "schema.entdb"), "utf8");
const TEAM_DESCRIPTION = "  description: string = 3 [searchable];\n";
const LAST_EDGE = "edge Watches = 104 from User to Task [inverse = watchers];\n";
const TEAM_COLOR = 4;
const TEAM_MOTTO = 5;
const LABEL = 20;
const TENANTS = ["live-a", "live-b"];

let dir: string;
let dataDir: string;
let v1: string;
let v2: string;
let v3: string;
let v4: string;
let server: ServerProcess | undefined;

beforeAll(async () => {
  if (!tracker.includes(TEAM_DESCRIPTION) || !tracker.includes(LAST_EDGE))
    throw new Error("the tracker example changed");
  dir = mkdtempSync(join(tmpdir(), "entdb-push-"));
  dataDir = tempDataDir("entdb-push-data-");
  const write = (name: string, text: string) => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  v1 = write("v1.entdb", tracker);
  // Compatible: an index on an existing field, a new indexed field, a new searchable
  // field, a new node type and a new edge type.
  const v2Text = tracker
    .replace(
      TEAM_DESCRIPTION,
      "  description: string = 3 [searchable, index];\n  color: string = 4 [index];\n  motto: string = 5 [searchable];\n",
    )
    .replace(
      LAST_EDGE,
      `${LAST_EDGE}\nnode Label = 20 {\n  name: string = 1 [required, unique];\n}\n\nedge Tagged = 120 from Task to Label;\n`,
    );
  v2 = write("v2.entdb", v2Text);
  // Breaking: Team.description changes kind.
  v3 = write(
    "v3.entdb",
    v2Text.replace("  description: string = 3 [searchable, index];\n", "  description: int = 3;\n"),
  );
  // Breaking only by FIELD_REMOVED: Team.motto removed without reserving its id.
  v4 = write("v4.entdb", v2Text.replace("  motto: string = 5 [searchable];\n", ""));
  server = await startServerProcess({ schema: v1, dataDir });
}, 60_000);

afterAll(async () => {
  if (server) await server.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  if (dataDir) removeDataDir(dataDir);
});

function live(): ServerProcess {
  if (!server) throw new Error("the server is not running");
  return server;
}

function entdb(args: readonly string[]) {
  const { ENTDB_TOKEN: _t, ENTDB_URL: _u, ...env } = process.env;
  return runCommand(process.execPath, [join(REPO_ROOT, "bin", "entdb.ts"), ...args], {
    cwd: dir,
    env: { ...env, NO_COLOR: "1" },
    timeout: 60_000,
  });
}

/** Writes Teams into every tenant until `stop` resolves; counts the acknowledged ones. */
async function writeUntil(stop: Promise<void>) {
  const api = entDbClient(live(), { httpVersion: "2" });
  let stopped = false;
  void stop.then(() => {
    stopped = true;
  });
  const acked = new Map(TENANTS.map((t) => [t, 0]));
  const failures: string[] = [];
  const versions = new Set<number>();
  await Promise.all(
    TENANTS.flatMap((tenant) =>
      [0, 1].map(async (writer) => {
        for (let i = 0; !stopped; i++) {
          const slug = `w${writer}-${i}`;
          try {
            const res = await api.executePlan({ tenant, operations: [teamOp(slug, slug)] });
            versions.add(res.receipt?.schemaVersion ?? 0);
            acked.set(tenant, (acked.get(tenant) ?? 0) + 1);
          } catch (err) {
            failures.push(`${tenant} ${slug}: ${String(err)}`);
          }
        }
      }),
    ),
  );
  return { acked, failures, versions };
}

/** The schema objects of a stopped or running tenant's database file. */
function schemaObjects(tenant: string): Map<string, string> {
  const db = new Database(join(dataDir, "tenants", tenantFileName(tenant)), { readonly: true });
  try {
    const rows = db
      .prepare("SELECT name, sql FROM sqlite_master WHERE name LIKE 'ix_n2_%' OR name = 'fts_n2'")
      .all() as { name: string; sql: string }[];
    return new Map(rows.map((r) => [r.name, r.sql]));
  } finally {
    db.close();
  }
}

describe("entdb schema push", () => {
  it("serves a compatible version live under concurrent writes, with no failed or lost write", async () => {
    let release = (): void => {};
    const stop = new Promise<void>((resolve) => {
      release = resolve;
    });
    const writing = writeUntil(stop);
    await new Promise((r) => setTimeout(r, 300));
    const push = await entdb(["schema", "push", v2, "--url", live().url]);
    await new Promise((r) => setTimeout(r, 300));
    release();
    const { acked, failures, versions } = await writing;

    expect(push.stderr).toBe("");
    expect(push.stdout).toContain("safe[FIELD_ADDED]");
    expect(push.stdout).toContain(
      "safe[NODE_ADDED] v2.entdb:123:1: Node type 'Label' (id 20) was added.",
    );
    expect(push.stdout).toContain(
      "safe[EDGE_ADDED] v2.entdb:127:1: Edge type 'Tagged' (id 120) was added.",
    );
    expect(push.stdout).toMatch(
      new RegExp(
        `\\npushed: ${live().url} serves schema version 2 \\(fingerprint sha256:[0-9a-f]{64}\\) at log position \\d+:\\d+\\n$`,
      ),
    );
    expect(push.code).toBe(0);
    expect(failures).toEqual([]);
    // Writes were acknowledged under both versions: the push happened while they ran.
    expect([...versions].sort()).toEqual([1, 2]);
    const api = entDbClient(live());
    for (const tenant of TENANTS) {
      expect(acked.get(tenant)).toBeGreaterThan(0);
      expect(await countNodes(api, tenant)).toBe(acked.get(tenant));
    }
    expect((await api.getSchema({})).version).toBe(2);
  }, 120_000);

  it("answers the new typed service and takes the new fields, without a restart", async () => {
    const res = await fetch(`${live().url}/acme.tracker.LabelService/Create`, {
      method: "POST",
      headers: { "content-type": "application/json", "entdb-tenant": TENANTS[0] ?? "" },
      body: JSON.stringify({ fields: { name: "urgent" } }),
    });
    expect(res.status).toBe(200);
    const created = (await res.json()) as { node: { id: string; fields: { name: string } } };
    expect(created.node.fields.name).toBe("urgent");
    // GetSchema's descriptor, which reflection and clients read, follows too.
    const described = await entDbClient(live()).getSchema({});
    expect(Buffer.from(described.fileDescriptorSet).toString("latin1")).toContain("LabelService");

    const api = entDbClient(live());
    const made = await api.executePlan({
      tenant: TENANTS[0] ?? "",
      operations: [
        {
          op: {
            case: "createNode",
            value: {
              typeId: TRACKER.team,
              fields: {
                [TRACKER.teamName]: str("Core"),
                [TRACKER.teamSlug]: str("core"),
                [TEAM_COLOR]: str("blue"),
                [TEAM_MOTTO]: str("ship it"),
              },
            },
          },
        },
      ],
    });
    expect(made.receipt?.schemaVersion).toBe(2);
    const node = await api.getNode({
      tenant: TENANTS[0] ?? "",
      typeId: TRACKER.team,
      id: made.results[0]?.id ?? "",
    });
    expect(node.node?.fields[TEAM_COLOR]?.kind).toEqual({ case: "stringValue", value: "blue" });
    const label = await api.getNode({
      tenant: TENANTS[0] ?? "",
      typeId: LABEL,
      id: created.node.id,
    });
    expect(label.node?.typeId).toBe(LABEL);

    // The tenant's database follows: the new indexes and the full-text table with the motto.
    const objects = schemaObjects(TENANTS[0] ?? "");
    expect([...objects.keys()].sort()).toEqual(["fts_n2", "ix_n2_f3", "ix_n2_f4"]);
    expect(objects.get("fts_n2")).toContain("f5");
  }, 60_000);

  it("refuses a breaking version with its findings, and changes nothing", async () => {
    const before = readdirSync(join(dataDir, "schemas")).sort();
    const run = await entdb(["schema", "push", v3, "--url", live().url]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("breaking[FIELD_KIND_CHANGED] v3.entdb:48:3:");
    expect(run.stdout).toContain(
      `error: v3.entdb is not compatible with ${live().url} (schema version 2) (1 breaking, 0 allowed, 0 safe)\n`,
    );
    expect(run.stderr).toBe(
      "error: the server refused the push: 1 breaking rule(s) (FIELD_KIND_CHANGED) against schema version 2. Nothing was changed. Make the change compatible, or pass --allow RULE for each rule it may break.\n",
    );
    expect(readdirSync(join(dataDir, "schemas")).sort()).toEqual(before);
    expect((await entDbClient(live()).getSchema({})).version).toBe(2);
  }, 60_000);

  it("lists the versions with fingerprint, time and principal", async () => {
    const run = await entdb(["schema", "history", "--url", live().url]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("version\tfingerprint\tregistered\tprincipal");
    expect(lines[1]).toMatch(/^1\tsha256:[0-9a-f]{64}\t\d{4}-\d\d-\d\dT[\d:.]+Z\tserver$/);
    expect(lines[2]).toMatch(/^2\tsha256:[0-9a-f]{64}\t\d{4}-\d\d-\d\dT[\d:.]+Z\tdev$/);
    expect(lines).toHaveLength(3);
  }, 60_000);

  it("refuses what is not a compatible schema before comparing, and never goes back", async () => {
    const api = entDbClient(live());
    const broken = await connectError(api.pushSchema({ source: "node Team = 2 {\n" }));
    expect(broken.code).toBe(Code.InvalidArgument);
    expect(broken.rawMessage).toMatch(/^The schema does not compile:\nerror\[E\d+\]/);
    const rule = await connectError(
      api.pushSchema({ source: readFileSync(v2, "utf8"), allow: ["FIELD_GONE"] }),
    );
    expect(rule.code).toBe(Code.InvalidArgument);
    expect(rule.rawMessage).toBe(
      "`allow` names 'FIELD_GONE', which is not a compatibility rule; run 'entdb check --help' for the list.",
    );
    const back = await connectError(api.pushSchema({ source: readFileSync(v1, "utf8") }));
    expect(back.code).toBe(Code.FailedPrecondition);
    expect(back.rawMessage).toContain("not compatible with version 2");
    const same = await api.pushSchema({ source: readFileSync(v2, "utf8") });
    expect(same).toMatchObject({ version: 2, changed: false });
    expect((await api.getSchema({})).version).toBe(2);
  }, 60_000);

  it("takes a breaking change only when --allow names its rule, and records the rule", async () => {
    const refused = await entdb(["schema", "push", v4, "--url", live().url]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain("breaking[FIELD_REMOVED]");
    const pushed = await entdb([
      "schema",
      "push",
      v4,
      "--url",
      live().url,
      "--allow",
      "FIELD_REMOVED",
    ]);
    expect(pushed.stderr).toBe("");
    expect(pushed.code).toBe(0);
    expect(pushed.stdout).toContain("allowed[FIELD_REMOVED]");
    expect(pushed.stdout).toContain(`pushed: ${live().url} serves schema version 3`);
    const history = await entdb(["schema", "history", "--url", live().url]);
    expect(history.stdout.trimEnd().split("\n")[3]).toMatch(
      /^3\tsha256:[0-9a-f]{64}\t\S+Z\tdev\tallowed FIELD_REMOVED$/,
    );
  }, 60_000);

  it("keeps serving the pushed version after a restart with the old --schema file", async () => {
    await live().stop();
    server = await startServerProcess({ schema: v1, dataDir });
    const api = entDbClient(live());
    expect((await api.getSchema({})).version).toBe(3);
    expect(live().logs()).toContain("the --schema file is an older version");
    const res = await fetch(`${live().url}/acme.tracker.LabelService/Query`, {
      method: "POST",
      headers: { "content-type": "application/json", "entdb-tenant": TENANTS[0] ?? "" },
      body: "{}",
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { nodes: unknown[] }).nodes).toHaveLength(1);
  }, 60_000);

  it("replays the log into an empty data dir to the same tenant databases", async () => {
    expect(await live().stop()).toBe(0);
    server = undefined;
    const dumps = (d: string) =>
      new Map(TENANTS.map((t) => [t, canonicalDump(join(d, "tenants", tenantFileName(t)))]));
    const expected = dumps(dataDir);
    const replayDir = tempDataDir("entdb-push-replay-");
    try {
      for (const name of readdirSync(dataDir).filter((n) => n.startsWith("wal.sqlite")))
        cpSync(join(dataDir, name), join(replayDir, name));
      const replay = await startServerProcess({ schema: v1, dataDir: replayDir });
      const api = entDbClient(replay);
      expect((await api.getSchema({})).version).toBe(3);
      for (const tenant of TENANTS) {
        await api.queryNodes({ tenant, typeId: TRACKER.team, limit: 1 });
      }
      expect(await replay.stop()).toBe(0);
      expect(dumps(replayDir)).toEqual(expected);
    } finally {
      removeDataDir(replayDir);
    }
  }, 120_000);
});
