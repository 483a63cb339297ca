/**
 * The generated Python client, end to end: the runtime (`runtime/python/`) is built and
 * installed into a fresh virtualenv outside the repository (layered on the pinned test
 * venv of tests/infra/python.sh, so nothing is downloaded per run), `entdb generate
 * --python` writes the tracker package, mypy --strict and pyright strict check it, wrong
 * programs are rejected by mypy, pytest runs the client against a real `entdb serve`,
 * an idempotent retry survives a server restart, and Python and TypeScript read each
 * other's writes exactly.
 */

import { execFileSync } from "node:child_process";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNodeTransport } from "../../runtime/node.ts";
import { entDbClient, runCommand, tokenArgs } from "../e2e/e2e-helpers.ts";
import {
  REPO_ROOT,
  removeDataDir,
  type ServerProcess,
  startServerProcess,
} from "../e2e/server-process.ts";
import { type GeneratedTrackerClient, loadTrackerClient } from "../e2e/tracker-client.ts";
import { runtimeVenv } from "./python-venv.ts";

const HERE = import.meta.dirname;
/** A cold mypy or pyright run (no cache: each run starts in a fresh dir) takes 10-30 s on 2 busy cores. */
const TYPE_CHECK_TIMEOUT = 180_000;
let work: string;
let python: string;
let server: ServerProcess;
let dataDir: string;
let generated: GeneratedTrackerClient;
/** The server of the mailbox tests (tests/python/mail/schema.entdb), with tokens. */
let mailServer: ServerProcess;
/** The tokens of test_mailbox.py, and how many tenants it takes (one per test). */
const MAIL_TOKENS = {
  root: "root-mail-token-0123456789",
  alice: "alice-mail-token-0123456789",
  bob: "bob-mail-token-0123456789",
  carol: "carol-mail-token-0123456789",
} as const;
const MAIL_TENANTS = 11;

function sh(file: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): string {
  return execFileSync(file, args, {
    cwd: work,
    env: { ...process.env, ...env },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
}

/** Runs the venv's Python with the generated package importable; resolves with the result. */
function py(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  return runCommand(python, args, {
    cwd: work,
    env: {
      ...process.env,
      PYTHONPATH: `${join(work, "gen")}:${join(work, "gen-mail")}`,
      ENTDB_URL: server.url,
      ENTDB_MAIL_URL: mailServer.url,
      ...env,
    },
    timeout: 240_000,
  });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "entdb-python-"));
  python = runtimeVenv(work);
  sh(process.execPath, [
    join(REPO_ROOT, "bin", "entdb.ts"),
    "generate",
    join(REPO_ROOT, "examples/tracker/schema.entdb"),
    "--out",
    join(work, "ts"),
    "--python",
    join(work, "gen"),
  ]);
  sh(process.execPath, [
    join(REPO_ROOT, "bin", "entdb.ts"),
    "generate",
    join(HERE, "mail", "schema.entdb"),
    "--out",
    join(work, "ts-mail"),
    "--python",
    join(work, "gen-mail"),
  ]);
  for (const dir of ["pytest", "wrong-programs"]) {
    cpSync(join(HERE, dir), join(work, dir), { recursive: true });
  }
  cpSync(join(HERE, "cross_language.py"), join(work, "cross_language.py"));
  cpSync(join(HERE, "check_no_any.py"), join(work, "check_no_any.py"));
  server = await startServerProcess();
  dataDir = server.dataDir;
  mailServer = await startServerProcess({
    schema: join(HERE, "mail", "schema.entdb"),
    args: tokenArgs(MAIL_TOKENS, ["root"]),
  });
  const root = entDbClient(mailServer, { token: MAIL_TOKENS.root });
  const alice = entDbClient(mailServer, { token: MAIL_TOKENS.alice });
  for (let i = 0; i < MAIL_TENANTS; i++) {
    const tenant = `mail-${i}`;
    await root.createTenant({ tenant, owner: "user:alice" });
    for (const m of ["bob", "carol"])
      await alice.addTenantMember({ tenant, principal: `user:${m}`, role: "member" });
  }
  generated = await loadTrackerClient();
}, 300_000);

