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
 * One row per node id, replaced if the id is deleted again. No payload text is kept.
 * Beside it, the recipients whose mailbox held the node when it was deleted (its
 * mailbox items go with the node), so a mailbox subscription is told of the deletion.
 *
 * Pruning: a tombstone is kept {@link TOMBSTONE_RETENTION_DAYS} days by the deleting
 * event's ingress time. Each delete first drops the tombstones (and recipients) older
 * than that, judged at its own ingress time, and raises the horizon
 * (`node_tombstone_horizon.pruned_before`) to the cutoff when it dropped any. Both are a
 * function of the logged events only, so replay prunes the same rows. A subscription
 * whose history reaches a deletion logged before the horizon ends with OUT_OF_RANGE
 * instead of judging it without its tombstone (api/subscribe-service.ts).
 */

import type { ReadScope } from "../acl/read-scope.ts";
import { hasDenies } from "./access-tables.ts";
import type { Store } from "./store.ts";
import { hiddenNodeTerm } from "./visibility-sql.ts";

/** The statements creating the tombstone table. */
export const NODE_TOMBSTONE_DDL: readonly string[] = [
  // `deleted_at`: the deleting event's ingress time (microseconds), so replay gives the same value.
  "CREATE TABLE IF NOT EXISTS node_tombstones (id TEXT PRIMARY KEY, type_id INTEGER NOT NULL, owner TEXT NOT NULL, payload TEXT NOT NULL, deleted_at INTEGER NOT NULL) STRICT, WITHOUT ROWID",
  // Pruning reads the oldest tombstones first.
  "CREATE INDEX IF NOT EXISTS node_tombstones_by_time ON node_tombstones(deleted_at)",
  // The recipients whose mailbox held the node when it was deleted.
  "CREATE TABLE IF NOT EXISTS node_tombstone_recipients (node_id TEXT NOT NULL, recipient TEXT NOT NULL, PRIMARY KEY (node_id, recipient)) STRICT, WITHOUT ROWID",
  // Every deletion logged before `pruned_before` (ingress microseconds) has lost its tombstone.
  "CREATE TABLE IF NOT EXISTS node_tombstone_horizon (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), pruned_before INTEGER NOT NULL) STRICT",
];

/** How long a tombstone is kept, by the deleting event's ingress time. Part of the derived state's definition: changing it changes what replay keeps. */
export const TOMBSTONE_RETENTION_DAYS = 7;

/** {@link TOMBSTONE_RETENTION_DAYS} in microseconds. */
export const TOMBSTONE_RETENTION_MICROS = BigInt(TOMBSTONE_RETENTION_DAYS) * 86_400_000_000n;

/**
 * The ingress time (microseconds) before which deletions have lost their tombstones,
 * or undefined when none was pruned.
 */
export function tombstonesPrunedBefore(store: Store, tenant: string): bigint | undefined {
  const db = store.readTenant(tenant);
  if (!db) return undefined;
  const row = db
    .stmt("SELECT pruned_before FROM node_tombstone_horizon WHERE singleton = 1")
    .get() as { pruned_before: bigint } | undefined;
  return row?.pruned_before;
}

/** Whether the deleted node `nodeId` was in `recipient`'s mailbox when it was deleted. */
export function wasInMailbox(
  store: Store,
  tenant: string,
  recipient: string,
  nodeId: string,
): boolean {
  const db = store.readTenant(tenant);
  if (!db) return false;
  return (
    db
      .stmt("SELECT 1 AS ok FROM node_tombstone_recipients WHERE node_id = ? AND recipient = ?")
      .get(nodeId, recipient) !== undefined
  );
}

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
