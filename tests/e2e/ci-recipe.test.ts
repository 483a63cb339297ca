/**
 * The pull-request gate recipe (examples/ci/schema-gate.yml) runs as written: its
 * `entdb check` steps are taken from the workflow file and run, with the workflow's
 * `env`, by bash in a temporary git repository whose `origin/main` holds the released
 * schema, and against a real staging server. A compatible branch passes, a breaking one
 * fails the job with GitHub annotations.
 */

import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCommand, serverPerFile } from "./e2e-helpers.ts";
import { REPO_ROOT } from "./server-process.ts";

const workflow = readFileSync(join(REPO_ROOT, "examples", "ci", "schema-gate.yml"), "utf8");
const tracker = readFileSync(join(REPO_ROOT, "examples", "tracker", "schema.entdb"), "utf8");
const TEAM_DESCRIPTION = "  description: string = 3 [searchable];\n";
const staging = serverPerFile({ schema: join(REPO_ROOT, "examples", "tracker", "schema.entdb") });

/** The `run:` command of the step named `name`. */
function stepCommand(name: string): string {
  const step = new RegExp(`- name: ${name}\\n(?:\\s+.*\\n)*?\\s+run: (.+)\\n`).exec(workflow);
  if (!step?.[1]) throw new Error(`the workflow has no step '${name}' with a run command`);
  return step[1];
}

/** The workflow-level `env:` (SCHEMA). */
function workflowEnv(): Record<string, string> {
  const block = /\nenv:\n((?: {2}\w+: .+\n)+)/.exec(workflow)?.[1] ?? "";
  return Object.fromEntries(
    [...block.matchAll(/^ {2}(\w+): (.+)$/gm)].map((m) => [m[1] ?? "", m[2] ?? ""]),
  );
}

let repo: string;
let bin: string;

function git(...args: string[]): void {
  execFileSync("git", args, { cwd: repo, stdio: "pipe" });
}

beforeAll(() => {
  if (!tracker.includes(TEAM_DESCRIPTION)) throw new Error("the tracker example changed");
  const root = mkdtempSync(join(tmpdir(), "entdb-ci-"));
  // `npx entdb` runs this checkout's entdb: an `entdb` on PATH, as `npm ci` would install.
  bin = join(root, "bin");
  mkdirSync(bin);
  writeFileSync(
    join(bin, "entdb"),
    `#!/bin/sh\nexec "${process.execPath}" "${join(REPO_ROOT, "bin", "entdb.ts")}" "$@"\n`,
    { mode: 0o755 },
  );
  const origin = join(root, "origin.git");
  execFileSync("git", ["init", "--bare", "-q", "-b", "main", origin]);
  repo = join(root, "repo");
  execFileSync("git", ["init", "-q", "-b", "main", repo]);
  git("config", "user.email", "ci@example.com");
  git("config", "user.name", "CI");
  writeFileSync(join(repo, "schema.entdb"), tracker);
  git("add", "schema.entdb");
  git("commit", "-q", "-m", "release");
  git("remote", "add", "origin", origin);
  git("push", "-q", "origin", "main");
  git("fetch", "-q", "origin");
  git("checkout", "-q", "-b", "feature");
});

afterAll(() => {
  if (repo) rmSync(join(repo, ".."), { recursive: true, force: true });
});

/** Runs a step's command as the workflow's `run:` does (bash, the job's env). */
function runStep(name: string, env: Record<string, string> = {}) {
  const command = stepCommand(name);
  expect(command.startsWith("npx entdb check ")).toBe(true);
  const { ENTDB_TOKEN: _t, ...base } = process.env;
  return runCommand("bash", ["-eo", "pipefail", "-c", command.replace(/^npx entdb /, "entdb ")], {
    cwd: repo,
    env: {
      ...base,
      ...workflowEnv(),
      ...env,
      PATH: `${bin}:${process.env["PATH"] ?? ""}`,
      NO_COLOR: "1",
    },
    timeout: 60_000,
  });
}

describe("examples/ci/schema-gate.yml", () => {
  it("checks the schema file the workflow names", () => {
    expect(workflowEnv()).toEqual({ SCHEMA: "schema.entdb" });
  });

  it("passes a compatible branch, against main and against staging", async () => {
    writeFileSync(
      join(repo, "schema.entdb"),
      tracker.replace(TEAM_DESCRIPTION, `${TEAM_DESCRIPTION}  color: string = 4;\n`),
    );
    const main = await runStep("Compatible with main");
    expect(main.stderr).toBe("");
    expect(main.stdout).toBe(
      "::notice file=schema.entdb,line=49,col=3,title=FIELD_ADDED::Field 'Team.color' (id 4) was added.\n" +
        "ok: schema.entdb is compatible with git:origin/main:schema.entdb (0 breaking, 0 allowed, 1 safe)\n",
    );
    expect(main.code).toBe(0);
    const stage = await runStep("Compatible with staging", { ENTDB_STAGING_URL: staging.url });
    expect(stage.stdout).toContain(
      `ok: schema.entdb is compatible with ${staging.url} (schema version 1) (0 breaking, 0 allowed, 1 safe)`,
    );
    expect(stage.code).toBe(0);
  }, 60_000);

  it("fails a breaking branch with an error annotation, against main and against staging", async () => {
    writeFileSync(
      join(repo, "schema.entdb"),
      tracker.replace(TEAM_DESCRIPTION, "  description: int = 3;\n"),
    );
    for (const [name, env] of [
      ["Compatible with main", {}],
      ["Compatible with staging", { ENTDB_STAGING_URL: staging.url }],
    ] as const) {
      const run = await runStep(name, env);
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(
        /^::error file=schema\.entdb,line=48,col=3,title=FIELD_KIND_CHANGED::/m,
      );
      expect(run.stdout).toMatch(/^error: schema\.entdb is not compatible with /m);
    }
  }, 60_000);

  it("fails the staging step when the server cannot be reached", async () => {
    const run = await runStep("Compatible with staging", {
      ENTDB_STAGING_URL: "http://127.0.0.1:1",
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("error: cannot reach the server at http://127.0.0.1:1:");
  }, 60_000);
});