afterAll(async () => {
  generated?.dispose();
  if (server) await server.stop();
  if (dataDir) removeDataDir(dataDir);
  if (mailServer) {
    await mailServer.stop();
    removeDataDir(mailServer.dataDir);
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("the Python client package", () => {
  it("installs the runtime into a venv outside the repository", async () => {
    const result = await py(["-c", "import entdb_runtime; print(entdb_runtime.__file__)"]);
    expect(result.stderr).toBe("");
    expect(result.stdout.startsWith(join(work, "venv"))).toBe(true);
    expect(readdirSync(join(work, "gen", "acme_tracker")).sort()).toEqual([
      "__init__.py",
      "_proto.py",
    ]);
    const init = readFileSync(join(work, "gen", "acme_tracker", "__init__.py"), "utf8");
    expect(init.split("\n", 1)[0]).toMatch(/^# @generated by entdb \S+ from .* — DO NOT EDIT$/);
  });

  it(
    "passes mypy --strict (with no explicit Any) and pyright strict, runtime included",
    async () => {
      const checked = [
        "gen/acme_tracker",
        "gen-mail/acme_mail",
        "runtime-python/src/entdb_runtime",
        "pytest",
        "cross_language.py",
      ];
      const mypy = await py([
        "-m",
        "mypy",
        "--strict",
        "--disallow-any-explicit",
        "--no-incremental",
        ...checked,
      ]);
      expect(mypy.stdout).toMatch(/^Success: no issues found in \d+ source files/m);
      expect(mypy.code).toBe(0);
      writeFileSync(
        join(work, "pyrightconfig.json"),
        JSON.stringify({
          typeCheckingMode: "strict",
          include: ["gen/acme_tracker", "gen-mail/acme_mail", "runtime-python/src/entdb_runtime"],
          extraPaths: ["gen", "gen-mail"],
          venvPath: work,
          venv: "venv",
        }),
      );
      const pyright = await runCommand(join(REPO_ROOT, "node_modules/.bin/pyright"), ["-p", work], {
        cwd: work,
        timeout: 240_000,
      });
      expect(pyright.stdout).toContain("0 errors");
      expect(pyright.code).toBe(0);
    },
    TYPE_CHECK_TIMEOUT,
  );

  it("has no Any in a public signature of the runtime or the generated package", async () => {
    const result = await py(["check_no_any.py", "entdb_runtime", "acme_tracker"]);
    expect(result.stdout).toMatch(/^checked \d+ annotations$/m);
    expect(result.stdout.split("\n")[0]).toMatch(/^checked/);
    expect(result.code).toBe(0);
  });

  it(
    "type-checks every python block of docs/python.md with mypy --strict",
    async () => {
      const text = readFileSync(join(REPO_ROOT, "docs/python.md"), "utf8");
      const blocks = [...text.matchAll(/^```python\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
      expect(blocks.length).toBeGreaterThanOrEqual(5);
      mkdirSync(join(work, "doc-blocks"));
      for (const [i, block] of blocks.entries()) {
        writeFileSync(join(work, "doc-blocks", `block_${i}.py`), block);
      }
      const result = await py(["-m", "mypy", "--strict", "--no-incremental", "doc-blocks"], {
        MYPYPATH: join(work, "gen"),
      });
      expect(result.stdout).toBe(`Success: no issues found in ${blocks.length} source files\n`);
    },
    TYPE_CHECK_TIMEOUT,
  );

  it(
    "makes mypy --strict reject each wrong program with the expected error",
    async () => {
      const files = readdirSync(join(work, "wrong-programs")).filter((f) => f.endsWith(".py"));
      expect(files.length).toBeGreaterThanOrEqual(13);
      // The generated package is part of the application's sources, as docs/python.md
      // describes: mypy finds it through MYPYPATH, like a package of the project.
      const result = await py(["-m", "mypy", "--strict", "--no-incremental", "wrong-programs"], {
        MYPYPATH: join(work, "gen"),
      });
      expect(result.code).toBe(1);
      expect(result.stdout).toContain(`Found ${files.length} errors in ${files.length} files`);
      for (const file of files) {
        const lines = readFileSync(join(work, "wrong-programs", file), "utf8").split("\n");
        const line = lines.findIndex((l) => l.includes("# expect: "));
        const expected = lines[line]!.split("# expect: ")[1]!;
        const errors = result.stdout
          .split("\n")
          .filter((l) => l.startsWith(`wrong-programs/${file}:${line + 1}: error: `));
        expect(errors.join("\n"), `${file} in:\n${result.stdout}`).toContain(expected);
      }
    },
    TYPE_CHECK_TIMEOUT,
  );
});

describe("the Python client against entdb serve", () => {
  it("passes the pytest suite over Connect HTTP/1.1, Connect HTTP/2 and gRPC", async () => {
    const result = await py(["-m", "pytest", "-q", "-p", "no:cacheprovider", "pytest"]);
    expect(result.stdout, result.stdout).toMatch(/\b77 passed\b/);
    expect(result.code).toBe(0);
  }, 240_000);

  it("returns the original ids for an idempotent retry after a server restart", async () => {
    const script = [
      "import acme_tracker as t, entdb_runtime as rt, os, json",
      "with t.Client(rt.Transport(os.environ['ENTDB_URL']), 'py-restart') as db:",
      "    with db.plan(idempotency_key='restart-key') as plan:",
      "        team = plan.team.create(t.TeamCreate(name='R', slug='r'))",
      "    print(json.dumps([team.id, plan.receipt.replayed, len(db.team.query().items)]))",
    ].join("\n");
    const first = await py(["-c", script]);
    expect(first.stderr).toBe("");
    const [id, replayed, count] = JSON.parse(first.stdout) as [string, boolean, number];
    expect([replayed, count]).toEqual([false, 1]);
    expect(await server.stop()).toBe(0);
    server = await startServerProcess({ dataDir });
    const again = await py(["-c", script]);
    expect(again.stderr).toBe("");
    expect(JSON.parse(again.stdout)).toEqual([id, true, 1]);
  }, 120_000);
});

describe("the example app (examples/python-tracker)", () => {
  it("serves teams, projects, tasks and search through the generated client, and type-checks", async () => {
    const example = join(work, "example");
    cpSync(join(REPO_ROOT, "examples/python-tracker"), example, { recursive: true });
    const run = (args: readonly string[]) =>
      runCommand(python, args, {
        cwd: example,
        env: { ...process.env, ENTDB_URL: server.url, ENTDB_TENANT: "example-app" },
        timeout: 120_000,
      });
    const mypy = await run(["-m", "mypy", "--strict", "--no-incremental", "app.py", "demo.py"]);
    expect(mypy.stdout).toBe("Success: no issues found in 2 source files\n");
    const demo = await run(["demo.py"]);
    expect(demo.stderr).toBe("");
    expect(
      demo.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line)),
    ).toEqual([
      { team_created: true, same_team: true },
      { duplicate_project: [409, "team 'web' already has a project with key 'WEB'"] },
      {
        tasks: [
          ["WEB-1", "Design", "todo"],
          ["WEB-2", "Build", "todo"],
          ["WEB-3", "Ship", "todo"],
        ],
      },
      { done: { version: 2 }, twice: [409, "task is done"] },
      { todo: ["WEB-2", "WEB-3"] },
      {
        search: [
          ["project", "Website", { name: "*Website*" }],
          ["task", "Ship", { title: "*Ship*" }],
        ],
        bad_query: [400, `Search query: A '"' is never closed (at position 0).`],
      },
    ]);
  }, 120_000);
});

describe("cross-language", () => {
  it("reads exactly in TypeScript what Python wrote, timestamps to the microsecond", async () => {
    const written = await py(["cross_language.py", "write", "cross-py"]);
    expect(written.stderr).toBe("");
    const out = JSON.parse(written.stdout) as {
      task: Record<string, unknown> & { id: string; project: string };
      user: string;
    };
    const db = generated.createClient({
      transport: createNodeTransport({ baseUrl: server.url }),
      tenant: "cross-py",
    });
    const task = await db.task.get(out.task.id);
    expect(task).toMatchObject({
      id: out.task.id,
      project: out.task.project,
      number: 2n ** 63n - 1n,
      estimateMinutes: -(2n ** 63n),
      title: "Written by Python ✓",
      status: "in_review",
      priority: "medium",
      labels: ["a", "b"],
      version: 1n,
    });
    const raw = await db.core.getNode({ typeId: 4, id: out.task.id });
    const due = raw?.fields[7]?.kind;
    expect(due?.case).toBe("timestampValue");
    expect(due?.case === "timestampValue" ? [due.value.seconds, due.value.nanos] : []).toEqual([
      BigInt(Date.parse("2030-05-06T07:08:09Z") / 1000),
      123_456_000,
    ]);
    const user = await db.user.get(out.user);
    expect(user?.email).toBe("py@example.com");
    const edges = await db.assignedTo.list(out.task.id);
    expect(edges.items.map((e) => [e.to, e.share])).toEqual([[out.user, 7n]]);
  });

  it("reads exactly in Python what TypeScript wrote", async () => {
    const db = generated.createClient({
      transport: createNodeTransport({ baseUrl: server.url, httpVersion: "2" }),
      tenant: "cross-ts",
    });
    const due = new Date("2031-01-02T03:04:05.678Z");
    const { task, user } = await db.atomic((plan) => {
      const team = plan.team.create({ name: "TS", slug: "ts" });
      const project = plan.project.create({ team, key: "TS", name: "TS" });
      const task = plan.task.create({
        project,
        number: -(2n ** 63n),
        estimateMinutes: 2n ** 63n - 1n,
        title: "Written by TypeScript",
        status: "wont_do",
        priority: "urgent",
        due,
        labels: ["z"],
      });
      const user = plan.user.create({
        email: "ts@example.com",
        displayName: "TS",
        handle: "ts",
        joinedAt: due,
      });
      plan.assignedTo.link(task, user, { assignedAt: due, share: 33 });
      return { task, user };
    });
    const read = await py(["cross_language.py", "read", "cross-ts", task, user]);
    expect(read.stderr).toBe("");
    const project = (await db.task.get(task))?.project;
    expect(JSON.parse(read.stdout)).toEqual({
      task: {
        id: task,
        project,
        number: String(-(2n ** 63n)),
        estimate_minutes: String(2n ** 63n - 1n),
        title: "Written by TypeScript",
        status: "wont_do",
        priority: "urgent",
        due: "2031-01-02T03:04:05.678000+00:00",
        labels: ["z"],
        version: "1",
      },
      user: { email: "ts@example.com", joined_at: "2031-01-02T03:04:05.678000+00:00" },
      edges: [{ to: user, share: 33, assigned_at: "2031-01-02T03:04:05.678000+00:00" }],
    });
  });
});
