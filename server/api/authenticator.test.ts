import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AUDIENCE,
  generateJwtKeys,
  ISSUER,
  type JwtKeys,
  signJwt,
  unsignedJwt,
  writeKeyFiles,
} from "../../tests/jwt-fixtures.ts";
import { createLogger } from "../log.ts";
import { type Actor, actorKey, refusalKey, requireActor, UNAUTHENTICATED_MESSAGE } from "./auth.ts";
import { resolveJwtConfig } from "./auth-config.ts";
import { type Authenticator, createAuthenticator, JWT_CACHE_MS } from "./authenticator.ts";
import { parseTokenList } from "./token-file.ts";

const STATIC = "static-token-0123456789";

let keys: JwtKeys;
let files: ReturnType<typeof writeKeyFiles>;
let logged: Record<string, unknown>[] = [];
let clock = Date.now();

const log = createLogger("debug", (line) =>
  logged.push(JSON.parse(line) as Record<string, unknown>),
);

function authenticator(kind: "jwks" | "secret", groupsClaim?: string): Authenticator {
  return createAuthenticator({
    config: {
      tokens: parseTokenList(`${STATIC}=service:importer`),
      jwt: resolveJwtConfig({
        issuer: ISSUER,
        audience: AUDIENCE,
        ...(kind === "jwks" ? { jwksFile: files.jwksFile } : { secretFile: files.secretFile }),
        groupsClaim,
      }),
    },
    isAdmin: (p) => p === "user:root",
    log,
    now: () => clock,
  });
}

/** The actor a header authenticates as, or the UNAUTHENTICATED message requireActor throws. */
async function outcome(auth: Authenticator, header: string | undefined): Promise<Actor | string> {
  const values = await auth.contextValues(header);
  try {
    return requireActor(values);
  } catch (err) {
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.Unauthenticated);
    return (err as ConnectError).rawMessage;
  }
}

const refusedWith = (hint: string) =>
  `The bearer token was refused: ${hint}. Send 'Authorization: Bearer <token>' with a valid token.`;

beforeAll(async () => {
  keys = await generateJwtKeys();
  files = writeKeyFiles(keys);
});
afterAll(() => files.remove());

