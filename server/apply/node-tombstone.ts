/**
 * Writes the tombstone of a deleted node (store/node-tombstones.ts), in the delete's
 * transaction: who owned it and the `inherit_access` refs that decided who read it, so
 * that subscribers who read the node are told of its deletion and others are not, and
 * whose mailbox held it, so their mailbox subscriptions are told too. First drops the
 * tombstones past their retention, judged at the event's ingress time. Deterministic:
 * built from the tables, the row and the event's time only.
 */

import type { NodeType } from "../../schema/index.ts";
import { type Payload, parsePayload, serializePayload } from "../store/lossless-json.ts";
import { TOMBSTONE_RETENTION_MICROS } from "../store/node-tombstones.ts";
import type { NodeRow } from "../store/row-codec.ts";
import { inheritedFrom } from "../store/visibility-sql.ts";
import type { PlanRun } from "./plan-run.ts";

/**
 * Records `row` (of `type`, about to be deleted) as deleted. Must run before the node's
 * row is deleted: its mailbox items go with it (mailbox-tables.ts).
 */
export function recordTombstone(run: PlanRun, type: NodeType, row: NodeRow): void {
  pruneTombstones(run, run.ctx.nowMicros - TOMBSTONE_RETENTION_MICROS);
  const parents = inheritedFrom(type);
  let payload = "{}";
  if (parents.length > 0) {
    const full = parsePayload(row.payload);
    const refs: Payload = new Map();
    for (const { fieldId } of parents) {
      const ref = full.get(fieldId);
      if (ref !== undefined) refs.set(fieldId, ref);
    }
    payload = serializePayload(refs);
  }
  run.db
    .stmt(
      "INSERT OR REPLACE INTO node_tombstones (id, type_id, owner, payload, deleted_at) VALUES (?, ?, ?, ?, ?)",
    )
    .run(row.id, row.type_id, row.owner, payload, run.ctx.nowMicros);
  run.db.stmt("DELETE FROM node_tombstone_recipients WHERE node_id = ?").run(row.id);
  run.db
    .stmt(
      "INSERT INTO node_tombstone_recipients (node_id, recipient) SELECT node_id, recipient FROM mailbox_items WHERE node_id = ?",
    )
    .run(row.id);
}

/** Drops the tombstones of deletions logged before `cutoff` and raises the horizon to it. */
function pruneTombstones(run: PlanRun, cutoff: bigint): void {
  run.db
    .stmt(
      "DELETE FROM node_tombstone_recipients WHERE node_id IN (SELECT id FROM node_tombstones WHERE deleted_at < ?)",
    )
    .run(cutoff);
  const pruned = run.db.stmt("DELETE FROM node_tombstones WHERE deleted_at < ?").run(cutoff);
  if (pruned.changes === 0) return;
  run.db
    .stmt(
      "INSERT INTO node_tombstone_horizon (singleton, pruned_before) VALUES (1, ?) ON CONFLICT (singleton) DO UPDATE SET pruned_before = max(pruned_before, excluded.pruned_before)",
    )
    .run(cutoff);
}
