/**
 * Authentication against a real `entdb serve` (DESIGN.md contract 9): with `--tokens`
 * every call needs a known bearer token, and the node owner is the token's actor,
 * never anything from the request body. Dev mode refuses to bind a public address.
 */

import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import {
  connectError,
  type EntDbClient,
  entDbClient,
  serverPerFile,
  teamPlan,
} from "./e2e-helpers.ts";
import { removeDataDir, runServeToExit, tempDataDir } from "./server-process.ts";

const TEAM = 2;
const ALICE_TOKEN = "alice-token-0123456789";
const BOB_TOKEN = "bob-token-abcdefghijkl";
const ROOT_TOKEN = "root-token-abcdefghij";

const server = serverPerFile({
  args: [
    "--tokens",
    `${ALICE_TOKEN}=user:alice,${BOB_TOKEN}=user:bob,${ROOT_TOKEN}=user:root`,
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

  it("ignores an owner a client puts in the body", async () => {
    // The API has no owner input; `actor`/`owner` keys smuggled into the JSON body are
    // ignored as unknown fields and the owner stays the authenticated actor.
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
    expect(res.status).toBe(200);
    const body = (await res.json()) as { results: { id: string }[] };
    const node = await api(ALICE_TOKEN).getNode({
      tenant: "auth-spoof",
      typeId: TEAM,
      id: body.results[0]?.id ?? "",
    });
    expect(node.node?.owner).toBe("user:bob");
  });
});

describe("dev mode", () => {
  it("refuses --host 0.0.0.0 without tokens: exit 2 and a message saying what to configure", async () => {
    const dataDir = tempDataDir();
    try {
      const run = await runServeToExit({
        dataDir,
        args: ["--host", "0.0.0.0"],
        env: { ENTDB_TOKENS: "" },
      });
      expect(run.code).toBe(2);
      expect(run.stderr).toContain(
        "No tokens are configured (dev mode), so the server only binds loopback; configure --tokens to bind 0.0.0.0.",
      );
    } finally {
      removeDataDir(dataDir);
    }
  }, 30_000);
});
