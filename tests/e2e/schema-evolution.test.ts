/**
 * Schema changes across restarts of a real `entdb serve` on one data dir: a compatible
 * change becomes the next served version and the data stays readable; a breaking
 * change or a schema that does not compile stops the process before it listens,
 * says why, and leaves the data dir as it was.
 */

import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { entDbClient, runCommand, teamOp } from "./e2e-helpers.ts";
import {
  REPO_ROOT,
  removeDataDir,
  runServeToExit,
  type ServerProcess,
  startServerProcess,
  tempDataDir,
} from "./server-process.ts";

const TEAM = 2;
const tracker = readFileSync(join(REPO_ROOT, "examples", "tracker", "schema.entdb"), "utf8");
const TEAM_DESCRIPTION = "  description: string = 3 [searchable];\n";

let schemaDir: string;
let dataDir: string;
let v1: string;
let v2: string;
let breaking: string;
let broken: string;

beforeAll(() => {
  if (!tracker.includes(TEAM_DESCRIPTION)) throw new Error("the tracker example changed");
  schemaDir = mkdtempSync(join(tmpdir(), "entdb-e2e-schemas-"));
  dataDir = tempDataDir();
  const write = (name: string, text: string) => {
    const path = join(schemaDir, name);
    writeFileSync(path, text);
    return path;
  };
  v1 = write("v1.entdb", tracker);
  // Compatible: a new optional field on Team.
  v2 = write(
    "v2.entdb",
    tracker.replace(TEAM_DESCRIPTION, `${TEAM_DESCRIPTION}  color: string = 4;\n`),
  );
  // Breaking: Team.description changes kind from string to int.
  breaking = write(
    "breaking.entdb",
    tracker.replace(TEAM_DESCRIPTION, "  description: int = 3;\n"),
  );
  // A syntax error on line 3 of the file: a field without its `:`.
  broken = write("broken.entdb", "package acme.tracker;\nnode Team = 2 {\n  name string = 1;\n}\n");
});

afterAll(() => {
  rmSync(schemaDir, { recursive: true, force: true });
  removeDataDir(dataDir);
});

async function withServer<T>(
  schema: string,
  body: (server: ServerProcess) => Promise<T>,
): Promise<T> {
  const server = await startServerProcess({ schema, dataDir });
  try {
    return await body(server);
  } finally {
    expect(await server.stop()).toBe(0);
  }
}

function api(server: ServerProcess) {
  return entDbClient(server, { httpVersion: "2" });
}

/** Every file under `dir` with its size, sorted (the shape of the data dir). */
function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, prefix: string) => {
    for (const name of readdirSync(d).sort()) {
      const path = join(d, name);
      const st = statSync(path);
      if (st.isDirectory()) walk(path, `${prefix}${name}/`);
      else out.push(`${prefix}${name} ${st.size}`);
    }
  };
  walk(dir, "");
  return out;
}

describe("schema evolution across restarts", () => {
  let teamId = "";

  it("serves version 1 and stores data", async () => {
    await withServer(v1, async (server) => {
      const schema = await api(server).getSchema({});
      expect(schema.version).toBe(1);
      const res = await api(server).executePlan({
        tenant: "evo",
        operations: [teamOp("Core", "core")],
      });
      teamId = res.results[0]?.id ?? "";
    });
    expect(teamId).not.toBe("");
  }, 60_000);

  it("serves version 2 after a compatible change, with the old data readable and the new field usable", async () => {
    await withServer(v2, async (server) => {
      const schema = await api(server).getSchema({});
      expect(schema.version).toBe(2);
      const lock = JSON.parse(schema.lockJson) as unknown;
      expect(JSON.stringify(lock)).toContain("color");
      const node = await api(server).getNode({ tenant: "evo", typeId: TEAM, id: teamId });
      expect(node.node?.fields[1]?.kind).toEqual({ case: "stringValue", value: "Core" });
      expect(node.node?.fields[4]).toBeUndefined();
      const updated = await api(server).executePlan({
        tenant: "evo",
        operations: [
          {
            op: {
              case: "updateNode",
              value: {
                typeId: TEAM,
                id: teamId,
                set: { 4: { kind: { case: "stringValue", value: "blue" } } },
              },
            },
          },
        ],
      });
      expect(updated.receipt?.schemaVersion).toBe(2);
      const again = await api(server).getNode({ tenant: "evo", typeId: TEAM, id: teamId });
      expect(again.node?.fields[4]?.kind).toEqual({ case: "stringValue", value: "blue" });
    });
  }, 60_000);

  it("refuses a breaking change before listening, names the rule, and leaves the data dir unchanged", async () => {
    const before = snapshot(dataDir);
    const run = await runServeToExit({ schema: breaking, dataDir });
    expect(run.code).toBe(1);
    expect(run.listened).toBe(false);
    // Reported as `entdb check` reports it, against the lock of the version served last,
    // with the command that gives the same report.
    const lock = join(dataDir, "schemas", "v000002.lock.json");
    // The file is v1's with the kind change: v2's color is missing from it too.
    const report = [
      `breaking[FIELD_REMOVED] ${breaking}:44:1: Field 'Team.color' (id 4) was removed without reserving its id. Stored data and old clients still use id 4; keep the field and mark it deprecated, or reserve its id: 'reserved 4;'.`,
      "   |",
      "44 | node Team = 2 {",
      "   | ^^^^^^^^^^^^^^^",
      "",
      `breaking[FIELD_KIND_CHANGED] ${breaking}:48:3: Field 'Team.description' (id 3) changed kind from string to int. Changing a kind breaks stored data and old clients; add a new field with a new id and deprecate this one.`,
      "   |",
      "48 |   description: int = 3;",
      "   |   ^^^^^^^^^^^^^^^^^^^^^",
      "",
      `error: ${breaking} is not compatible with ${lock} (2 breaking, 0 allowed, 0 safe)`,
    ];
    expect(run.stderr).toBe(
      [
        "error: The schema is not compatible with version 2 that this server served: 2 breaking change(s); nothing was registered or changed. Make the change compatible as the findings say.",
        ...report,
        `(the same report: entdb check ${breaking} --against ${lock})`,
        "",
      ].join("\n"),
    );
    const check = await runCommand(
      process.execPath,
      [join(REPO_ROOT, "bin", "entdb.ts"), "check", breaking, "--against", lock],
      { cwd: REPO_ROOT, env: process.env, timeout: 30_000 },
    );
    expect({ code: check.code, stdout: check.stdout }).toEqual({
      code: 1,
      stdout: `${report.join("\n")}\n`,
    });
    expect(snapshot(dataDir)).toEqual(before);
  }, 60_000);

  it("still serves version 2 with its data after the refused change", async () => {
    await withServer(v2, async (server) => {
      expect((await api(server).getSchema({})).version).toBe(2);
      const node = await api(server).getNode({ tenant: "evo", typeId: TEAM, id: teamId });
      expect(node.node?.fields[4]?.kind).toEqual({ case: "stringValue", value: "blue" });
    });
  }, 60_000);

  it("refuses a schema with a syntax error, rendering the diagnostic with file:line:col", async () => {
    const before = snapshot(dataDir);
    const run = await runServeToExit({ schema: broken, dataDir });
    expect(run.code).toBe(1);
    expect(run.listened).toBe(false);
    expect(run.stderr).toMatch(/error\[E\d+\]/);
    expect(run.stderr).toContain(`--> ${broken}:3:`);
    expect(snapshot(dataDir)).toEqual(before);
  }, 60_000);
});
