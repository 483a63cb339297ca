/**
 * A field whose kind a pushed version changed (`entdb schema push --allow
 * FIELD_KIND_CHANGED`) against a real `entdb serve`: reading a node that still holds a
 * value of the old kind is FAILED_PRECONDITION naming the type, field, node and both
 * kinds, not INTERNAL; writing the field anew makes the node readable; a value that fits
 * no version's kind (a damaged file) stays INTERNAL.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tenantFileName } from "../../server/store/tenant-id.ts";
import { connectError, entDbClient, runCommand, str, TRACKER, teamOp } from "./e2e-helpers.ts";
import {
  REPO_ROOT,
  removeDataDir,
  type ServerProcess,
  startServerProcess,
  tempDataDir,
} from "./server-process.ts";

const tracker = readFileSync(join(REPO_ROOT, "examples", "tracker", "schema.entdb"), "utf8");
const TEAM_DESCRIPTION = "  description: string = 3 [searchable];\n";
const TENANT = "kinds";

let dir: string;
let dataDir: string;
let v1: string;
let v2: string;
let server: ServerProcess | undefined;
let oldId = "";
let brokenId = "";

beforeAll(async () => {
  if (!tracker.includes(TEAM_DESCRIPTION)) throw new Error("the tracker example changed");
  dir = mkdtempSync(join(tmpdir(), "entdb-kind-"));
  dataDir = tempDataDir("entdb-kind-data-");
  v1 = join(dir, "v1.entdb");
  writeFileSync(v1, tracker);
  v2 = join(dir, "v2.entdb");
  writeFileSync(v2, tracker.replace(TEAM_DESCRIPTION, "  description: int = 3;\n"));
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

function withDescription(slug: string, description: string) {
  const op = teamOp(slug, slug);
  return {
    op: {
      case: "createNode" as const,
      value: {
        ...op.op.value,
        fields: { ...op.op.value.fields, [TRACKER.teamDescription]: str(description) },
      },
    },
  };
}

function expectedMessage(id: string): string {
  return `The node '${id}' of type 'Team' cannot be read: its field 'Team.description' (id 3) holds a string value, and schema version 2 changed the field's kind from string to int (a breaking change pushed with --allow FIELD_KIND_CHANGED). Push a schema that gives the field back its kind string (entdb schema push --allow FIELD_KIND_CHANGED), or write the node's field anew (an update that sets it to a value of the new kind, or clears it).`;
}

describe("a field kind changed by an allowed push", () => {
  it("pushes the kind change with --allow over a node that holds the old kind", async () => {
    const api = entDbClient(live());
    const res = await api.executePlan({
      tenant: TENANT,
      operations: [withDescription("old", "a string"), withDescription("other", "another")],
    });
    oldId = res.results[0]?.id ?? "";
    brokenId = res.results[1]?.id ?? "";
    expect(oldId).not.toBe("");
    const { ENTDB_TOKEN: _t, ENTDB_URL: _u, ...env } = process.env;
    const pushed = await runCommand(
      process.execPath,
      [
        join(REPO_ROOT, "bin", "entdb.ts"),
        "schema",
        "push",
        v2,
        "--url",
        live().url,
        "--allow",
        "FIELD_KIND_CHANGED",
      ],
      { cwd: dir, env: { ...env, NO_COLOR: "1" }, timeout: 60_000 },
    );
    expect(pushed.stderr).toBe("");
    expect(pushed.code).toBe(0);
    expect(pushed.stdout).toContain("allowed[FIELD_KIND_CHANGED]");
  }, 60_000);

  it("answers a read of that node FAILED_PRECONDITION naming type, field, node and kinds", async () => {
    const api = entDbClient(live());
    const get = await connectError(
      api.getNode({ tenant: TENANT, typeId: TRACKER.team, id: oldId }),
    );
    expect(get.code).toBe(Code.FailedPrecondition);
    expect(get.rawMessage).toBe(expectedMessage(oldId));
    const query = await connectError(api.queryNodes({ tenant: TENANT, typeId: TRACKER.team }));
    expect(query.code).toBe(Code.FailedPrecondition);
    expect([expectedMessage(oldId), expectedMessage(brokenId)]).toContain(query.rawMessage);
    const grpc = entDbClient(live(), { protocol: "grpc" });
    const viaGrpc = await connectError(
      grpc.getNode({ tenant: TENANT, typeId: TRACKER.team, id: oldId }),
    );
    expect(viaGrpc.code).toBe(Code.FailedPrecondition);
    expect(live().logs()).not.toContain('holds "a string"');
  }, 60_000);

  it("reads the node again once its field is written anew", async () => {
    const api = entDbClient(live());
    await api.executePlan({
      tenant: TENANT,
      operations: [
        {
          op: {
            case: "updateNode",
            value: {
              typeId: TRACKER.team,
              id: oldId,
              set: { [TRACKER.teamDescription]: { kind: { case: "intValue", value: 7n } } },
            },
          },
        },
      ],
    });
    const node = await api.getNode({ tenant: TENANT, typeId: TRACKER.team, id: oldId });
    expect(node.node?.fields[TRACKER.teamDescription]?.kind).toEqual({
      case: "intValue",
      value: 7n,
    });
  }, 60_000);

  it("keeps a value that fits no version's kind INTERNAL, and logs it", async () => {
    expect(await live().stop()).toBe(0);
    server = undefined;
    const db = new Database(join(dataDir, "tenants", tenantFileName(TENANT)));
    try {
      const changed = db
        .prepare("UPDATE nodes SET payload = json_set(payload, '$.3', json('true')) WHERE id = ?")
        .run(brokenId);
      expect(changed.changes).toBe(1);
    } finally {
      db.close();
    }
    server = await startServerProcess({ schema: v2, dataDir });
    const api = entDbClient(live());
    const get = await connectError(
      api.getNode({ tenant: TENANT, typeId: TRACKER.team, id: brokenId }),
    );
    expect(get.code).toBe(Code.Internal);
    expect(get.rawMessage).toBe("Internal error; the server logged the details.");
    expect(live().logs()).toContain("holds true, which is not int");
  }, 60_000);
});
