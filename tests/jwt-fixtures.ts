/**
 * Real JWTs for tests: freshly generated RS256, ES256 and Ed25519 key pairs (and an HS256
 * secret), a JWKS of their public halves, and a signer with sensible defaults that each
 * test overrides to make the token it needs. Nothing here is mocked: the server verifies
 * these with the same `jose` calls it uses in production.
 */

import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type CryptoKey,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JSONWebKeySet,
  type JWTPayload,
  SignJWT,
} from "jose";

export const ISSUER = "https://id.example.test/";
export const AUDIENCE = "entdb-tests";

/** A signing key and the `alg` and `kid` a token made with it carries. */
export interface SigningKey {
  readonly alg: string;
  readonly kid?: string;
  readonly key: CryptoKey | Uint8Array;
}

/** The keys of one test run. */
export interface JwtKeys {
  readonly rs256: SigningKey;
  readonly es256: SigningKey;
  readonly eddsa: SigningKey;
  /** The rs256 key pair, signing RS512: an algorithm the server does not pin to RSA keys. */
  readonly rs512: SigningKey;
  /** An RSA key the server does not know, with the kid of the known one. */
  readonly stranger: SigningKey;
  readonly hs256: SigningKey & { readonly key: Uint8Array };
  /** The public halves of rs256, es256 and eddsa. */
  readonly jwks: JSONWebKeySet;
}

/** Generates fresh keys. */
export async function generateJwtKeys(): Promise<JwtKeys> {
  const rsa = await generateKeyPair("RS256", { extractable: true });
  const rs512 = await importJWK(await exportJWK(rsa.privateKey), "RS512");
  const ec = await generateKeyPair("ES256");
  const ed = await generateKeyPair("EdDSA", { crv: "Ed25519" });
  const other = await generateKeyPair("RS256");
  const jwks: JSONWebKeySet = {
    keys: [
      { ...(await exportJWK(rsa.publicKey)), kid: "rsa-1", use: "sig" },
      { ...(await exportJWK(ec.publicKey)), kid: "ec-1", alg: "ES256" },
      { ...(await exportJWK(ed.publicKey)), kid: "ed-1" },
    ],
  };
  return {
    rs256: { alg: "RS256", kid: "rsa-1", key: rsa.privateKey },
    es256: { alg: "ES256", kid: "ec-1", key: ec.privateKey },
    eddsa: { alg: "EdDSA", kid: "ed-1", key: ed.privateKey },
    rs512: { alg: "RS512", kid: "rsa-1", key: rs512 as CryptoKey },
    stranger: { alg: "RS256", kid: "rsa-1", key: other.privateKey },
    // Text, as secrets are usually kept: the file adds a newline the server must drop.
    hs256: { alg: "HS256", key: new TextEncoder().encode(randomBytes(48).toString("base64")) },
    jwks,
  };
}

/** What a signed token differs in from the default (valid for an hour, this issuer and audience). */
export interface TokenOptions {
  readonly sub?: string | undefined;
  readonly issuer?: string;
  readonly audience?: string;
  /** Seconds from now; undefined omits `exp`. Default 3600. */
  readonly expiresIn?: number | undefined;
  /** Seconds from now of `nbf`; none by default. */
  readonly notBefore?: number;
  readonly claims?: JWTPayload;
}

/** Signs a JWT with `key`. */
export async function signJwt(key: SigningKey, options: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ ...options.claims })
    .setProtectedHeader({
      alg: key.alg,
      typ: "JWT",
      ...(key.kid === undefined ? {} : { kid: key.kid }),
    })
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setIssuedAt(now);
  if (!("sub" in options) || options.sub !== undefined) jwt.setSubject(options.sub ?? "alice");
  if (!("expiresIn" in options) || options.expiresIn !== undefined)
    jwt.setExpirationTime(now + (options.expiresIn ?? 3600));
  if (options.notBefore !== undefined) jwt.setNotBefore(now + options.notBefore);
  return jwt.sign(key.key);
}

/** An unsigned token (`alg: none`) with valid claims otherwise. */
export function unsignedJwt(sub = "alice"): string {
  const now = Math.floor(Date.now() / 1000);
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "none", typ: "JWT" })}.${part({ sub, iss: ISSUER, aud: AUDIENCE, iat: now, exp: now + 3600 })}.`;
}

/** A temp dir holding the JWKS and the HS256 secret as files; `remove` deletes it. */
export function writeKeyFiles(keys: JwtKeys): {
  readonly jwksFile: string;
  readonly secretFile: string;
  readonly dir: string;
  remove(): void;
} {
  const dir = mkdtempSync(join(tmpdir(), "entdb-jwt-"));
  const jwksFile = join(dir, "jwks.json");
  const secretFile = join(dir, "hs256.secret");
  writeFileSync(jwksFile, JSON.stringify(keys.jwks));
  writeFileSync(secretFile, `${new TextDecoder().decode(keys.hs256.key)}\n`);
  return { jwksFile, secretFile, dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
