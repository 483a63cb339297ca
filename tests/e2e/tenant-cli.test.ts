/**
 * `entdb tenant ...` and `entdb group ...` against a real server: each command calls the
 * API with the caller's token from `--token` or `ENTDB_TOKEN` and the server from `--url`
 * or `ENTDB_URL`, prints what it did, and exits 1 with the server's message when refused.
 */

import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type CommandResult, runCommand, serverPerFile } from "./e2e-helpers.ts";
import { REPO_ROOT } from "./server-process.ts";

const ROOT = "root-token-0123456789";
const ALICE = "alice-token-0123456789";

const server = serverPerFile({
  args: ["--tokens", `${ROOT}=user:root,${ALICE}=user:alice`, "--admins", "user:root"],
});

function entdb(args: readonly string[], env: Record<string, string> = {}): Promise<CommandResult> {
  return runCommand(process.execPath, [join(REPO_ROOT, "bin", "entdb.ts"), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ENTDB_URL: "", ENTDB_TOKEN: "", ...env },
    timeout: 30_000,
  });
}

describe("entdb tenant and entdb group", () => {
  it("create a tenant, manage members and groups, and list them", async () => {
    const asRoot = { ENTDB_URL: server.url, ENTDB_TOKEN: ROOT };
    const created = await entdb(["tenant", "create", "cli-acme", "--owner", "user:alice"], asRoot);
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(
      /^created tenant 'cli-acme' with owner user:alice \(log position \d+:\d+\)\n$/,
    );

    // Flags instead of variables, after the subcommand.
    const conn = ["--url", server.url, "--token", ALICE];
    for (const args of [
      ["tenant", "add-member", "cli-acme", "user:bob", "--role", "viewer"],
      ["tenant", "set-role", "cli-acme", "user:bob", "--role", "member"],
      ["group", "create", "cli-acme", "group:eng"],
      ["group", "add-member", "cli-acme", "group:eng", "user:carol"],
      ["tenant", "add-member", "cli-acme", "group:eng", "--role", "viewer"],
    ]) {
      const run = await entdb([...args, ...conn]);
      expect([args.join(" "), run.code, run.stderr]).toEqual([args.join(" "), 0, ""]);
    }
    const members = await entdb(["tenant", "members", "cli-acme", ...conn]);
    expect(members.stdout).toBe("group:eng\tviewer\nuser:alice\towner\nuser:bob\tmember\n");
    const groups = await entdb(["group", "list", "cli-acme", ...conn]);
    expect(groups.stdout).toBe("group:eng\tuser:carol\n");
    const mine = await entdb(["tenant", "list", ...conn]);
    expect(mine.stdout).toBe("cli-acme\towner\n");
    const removed = await entdb(["tenant", "remove-member", "cli-acme", "user:bob", ...conn]);
    expect(removed.code).toBe(0);
    const left = await entdb([
      "group",
      "remove-member",
      "cli-acme",
      "group:eng",
      "user:carol",
      ...conn,
    ]);
    expect(left.code).toBe(0);
  }, 60_000);

  it("exits 1 with the server's message when refused, and 2 without a server, its scheme or its API port", async () => {
    const refused = await entdb(["tenant", "create", "cli-other", "--owner", "user:alice"], {
      ENTDB_URL: server.url,
      ENTDB_TOKEN: ALICE,
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toBe(
      "error: permission_denied: Only a server administrator (--admins) may create tenant 'cli-other'.\n",
    );
    const nowhere = await entdb(["tenant", "list"]);
    expect(nowhere.code).toBe(2);
    expect(nowhere.stderr).toBe("error: no server given; pass --url URL or set ENTDB_URL.\n");
    // An address without its scheme is named as such, before any call.
    const bare = server.url.replace("http://", "");
    for (const args of [
      ["tenant", "list", "--url", bare],
      ["group", "list", "acme", "--url", bare],
      ["schema", "history", "--url", bare],
    ]) {
      const run = await entdb(args);
      expect([args[0], run.code, run.stderr]).toEqual([
        args[0],
        2,
        `error: --url (ENTDB_URL) must be the server's API address, http://HOST:PORT or https://HOST:PORT (e.g. http://127.0.0.1:50051); got '${bare}'.\n`,
      ]);
    }
    // The ops port (health, readiness, metrics) is named as the wrong one: a usage error.
    const ops = `http://127.0.0.1:${server.httpPort}`;
    for (const args of [
      ["tenant", "list", "--url", ops, "--token", ALICE],
      ["schema", "history", "--url", ops, "--token", ALICE],
    ]) {
      const run = await entdb(args);
      expect([args[0], run.code]).toEqual([args[0], 2]);
      expect(run.stderr).toMatch(
        new RegExp(
          `^error: ${ops} serves no EntDB API \\(HTTP 40\\d\\): --url must be the server's API port \\(entdb serve --port, default 50051\\), not its ops port \\(--http-port, default 8080, for /health, /ready and /metrics\\)\\.\n$`,
        ),
      );
    }
  }, 60_000);

  it("suggests the prefixed principal when a group or member is given as a bare id", async () => {
    const conn = ["--url", server.url, "--token", ROOT];
    await entdb(["tenant", "create", "cli-bare", "--owner", "user:alice", ...conn]);
    const group = await entdb(["group", "create", "cli-bare", "eng", ...conn]);
    expect([group.code, group.stderr]).toEqual([
      1,
      "error: invalid_argument: `group`: \"eng\" is not a principal: it has no kind prefix. Principals are user:ID, service:ID, group:ID, role:viewer|member|admin|owner or tenant:*. Did you mean 'group:eng'?\n",
    ]);
    const member = await entdb([
      "tenant",
      "add-member",
      "cli-bare",
      "bob",
      "--role",
      "member",
      ...conn,
    ]);
    expect(member.stderr).toBe(
      "error: invalid_argument: `principal`: \"bob\" is not a principal: it has no kind prefix. Principals are user:ID, service:ID, group:ID, role:viewer|member|admin|owner or tenant:*. Did you mean 'user:bob' or 'service:bob' or 'group:bob'?\n",
    );
    // Not an id either: no suggestion.
    const odd = await entdb(["group", "create", "cli-bare", "no spaces", ...conn]);
    expect(odd.stderr).toBe(
      'error: invalid_argument: `group`: "no spaces" is not a principal: it has no kind prefix. Principals are user:ID, service:ID, group:ID, role:viewer|member|admin|owner or tenant:*.\n',
    );
    const groups = await entdb([
      "group",
      "list",
      "cli-bare",
      "--url",
      server.url,
      "--token",
      ALICE,
    ]);
    expect([groups.code, groups.stdout]).toEqual([0, ""]);
  }, 60_000);

  it("names the server's Connect code as the docs and /metrics do (permission_denied, unauthenticated)", async () => {
    const bad = { ENTDB_URL: server.url, ENTDB_TOKEN: "no-such-token-0123456789" };
    const results: [string, number, string][] = [];
    for (const [args, env] of [
      [["tenant", "list"], bad],
      [["group", "list", "cli-acme"], bad],
      [["schema", "history"], bad],
      [["schema", "push", join(REPO_ROOT, "examples", "tracker", "schema.entdb")], bad],
      [
        ["schema", "push", join(REPO_ROOT, "examples", "tracker", "schema.entdb")],
        { ENTDB_URL: server.url, ENTDB_TOKEN: ALICE },
      ],
    ] as const) {
      const run = await entdb(args, env);
      results.push([
        args.slice(0, 2).join(" "),
        run.code,
        run.stderr.split(": ").slice(0, 2).join(": "),
      ]);
      expect(run.stderr).toMatch(/^error: [a-z_]+: \S.*\n$/);
    }
    expect(results).toEqual([
      ["tenant list", 1, "error: unauthenticated"],
      ["group list", 1, "error: unauthenticated"],
      ["schema history", 1, "error: unauthenticated"],
      ["schema push", 1, "error: unauthenticated"],
      ["schema push", 1, "error: permission_denied"],
    ]);
  }, 60_000);
});
