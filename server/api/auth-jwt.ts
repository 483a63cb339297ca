/**
 * JWT bearer tokens, verified with `jose` against the configuration of auth-config.ts:
 * the verifier that turns a token into an {@link Actor} or a refusal.
 *
 * What a token must satisfy: a signature by one of the configured keys with the
 * algorithm pinned to that key's kind (RSA → RS256, EC P-256 → ES256, OKP Ed25519 →
 * EdDSA, the secret → HS256; `alg: none` and every other algorithm are refused), the
 * configured `iss` and `aud`, an `exp` (a token without one would never expire) that
 * has not passed and an `nbf`, if any, that has (both with {@link CLOCK_TOLERANCE_S}
 * of tolerance), and a `sub` that makes a valid `user:` principal. The groups claim,
 * when configured and present, is an array of group ids, each becoming `group:ID`
 * (a `sub` or group id given with its prefix, `user:alice` or `group:eng`, is taken as
 * that principal).
 *
 * Verified tokens are cached (see {@link createJwtVerifier}); refusals are not.
 */

import { createLocalJWKSet, errors, type JWTPayload, jwtVerify } from "jose";
import { PrincipalError, parsePrincipal } from "../acl/principal.ts";
import type { Actor } from "./auth.ts";
import type { JwtConfig } from "./auth-config.ts";

/** Seconds of clock skew allowed when checking `exp` and `nbf`. */
export const CLOCK_TOLERANCE_S = 30;

/** What verifying a token gave: an actor until `expiresAt` (ms), or a refusal. */
export type JwtOutcome =
  | { readonly ok: true; readonly actor: Actor; readonly expiresAt: number }
  | {
      readonly ok: false;
      /** For the log: what failed, never the token. */
      readonly reason: string;
      /** "warn" for what looks like a forged token (bad signature, refused algorithm). */
      readonly level: "info" | "warn";
      /** For the caller: what is wrong with the token it sent. */
      readonly hint: string;
    };

/** Verifies JWTs against one configuration. */
export type JwtVerifier = (token: string) => Promise<JwtOutcome>;

/**
 * Creates the verifier of `config`; `isAdmin` decides Actor.admin from the principal,
 * `now` (ms) is the clock `exp` and `nbf` are checked against.
 */
export function createJwtVerifier(
  config: JwtConfig,
  isAdmin: (principal: string) => boolean,
  now: () => number = Date.now,
): JwtVerifier {
  const key =
    config.keys.kind === "jwks" ? createLocalJWKSet(config.keys.jwks) : config.keys.secret;
  const base = {
    issuer: config.issuer,
    audience: config.audience,
    algorithms: [...config.algorithms],
    requiredClaims: ["exp", "sub"],
    clockTolerance: CLOCK_TOLERANCE_S,
  };
  return async (token) => {
    let payload: JWTPayload;
    const options = { ...base, currentDate: new Date(now()) };
    try {
      // The two overloads (a key, a key set) take the same options.
      payload =
        typeof key === "function"
          ? (await jwtVerify(token, key, options)).payload
          : (await jwtVerify(token, key, options)).payload;
    } catch (err) {
      return refusal(err);
    }
    let id: string;
    try {
      id = parsePrincipal(prefixed("user", payload.sub ?? "")).text;
    } catch (err) {
      if (!(err instanceof PrincipalError)) throw err;
      return {
        ok: false,
        level: "info",
        reason: "jwt sub is not a valid user id",
        hint: "its 'sub' is not a valid user id (1 to 200 letters, digits and . _ ~ @ + | = : -)",
      };
    }
    const groups = config.groupsClaim === undefined ? [] : groupsOf(payload[config.groupsClaim]);
    if (groups === undefined)
      return {
        ok: false,
        level: "info",
        reason: `jwt claim '${config.groupsClaim}' is not an array of group ids`,
        hint: `its '${config.groupsClaim}' claim is not an array of group ids`,
      };
    return {
      ok: true,
      actor: { id, groups, admin: isAdmin(id) },
      expiresAt: (payload.exp as number) * 1000,
    };
  };
}

/**
 * `KIND:value`, or `value` when it already starts with `KIND:`: identity providers are
 * configured with either a bare id (`eng`) or a principal (`group:eng`), and both mean
 * the same principal. (An id that itself starts with `group:` cannot be named here.)
 */
function prefixed(kind: "user" | "group", value: string): string {
  return value.startsWith(`${kind}:`) ? value : `${kind}:${value}`;
}

/** `group:ID` for each id in a groups claim; [] if absent; undefined if malformed. */
function groupsOf(claim: unknown): string[] | undefined {
  if (claim === undefined) return [];
  if (!Array.isArray(claim)) return undefined;
  const out: string[] = [];
  for (const g of claim) {
    if (typeof g !== "string") return undefined;
    try {
      out.push(parsePrincipal(prefixed("group", g)).text);
    } catch {
      return undefined;
    }
  }
  return out;
}

/** The refusal of a token jose rejected, with a reason for the log and a hint for the caller. */
function refusal(err: unknown): JwtOutcome {
  const r = (reason: string, hint: string, level: "info" | "warn" = "info"): JwtOutcome => ({
    ok: false,
    reason,
    hint,
    level,
  });
  if (err instanceof errors.JWTExpired) return r("jwt expired", "it has expired");
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === "nbf") return r("jwt not yet valid (nbf)", "it is not valid yet ('nbf')");
    if (err.claim === "iss")
      return r("jwt issuer mismatch", "its 'iss' is not this server's issuer");
    if (err.claim === "aud")
      return r("jwt audience mismatch", "its 'aud' does not name this server's audience");
    if (err.reason === "missing")
      return r(`jwt lacks the '${err.claim}' claim`, `it has no '${err.claim}' claim`);
    return r(`jwt claim '${err.claim}' invalid`, `its '${err.claim}' claim is not valid`);
  }
  if (err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported)
    return r(
      "jwt algorithm not allowed",
      "its signing algorithm ('alg') is not accepted here",
      "warn",
    );
  if (err instanceof errors.JWSSignatureVerificationFailed)
    return r(
      "jwt signature invalid",
      "its signature does not verify with this server's keys",
      "warn",
    );
  if (err instanceof errors.JWKSNoMatchingKey)
    return r(
      "jwt signed by an unknown key",
      "no key of this server matches its 'kid' and 'alg'",
      "warn",
    );
  if (err instanceof errors.JWTInvalid || err instanceof errors.JWSInvalid)
    return r("jwt malformed", "it is not a well-formed signed JWT");
  // A key jose cannot use for the token (e.g. an RSA key under 2048 bits) or anything
  // else: the token is refused all the same, and the log says what jose said.
  const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return r(`jwt verification failed (${message})`, "it could not be verified");
}
