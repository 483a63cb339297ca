/**
 * Authentication against a real `entdb serve` (DESIGN.md contract 9): with static
 * tokens (`--tokens`, `--tokens-file`) every call needs a known bearer token, gRPC
 * reflection included, and the node owner is the token's actor, never anything from
 * the request body. Health checks need no token. Malformed token configuration stops
 * the server before it listens. Dev mode refuses to bind a public address.
 */

import { createHash } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CommandResult,
  connectError,
  type EntDbClient,
  entDbClient,
  runCommand,
  serverPerFile,
  teamPlan,
} from "./e2e-helpers.ts";
import { REPO_ROOT, removeDataDir, runServeToExit, tempDataDir } from "./server-process.ts";

const TEAM = 2;
const ALICE_TOKEN = "alice-token-0123456789";
const BOB_TOKEN = "bob-token-abcdefghijkl";
/** Configured only by its hash, in the tokens file. */
const CAROL_TOKEN = "carol-token-from-the-file-0123";
const ROOT_TOKEN = "root-token-abcdefghij";

const sha256 = (token: string) => createHash("sha256").update(token).digest("hex");
const fileDir = mkdtempSync(join(tmpdir(), "entdb-tokens-"));
afterAll(() => rmSync(fileDir, { recursive: true, force: true }));
const TOKENS_FILE = join(fileDir, "tokens.txt");
writeFileSync(TOKENS_FILE, `# the tracker's callers\n\n${sha256(CAROL_TOKEN)} service:carol\n`);

const server = serverPerFile({
  args: [
    "--tokens",
    `${ALICE_TOKEN}=user:alice,${BOB_TOKEN}=user:bob,${ROOT_TOKEN}=user:root`,
    "--tokens-file",
    TOKENS_FILE,
    "--admins",
    "user:root",
  ],
});

// Only members use a tenant (docs/access-control.md): alice owns each, bob is a member.
beforeAll(async () => {
  const root = api(ROOT_TOKEN);
  for (const tenant of ["auth-none", "auth-read", "auth-wrong", "auth-owner", "auth-spoof"]) {
    await root.createTenant({ tenant, owner: "user:alice" });
    await api(ALICE_TOKEN).addTenantMember({ tenant, principal: "user:bob", role: "member" });
  }
  await root.createTenant({ tenant: "auth-file", owner: "service:carol" });
});

function api(token?: string, protocol: "connect" | "grpc" = "connect"): EntDbClient {
  return entDbClient(server, { protocol, httpVersion: "1.1", token });
}

const UNAUTHENTICATED_MESSAGE =
  "Missing or unknown bearer token; send 'Authorization: Bearer <token>' with a token from the server's configuration.";

describe("with --tokens", () => {
  it("rejects a write without an Authorization header and writes nothing", async () => {
    const err = await connectError(api().executePlan(teamPlan("auth-none", "x")));
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.rawMessage).toBe(UNAUTHENTICATED_MESSAGE);
    const read = await api(ALICE_TOKEN).queryNodes({ tenant: "auth-none", typeId: TEAM });
    expect(read.nodes).toEqual([]);
  });

  it("rejects reads without a token, over Connect and gRPC", async () => {
    for (const protocol of ["connect", "grpc"] as const) {
      const err = await connectError(
        api(undefined, protocol).queryNodes({ tenant: "auth-read", typeId: TEAM }),
      );
      expect(err.code).toBe(Code.Unauthenticated);
    }
    const schema = await connectError(api().getSchema({}));
    expect(schema.code).toBe(Code.Unauthenticated);
  });

  it("rejects a wrong token, a token's prefix and a non-Bearer scheme", async () => {
    for (const token of ["wrong-token-0123456789", ALICE_TOKEN.slice(0, -1), `${ALICE_TOKEN}x`]) {
      const err = await connectError(api(token).executePlan(teamPlan("auth-wrong", "x")));
      expect(err.code).toBe(Code.Unauthenticated);
    }
    const res = await fetch(`${server.url}/entdb.v1.EntDbService/GetSchema`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Basic ${ALICE_TOKEN}` },
      body: "{}",
    });
    expect(res.status).toBe(401);
    expect(((await res.json()) as { code: string }).code).toBe("unauthenticated");
    const read = await api(ALICE_TOKEN).queryNodes({ tenant: "auth-wrong", typeId: TEAM });
    expect(read.nodes).toEqual([]);
  });

  it("sets the owner to the token's actor, over Connect and gRPC", async () => {
    const alice = await api(ALICE_TOKEN).executePlan(teamPlan("auth-owner", "a"));
    const bob = await api(BOB_TOKEN, "grpc").executePlan(teamPlan("auth-owner", "b"));
    const nodes = await api(BOB_TOKEN).getNodes({
      tenant: "auth-owner",
      typeId: TEAM,
      ids: [alice.results[0]?.id ?? "", bob.results[0]?.id ?? ""],
    });
    expect(nodes.nodes.map((n) => n.owner)).toEqual(["user:alice", "user:bob"]);
  });

  it("refuses an owner a client puts in the body", async () => {
    // The API has no owner input; `actor`/`owner` keys smuggled into the JSON body are
    // unknown fields, which JSON refuses as binary would: nothing is written.
    const res = await fetch(`${server.url}/entdb.v1.EntDbService/ExecutePlan`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${BOB_TOKEN}` },
      body: JSON.stringify({
        tenant: "auth-spoof",
        operations: [
          {
            createNode: {
              typeId: TEAM,
              fields: { "1": { stringValue: "S" }, "2": { stringValue: "s" } },
            },
          },
        ],
        actor: "user:alice",
        owner: "user:alice",
      }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({
      code: "invalid_argument",
      message:
        "Field `actor` is not a field of entdb.v1.ExecutePlanRequest; its fields are: tenant, operations, idempotencyKey, noWait.",
    });
    const page = await api(ALICE_TOKEN).queryNodes({ tenant: "auth-spoof", typeId: TEAM });
    expect(page.nodes).toEqual([]);
  });
});

