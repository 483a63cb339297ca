/**
 * JWT bearer tokens against a real `entdb serve`: tokens signed in the test with freshly
 * generated RS256, ES256 and Ed25519 keys (a JWKS file) or an HS256 secret (a secret
 * file) are accepted, and every kind of bad token is UNAUTHENTICATED with a message
 * saying what is wrong, and a log line giving the reason and never the token. Each case
 * runs on both request paths: the unary fast path (Connect, binary) and the Connect
 * library's (gRPC), which share one authenticator.
 */

import { Code } from "@connectrpc/connect";
import { afterAll, describe, expect, it } from "vitest";
import {
  generateJwtKeys,
  type SigningKey,
  signJwt,
  type TokenOptions,
  unsignedJwt,
  writeKeyFiles,
} from "../jwt-fixtures.ts";
import {
  connectError,
  type EntDbClient,
  entDbClient,
  serverPerFile,
  TRACKER,
  teamPlan,
} from "./e2e-helpers.ts";

const keys = await generateJwtKeys();
const files = writeKeyFiles(keys);
afterAll(() => files.remove());

const JWT_FLAGS = ["--jwt-issuer", "https://id.example.test/", "--jwt-audience", "entdb-tests"];

/** The two request paths: the fast path (Connect, binary) and the library's (gRPC). */
const PATHS = [
  { name: "fast path", options: { binary: true, httpVersion: "2" } },
  { name: "gRPC", options: { protocol: "grpc" } },
] as const;

function client(server: { url: string }, token: string | undefined, path: (typeof PATHS)[number]) {
  return entDbClient(server, { ...path.options, token });
}

const refused = (hint: string) =>
  `The bearer token was refused: ${hint}. Send 'Authorization: Bearer <token>' with a valid token.`;

/** The `authentication refused` log lines written since `from` (an offset into the logs). */
function refusals(logs: string, from: number): { level: string; reason: string }[] {
  return logs
    .slice(from)
    .split("\n")
    .filter((line) => line.includes('"authentication refused"'))
    .map((line) => JSON.parse(line) as { level: string; reason: string });
}

/**
 * The refusals logged since `from`, once there is one: the child's stderr reaches the
 * test after the call's answer, so the line may arrive a moment later.
 */
async function refusalsAfter(
  server: { logs(): string },
  from: number,
): Promise<{ level: string; reason: string }[]> {
  const deadline = Date.now() + 5_000;
  while (refusals(server.logs(), from).length === 0 && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 10));
  return refusals(server.logs(), from);
}

/** Expects `token` refused on both paths with `hint`, each logged once with `reason`. */
async function expectRefused(
  server: { url: string; logs(): string },
  token: string,
  hint: string,
  reason: string,
  level: "info" | "warn",
): Promise<void> {
  for (const path of PATHS) {
    const from = server.logs().length;
    const err = await connectError(client(server, token, path).getSchema({}));
    expect(err.code, `${reason} on the ${path.name}`).toBe(Code.Unauthenticated);
    expect(err.rawMessage).toBe(refused(hint));
    expect(await refusalsAfter(server, from)).toEqual([
      expect.objectContaining({ level, reason, component: "auth" }),
    ]);
  }
  expect(server.logs()).not.toContain(token);
  expect(server.logs()).not.toContain(token.split(".")[1]);
}

