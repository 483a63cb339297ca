/**
 * The node steps of a plan (create, update, delete), with the full-text rows that
 * follow a node's payload. Each step checks, then writes; a failed check throws a
 * {@link PlanRejection} before anything of that step is written.
 */

import type {
  CreateNode,
  DeleteNode,
  OperationResult,
  UpdateNode,
} from "../../generated/entdb/v1/plan_pb.js";
import { DELETE_EDGES_TO } from "../store/edge-sql.ts";
import { heldInsert } from "../store/held-rows.ts";
import {
  appendPayloadField,
  type Payload,
  parsePayload,
  serializePayload,
  stringifyJson,
} from "../store/lossless-json.ts";
import { recordTombstone } from "./node-tombstone.ts";
import {
  checkPrecondition,
  checkRefs,
  checkUniques,
  findIfAbsent,
  uniquesIndexed,
} from "./plan-checks.ts";
import { PlanRejection } from "./plan-rejection.ts";
import { type PlanRun, result, sortedKeys } from "./plan-run.ts";
import { LeanCreateNode } from "./wal-event-decode.ts";

/** A node's row; created at version 1. */
const INSERT_NODE = heldInsert(
  "INSERT INTO nodes (id, type_id, payload, version, owner, created_at, updated_at) VALUES ",
  "(?, ?, ?, 1, ?, ?, ?)",
  6,
);

/** Applies a create_node step; an `if_absent_on` match resolves to the existing node. */
export function createNode(run: PlanRun, op: CreateNode): OperationResult {
  const type = run.nodeType(op.typeId);
  if (op.id === "") {
    throw run.reject(
      "invalid_argument",
      "INVALID_VALUE",
      "The create step has no node id; ingress mints one.",
      {
        typeId: type.id,
      },
    );
  }
  const payload: Payload = new Map();
  const written: number[] = [];
  // The stored text is written as the fields are encoded, in ascending field id order:
  // serializePayload's bytes without walking the payload again.
  let text = "";
  // A lean create (a restore's, wal-event-decode.ts) has its values as read, in field id
  // order: plain ones are encoded from them, without making its `fields` messages.
  const lean = op instanceof LeanCreateNode ? op.entries : undefined;
  const ids = lean === undefined ? sortedKeys(op.fields) : undefined;
  const count = lean === undefined ? ids!.length : lean.length / 3;
  for (let i = 0; i < count; i++) {
    const fieldId = lean === undefined ? ids![i]! : (lean[3 * i] as number);
    const field = run.field(type, fieldId);
    const json =
      (lean === undefined ? undefined : run.encodePlain(field, lean[3 * i + 1], lean[3 * i + 2])) ??
      run.encode(type, field, op.fields[fieldId]!);
    if (json === null) continue;
    payload.set(fieldId, json);
    written.push(fieldId);
    text = appendPayloadField(text, fieldId, json);
  }
  const stored = `{${text}}`;
  for (const f of type.fields) {
    if (f.required && !payload.has(f.id)) {
      throw run.reject(
        "invalid_argument",
        "REQUIRED_FIELD",
        `Field ${f.id} of type ${type.id} is required.`,
        {
          typeId: type.id,
          fieldId: f.id,
        },
      );
    }
  }
  if (op.ifAbsentOn.length > 0) {
    const existing = findIfAbsent(run, type, op.ifAbsentOn, payload);
    if (existing) {
      run.redirect(op.id, existing.id);
      return result(existing.id, false, existing.version);
    }
  }
  // The id is checked first, then the refs, then the uniques. Ingress mints fresh ids, so
  // the id is nearly always new: instead of a lookup per create, the UNIQUE constraint on
  // `nodes.id` finds an existing one, and whatever fails looks the id up before it counts,
  // so the step fails as if the id had been checked first (tests/apply/applier-decisions.test.ts).
  // Unique values likewise: with an index for every constraint, a clash fails the INSERT
  // and the lookups run only then, in their order, to name the constraint.
  let info: { lastInsertRowid: number | bigint } | undefined;
  try {
    checkRefs(run, type, written, payload);
    if (!uniquesIndexed(run, type)) checkUniques(run, type, payload, op.id, undefined);
    const now = run.ctx.nowMicros;
    // Held (an optimistic run) unless its full-text row needs the row's `seq` now: a taken
    // id or a clash then fails the run at a later statement, and the run is applied again
    // event by event, each create's INSERT here, decided as below.
    if (run.ctx.holdRows === true && !run.db.ftsFields(type.id))
      run.db.hold(INSERT_NODE, op.id, type.id, stored, run.ctx.actor, now, now);
    else info = run.db.stmt(INSERT_NODE.one).run(op.id, type.id, stored, run.ctx.actor, now, now);
  } catch (err) {
    if (run.nodeRow(op.id)) {
      throw run.reject(
        "already_exists",
        "ID_EXISTS",
        `A node with id ${JSON.stringify(op.id)} already exists.`,
        {
          typeId: type.id,
        },
      );
    }
    // A failed INSERT: a clash of the event's uniques is theirs to name. Anything else (a
    // unique index of a newer schema version, an I/O error) goes on to plan-executor.ts.
    if (!(err instanceof PlanRejection)) checkUniques(run, type, payload, op.id, undefined);
    throw err;
  }
  if (info !== undefined) ftsInsert(run, type.id, BigInt(info.lastInsertRowid), payload);
  return result(op.id, true, 1n);
}

