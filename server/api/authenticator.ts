/**
 * The authenticator: one object that turns a request's Authorization header into its
 * context values (an {@link Actor}, or a refusal), used by both the Connect router and
 * the unary fast path (routes.ts), so the two paths cannot decide differently.
 *
 * - Dev mode (no tokens, no JWT configured): every caller is {@link DEV_ACTOR}.
 * - Static tokens (token-file.ts): the presented token's SHA-256 is compared with every
 *   configured hash in constant time, without stopping at a match; a token that matched
 *   is remembered (at most {@link JWT_CACHE_ENTRIES} of them), so it is hashed once.
 * - JWTs (auth-jwt.ts): a token that is not a static token and looks like a JWT is
 *   verified; a verified token is cached until its `exp` or {@link JWT_CACHE_MS},
 *   whichever comes first, in a cache of at most {@link JWT_CACHE_ENTRIES} tokens.
 *
 * Static tokens and cached JWTs are answered synchronously; only a JWT not yet in the
 * cache costs a promise.
 */

import { timingSafeEqual } from "node:crypto";
import type { ContextValues } from "@connectrpc/connect";
import type { Logger } from "../log.ts";
import { type Actor, actorKey, DEV_ACTOR, refusalKey } from "./auth.ts";
import { type AuthConfig, isDevMode } from "./auth-config.ts";
import { createJwtVerifier, type JwtVerifier } from "./auth-jwt.ts";
import { CallValues } from "./call-values.ts";
import { tokenSha256 } from "./token-file.ts";

/** Longest time a verified JWT is trusted without verifying it again, in ms. */
export const JWT_CACHE_MS = 60_000;

/** Most verified JWTs kept; the oldest is dropped first. */
export const JWT_CACHE_ENTRIES = 10_000;

/** Options of {@link createAuthenticator}. */
export interface AuthenticatorOptions {
  readonly config: AuthConfig;
  /** Whether a principal is a server-wide administrator (Actor.admin); default: nobody. */
  readonly isAdmin?: (principal: string) => boolean;
  /** Receives refusals (info, or warn for what looks forged); never the token. */
  readonly log: Logger;
  /** The clock, in ms (tests). */
  readonly now?: () => number;
  /** Most verified JWTs cached, and most matched static tokens; default {@link JWT_CACHE_ENTRIES}. */
  readonly jwtCacheEntries?: number;
}

/** Authenticates requests. */
export interface Authenticator {
  /** No authentication configured: every caller is the dev actor. */
  readonly devMode: boolean;
  /** The context values of a request with this Authorization header; never rejects. */
  contextValues(authorization: string | undefined): ContextValues | Promise<ContextValues>;
}

/** Creates the authenticator of `options.config`. */
export function createAuthenticator(options: AuthenticatorOptions): Authenticator {
  const { config, log } = options;
  const isAdmin = options.isAdmin ?? (() => false);
  const now = options.now ?? Date.now;
  const cacheEntries = options.jwtCacheEntries ?? JWT_CACHE_ENTRIES;
  if (isDevMode(config)) {
    return {
      devMode: true,
      contextValues: () => new CallValues().set(actorKey, DEV_ACTOR),
    };
  }
  const statics = config.tokens.map((t) => ({
    sha256: Buffer.from(t.sha256),
    actor: { id: t.principal, groups: [], admin: isAdmin(t.principal) } satisfies Actor,
  }));
  const verify: JwtVerifier | undefined =
    config.jwt === undefined ? undefined : createJwtVerifier(config.jwt, isAdmin, now);
  const cache = new Map<string, { readonly actor: Actor; readonly until: number }>();

  const accepted = (actor: Actor) => new CallValues().set(actorKey, actor);
  const refused = (reason: string, hint?: string, level: "info" | "warn" = "info") =>
    new CallValues().set(refusalKey, {
      hint,
      report: () => log[level]("authentication refused", { reason }),
    });

  /**
   * Static tokens already matched, by the presented token: a caller sends the same token
   * on every call, and hashing it each time was a measurable part of a small read. Only
   * matches are kept (an unknown token is hashed and compared every time), at most
   * `cacheEntries` of them, and static tokens neither expire nor change while the
   * server runs, so an entry is never stale.
   */
  const staticHits = new Map<string, Actor>();

  /** The actor of a static token; every entry is compared, whatever matches. */
  const staticActor = (token: string): Actor | undefined => {
    const hit = staticHits.get(token);
    if (hit !== undefined) return hit;
    const hash = tokenSha256(token);
    let found: Actor | undefined;
    for (const entry of statics) if (timingSafeEqual(entry.sha256, hash)) found = entry.actor;
    if (found !== undefined) {
      if (staticHits.size >= cacheEntries)
        staticHits.delete(staticHits.keys().next().value as string);
      staticHits.set(token, found);
    }
    return found;
  };

  const verifyJwt = async (token: string): Promise<ContextValues> => {
    const outcome = await (verify as JwtVerifier)(token);
    if (!outcome.ok) return refused(outcome.reason, outcome.hint, outcome.level);
    const until = Math.min(outcome.expiresAt, now() + JWT_CACHE_MS);
    if (cache.size >= cacheEntries) cache.delete(cache.keys().next().value as string);
    cache.set(token, { actor: outcome.actor, until });
    return accepted(outcome.actor);
  };

  return {
    devMode: false,
    contextValues(authorization) {
      if (authorization === undefined || authorization === "")
        return refused("no Authorization header");
      const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
      if (!m) return refused("the Authorization header is not 'Bearer <token>'");
      const token = m[1] as string;
      const actor = staticActor(token);
      if (actor !== undefined) return accepted(actor);
      if (verify === undefined || !JWT_SHAPE.test(token)) return refused("unknown bearer token");
      const hit = cache.get(token);
      if (hit !== undefined) {
        if (hit.until > now()) return accepted(hit.actor);
        cache.delete(token);
      }
      return verifyJwt(token).catch((err: unknown) => {
        log.error("jwt verification failed unexpectedly", { err });
        return refused("jwt verification failed unexpectedly");
      });
    },
  };
}

/** A compact JWS: three base64url parts separated by dots (the last may be empty for alg none). */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
