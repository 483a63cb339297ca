/**
 * Mailbox fan-out: creating an edge of a type declared `mailbox = field` delivers the
 * edge's `from` node to the mailbox of the principal held in that field of its `to`
 * node, in the plan's transaction (docs/mailbox.md).
 *
 * A `user:` or `service:` principal gets one item; a `group:` principal gets one item per
 * member of that tenant group as the tenant database holds it at this event, so replay
 * gives the same recipients. Any other value (empty, malformed, `role:`, `tenant:*`)
 * delivers nothing: the field is data, and a write is not refused for it. A recipient
 * that already has the node keeps its item and state (first delivery wins).
 */

import type { EdgeType } from "../../schema/index.ts";
import { parsePrincipal } from "../acl/principal.ts";
import type { PlanRun } from "./plan-run.ts";

const INSERT_ONE =
  "INSERT OR IGNORE INTO mailbox_items (recipient, node_id, type_id, reason, delivered_at, read, archived, starred) VALUES (?, ?, ?, ?, ?, 0, 0, 0)";
const INSERT_GROUP =
  "INSERT OR IGNORE INTO mailbox_items (recipient, node_id, type_id, reason, delivered_at, read, archived, starred) SELECT principal, ?, ?, ?, ?, 0, 0, 0 FROM access_group_members WHERE group_id = ?";

/** Delivers node `fromId` for a new edge of `edge` (which has `mailboxFieldId`) into `toId`. */
export function deliverToMailboxes(
  run: PlanRun,
  edge: EdgeType,
  fromId: string,
  toId: string,
): void {
  const fieldId = edge.mailboxFieldId;
  if (fieldId === undefined) return;
  const row = run.db
    .stmt(
      `SELECT json_extract(payload, '$."${fieldId}"') AS principal FROM nodes WHERE id = ? AND type_id = ?`,
    )
    .get(toId, edge.toId) as { principal: unknown } | undefined;
  const text = row?.principal;
  if (typeof text !== "string") return;
  let kind: string;
  try {
    kind = parsePrincipal(text).kind;
  } catch {
    return; // not a principal: nothing to deliver (see the module comment)
  }
  const at = run.ctx.nowMicros;
  if (kind === "user" || kind === "service") {
    run.db.stmt(INSERT_ONE).run(text, fromId, edge.fromId, edge.id, at);
  } else if (kind === "group") {
    run.db.stmt(INSERT_GROUP).run(fromId, edge.fromId, edge.id, at, text);
  }
}
