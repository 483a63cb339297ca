/**
 * Tombstones of deleted nodes: what a subscription needs to decide who may be told of a
 * deletion once the node's row is gone (docs/subscriptions.md, "Access").
 *
 * The applier writes one row per deleted node, in the delete's transaction
 * (apply/node-tombstone.ts): the node's id, type, owner and, of its payload, only the
 * `inherit_access` ref fields, the part of a row the visibility rule reads
 * (visibility-sql.ts). Grants are kept in `access_grants` after a delete, so the same
 * rule, run over the tombstone instead of a `nodes` row, tells whether a scope would
 * read the node now had it not been deleted. Derived state like every table: written
 * only by the applier from the event, so replay rebuilds it byte for byte. Created on
 * open when missing, so older files gain it (their earlier deletions have none).
 *
 * One row per node id, replaced if the id is deleted again; it stays after the delete
 * (a subscriber may resume from a position before it). No payload text is kept.
 */

import type { ReadScope } from "../acl/read-scope.ts";
import { hasDenies } from "./access-tables.ts";
import type { Store } from "./store.ts";
import { hiddenNodeTerm } from "./visibility-sql.ts";

/** The statements creating the tombstone table. */
export const NODE_TOMBSTONE_DDL: readonly string[] = [
  // `deleted_at`: the deleting event's ingress time (microseconds), so replay gives the same value.
  "CREATE TABLE IF NOT EXISTS node_tombstones (id TEXT PRIMARY KEY, type_id INTEGER NOT NULL, owner TEXT NOT NULL, payload TEXT NOT NULL, deleted_at INTEGER NOT NULL) STRICT, WITHOUT ROWID",
];

/**
 * Whether `scope` reads the deleted node `nodeId` of `typeId` as its tombstone stands:
 * true or false, or undefined when there is no tombstone (no database, or a deletion
 * applied before tombstones were kept).
 */
export function readsDeletedNode(
  store: Store,
  tenant: string,
  typeId: number,
  nodeId: string,
  scope: ReadScope,
): boolean | undefined {
  const db = store.readTenant(tenant);
  if (!db) return undefined;
  const found = db.stmt("SELECT type_id FROM node_tombstones WHERE id = ?").get(nodeId) as
    | { type_id: bigint }
    | undefined;
  if (!found || Number(found.type_id) !== typeId) return undefined;
  if (scope.unrestricted) return true;
  const model = store.readModel(db);
  if (model === undefined) return false;
  const hidden = hiddenNodeTerm(model, scope, "t", { denies: hasDenies(db) }, typeId);
  if (!hidden) return true;
  const row = db
    .stmt(`SELECT 1 AS ok FROM node_tombstones t WHERE t.id = ? AND NOT ${hidden.sql}`)
    .get(nodeId, ...hidden.params);
  return row !== undefined;
}