/**
 * The `authentication refused` log lines since `from` (an offset into the logs), once
 * there are `count`: the child's stderr reaches the test after the call's answer.
 */
async function refusalLines(from: number, count: number): Promise<Record<string, unknown>[]> {
  const lines = () =>
    server
      .logs()
      .slice(from)
      .split("\n")
      .filter((line) => line.includes('"authentication refused"'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const deadline = Date.now() + 5_000;
  while (lines().length < count && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 10));
  return lines();
}

async function refusalReasons(from: number, count: number): Promise<unknown[]> {
  return (await refusalLines(from, count)).map((line) => line["reason"]);
}

describe("with --tokens-file", () => {
  it("accepts a token configured by its hash, and the owner is its principal", async () => {
    const carol = api(CAROL_TOKEN);
    const created = await carol.executePlan(teamPlan("auth-file", "c"));
    const node = await carol.getNode({
      tenant: "auth-file",
      typeId: TEAM,
      id: created.results[0]?.id ?? "",
    });
    expect(node.node?.owner).toBe("service:carol");
  });

  it("refuses the hash itself as a token, and logs why without the token", async () => {
    const from = server.logs().length;
    const err = await connectError(api(sha256(CAROL_TOKEN)).getSchema({}));
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.rawMessage).toBe(UNAUTHENTICATED_MESSAGE);
    expect(await refusalLines(from, 1)).toEqual([
      expect.objectContaining({
        level: "info",
        msg: "authentication refused",
        component: "auth",
        reason: "unknown bearer token",
      }),
    ]);
    expect(server.logs()).not.toContain(sha256(CAROL_TOKEN));
    expect(server.logs()).not.toContain(CAROL_TOKEN);
  });
});