describe("with --jwt-jwks-file", () => {
  const server = serverPerFile({
    args: [
      ...JWT_FLAGS,
      "--jwt-jwks-file",
      files.jwksFile,
      "--jwt-groups-claim",
      "groups",
      "--admins",
      "user:root",
    ],
  });

  it("accepts RS256, ES256 and EdDSA tokens on both paths; the owner is user:SUB", async () => {
    const signers: [SigningKey, string][] = [
      [keys.rs256, "rita"],
      [keys.es256, "ed.c@example.com"],
      [keys.eddsa, "eddie"],
    ];
    // Only members write to a tenant (docs/access-control.md); a JWT admin makes them.
    const root = client(server, await signJwt(keys.rs256, { sub: "root" }), PATHS[0]!);
    await root.createTenant({ tenant: "jwt-owner", owner: "user:rita" });
    for (const [, sub] of signers.slice(1)) {
      await root.addTenantMember({ tenant: "jwt-owner", principal: `user:${sub}`, role: "member" });
    }
    for (const [key, sub] of signers) {
      for (const path of PATHS) {
        const api: EntDbClient = client(server, await signJwt(key, { sub }), path);
        expect((await api.getSchema({})).package).toBe("acme.tracker");
        const slug = `${key.alg}-${path.name.length}`.toLowerCase();
        const created = await api.executePlan(teamPlan("jwt-owner", slug));
        const node = await api.getNode({
          tenant: "jwt-owner",
          typeId: TRACKER.team,
          id: created.results[0]?.id ?? "",
        });
        expect(node.node?.owner).toBe(`user:${sub}`);
      }
    }
  });

  it("refuses expired and not-yet-valid tokens", async () => {
    await expectRefused(
      server,
      await signJwt(keys.rs256, { expiresIn: -120 }),
      "it has expired",
      "jwt expired",
      "info",
    );
    await expectRefused(
      server,
      await signJwt(keys.es256, { notBefore: 600 }),
      "it is not valid yet ('nbf')",
      "jwt not yet valid (nbf)",
      "info",
    );
  });

  it("refuses a wrong issuer, a wrong audience and a token without exp", async () => {
    const cases: [TokenOptions, string, string][] = [
      [
        { issuer: "https://other.example/" },
        "its 'iss' is not this server's issuer",
        "jwt issuer mismatch",
      ],
      [
        { audience: "not-entdb" },
        "its 'aud' does not name this server's audience",
        "jwt audience mismatch",
      ],
      [{ expiresIn: undefined }, "it has no 'exp' claim", "jwt lacks the 'exp' claim"],
    ];
    for (const [options, hint, reason] of cases)
      await expectRefused(server, await signJwt(keys.eddsa, options), hint, reason, "info");
  });

  it("refuses alg none, an unpinned algorithm, HS256 and tokens signed by other keys, at warn", async () => {
    const algorithm = "its signing algorithm ('alg') is not accepted here";
    await expectRefused(server, unsignedJwt(), algorithm, "jwt algorithm not allowed", "warn");
    await expectRefused(
      server,
      await signJwt(keys.rs512),
      algorithm,
      "jwt algorithm not allowed",
      "warn",
    );
    await expectRefused(
      server,
      await signJwt(keys.hs256),
      algorithm,
      "jwt algorithm not allowed",
      "warn",
    );
    await expectRefused(
      server,
      await signJwt(keys.stranger),
      "its signature does not verify with this server's keys",
      "jwt signature invalid",
      "warn",
    );
    await expectRefused(
      server,
      await signJwt({ ...keys.stranger, kid: "someone-else" }),
      "no key of this server matches its 'kid' and 'alg'",
      "jwt signed by an unknown key",
      "warn",
    );
  });

  it("refuses a sub that is no user id and a malformed groups claim", async () => {
    await expectRefused(
      server,
      await signJwt(keys.rs256, { sub: "has space" }),
      "its 'sub' is not a valid user id (1 to 200 letters, digits and . _ ~ @ + | = : -)",
      "jwt sub is not a valid user id",
      "info",
    );
    await expectRefused(
      server,
      await signJwt(keys.rs256, { claims: { groups: [1, 2] } }),
      "its 'groups' claim is not an array of group ids",
      "jwt claim 'groups' is not an array of group ids",
      "info",
    );
  });

  it("answers a call that needs no actor (health) whatever the token", async () => {
    const res = await fetch(`${server.url}/grpc.health.v1.Health/Check`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        authorization: `Bearer ${unsignedJwt()}`,
      },
      body: "{}",
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "SERVING" });
  });
});

describe("with --jwt-secret-file", () => {
  const server = serverPerFile({
    args: [...JWT_FLAGS, "--jwt-secret-file", files.secretFile, "--admins", "user:root"],
  });

  it("accepts HS256 tokens made with the secret on both paths", async () => {
    const root = client(server, await signJwt(keys.hs256, { sub: "root" }), PATHS[0]!);
    await root.createTenant({ tenant: "jwt-hs", owner: "user:hugo" });
    for (const path of PATHS) {
      const api = client(server, await signJwt(keys.hs256, { sub: "hugo" }), path);
      const created = await api.executePlan(teamPlan("jwt-hs", `hs-${path.name.length}`));
      const node = await api.getNode({
        tenant: "jwt-hs",
        typeId: TRACKER.team,
        id: created.results[0]?.id ?? "",
      });
      expect(node.node?.owner).toBe("user:hugo");
    }
  });

  it("refuses RS256 tokens and HS256 tokens made with another secret", async () => {
    await expectRefused(
      server,
      await signJwt(keys.rs256),
      "its signing algorithm ('alg') is not accepted here",
      "jwt algorithm not allowed",
      "warn",
    );
    const other = { alg: "HS256", key: new TextEncoder().encode("x".repeat(48)) };
    await expectRefused(
      server,
      await signJwt(other),
      "its signature does not verify with this server's keys",
      "jwt signature invalid",
      "warn",
    );
  });
});
