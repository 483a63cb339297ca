/**
 * How requests authenticate, as configured and checked at start: the static tokens
 * (token-file.ts) and the JWT settings (issuer, audience, the keys from a JWKS file or
 * an HS256 secret file, an optional groups claim). Kept free of `jose` and the Connect
 * library so the configuration loads without them; auth-jwt.ts and authenticator.ts
 * use it.
 */

import { createPublicKey, type JsonWebKey } from "node:crypto";
import { readFileSync } from "node:fs";
import type { JSONWebKeySet, JWK } from "jose";
import { ConfigError } from "../config-error.ts";
import type { StaticToken } from "./token-file.ts";

/** How requests authenticate. */
export interface AuthConfig {
  readonly tokens: readonly StaticToken[];
  readonly jwt: JwtConfig | undefined;
}

/** Whether `config` leaves the server in dev mode (no authentication at all). */
export function isDevMode(config: AuthConfig): boolean {
  return config.tokens.length === 0 && config.jwt === undefined;
}

/** The JWT settings, as read and checked at start. */
export interface JwtConfig {
  readonly issuer: string;
  readonly audience: string;
  /** Where the keys come from. */
  readonly keys:
    | { readonly kind: "jwks"; readonly path: string; readonly jwks: JSONWebKeySet }
    | { readonly kind: "secret"; readonly path: string; readonly secret: Uint8Array };
  /** The algorithms a token may be signed with, pinned by the kinds of the keys. */
  readonly algorithms: readonly string[];
  /** A claim holding group ids, mapped to `group:ID` in Actor.groups. */
  readonly groupsClaim: string | undefined;
}

/** The JWT flags, as strings from flags and the environment. */
export interface JwtInput {
  readonly issuer?: string | undefined;
  readonly audience?: string | undefined;
  readonly jwksFile?: string | undefined;
  readonly secretFile?: string | undefined;
  readonly groupsClaim?: string | undefined;
}

/** The shortest HS256 secret accepted, in bytes (RFC 7518 §3.2: at least the hash size). */
export const MIN_SECRET_BYTES = 32;

/**
 * Checks the JWT flags and loads the keys. Returns undefined when no JWT flag is set;
 * throws ConfigError naming the flag or file to fix.
 */
export function resolveJwtConfig(input: JwtInput): JwtConfig | undefined {
  const { issuer, audience, jwksFile, secretFile, groupsClaim } = input;
  if (!issuer && !audience && !jwksFile && !secretFile && !groupsClaim) return undefined;
  if (!jwksFile && !secretFile)
    throw new ConfigError(
      "JWT authentication needs keys: pass --jwt-jwks-file FILE (RS256/ES256/EdDSA public keys) or --jwt-secret-file FILE (HS256).",
    );
  if (jwksFile && secretFile)
    throw new ConfigError(
      "Pass either --jwt-jwks-file or --jwt-secret-file, not both: one server trusts one kind of key.",
    );
  if (!issuer)
    throw new ConfigError(
      "JWT authentication needs --jwt-issuer (env ENTDB_JWT_ISSUER): the exact 'iss' your identity provider puts in its tokens.",
    );
  if (!audience)
    throw new ConfigError(
      "JWT authentication needs --jwt-audience (env ENTDB_JWT_AUDIENCE): the 'aud' your identity provider issues tokens for this server with.",
    );
  if (groupsClaim !== undefined && !/^[A-Za-z_][A-Za-z0-9_.:/-]*$/.test(groupsClaim))
    throw new ConfigError(`--jwt-groups-claim '${groupsClaim}' is not a claim name.`);
  if (jwksFile) {
    const { jwks, algorithms } = readJwksFile(jwksFile);
    return {
      issuer,
      audience,
      keys: { kind: "jwks", path: jwksFile, jwks },
      algorithms,
      groupsClaim,
    };
  }
  const path = secretFile as string;
  return {
    issuer,
    audience,
    keys: { kind: "secret", path, secret: readSecretFile(path) },
    algorithms: ["HS256"],
    groupsClaim,
  };
}

/** The algorithms each accepted key kind may sign with. */
function algorithmsOf(jwk: JWK): readonly string[] | undefined {
  if (jwk.kty === "RSA") return ["RS256"];
  if (jwk.kty === "EC" && jwk.crv === "P-256") return ["ES256"];
  // jose names Ed25519 signatures "EdDSA" (RFC 8037) or "Ed25519" (RFC 9864).
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return ["EdDSA", "Ed25519"];
  return undefined;
}

const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "k"] as const;

function readJwksFile(path: string): { jwks: JSONWebKeySet; algorithms: string[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    const why =
      err instanceof SyntaxError
        ? `it is not JSON: ${err.message}`
        : ((err as NodeJS.ErrnoException).code ?? (err as Error).message);
    throw new ConfigError(`Cannot read the JWKS file ${path} (${why}); check --jwt-jwks-file.`);
  }
  const keys = (parsed as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys) || keys.length === 0)
    throw new ConfigError(
      `${path}: a JWKS file is a JSON object {"keys": [...]} with at least one public key.`,
    );
  const algorithms = new Set<string>();
  keys.forEach((key: unknown, i) => {
    const jwk = (typeof key === "object" && key !== null ? key : {}) as JWK;
    const where = `${path}: key ${i + 1}${typeof jwk.kid === "string" ? ` (kid '${jwk.kid}')` : ""}`;
    const algs = algorithmsOf(jwk);
    if (algs === undefined)
      throw new ConfigError(
        `${where} is not an RSA, EC P-256 or OKP Ed25519 key; those are the kinds accepted (RS256, ES256, EdDSA).`,
      );
    if (jwk.alg !== undefined && !algs.includes(jwk.alg))
      throw new ConfigError(
        `${where} has alg '${jwk.alg}'; ${jwk.kty} keys here sign ${algs[0]} only.`,
      );
    if (jwk.use !== undefined && jwk.use !== "sig")
      throw new ConfigError(
        `${where} has use '${jwk.use}'; only signing keys ('sig') verify tokens.`,
      );
    for (const member of PRIVATE_MEMBERS)
      if (member in jwk)
        throw new ConfigError(
          `${where} holds private key material ('${member}'); put only public keys in the JWKS file.`,
        );
    try {
      createPublicKey({ key: jwk as JsonWebKey, format: "jwk" });
    } catch (err) {
      throw new ConfigError(`${where} is not a valid public key: ${(err as Error).message}.`);
    }
    for (const alg of algs) algorithms.add(alg);
  });
  return { jwks: { keys: keys as JWK[] }, algorithms: [...algorithms] };
}

function readSecretFile(path: string): Uint8Array {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new ConfigError(
      `Cannot read the JWT secret file ${path} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check --jwt-secret-file.`,
    );
  }
  // `echo "$SECRET" > file` ends it with a newline that is not part of the secret.
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 0x0a) end--;
  if (end > 0 && bytes[end - 1] === 0x0d) end--;
  const secret = bytes.subarray(0, end);
  if (secret.length < MIN_SECRET_BYTES)
    throw new ConfigError(
      `The JWT secret in ${path} is ${secret.length} bytes; HS256 needs at least ${MIN_SECRET_BYTES} (e.g. openssl rand -base64 48).`,
    );
  return new Uint8Array(secret);
}