describe("the authenticator", () => {
  it("is in dev mode with nothing configured, and every caller is dev", async () => {
    const auth = createAuthenticator({ config: { tokens: [], jwt: undefined }, log });
    expect(auth.devMode).toBe(true);
    expect(await outcome(auth, undefined)).toEqual({ id: "dev", groups: [], admin: true });
  });

  it("accepts a static token synchronously and asks isAdmin", async () => {
    const auth = authenticator("jwks");
    const values = auth.contextValues(`Bearer ${STATIC}`);
    expect(values).not.toBeInstanceOf(Promise);
    expect(await outcome(auth, `bearer  ${STATIC} `)).toEqual({
      id: "service:importer",
      groups: [],
      admin: false,
    });
  });

  it("answers a static token it matched before from memory, and still refuses its neighbours", async () => {
    const other = "other-static-token-0123456789";
    const auth = createAuthenticator({
      config: {
        tokens: parseTokenList(`${STATIC}=service:importer,${other}=service:other`),
        jwt: undefined,
      },
      log,
      jwtCacheEntries: 1,
    });
    const importer = { id: "service:importer", groups: [], admin: false };
    const otherActor = { id: "service:other", groups: [], admin: false };
    for (let i = 0; i < 3; i++) {
      expect(await outcome(auth, `Bearer ${STATIC}`)).toEqual(importer);
      expect(await outcome(auth, `Bearer ${STATIC}x`)).toBe(UNAUTHENTICATED_MESSAGE);
      expect(await outcome(auth, `Bearer ${other}`)).toEqual(otherActor);
    }
  });

  it("accepts RS256, ES256 and EdDSA tokens from the JWKS, sub as user:SUB", async () => {
    const auth = authenticator("jwks");
    for (const key of [keys.rs256, keys.es256, keys.eddsa]) {
      const token = await signJwt(key, { sub: `someone-${key.alg}` });
      expect(await outcome(auth, `Bearer ${token}`)).toEqual({
        id: `user:someone-${key.alg}`,
        groups: [],
        admin: false,
      });
    }
    expect(await outcome(auth, `Bearer ${await signJwt(keys.es256, { sub: "root" })}`)).toEqual({
      id: "user:root",
      groups: [],
      admin: true,
    });
  });

  it("accepts HS256 with the secret file (its trailing newline dropped)", async () => {
    const auth = authenticator("secret");
    const token = await signJwt(keys.hs256, { sub: "bob" });
    expect(await outcome(auth, `Bearer ${token}`)).toEqual({
      id: "user:bob",
      groups: [],
      admin: false,
    });
  });

  it("maps the configured groups claim to group: principals", async () => {
    const auth = authenticator("jwks", "groups");
    const token = await signJwt(keys.rs256, { claims: { groups: ["eng", "ops"] } });
    expect(await outcome(auth, `Bearer ${token}`)).toEqual({
      id: "user:alice",
      groups: ["group:eng", "group:ops"],
      admin: false,
    });
    // Ids an identity provider gives with their prefix name the same principals.
    const prefixed = await signJwt(keys.rs256, {
      sub: "user:alice",
      claims: { groups: ["group:eng", "ops"] },
    });
    expect(await outcome(auth, `Bearer ${prefixed}`)).toEqual({
      id: "user:alice",
      groups: ["group:eng", "group:ops"],
      admin: false,
    });
    const bad = await signJwt(keys.rs256, { claims: { groups: "eng" } });
    expect(await outcome(auth, `Bearer ${bad}`)).toBe(
      refusedWith("its 'groups' claim is not an array of group ids"),
    );
  });

  it("refuses each bad token with its reason, logged without the token", async () => {
    const jwks = authenticator("jwks");
    const cases: [string, string, string, "info" | "warn"][] = [
      [await signJwt(keys.rs256, { expiresIn: -120 }), "it has expired", "jwt expired", "info"],
      [
        await signJwt(keys.rs256, { notBefore: 600 }),
        "it is not valid yet ('nbf')",
        "jwt not yet valid (nbf)",
        "info",
      ],
      [
        await signJwt(keys.rs256, { issuer: "https://evil.example/" }),
        "its 'iss' is not this server's issuer",
        "jwt issuer mismatch",
        "info",
      ],
      [
        await signJwt(keys.rs256, { audience: "another-service" }),
        "its 'aud' does not name this server's audience",
        "jwt audience mismatch",
        "info",
      ],
      [
        await signJwt(keys.rs256, { expiresIn: undefined }),
        "it has no 'exp' claim",
        "jwt lacks the 'exp' claim",
        "info",
      ],
      [
        await signJwt(keys.rs256, { sub: undefined }),
        "it has no 'sub' claim",
        "jwt lacks the 'sub' claim",
        "info",
      ],
      [
        await signJwt(keys.rs256, { sub: "no spaces allowed" }),
        "its 'sub' is not a valid user id (1 to 200 letters, digits and . _ ~ @ + | = : -)",
        "jwt sub is not a valid user id",
        "info",
      ],
      [
        unsignedJwt(),
        "its signing algorithm ('alg') is not accepted here",
        "jwt algorithm not allowed",
        "warn",
      ],
      [
        await signJwt(keys.hs256),
        "its signing algorithm ('alg') is not accepted here",
        "jwt algorithm not allowed",
        "warn",
      ],
      [
        await signJwt(keys.rs512),
        "its signing algorithm ('alg') is not accepted here",
        "jwt algorithm not allowed",
        "warn",
      ],
      [
        await signJwt(keys.stranger),
        "its signature does not verify with this server's keys",
        "jwt signature invalid",
        "warn",
      ],
      [
        await signJwt({ ...keys.stranger, kid: "rsa-2" }),
        "no key of this server matches its 'kid' and 'alg'",
        "jwt signed by an unknown key",
        "warn",
      ],
    ];
    for (const [token, hint, reason, level] of cases) {
      logged = [];
      expect(await outcome(jwks, `Bearer ${token}`), reason).toBe(refusedWith(hint));
      expect(logged).toHaveLength(1);
      expect(logged[0]).toMatchObject({ level, msg: "authentication refused", reason });
      expect(JSON.stringify(logged)).not.toContain(token.split(".")[2] || token.split(".")[1]);
    }
  });

  it("refuses an RS256 token on the HS256 server", async () => {
    const secret = authenticator("secret");
    expect(await outcome(secret, `Bearer ${await signJwt(keys.rs256)}`)).toBe(
      refusedWith("its signing algorithm ('alg') is not accepted here"),
    );
  });

  it("says nothing more than 'missing or unknown' for headers that are no token it knows", async () => {
    const auth = authenticator("jwks");
    const cases: [string | undefined, string][] = [
      [undefined, "no Authorization header"],
      [`Basic ${STATIC}`, "the Authorization header is not 'Bearer <token>'"],
      ["Bearer static-token-012345678", "unknown bearer token"],
    ];
    for (const [header, reason] of cases) {
      logged = [];
      expect(await outcome(auth, header)).toBe(UNAUTHENTICATED_MESSAGE);
      expect(logged).toEqual([
        expect.objectContaining({ level: "info", msg: "authentication refused", reason }),
      ]);
    }
  });

  it("logs a refusal only when a handler asks for the actor", async () => {
    logged = [];
    const values = await authenticator("jwks").contextValues(undefined);
    expect(values.get(actorKey)).toBeUndefined();
    expect(values.get(refusalKey)?.hint).toBeUndefined();
    expect(logged).toEqual([]);
  });

  it("caches a verified token until its exp, then verifies it again", async () => {
    const auth = authenticator("jwks");
    clock = Date.now();
    const token = await signJwt(keys.rs256, { expiresIn: 20 });
    expect(auth.contextValues(`Bearer ${token}`)).toBeInstanceOf(Promise);
    expect(await outcome(auth, `Bearer ${token}`)).toMatchObject({ id: "user:alice" });
    // Cached: answered without a promise.
    expect(auth.contextValues(`Bearer ${token}`)).not.toBeInstanceOf(Promise);
    // Past exp (and the clock tolerance): verified again, and refused.
    clock += 60_000;
    const later = auth.contextValues(`Bearer ${token}`);
    expect(later).toBeInstanceOf(Promise);
    expect(await outcome(auth, `Bearer ${token}`)).toBe(refusedWith("it has expired"));
    clock = Date.now();
  });

  it("keeps at most the configured number of tokens, dropping the oldest", async () => {
    const auth = createAuthenticator({
      config: {
        tokens: [],
        jwt: resolveJwtConfig({ issuer: ISSUER, audience: AUDIENCE, jwksFile: files.jwksFile }),
      },
      log,
      jwtCacheEntries: 2,
    });
    const [a, b, c] = await Promise.all(["a", "b", "c"].map((sub) => signJwt(keys.es256, { sub })));
    for (const token of [a, b, c]) await auth.contextValues(`Bearer ${token}`);
    expect(auth.contextValues(`Bearer ${a}`)).toBeInstanceOf(Promise);
    expect(auth.contextValues(`Bearer ${c}`)).not.toBeInstanceOf(Promise);
  });

  it("verifies a long-lived token again after the cache period", async () => {
    const auth = authenticator("jwks");
    clock = Date.now();
    const token = await signJwt(keys.eddsa, { expiresIn: 3600 });
    await auth.contextValues(`Bearer ${token}`);
    expect(auth.contextValues(`Bearer ${token}`)).not.toBeInstanceOf(Promise);
    clock += JWT_CACHE_MS + 1;
    expect(auth.contextValues(`Bearer ${token}`)).toBeInstanceOf(Promise);
    clock = Date.now();
  });
});
