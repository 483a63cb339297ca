/**
 * Reads of `public` nodes by callers that are not members (docs/access-control.md,
 * "Public nodes"). When the schema declares a `public` node type, the read RPCs (GetNode,
 * GetNodes, GetNodeByKey, QueryNodes, ListEdges, Traverse, Search and the typed services' reads)
 * let any authenticated caller through the tenant check, and the store scopes what a
 * non-member sees to the nodes of public types (acl/read-scope.ts `publicOnly`), inside
 * the SQL like every visibility. With `--public-reads`, a read with no Authorization
 * header at all is such a caller too, as {@link ANONYMOUS_ACTOR}. Every other RPC, and
 * every read of a schema without public types, is refused to non-members as before.
 */

import type { ContextValues } from "@connectrpc/connect";
import type { Schema } from "../../schema/index.ts";
import { type Actor, actorKey, requireActor } from "./auth.ts";

/**
 * The actor of a read without a token under `--public-reads`. Its id is no principal
 * (acl/principal.ts has no such form), so no grant, deny or ownership can name it.
 */
export const ANONYMOUS_ACTOR: Actor = { id: "anonymous", groups: [], admin: false };

const publicTypes = new WeakMap<Schema, boolean>();

/** Whether the model declares a node type with `visibility = public` (computed once). */
export function hasPublicTypes(schema: Schema): boolean {
  let has = publicTypes.get(schema);
  if (has === undefined) {
    has = schema.nodes.some((n) => n.visibility === "public");
    publicTypes.set(schema, has);
  }
  return has;
}

/**
 * The actor of a read: the authenticated one; {@link ANONYMOUS_ACTOR} when `anonymous`
 * reads are allowed and the request sent no Authorization header (a refused token is
 * still refused); otherwise UNAUTHENTICATED. `authorization` is asked for only when
 * there is no authenticated actor (reading a request's headers builds a `Headers`).
 */
export function readerOf(
  values: ContextValues,
  authorization: () => string | null,
  anonymous: boolean,
): Actor {
  const actor = values.get(actorKey);
  if (actor) return actor;
  if (anonymous) {
    const header = authorization();
    if (header === null || header === "") return ANONYMOUS_ACTOR;
  }
  return requireActor(values);
}
