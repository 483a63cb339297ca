/**
 * Applies a `MailboxChange`: the event's actor changes the state (read, archived,
 * starred) of items in its own mailbox. The recipient is the authenticated actor the
 * event records, never a value from the request, so nobody changes another's mailbox.
 * Node ids the actor has no item for are left alone: the outcome does not say which ids
 * are in a mailbox, so it cannot be used to probe one. So are the items of nodes the
 * actor may not read when the change is applied: such a node reads as one that does not
 * exist (DESIGN.md contract 12), and marking it must not show later, once it is shared.
 */

import type { MailboxChange } from "../../generated/entdb/v1/wal_pb.js";
import type { TenantDb } from "../store/tenant-db.ts";

/**
 * Applies `change` for `recipient` inside the caller's savepoint, to the items of the
 * nodes `reads` says the recipient may read.
 */
export function applyMailboxChange(
  db: TenantDb,
  recipient: string,
  change: MailboxChange,
  reads: (nodeId: string) => boolean,
): void {
  const sets: string[] = [];
  const params: number[] = [];
  for (const [column, value] of [
    ["read", change.read],
    ["archived", change.archived],
    ["starred", change.starred],
  ] as const) {
    if (value === undefined) continue;
    sets.push(`${column} = ?`);
    params.push(value ? 1 : 0);
  }
  if (sets.length === 0) return;
  const update = db.stmt(
    `UPDATE mailbox_items SET ${sets.join(", ")} WHERE recipient = ? AND node_id = ?`,
  );
  for (const nodeId of change.nodeIds) {
    if (reads(nodeId)) update.run(...params, recipient, nodeId);
  }
}
