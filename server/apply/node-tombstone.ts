/**
 * Writes the tombstone of a deleted node (store/node-tombstones.ts), in the delete's
 * transaction: who owned it and the `inherit_access` refs that decided who read it, so
 * that subscribers who read the node are told of its deletion and others are not.
 * Deterministic: built from the row and the event's time only.
 */

import type { NodeType } from "../../schema/index.ts";
import { type Payload, parsePayload, serializePayload } from "../store/lossless-json.ts";
import type { NodeRow } from "../store/row-codec.ts";
import { inheritedFrom } from "../store/visibility-sql.ts";
import type { PlanRun } from "./plan-run.ts";

/** Records `row` (of `type`, about to be deleted) as deleted. */
export function recordTombstone(run: PlanRun, type: NodeType, row: NodeRow): void {
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
}
