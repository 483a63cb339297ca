/**
 * Identity (DESIGN.md contract 9): the actor comes from the bearer token, mapped to
 * an actor id by the server's configuration, never from the request body. With no
 * tokens configured the server runs in dev mode: every caller is the actor "dev",
 * and the server refuses to bind anything but loopback (see server-config.ts).
 */

import {
  Code,
  ConnectError,
  type ContextValues,
  createContextKey,
  createContextValues,
} from "@connectrpc/connect";

/**
 * Who is calling, as authentication decided it (never from the request body or a
 * client-set header).
 */
export interface Actor {
  /** The caller's principal in canonical form: "user:alice" or "service:importer" (see acl/principal.ts). */
  readonly id: string;
  /** Group principals ("group:eng") the authenticator vouches for, e.g. from a JWT claim. */
  readonly groups: readonly string[];
  /** A server-wide administrator (`--admins`): manages tenants, does not thereby read content. */
  readonly admin: boolean;
}

/** The actor a request authenticated as; set for every request by {@link authContext}. */
export const actorKey = createContextKey<Actor | undefined>(undefined, {
  description: "authenticated actor",
});

/** The actor every dev-mode request gets. */
export const DEV_ACTOR: Actor = { id: "dev", groups: [], admin: true };

const NO_ADMINS: ReadonlySet<string> = new Set();

/** Token → actor id. Empty means dev mode. */
export type TokenMap = ReadonlyMap<string, string>;

/**
 * Builds the context values of a request from its Authorization header. A request
 * without a valid token gets no actor; handlers call {@link requireActor}, which
 * fails with UNAUTHENTICATED, so unauthenticated calls change nothing.
 */
export function authContext(
  tokens: TokenMap,
  authorization: string | undefined,
  admins: ReadonlySet<string> = NO_ADMINS,
): ContextValues {
  const values = createContextValues();
  if (tokens.size === 0) {
    values.set(actorKey, DEV_ACTOR);
    return values;
  }
  const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  const actor = m ? tokens.get(m[1]!) : undefined;
  if (actor !== undefined)
    values.set(actorKey, { id: actor, groups: [], admin: admins.has(actor) });
  return values;
}

/** The request's actor, or an UNAUTHENTICATED error that says what to send. */
export function requireActor(values: ContextValues): Actor {
  const actor = values.get(actorKey);
  if (!actor) {
    throw new ConnectError(
      "Missing or unknown bearer token; send 'Authorization: Bearer <token>' with a token from the server's configuration.",
      Code.Unauthenticated,
    );
  }
  return actor;
}
