/**
 * `entdb check SCHEMA --against http://HOST:PORT` against a real `entdb serve` with
 * tokens: the baseline is the schema the server serves (GetSchema), the rules, output
 * and exit codes are those of a file baseline, and a server that cannot be read is
 * exit 2 with the cause, never a pass.
 */

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCommand, serverPerFile, tokenArgs } from "./e2e-helpers.ts";
import { freePort, REPO_ROOT } from "./server-process.ts";

const TOKENS = { ada: "tok-ada-check-0123456789" };
const server = serverPerFile({ args: tokenArgs(TOKENS) });
const tracker = readFileSync(join(REPO_ROOT, "examples", "tracker", "schema.entdb"), "utf8");
const TEAM_DESCRIPTION = "  description: string = 3 [searchable];\n";

let dir: string;
beforeAll(() => {
  if (!tracker.includes(TEAM_DESCRIPTION)) throw new Error("the tracker example changed");
  dir = mkdtempSync(join(tmpdir(), "entdb-check-server-"));
  writeFileSync(
    join(dir, "compatible.entdb"),
    tracker.replace(TEAM_DESCRIPTION, `${TEAM_DESCRIPTION}  color: string = 4;\n`),
  );
  writeFileSync(
    join(dir, "breaking.entdb"),
    tracker.replace(TEAM_DESCRIPTION, "  description: int = 3;\n"),
  );
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function check(args: readonly string[], env: NodeJS.ProcessEnv = {}) {
  const { ENTDB_TOKEN: _unset, ...base } = process.env;
  return runCommand(process.execPath, [join(REPO_ROOT, "bin", "entdb.ts"), "check", ...args], {
    cwd: dir,
    env: { ...base, NO_COLOR: "1", ...env },
    timeout: 30_000,
  });
}

const LINE = (line: string) => expect.stringContaining(line);

describe("entdb check --against a server URL", () => {
  it("passes a compatible schema and names the served version", async () => {
    const run = await check(["compatible.entdb", "--against", server.url, "--token", TOKENS.ada]);
    expect(run.stderr).toBe("");
    expect(run.stdout).toBe(
      `safe[FIELD_ADDED] compatible.entdb:49:3: Field 'Team.color' (id 4) was added.\n` +
        "   |\n49 |   color: string = 4;\n   |   ^^^^^^^^^^^^^^^^^^\n\n" +
        `ok: compatible.entdb is compatible with ${server.url} (schema version 1) (0 breaking, 0 allowed, 1 safe)\n`,
    );
    expect(run.code).toBe(0);
  }, 60_000);

  it("fails a breaking schema with exit 1, in every format, taking the token from ENTDB_TOKEN", async () => {
    const env = { ENTDB_TOKEN: TOKENS.ada };
    const text = await check(["breaking.entdb", "--against", server.url], env);
    expect(text.code).toBe(1);
    expect(text.stdout).toEqual(LINE("breaking[FIELD_KIND_CHANGED] breaking.entdb:48:3:"));
    expect(text.stdout).toEqual(
      LINE(
        `error: breaking.entdb is not compatible with ${server.url} (schema version 1) (1 breaking, 0 allowed, 0 safe)`,
      ),
    );
    const json = await check(["breaking.entdb", "--against", server.url, "--format", "json"], env);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as { ok: boolean; breaking: number; against: string };
    expect(report).toMatchObject({
      ok: false,
      breaking: 1,
      against: `${server.url} (schema version 1)`,
    });
    const github = await check(
      ["breaking.entdb", "--against", server.url, "--format", "github"],
      env,
    );
    expect(github.code).toBe(1);
    expect(github.stdout).toEqual(
      LINE("::error file=breaking.entdb,line=48,col=3,title=FIELD_KIND_CHANGED::"),
    );
    const allowed = await check(
      ["breaking.entdb", "--against", server.url, "--allow", "FIELD_KIND_CHANGED"],
      env,
    );
    expect(allowed.code).toBe(0);
  }, 60_000);

  it("exits 2 with the cause when the server is unreachable", async () => {
    const url = `http://127.0.0.1:${await freePort()}`;
    const run = await check(["compatible.entdb", "--against", url]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(
      `error: cannot reach the server at ${url}: connect ECONNREFUSED ${url.slice("http://".length)}. Check the URL and that the server is running.\n`,
    );
  }, 60_000);

  it("exits 2 naming the API port when the URL is the ops port, and the scheme when it has none", async () => {
    const ops = `http://127.0.0.1:${server.httpPort}`;
    const run = await check(["compatible.entdb", "--against", ops], {
      ENTDB_TOKEN: TOKENS.ada,
    });
    expect([run.code, run.stdout]).toEqual([2, ""]);
    expect(run.stderr).toBe(
      `error: ${ops} serves no EntDB API (HTTP 405): --against must be the server's API port (entdb serve --port, default 50051), not its ops port (--http-port, default 8080, for /health, /ready and /metrics).\n`,
    );
    const bare = server.url.slice("http://".length);
    const noScheme = await check(["compatible.entdb", "--against", bare], {
      ENTDB_TOKEN: TOKENS.ada,
    });
    expect([noScheme.code, noScheme.stdout]).toEqual([2, ""]);
    expect(noScheme.stderr).toBe(
      `error: --against '${bare}' is no file; a server baseline needs its scheme: http://${bare} (or https://).\n`,
    );
  }, 60_000);

  it("exits 2 saying so when the server refuses the caller", async () => {
    const none = await check(["compatible.entdb", "--against", server.url]);
    expect(none.code).toBe(2);
    expect(none.stdout).toBe("");
    expect(none.stderr).toBe(
      `error: the server at ${server.url} refused to give its schema (unauthenticated: Missing or unknown bearer token; send 'Authorization: Bearer <token>' with a token from the server's configuration.): no token was sent; pass --token or set ENTDB_TOKEN.\n`,
    );
    const wrong = await check(["compatible.entdb", "--against", server.url, "--token", "nope"]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("the token was refused.");
  }, 60_000);
});
