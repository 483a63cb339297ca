/**
 * The edge steps of a plan (create, delete). Endpoints are checked against the
 * tenant's nodes; an existing (type, from, to) edge gets its props replaced.
 */

import type { CreateEdge, DeleteEdge, OperationResult } from "../../generated/entdb/v1/plan_pb.js";
import { edgeById } from "../../schema/served.ts";
import { type Payload, serializePayload } from "../store/lossless-json.ts";
import { deliverToMailboxes } from "./mailbox-delivery.ts";
import { type PlanRun, result, sortedKeys } from "./plan-run.ts";

/** Applies a create_edge step; `created` is false when the edge already existed. */
export function createEdge(run: PlanRun, op: CreateEdge): OperationResult {
  const edge = edgeById(run.ctx.schema, op.edgeTypeId);
  if (!edge) {
    throw run.reject(
      "invalid_argument",
      "UNKNOWN_TYPE",
      `The schema has no edge type with id ${op.edgeTypeId}.`,
      {
        typeId: op.edgeTypeId,
      },
    );
  }
  const from = run.resolve(op.fromId);
  const to = run.resolve(op.toId);
  checkEndpoint(run, edge.id, "from", from, edge.fromId);
  checkEndpoint(run, edge.id, "to", to, edge.toId);
  const props: Payload = new Map();
  for (const fieldId of sortedKeys(op.props)) {
    const field = edge.fields.find((f) => f.id === fieldId);
    if (!field) {
      throw run.reject(
        "invalid_argument",
        "UNKNOWN_FIELD",
        `Edge type ${edge.id} has no property ${fieldId}.`,
        {
          typeId: edge.id,
          fieldId,
        },
      );
    }
    const json = run.encodeIn(`edge type ${edge.id}`, edge.id, field, op.props[fieldId]!);
    if (json !== null) props.set(fieldId, json);
  }
  for (const f of edge.fields) {
    if (f.required && !props.has(f.id)) {
      throw run.reject(
        "invalid_argument",
        "REQUIRED_FIELD",
        `Property ${f.id} of edge type ${edge.id} is required.`,
        {
          typeId: edge.id,
          fieldId: f.id,
        },
      );
    }
  }
  if (edge.uniquePerFrom) {
    const other = run.db
      .stmt("SELECT to_id FROM edges WHERE edge_type_id = ? AND from_id = ? AND to_id <> ? LIMIT 1")
      .get(edge.id, from, to);
    if (other) {
      throw run.reject(
        "already_exists",
        "UNIQUE_PER_FROM",
        `Node ${JSON.stringify(from)} already has an edge of type ${edge.id}, which allows one per from node.`,
        { typeId: edge.id },
      );
    }
  }
  const existing = run.db
    .stmt("SELECT created_at FROM edges WHERE edge_type_id = ? AND from_id = ? AND to_id = ?")
    .get(edge.id, from, to);
  if (existing) {
    run.db
      .stmt("UPDATE edges SET props = ? WHERE edge_type_id = ? AND from_id = ? AND to_id = ?")
      .run(serializePayload(props), edge.id, from, to);
  } else {
    run.db
      .stmt(
        "INSERT INTO edges (edge_type_id, from_id, to_id, props, created_at) VALUES (?, ?, ?, ?, ?)",
      )
      .run(edge.id, from, to, serializePayload(props), run.ctx.nowMicros);
    if (edge.mailboxFieldId !== undefined) deliverToMailboxes(run, edge, from, to);
  }
  return result("", existing === undefined, 0n);
}

/** Applies a delete_edge step; removing an absent edge is not an error. */
export function deleteEdge(run: PlanRun, op: DeleteEdge): OperationResult {
  if (!edgeById(run.ctx.schema, op.edgeTypeId)) {
    throw run.reject(
      "invalid_argument",
      "UNKNOWN_TYPE",
      `The schema has no edge type with id ${op.edgeTypeId}.`,
      {
        typeId: op.edgeTypeId,
      },
    );
  }
  run.db
    .stmt("DELETE FROM edges WHERE edge_type_id = ? AND from_id = ? AND to_id = ?")
    .run(op.edgeTypeId, run.resolve(op.fromId), run.resolve(op.toId));
  return result("", false, 0n);
}

function checkEndpoint(
  run: PlanRun,
  edgeTypeId: number,
  end: "from" | "to",
  id: string,
  wantType: number,
): void {
  const row = run.db.stmt("SELECT type_id FROM nodes WHERE id = ?").get(id) as
    | { type_id: bigint }
    | undefined;
  if (row && Number(row.type_id) === wantType) return;
  throw run.reject(
    "failed_precondition",
    "MISSING_REF",
    row
      ? `The ${end} node ${JSON.stringify(id)} of edge type ${edgeTypeId} is of type ${row.type_id}; it must be of type ${wantType}.`
      : `The ${end} node ${JSON.stringify(id)} of edge type ${edgeTypeId} does not exist.`,
    { typeId: edgeTypeId },
  );
}
