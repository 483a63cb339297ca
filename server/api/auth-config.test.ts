import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { exportJWK, generateKeyPair } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateJwtKeys, type JwtKeys, writeKeyFiles } from "../../tests/jwt-fixtures.ts";
import { ConfigError } from "../config-error.ts";
import { type JwtInput, resolveJwtConfig } from "./auth-config.ts";

let keys: JwtKeys;
let files: ReturnType<typeof writeKeyFiles>;

beforeAll(async () => {
  keys = await generateJwtKeys();
  files = writeKeyFiles(keys);
});
afterAll(() => files.remove());

const base = { issuer: "https://id.example/", audience: "entdb" };

/** The ConfigError message of resolving `input`. */
function configError(input: JwtInput): string {
  try {
    resolveJwtConfig(input);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("expected a ConfigError");
}

/** A JWKS file holding `keys`; returns its path. */
function jwksFile(name: string, content: unknown): string {
  const path = join(files.dir, name);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

describe("JWT configuration", () => {
  it("is absent without any --jwt-* flag", () => {
    expect(resolveJwtConfig({})).toBeUndefined();
  });

  it("pins the algorithms to the kinds of the keys in the JWKS", () => {
    expect(resolveJwtConfig({ ...base, jwksFile: files.jwksFile })?.algorithms).toEqual([
      "RS256",
      "ES256",
      "EdDSA",
      "Ed25519",
    ]);
    const onlyEc = jwksFile("ec.json", { keys: [keys.jwks.keys[1]] });
    expect(resolveJwtConfig({ ...base, jwksFile: onlyEc })?.algorithms).toEqual(["ES256"]);
    expect(resolveJwtConfig({ ...base, secretFile: files.secretFile })?.algorithms).toEqual([
      "HS256",
    ]);
  });

  it("needs keys, one kind of them, an issuer and an audience", () => {
    expect(configError({ issuer: "x" })).toBe(
      "JWT authentication needs keys: pass --jwt-jwks-file FILE (RS256/ES256/EdDSA public keys) or --jwt-secret-file FILE (HS256).",
    );
    expect(configError({ ...base, jwksFile: files.jwksFile, secretFile: files.secretFile })).toBe(
      "Pass either --jwt-jwks-file or --jwt-secret-file, not both: one server trusts one kind of key.",
    );
    expect(configError({ audience: "entdb", jwksFile: files.jwksFile })).toBe(
      "JWT authentication needs --jwt-issuer (env ENTDB_JWT_ISSUER): the exact 'iss' your identity provider puts in its tokens.",
    );
    expect(configError({ issuer: "x", secretFile: files.secretFile })).toBe(
      "JWT authentication needs --jwt-audience (env ENTDB_JWT_AUDIENCE): the 'aud' your identity provider issues tokens for this server with.",
    );
  });

  it("refuses JWKS files that are not JSON, empty, or hold keys it would not pin", async () => {
    const notJson = jwksFile("bad.json", "{keys:");
    expect(configError({ ...base, jwksFile: notJson })).toMatch(
      new RegExp(
        `^Cannot read the JWKS file ${notJson} \\(it is not JSON: .*\\); check --jwt-jwks-file\\.$`,
      ),
    );
    const empty = jwksFile("empty.json", { keys: [] });
    expect(configError({ ...base, jwksFile: empty })).toBe(
      `${empty}: a JWKS file is a JSON object {"keys": [...]} with at least one public key.`,
    );
    const p384 = await generateKeyPair("ES384");
    const wrongCurve = jwksFile("p384.json", {
      keys: [{ ...(await exportJWK(p384.publicKey)), kid: "ec-384" }],
    });
    expect(configError({ ...base, jwksFile: wrongCurve })).toBe(
      `${wrongCurve}: key 1 (kid 'ec-384') is not an RSA, EC P-256 or OKP Ed25519 key; those are the kinds accepted (RS256, ES256, EdDSA).`,
    );
    const wrongAlg = jwksFile("alg.json", { keys: [{ ...keys.jwks.keys[0], alg: "PS256" }] });
    expect(configError({ ...base, jwksFile: wrongAlg })).toBe(
      `${wrongAlg}: key 1 (kid 'rsa-1') has alg 'PS256'; RSA keys here sign RS256 only.`,
    );
    const symmetric = jwksFile("oct.json", { keys: [{ kty: "oct", k: "c2VjcmV0" }] });
    expect(configError({ ...base, jwksFile: symmetric })).toBe(
      `${symmetric}: key 1 is not an RSA, EC P-256 or OKP Ed25519 key; those are the kinds accepted (RS256, ES256, EdDSA).`,
    );
  });

  it("refuses private key material and broken keys in the JWKS", async () => {
    const pair = await generateKeyPair("ES256", { extractable: true });
    const privateJwks = jwksFile("private.json", {
      keys: [keys.jwks.keys[0], { ...(await exportJWK(pair.privateKey)), kid: "leak" }],
    });
    expect(configError({ ...base, jwksFile: privateJwks })).toBe(
      `${privateJwks}: key 2 (kid 'leak') holds private key material ('d'); put only public keys in the JWKS file.`,
    );
    const broken = jwksFile("broken.json", { keys: [{ ...keys.jwks.keys[1], x: "AAAA" }] });
    expect(configError({ ...base, jwksFile: broken })).toMatch(
      new RegExp(`^${broken}: key 1 \\(kid 'ec-1'\\) is not a valid public key: .+\\.$`),
    );
  });

  it("refuses a secret under 32 bytes and a missing file", () => {
    const short = join(files.dir, "short.secret");
    writeFileSync(short, "0123456789abcdef0123456789abcde\n");
    expect(configError({ ...base, secretFile: short })).toBe(
      `The JWT secret in ${short} is 31 bytes; HS256 needs at least 32 (e.g. openssl rand -base64 48).`,
    );
    const missing = join(files.dir, "nope");
    expect(configError({ ...base, secretFile: missing })).toBe(
      `Cannot read the JWT secret file ${missing} (ENOENT); check --jwt-secret-file.`,
    );
  });
});
