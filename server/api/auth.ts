/**
 * Identity (DESIGN.md contract 9): the actor comes from the bearer token, verified by
 * the server's authenticator (authenticator.ts: static tokens, JWTs), never from the
 * request body or a client-set header. With no authentication configured the server
 * runs in dev mode: every caller is the actor "dev", and the server refuses to bind
 * anything but loopback (see server-config.ts).
 *
 * This module holds what handlers see: the {@link Actor} of a request's context, and
 * {@link requireActor}, which refuses a request without one.
 */

import { Code, ConnectError, type ContextValues, createContextKey } from "@connectrpc/connect";

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

/** The actor a request authenticated as; set by the authenticator (authenticator.ts). */
export const actorKey = createContextKey<Actor | undefined>(undefined, {
  description: "authenticated actor",
});

/** The actor every dev-mode request gets. */
export const DEV_ACTOR: Actor = { id: "dev", groups: [], admin: true };

/**
 * Why a request has no actor. Set by the authenticator; reported (logged) by
 * {@link requireActor} only when a handler needs the actor, so calls that need none
 * (health checks) do not fill the log.
 */
export interface AuthRefusal {
  /** What is wrong with the token, for the caller (never the token); undefined: say nothing. */
  readonly hint: string | undefined;
  /** Logs the refusal with its reason. */
  report(): void;
}

/** The refusal of a request without an actor, if the authenticator refused one. */
export const refusalKey = createContextKey<AuthRefusal | undefined>(undefined, {
  description: "why authentication refused the request",
});

/** The message of UNAUTHENTICATED for a missing or unknown token. */
export const UNAUTHENTICATED_MESSAGE =
  "Missing or unknown bearer token; send 'Authorization: Bearer <token>' with a token from the server's configuration.";

/** The request's actor, or an UNAUTHENTICATED error that says what to send. */
export function requireActor(values: ContextValues): Actor {
  const actor = values.get(actorKey);
  if (!actor) {
    values.get(refusalKey)?.report();
    throw unauthenticatedError(values);
  }
  return actor;
}

/** The UNAUTHENTICATED error {@link requireActor} throws for a request without an actor (nothing logged). */
export function unauthenticatedError(values: ContextValues): ConnectError {
  const refusal = values.get(refusalKey);
  return new ConnectError(
    refusal?.hint === undefined
      ? UNAUTHENTICATED_MESSAGE
      : `The bearer token was refused: ${refusal.hint}. Send 'Authorization: Bearer <token>' with a valid token.`,
    Code.Unauthenticated,
  );
}

/** The service that answers without a token (orchestrators' probes; docs/access.md). */
export const HEALTH_SERVICE = "grpc.health.v1.Health";

/**
 * Whether a call to `service` is refused for its credentials before its body is read as
 * a message: it has no actor, is not a health check, and is not a read without a token
 * under `--public-reads` (`anonymousReads`; the read handlers decide those). The answers
 * to a body that does not decode name the request's message and its fields, so without
 * this gate a caller without a token learned the schema's types and fields, which the
 * descriptors behind reflection also hold and which need a token.
 */
export function refusedBeforeDecode(
  values: ContextValues,
  service: string,
  authorization: string | undefined,
  anonymousReads: boolean,
): boolean {
  if (values.get(actorKey) !== undefined || service === HEALTH_SERVICE) return false;
  return !(anonymousReads && (authorization === undefined || authorization === ""));
}