/** Applies an update_node step; the version goes up by one. */
export function updateNode(run: PlanRun, op: UpdateNode): OperationResult {
  const type = run.nodeType(op.typeId);
  const id = run.resolve(op.id);
  const row = run.nodeRowOfType(id, op.typeId);
  const payload = parsePayload(row.payload);
  checkPrecondition(run, type, row, payload, op.precondition);
  const changed = new Set<number>();
  for (const fieldId of sortedKeys(op.set)) {
    const field = run.field(type, fieldId);
    const json = run.encode(type, field, op.set[fieldId]!);
    if (json === null) payload.delete(fieldId);
    else payload.set(fieldId, json);
    changed.add(fieldId);
  }
  for (const fieldId of [...op.clear].sort((a, b) => a - b)) {
    run.field(type, fieldId);
    payload.delete(fieldId);
    changed.add(fieldId);
  }
  for (const fieldId of [...changed].sort((a, b) => a - b)) {
    const f = type.fields.find((x) => x.id === fieldId)!;
    if (f.required && !payload.has(fieldId)) {
      throw run.reject(
        "invalid_argument",
        "REQUIRED_FIELD",
        `Field ${fieldId} of type ${type.id} is required; it cannot be cleared.`,
        {
          typeId: type.id,
          fieldId,
        },
      );
    }
  }
  checkRefs(
    run,
    type,
    [...changed].sort((a, b) => a - b).filter((f) => payload.has(f)),
    payload,
  );
  checkUniques(run, type, payload, id, changed);
  const version = row.version + 1n;
  run.db
    .stmt("UPDATE nodes SET payload = ?, version = ?, updated_at = ? WHERE seq = ?")
    .run(serializePayload(payload), version, run.ctx.nowMicros, row.seq);
  if (run.db.ftsFields(type.id)) {
    ftsDelete(run, type.id, row.seq);
    ftsInsert(run, type.id, row.seq, payload);
  }
  return result(id, false, version);
}

/** Applies a delete_node step: the node, its edges both ways and its full-text row. */
export function deleteNode(run: PlanRun, op: DeleteNode): OperationResult {
  const type = run.nodeType(op.typeId);
  const id = run.resolve(op.id);
  const row = run.nodeRowOfType(id, op.typeId);
  checkPrecondition(run, type, row, parsePayload(row.payload), op.precondition);
  const out = run.db.stmt("DELETE FROM edges WHERE edge_type_id = ? AND from_id = ?");
  const inn = run.db.stmt(DELETE_EDGES_TO);
  for (const edgeTypeId of run.db.edgeTypeIds()) {
    out.run(edgeTypeId, id);
    inn.run(edgeTypeId, id);
  }
  ftsDelete(run, Number(row.type_id), row.seq);
  recordTombstone(run, type, row);
  run.db.stmt("DELETE FROM nodes WHERE seq = ?").run(row.seq);
  return result(id, false, row.version);
}

/** Queues the node's full-text row; written before the transaction commits (fts-writes.ts). */
function ftsInsert(run: PlanRun, typeId: number, seq: bigint, payload: Payload): void {
  const fields = run.db.ftsFields(typeId);
  if (!fields) return;
  const values = fields.map((f) => {
    const v = payload.get(f);
    return v === undefined || v === null ? null : typeof v === "string" ? v : stringifyJson(v);
  });
  run.db.ftsWrites.insert(typeId, seq, fields, values);
}

function ftsDelete(run: PlanRun, typeId: number, seq: bigint): void {
  if (!run.db.ftsFields(typeId)) return;
  run.db.ftsWrites.delete(typeId, seq);
}
