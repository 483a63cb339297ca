/**
 * `entdb check` and `entdb lock` as a user runs them: each test spawns
 * `node bin/entdb.ts` in a scratch directory and asserts the exact output and exit code.
 */

import { execFile, execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { githubAnnotation } from "../../schema/cli/load-schema.ts";
import { COMPAT_RULE_IDS } from "../../schema/compat/compat-rules.ts";
import { compileSchema } from "../../schema/compile.ts";
import { schemaFingerprint } from "../../schema/fingerprint.ts";
import { lockFromSchema } from "../../schema/lock.ts";
import type { Schema } from "../../schema/model.ts";
import { renderDiagnostics } from "../../schema/render-diagnostics.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const ENTDB = join(ROOT, "bin", "entdb.ts");

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function entdb(cwd: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [ENTDB, ...args],
      { cwd, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === "number" ? err.code : -1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const scratch: string[] = [];
afterAll(async () => {
  await Promise.all(scratch.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A scratch directory holding `files`. */
async function project(files: Readonly<Record<string, string>>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "entdb-check-"));
  scratch.push(dir);
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, name, ".."), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return dir;
}

function compile(text: string): Schema {
  const { schema } = compileSchema({ path: "schema.entdb", text });
  if (schema === undefined) throw new Error("test schema does not compile");
  return schema;
}

const OLD = `package acme.cli;

enum Status {
  open = 1;
  closed = 2;
}

node Task = 1 {
  title: string = 1 [required];
  status: Status = 2;
  points: float = 3;
}

node Label = 2 {
  name: string = 1;
}
`;

const NEW = `package acme.cli;

enum Status {
  open = 1;
  closed = 2;
}

node Task = 1 {
  name: string = 1 [required];
  status: string = 2;
}
`;

const BROKEN = `package acme.cli;

node Task = 1 {
  status: Stauts = 1;
}
`;

const MSG = {
  nodeRemoved:
    "Node type 'Label' (id 2) was removed without reserving its id. Stored data and old clients still use id 2; keep the type and mark it deprecated, or reserve its id: 'reserved 2;'.",
  fieldRemoved:
    "Field 'Task.points' (id 3) was removed without reserving its id. Stored data and old clients still use id 3; keep the field and mark it deprecated, or reserve its id: 'reserved 3;'.",
  renamed: "Field 'Task.title' (id 1) was renamed to 'name'.",
  kindChanged:
    "Field 'Task.status' (id 2) changed kind from enum 'Status' to string. Changing a kind breaks stored data and old clients; add a new field with a new id and deprecate this one.",
};

/**
 * The text report's findings of NEW against OLD, each with its source line and carets
 * and a blank line after it; the arguments are the statuses of the three breaking ones.
 */
function findingBlocks(nodeRemoved: string, fieldRemoved: string, kindChanged: string): string[] {
  return [
    `${nodeRemoved}[NODE_REMOVED] schema.entdb: ${MSG.nodeRemoved}`,
    "",
    `${fieldRemoved}[FIELD_REMOVED] schema.entdb:8:1: ${MSG.fieldRemoved}`,
    "  |",
    "8 | node Task = 1 {",
    "  | ^^^^^^^^^^^^^^^",
    "",
    `safe[FIELD_RENAMED] schema.entdb:9:3: ${MSG.renamed}`,
    "  |",
    "9 |   name: string = 1 [required];",
    "  |   ^^^^^^^^^^^^^^^^^^^^^^^^^^^^",
    "",
    `${kindChanged}[FIELD_KIND_CHANGED] schema.entdb:10:3: ${MSG.kindChanged}`,
    "   |",
    "10 |   status: string = 2;",
    "   |   ^^^^^^^^^^^^^^^^^^^",
    "",
  ];
}

/** A project whose schema.entdb is NEW and whose committed lock is OLD's. */
function changedProject(): Promise<string> {
  return project({ "schema.entdb": NEW, "schema.lock.json": lockFromSchema(compile(OLD)) });
}

describe.concurrent("entdb check", () => {
  it("compiles the example schema without --against", async () => {
    const run = await entdb(ROOT, "check", "examples/tracker/schema.entdb");
    expect(run).toEqual({
      code: 0,
      stdout: "ok: examples/tracker/schema.entdb compiles (5 nodes, 5 edges, 3 enums)\n",
      stderr: "",
    });
  });

  it("finds the example schema compatible with its committed lock", async () => {
    const run = await entdb(
      ROOT,
      "check",
      "examples/tracker/schema.entdb",
      "--against",
      "examples/tracker/schema.lock.json",
    );
    expect(run).toEqual({
      code: 0,
      stdout:
        "ok: examples/tracker/schema.entdb is compatible with examples/tracker/schema.lock.json (0 breaking, 0 allowed, 0 safe)\n",
      stderr: "",
    });
  });

  it("reports breaking changes against a lock file and exits 1", async () => {
    const dir = await changedProject();
    const run = await entdb(dir, "check", "--against", "schema.lock.json");
    expect(run).toEqual({
      code: 1,
      stdout: [
        ...findingBlocks("breaking", "breaking", "breaking"),
        "error: schema.entdb is not compatible with schema.lock.json (3 breaking, 0 allowed, 1 safe)",
        "",
      ].join("\n"),
      stderr: "",
    });
  });

  it("prints findings as JSON with --format json", async () => {
    const dir = await changedProject();
    const run = await entdb(
      dir,
      "check",
      "schema.entdb",
      "--against",
      "schema.lock.json",
      "--format",
      "json",
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toBe("");
    const finding = (
      rule: string,
      category: string,
      line: number | null,
      col: number | null,
      message: string,
    ) => ({
      rule,
      category,
      allowed: false,
      file: "schema.entdb",
      line,
      col,
      message,
    });
    expect(JSON.parse(run.stdout)).toEqual({
      ok: false,
      schema: "schema.entdb",
      against: "schema.lock.json",
      breaking: 3,
      allowed: 0,
      safe: 1,
      findings: [
        finding("NODE_REMOVED", "breaking", null, null, MSG.nodeRemoved),
        finding("FIELD_REMOVED", "breaking", 8, 1, MSG.fieldRemoved),
        finding("FIELD_RENAMED", "safe", 9, 3, MSG.renamed),
        finding("FIELD_KIND_CHANGED", "breaking", 10, 3, MSG.kindChanged),
      ],
    });
  });

  it("prints workflow annotations with --format github", async () => {
    const dir = await changedProject();
    const run = await entdb(dir, "check", "--against", "schema.lock.json", "--format", "github");
    expect(run).toEqual({
      code: 1,
      stdout: [
        `::error file=schema.entdb,title=NODE_REMOVED::${MSG.nodeRemoved}`,
        `::error file=schema.entdb,line=8,col=1,title=FIELD_REMOVED::${MSG.fieldRemoved}`,
        `::notice file=schema.entdb,line=9,col=3,title=FIELD_RENAMED::${MSG.renamed}`,
        `::error file=schema.entdb,line=10,col=3,title=FIELD_KIND_CHANGED::${MSG.kindChanged}`,
        "error: schema.entdb is not compatible with schema.lock.json (3 breaking, 0 allowed, 1 safe)",
        "",
      ].join("\n"),
      stderr: "",
    });
  });

  it("passes when every breaking rule is allowed, still printing them", async () => {
    const dir = await changedProject();
    const run = await entdb(
      dir,
      "check",
      "--against",
      "schema.lock.json",
      "--allow",
      "FIELD_KIND_CHANGED",
      "--allow",
      "FIELD_REMOVED,NODE_REMOVED",
    );
    expect(run).toEqual({
      code: 0,
      stdout: [
        ...findingBlocks("allowed", "allowed", "allowed"),
        "ok: schema.entdb is compatible with schema.lock.json (0 breaking, 3 allowed, 1 safe)",
        "",
      ].join("\n"),
      stderr: "",
    });
  });

  it("still fails on a breaking rule that is not allowed", async () => {
    const dir = await changedProject();
    const run = await entdb(
      dir,
      "check",
      "--against",
      "schema.lock.json",
      "--allow",
      "FIELD_KIND_CHANGED",
    );
    expect(run.code).toBe(1);
    expect(run.stdout.split("\n").at(-2)).toBe(
      "error: schema.entdb is not compatible with schema.lock.json (2 breaking, 1 allowed, 1 safe)",
    );
  });

  it("lists every rule in --help, the breaking ones first", async () => {
    const { code, stdout } = await entdb(ROOT, "check", "--help");
    expect(code).toBe(0);
    const rules = stdout
      .split("\nRules:\n")[1]!
      .split("\n")
      .filter((line) => line.trim() !== "")
      .map((line) => line.trim().split(/\s+/).slice(0, 2));
    expect(rules.map(([id]) => id).sort()).toEqual([...COMPAT_RULE_IDS].sort());
    const categories = rules.map(([, category]) => category);
    const firstSafe = categories.indexOf("safe");
    expect(categories.slice(0, firstSafe).every((c) => c === "breaking")).toBe(true);
    expect(categories.slice(firstSafe).every((c) => c === "safe")).toBe(true);
    expect(categories).toContain("breaking");
  });

  it("rejects an unknown rule in --allow with exit 2", async () => {
    const dir = await changedProject();
    const run = await entdb(
      dir,
      "check",
      "--against",
      "schema.lock.json",
      "--allow",
      "FIELD_KIND_CHANGD",
    );
    expect(run).toEqual({
      code: 2,
      stdout: "",
      stderr:
        "error: unknown rule 'FIELD_KIND_CHANGD' in --allow. Did you mean 'FIELD_KIND_CHANGED'? Run 'entdb check --help' for the list of rules.\n",
    });
  });

  it("compares against another schema file", async () => {
    const dir = await project({ "schema.entdb": NEW, "old.entdb": OLD });
    const run = await entdb(
      dir,
      "check",
      "--against",
      "old.entdb",
      "--allow",
      "NODE_REMOVED,FIELD_REMOVED",
    );
    expect(run).toEqual({
      code: 1,
      stdout: [
        ...findingBlocks("allowed", "allowed", "breaking"),
        "error: schema.entdb is not compatible with old.entdb (1 breaking, 2 allowed, 1 safe)",
        "",
      ].join("\n"),
      stderr: "",
    });
  });

  it("compares against a file at a git revision", async () => {
    const dir = await project({ "schema.entdb": OLD });
    const git = (...args: string[]): void => {
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args], {
        cwd: dir,
        stdio: "ignore",
      });
    };
    git("init", "-q");
    git("add", "schema.entdb");
    git("commit", "-q", "-m", "schema");
    await writeFile(join(dir, "schema.entdb"), NEW);

    const run = await entdb(dir, "check", "--against", "git:HEAD:schema.entdb");
    expect(run).toEqual({
      code: 1,
      stdout: [
        ...findingBlocks("breaking", "breaking", "breaking"),
        "error: schema.entdb is not compatible with git:HEAD:schema.entdb (3 breaking, 0 allowed, 1 safe)",
        "",
      ].join("\n"),
      stderr: "",
    });

    const missing = await entdb(dir, "check", "--against", "git:HEAD:nope.entdb");
    expect(missing).toEqual({
      code: 2,
      stdout: "",
      stderr: `error: cannot read git:HEAD:nope.entdb: 'git -C ${dir} show HEAD:nope.entdb' failed: fatal: path 'nope.entdb' does not exist in 'HEAD'\n`,
    });
  });

  it("reads a git baseline in the repository that holds the schema, from any directory", async () => {
    const dir = await project({ "schema.entdb": OLD });
    execFileSync("git", ["init", "-q"], { cwd: dir, stdio: "ignore" });
    execFileSync("git", ["add", "schema.entdb"], { cwd: dir, stdio: "ignore" });
    execFileSync(
      "git",
      ["-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "schema"],
      { cwd: dir, stdio: "ignore" },
    );
    await writeFile(join(dir, "schema.entdb"), NEW);
    const elsewhere = await project({});
    const schema = join(dir, "schema.entdb");

    const run = await entdb(elsewhere, "check", schema, "--against", "git:HEAD:schema.entdb");
    expect(run.stderr).toBe("");
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`breaking[FIELD_KIND_CHANGED] ${schema}:10:3: ${MSG.kindChanged}`);
    expect(run.stdout).toContain(
      `error: ${schema} is not compatible with git:HEAD:schema.entdb (3 breaking, 0 allowed, 1 safe)\n`,
    );

    const loose = await project({ "schema.entdb": NEW });
    const outside = await entdb(
      elsewhere,
      "check",
      join(loose, "schema.entdb"),
      "--against",
      "git:HEAD:schema.entdb",
    );
    expect(outside).toEqual({
      code: 2,
      stdout: "",
      stderr: `error: cannot read git:HEAD:schema.entdb: 'git -C ${loose} show HEAD:schema.entdb' failed: fatal: not a git repository (or any of the parent directories): .git\n`,
    });
  });

  it("rejects a git baseline without a path with exit 2", async () => {
    const dir = await changedProject();
    const run = await entdb(dir, "check", "--against", "git:HEAD");
    expect(run).toEqual({
      code: 2,
      stdout: "",
      stderr:
        "error: --against 'git:HEAD' must be git:REF:PATH, e.g. git:origin/main:schema.entdb.\n",
    });
  });

  it("exits 2 when the baseline cannot be read", async () => {
    const dir = await changedProject();
    const run = await entdb(dir, "check", "--against", "missing.lock.json");
    expect(run).toEqual({
      code: 2,
      stdout: "",
      stderr: "error: cannot read 'missing.lock.json': no such file\n",
    });
  });

  it("exits 2 on a hand-edited lock file", async () => {
    const lock = lockFromSchema(compile(OLD)).replace('"name": "points"', '"name": "score"');
    const dir = await project({ "schema.entdb": NEW, "schema.lock.json": lock });
    const run = await entdb(dir, "check", "--against", "schema.lock.json");
    const edited = schemaFingerprint(compile(OLD.replace("points: float", "score: float")));
    expect(run).toEqual({
      code: 2,
      stdout: "",
      stderr: `error: schema.lock.json: the content does not match its fingerprint (recorded ${schemaFingerprint(compile(OLD))}, content ${edited}): the file was edited by hand. Regenerate it from the schema with 'entdb lock'.\n`,
    });
  });

  it("prints the compiler's diagnostics and exits 2 when the schema has errors", async () => {
    const dir = await project({
      "broken.entdb": BROKEN,
      "schema.lock.json": lockFromSchema(compile(OLD)),
    });
    const source = { path: "broken.entdb", text: BROKEN };
    const { diagnostics } = compileSchema(source);
    const expected = renderDiagnostics(diagnostics, source, { format: "text", color: false });
    expect(expected).toMatch(/error: could not compile 'broken.entdb' \(1 error\)\n$/);

    const run = await entdb(dir, "check", "broken.entdb", "--against", "schema.lock.json");
    expect(run).toEqual({ code: 2, stdout: "", stderr: expected });
  });

  it("prints the diagnostics as JSON with --format json when the schema has errors", async () => {
    const dir = await project({ "schema.entdb": BROKEN });
    const run = await entdb(dir, "check", "--format", "json");
    expect(run.code).toBe(2);
    expect(run.stderr).toBe("error: 'schema.entdb' has 1 error.\n");
    expect(JSON.parse(run.stdout)).toEqual({
      ok: false,
      file: "schema.entdb",
      diagnostics: [
        {
          code: "E0402",
          severity: "error",
          message: "Unknown type 'Stauts'.",
          file: "schema.entdb",
          line: 4,
          col: 11,
          endLine: 4,
          endCol: 17,
          label: "not a scalar kind, enum or node type",
        },
      ],
      findings: [],
    });
  });

  it("exits 2 when the baseline schema has errors", async () => {
    const dir = await project({ "schema.entdb": NEW, "old.entdb": BROKEN });
    const source = { path: "old.entdb", text: BROKEN };
    const { diagnostics } = compileSchema(source);
    const run = await entdb(dir, "check", "--against", "old.entdb");
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(
      renderDiagnostics(diagnostics, source, { format: "text", color: false }),
    );
  });

  it("uses the schema named by entdb.config.json", async () => {
    const dir = await project({
      "entdb.config.json": JSON.stringify({ schema: "db/app.entdb" }),
      "db/app.entdb": OLD,
    });
    const run = await entdb(dir, "check");
    expect(run).toEqual({
      code: 0,
      stdout: "ok: db/app.entdb compiles (2 nodes, 0 edges, 1 enum)\n",
      stderr: "",
    });
  });

  it("exits 2 on a key entdb.config.json does not have, instead of ignoring it", async () => {
    const dir = await project({
      "entdb.config.json": JSON.stringify({ schem: "db/app.entdb" }),
      "db/app.entdb": OLD,
      "schema.entdb": OLD,
    });
    const run = await entdb(dir, "check");
    expect(run).toEqual({
      code: 2,
      stdout: "",
      stderr:
        'error: \'entdb.config.json\' has the unknown key "schem" (did you mean "schema"?); its keys are "schema", "out", "python".\n',
    });
  });

  it("exits 2 when there is no schema.entdb", async () => {
    const dir = await project({});
    const run = await entdb(dir, "check");
    expect(run).toEqual({
      code: 2,
      stdout: "",
      stderr: "error: cannot read 'schema.entdb': no such file\n",
    });
  });

  it("exits 2 on an unknown --format", async () => {
    const dir = await changedProject();
    const run = await entdb(dir, "check", "--format", "xml");
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr.split("\n")[0]).toBe(
      "error: option '--format <format>' argument 'xml' is invalid. Allowed choices are text, json, github.",
    );
  });
});

describe("githubAnnotation", () => {
  it("escapes what the runner would otherwise parse", () => {
    expect(
      githubAnnotation(
        "error",
        { file: "a,b:c.entdb", line: 3, col: 1, title: "R" },
        "50% done\nnext",
      ),
    ).toBe("::error file=a%2Cb%3Ac.entdb,line=3,col=1,title=R::50%25 done%0Anext");
  });
});

describe.concurrent("entdb lock", () => {
  it("writes the lock next to the schema and then finds it up to date", async () => {
    const dir = await project({ "db/app.entdb": OLD });
    const fingerprint = schemaFingerprint(compile(OLD));

    const write = await entdb(dir, "lock", "db/app.entdb");
    expect(write).toEqual({
      code: 0,
      stdout: `wrote db/app.lock.json (${fingerprint})\n`,
      stderr: "",
    });
    expect(await readFile(join(dir, "db", "app.lock.json"), "utf8")).toBe(
      lockFromSchema(compile(OLD)),
    );

    const check = await entdb(dir, "lock", "db/app.entdb", "--check");
    expect(check).toEqual({
      code: 0,
      stdout: `ok: db/app.lock.json is up to date (${fingerprint})\n`,
      stderr: "",
    });

    const again = await entdb(dir, "lock", "db/app.entdb");
    expect(again).toEqual({
      code: 0,
      stdout: `ok: db/app.lock.json is up to date (${fingerprint})\n`,
      stderr: "",
    });
  });

  it("--check exits 1 when the committed lock is out of date, and writes nothing", async () => {
    const lock = lockFromSchema(compile(OLD));
    const dir = await project({ "schema.entdb": NEW, "schema.lock.json": lock });
    const run = await entdb(dir, "lock", "--check");
    expect(run).toEqual({
      code: 1,
      stdout: "",
      stderr:
        "error: 'schema.lock.json' is out of date with 'schema.entdb'; run 'entdb lock schema.entdb' to update it.\n",
    });
    expect(await readFile(join(dir, "schema.lock.json"), "utf8")).toBe(lock);
  });

  it("--check exits 1 when there is no lock", async () => {
    const dir = await project({ "schema.entdb": NEW });
    const run = await entdb(dir, "lock", "--check");
    expect(run).toEqual({
      code: 1,
      stdout: "",
      stderr:
        "error: 'schema.lock.json' does not exist; run 'entdb lock schema.entdb' to create it.\n",
    });
  });

  it("writes to --out, creating its directory", async () => {
    const dir = await project({ "schema.entdb": NEW });
    const run = await entdb(dir, "lock", "--out", "locks/current.json");
    expect(run).toEqual({
      code: 0,
      stdout: `wrote locks/current.json (${schemaFingerprint(compile(NEW))})\n`,
      stderr: "",
    });
    expect(await readFile(join(dir, "locks", "current.json"), "utf8")).toBe(
      lockFromSchema(compile(NEW)),
    );
  });

  it("prints the diagnostics and exits 2 for a schema with errors", async () => {
    const dir = await project({ "schema.entdb": BROKEN });
    const source = { path: "schema.entdb", text: BROKEN };
    const { diagnostics } = compileSchema(source);
    const run = await entdb(dir, "lock");
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(
      renderDiagnostics(diagnostics, source, { format: "text", color: false }),
    );
  });
});