describe("reflection and health with tokens", () => {
  const BUF = join(REPO_ROOT, "node_modules", ".bin", "buf");
  const GRPC = ["--protocol", "grpc", "--http2-prior-knowledge"];
  const bufCurl = (args: readonly string[]): Promise<CommandResult> =>
    runCommand(BUF, ["curl", ...args], { cwd: fileDir, timeout: 30_000 });

  it("refuses to list services without a token and lists them with one", async () => {
    // buf renders UNAUTHENTICATED with its own advice (about its registry); the server's
    // log says which refusal it was.
    const from = server.logs().length;
    const anonymous = await bufCurl(["--list-services", ...GRPC, server.url]);
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.stdout).toBe("");
    expect(anonymous.stderr).toMatch(/^Failure: you are not authenticated\./);

    const wrong = await bufCurl([
      "--list-services",
      ...GRPC,
      "--reflect-header",
      "Authorization: Bearer wrong-token-0123456789",
      server.url,
    ]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/^Failure: you are not authenticated\./);
    expect(await refusalReasons(from, 2)).toEqual([
      "no Authorization header",
      "unknown bearer token",
    ]);

    const allowed = await bufCurl([
      "--list-services",
      ...GRPC,
      // The README's form: the call's headers, sent to reflection too.
      "-H",
      `Authorization: Bearer ${CAROL_TOKEN}`,
      "--reflect-header",
      "*",
      server.url,
    ]);
    expect(allowed.stderr).toBe("");
    expect(allowed.code).toBe(0);
    expect(allowed.stdout.trim().split("\n")).toContain("grpc.reflection.v1.ServerReflection");
    expect(allowed.stdout.trim().split("\n")).toContain("entdb.v1.EntDbService");
  }, 60_000);

  it("answers grpc.health.v1.Health/Check without a token (orchestrator probes)", async () => {
    const res = await fetch(`${server.url}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "SERVING" });
  });
});

describe("a caller without a valid token learns nothing of the schema", () => {
  const REFUSED = {
    code: "unauthenticated",
    message:
      "Missing or unknown bearer token; send 'Authorization: Bearer <token>' with a token from the server's configuration.",
  };
  const withToken = (token: string | undefined): Record<string, string> =>
    token === undefined ? {} : { authorization: `Bearer ${token}` };
  const post = (
    path: string,
    contentType: string,
    body: string | Uint8Array<ArrayBuffer>,
    token?: string,
  ) =>
    fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": contentType, "entdb-tenant": "auth-read", ...withToken(token) },
      body,
    });

  for (const token of [undefined, "no-such-token-0123456789"]) {
    const who = token === undefined ? "without a token" : "with an unknown token";
    it(`answers a JSON body that does not decode with UNAUTHENTICATED, not its fields (${who})`, async () => {
      for (const [path, body] of [
        ["/acme.tracker.TeamService/Create", '{"fields":{"nmae":"x"}}'],
        ["/acme.tracker.TeamService/Get", '{"tenant":"auth-read","id":"x"}'],
        ["/entdb.v1.EntDbService/GetNode", '{"nope":1}'],
      ] as const) {
        const res = await post(path, "application/json", body, token);
        expect([path, res.status, await res.json()]).toEqual([path, 401, REFUSED]);
      }
    });

    it(`answers a binary body that does not decode with UNAUTHENTICATED (${who})`, async () => {
      const bad = new Uint8Array([0x0a, 0x05, 0x61]);
      const res = await post("/acme.tracker.TeamService/Create", "application/proto", bad, token);
      expect([res.status, await res.json()]).toEqual([401, REFUSED]);
      const session = http2.connect(server.url);
      try {
        const stream = session.request({
          ":method": "POST",
          ":path": "/acme.tracker.TeamService/Create",
          "content-type": "application/grpc",
          te: "trailers",
          "entdb-tenant": "auth-read",
          ...withToken(token),
        });
        const status = new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
          let head: http2.IncomingHttpHeaders = {};
          stream.on("response", (h) => {
            head = h;
          });
          stream.on("trailers", (t) => resolve({ ...head, ...t }));
          stream.on("end", () => resolve(head));
          stream.on("error", reject);
        });
        stream.resume();
        stream.end(new Uint8Array([0, 0, 0, 0, bad.length, ...bad]));
        const answer = await status;
        expect([answer["grpc-status"], decodeURIComponent(String(answer["grpc-message"]))]).toEqual(
          ["16", REFUSED.message],
        );
      } finally {
        session.close();
      }
    });

    it(`answers a streaming call whose body does not decode with UNAUTHENTICATED, not its fields (${who})`, async () => {
      // Connect's streaming form: a 5-byte envelope head, then the message; the answer is
      // HTTP 200 with the error in an end-stream envelope.
      const envelope = (bytes: Uint8Array) => {
        const framed = new Uint8Array(5 + bytes.length);
        new DataView(framed.buffer).setUint32(1, bytes.length);
        framed.set(bytes, 5);
        return framed;
      };
      for (const [path, contentType, body] of [
        ["/entdb.v1.EntDbService/Subscribe", "json", new TextEncoder().encode('{"nope":1}')],
        ["/acme.tracker.TaskService/Watch", "json", new TextEncoder().encode('{"idz":["x"]}')],
        ["/entdb.v1.EntDbService/Subscribe", "proto", new Uint8Array([0x0a, 0x05, 0x61])],
      ] as const) {
        const res = await post(path, `application/connect+${contentType}`, envelope(body), token);
        const bytes = new Uint8Array(await res.arrayBuffer());
        const frames: { flags: number; json: unknown }[] = [];
        for (let at = 0; at + 5 <= bytes.length; ) {
          const length = new DataView(bytes.buffer, at + 1, 4).getUint32(0);
          const payload = new TextDecoder().decode(bytes.subarray(at + 5, at + 5 + length));
          frames.push({ flags: bytes[at] ?? -1, json: JSON.parse(payload) });
          at += 5 + length;
        }
        expect([path, contentType, res.status, frames]).toEqual([
          path,
          contentType,
          200,
          [{ flags: 2, json: { error: REFUSED } }],
        ]);
      }
    });

    it(`does not list the services for an unknown path (${who})`, async () => {
      const res = await post("/acme.tracker.NoSuchService/Get", "application/json", "{}", token);
      expect([res.status, await res.json()]).toEqual([
        404,
        { code: "unimplemented", message: "No such RPC." },
      ]);
    });
  }

  it("still names the field to a caller with a token, and lists the services", async () => {
    const res = await post(
      "/acme.tracker.TeamService/Create",
      "application/json",
      '{"fields":{"nmae":"x"}}',
      ALICE_TOKEN,
    );
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toContain(
      "Field `fields.nmae` is not a field of acme.tracker.Team",
    );
    const unknown = await post(
      "/acme.tracker.NoSuchService/Get",
      "application/json",
      "{}",
      ALICE_TOKEN,
    );
    expect(((await unknown.json()) as { message: string }).message).toContain(
      "No such RPC. Services: entdb.v1.EntDbService, acme.tracker.UserService",
    );
  });
});

describe("malformed token configuration", () => {
  /** Runs `entdb serve` with `args` expecting it to refuse them; returns its stderr. */
  async function refusedConfig(args: string[], env: Record<string, string> = {}): Promise<string> {
    const dataDir = tempDataDir();
    try {
      const run = await runServeToExit({ dataDir, args, env: { ENTDB_TOKENS: "", ...env } });
      expect(run.code).toBe(2);
      expect(run.listened).toBe(false);
      return run.stderr;
    } finally {
      removeDataDir(dataDir);
    }
  }

  it("names file:line of a bad tokens file line", async () => {
    const bad = join(fileDir, "bad-tokens.txt");
    writeFileSync(
      bad,
      `# ok so far\n${sha256(ALICE_TOKEN)} user:alice\n${ALICE_TOKEN} user:alice\n`,
    );
    expect(await refusedConfig(["--tokens-file", bad])).toBe(
      `error: ${bad}:3: the first field must be the 64-digit hex SHA-256 of the token (printf %s "$TOKEN" | sha256sum), not a token itself.\n`,
    );
  }, 30_000);

  it("refuses a --tokens entry with a space and a short token in ENTDB_TOKENS", async () => {
    expect(
      await refusedConfig(["--tokens", `${ALICE_TOKEN}=user:alice, ${BOB_TOKEN}=user:bob`]),
    ).toBe(
      "error: --tokens entry 2 contains a space; --tokens is token=principal entries separated by commas, with no spaces.\n",
    );
    expect(await refusedConfig([], { ENTDB_TOKENS: "tooshort=user:alice" })).toBe(
      "error: --tokens entry 1: the token for user:alice must be at least 16 characters of letters, digits and - . _ ~ + /.\n",
    );
  }, 30_000);

  it("refuses the same token in --tokens and the tokens file", async () => {
    expect(
      await refusedConfig(["--tokens", `${CAROL_TOKEN}=user:carol`, "--tokens-file", TOKENS_FILE]),
    ).toBe(
      `error: ${TOKENS_FILE}:3 repeats the token of --tokens entry 1 (user:carol); each token must name one principal.\n`,
    );
  }, 30_000);
});

describe("dev mode", () => {
  it("refuses --host 0.0.0.0 without authentication: exit 2 and a message saying what to configure", async () => {
    const dataDir = tempDataDir();
    try {
      const run = await runServeToExit({
        dataDir,
        args: ["--host", "0.0.0.0"],
        env: { ENTDB_TOKENS: "" },
      });
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(
        "No authentication is configured (dev mode), so the server only binds loopback; configure --tokens-file, --tokens or --jwt-* to bind 0.0.0.0.",
      );
    } finally {
      removeDataDir(dataDir);
    }
  }, 30_000);
});
