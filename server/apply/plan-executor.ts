/**
 * Applies one `WritePlan` to a tenant database, step by step, inside the caller's
 * savepoint. Either every step succeeds, or a step throws a {@link PlanRejection}
 * and the caller rolls the savepoint back, so a plan commits wholly or not at all.
 *
 * Determinism (DESIGN.md contract 6): everything read comes from the tenant's state
 * and the event (ids minted at ingress, timestamps from `ingress_time`, the actor);
 * nothing from the clock or the process. Checks run in a fixed order (fields by
 * ascending id), so the same state and event always give the same outcome.
 *
 * Decisions, in the order they are checked for each step:
 * - create_node: unknown type/field → invalid_argument; bad value → invalid_argument;
 *   missing required field → invalid_argument; `if_absent_on` match → resolves to the
 *   existing node (nothing written; later steps naming the minted id are redirected to
 *   it); id already taken → already_exists ID_EXISTS; ref to a missing node or a node
 *   of the wrong type → failed_precondition MISSING_REF; unique clash →
 *   already_exists UNIQUE_VIOLATION. Version starts at 1.
 * - update_node: no node of that type with that id → not_found; precondition (version,
 *   then fields_equal by field id) → failed_precondition PRECONDITION_FAILED; then the
 *   value, required, ref and unique checks above for the fields it changes. Version +1.
 * - delete_node: not_found, precondition; removes the node, its edges in both
 *   directions and its full-text row.
 * - create_edge: unknown edge type → invalid_argument; endpoint missing or of the wrong
 *   type → failed_precondition MISSING_REF; `unique_per_from` and an edge to another
 *   node exists → already_exists UNIQUE_PER_FROM; an existing (type, from, to) gets its
 *   props replaced (created_at kept, `created` false).
 * - delete_edge: removes the edge if present.
 *
 * Not decided here: ACL denials (no ACL layer yet). Defaults are applied at ingress,
 * so the log holds them; the applier writes what the event says.
 */

import { create } from "@bufbuild/protobuf";
import {
  ftsColumnName,
  ftsTableName,
  nodeFieldExpr,
  parseObjectName,
} from "../../codegen/sql/index.ts";
import type {
  CreateEdge,
  CreateNode,
  DeleteEdge,
  DeleteNode,
  Precondition,
  UpdateNode,
} from "../../generated/entdb/v1/plan_pb.js";
import { type OperationResult, OperationResultSchema } from "../../generated/entdb/v1/plan_pb.js";
import type { Value } from "../../generated/entdb/v1/values_pb.js";
import type { WritePlan } from "../../generated/entdb/v1/wal_pb.js";
import { edgeById, type Field, type NodeType, nodeById, type Schema } from "../../schema/model.ts";
import {
  type JsonValue,
  type Payload,
  parsePayload,
  serializePayload,
  stringifyJson,
} from "../store/lossless-json.ts";
import { NODE_COLUMNS, type NodeRow } from "../store/row-codec.ts";
import { StoreError } from "../store/store-error.ts";
import type { TenantDb } from "../store/tenant-db.ts";
import { encodeValue, type SqlScalar, sqlValueOf } from "../store/value-codec.ts";
import { PlanRejection } from "./plan-rejection.ts";

/** What a plan is applied with. */
export interface PlanContext {
  readonly db: TenantDb;
  /** The model of the event's schema version (what ingress validated it against). */
  readonly schema: Schema;
  /** The authenticated actor; becomes the owner of created nodes. */
  readonly actor: string;
  /** The event's ingress time in microseconds; every timestamp the plan writes. */
  readonly nowMicros: bigint;
}

/**
 * Applies `plan`; returns one result per operation. Throws {@link PlanRejection} to
 * reject the plan; anything else it throws is not a decision (an I/O error, a bug) and
 * must not be recorded as the plan's outcome.
 */
export function executePlan(ctx: PlanContext, plan: WritePlan): OperationResult[] {
  return new PlanRun(ctx).run(plan);
}

class PlanRun {
  readonly #ctx: PlanContext;
  readonly #db: TenantDb;
  /** Minted ids of `if_absent_on` creates that resolved to an existing node. */
  readonly #redirects = new Map<string, string>();
  #index = 0;

  constructor(ctx: PlanContext) {
    this.#ctx = ctx;
    this.#db = ctx.db;
  }

  run(plan: WritePlan): OperationResult[] {
    const results: OperationResult[] = [];
    for (const [index, operation] of plan.operations.entries()) {
      this.#index = index;
      const op = operation.op;
      try {
        switch (op.case) {
          case "createNode":
            results.push(this.#createNode(op.value));
            break;
          case "updateNode":
            results.push(this.#updateNode(op.value));
            break;
          case "deleteNode":
            results.push(this.#deleteNode(op.value));
            break;
          case "createEdge":
            results.push(this.#createEdge(op.value));
            break;
          case "deleteEdge":
            results.push(this.#deleteEdge(op.value));
            break;
          default:
            throw this.#reject(
              "invalid_argument",
              "INVALID_VALUE",
              `Operation ${index} has no step set.`,
              {},
            );
        }
      } catch (err) {
        throw this.#asRejection(err);
      }
    }
    return results;
  }

  // ------------------------------------------------------------------ nodes

  #createNode(op: CreateNode): OperationResult {
    const type = this.#nodeType(op.typeId);
    if (op.id === "") {
      throw this.#reject(
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
    for (const fieldId of sortedKeys(op.fields)) {
      const field = this.#field(type, fieldId);
      const json = this.#encode(type, field, op.fields[fieldId]!);
      if (json === null) continue;
      payload.set(fieldId, json);
      written.push(fieldId);
    }
    for (const f of type.fields) {
      if (f.required && !payload.has(f.id)) {
        throw this.#reject(
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
      const existing = this.#findIfAbsent(type, op.ifAbsentOn, payload);
      if (existing) {
        this.#redirects.set(op.id, existing.id);
        return result(existing.id, false, existing.version);
      }
    }
    if (this.#nodeRow(op.id)) {
      throw this.#reject(
        "already_exists",
        "ID_EXISTS",
        `A node with id ${JSON.stringify(op.id)} already exists.`,
        {
          typeId: type.id,
        },
      );
    }
    this.#checkRefs(type, written, payload);
    this.#checkUniques(type, payload, op.id, undefined);
    const now = this.#ctx.nowMicros;
    const info = this.#db
      .stmt(
        "INSERT INTO nodes (id, type_id, payload, version, owner, created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?, ?)",
      )
      .run(op.id, type.id, serializePayload(payload), this.#ctx.actor, now, now);
    this.#ftsInsert(type.id, BigInt(info.lastInsertRowid), payload);
    return result(op.id, true, 1n);
  }

  #updateNode(op: UpdateNode): OperationResult {
    const type = this.#nodeType(op.typeId);
    const id = this.#resolve(op.id);
    const row = this.#nodeRowOfType(id, op.typeId);
    const payload = parsePayload(row.payload);
    this.#checkPrecondition(type, row, payload, op.precondition);
    const changed = new Set<number>();
    for (const fieldId of sortedKeys(op.set)) {
      const field = this.#field(type, fieldId);
      const json = this.#encode(type, field, op.set[fieldId]!);
      if (json === null) payload.delete(fieldId);
      else payload.set(fieldId, json);
      changed.add(fieldId);
    }
    for (const fieldId of [...op.clear].sort((a, b) => a - b)) {
      this.#field(type, fieldId);
      payload.delete(fieldId);
      changed.add(fieldId);
    }
    for (const fieldId of [...changed].sort((a, b) => a - b)) {
      const f = type.fields.find((x) => x.id === fieldId)!;
      if (f.required && !payload.has(fieldId)) {
        throw this.#reject(
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
    this.#checkRefs(
      type,
      [...changed].sort((a, b) => a - b).filter((f) => payload.has(f)),
      payload,
    );
    this.#checkUniques(type, payload, id, changed);
    const version = row.version + 1n;
    this.#db
      .stmt("UPDATE nodes SET payload = ?, version = ?, updated_at = ? WHERE seq = ?")
      .run(serializePayload(payload), version, this.#ctx.nowMicros, row.seq);
    if (this.#db.ftsFields(type.id)) {
      this.#ftsDelete(type.id, row.seq);
      this.#ftsInsert(type.id, row.seq, payload);
    }
    return result(id, false, version);
  }

  #deleteNode(op: DeleteNode): OperationResult {
    const type = this.#nodeType(op.typeId);
    const id = this.#resolve(op.id);
    const row = this.#nodeRowOfType(id, op.typeId);
    this.#checkPrecondition(type, row, parsePayload(row.payload), op.precondition);
    const out = this.#db.stmt("DELETE FROM edges WHERE edge_type_id = ? AND from_id = ?");
    const inn = this.#db.stmt("DELETE FROM edges WHERE edge_type_id = ? AND to_id = ?");
    for (const edgeTypeId of this.#db.edgeTypeIds()) {
      out.run(edgeTypeId, id);
      inn.run(edgeTypeId, id);
    }
    this.#ftsDelete(Number(row.type_id), row.seq);
    this.#db.stmt("DELETE FROM nodes WHERE seq = ?").run(row.seq);
    return result(id, false, row.version);
  }

  // ------------------------------------------------------------------ edges

  #createEdge(op: CreateEdge): OperationResult {
    const edge = edgeById(this.#ctx.schema, op.edgeTypeId);
    if (!edge) {
      throw this.#reject(
        "invalid_argument",
        "UNKNOWN_TYPE",
        `The schema has no edge type with id ${op.edgeTypeId}.`,
        {
          typeId: op.edgeTypeId,
        },
      );
    }
    const from = this.#resolve(op.fromId);
    const to = this.#resolve(op.toId);
    this.#checkEndpoint(edge.id, "from", from, edge.fromId);
    this.#checkEndpoint(edge.id, "to", to, edge.toId);
    const props: Payload = new Map();
    for (const fieldId of sortedKeys(op.props)) {
      const field = edge.fields.find((f) => f.id === fieldId);
      if (!field) {
        throw this.#reject(
          "invalid_argument",
          "UNKNOWN_FIELD",
          `Edge type ${edge.id} has no property ${fieldId}.`,
          {
            typeId: edge.id,
            fieldId,
          },
        );
      }
      const json = this.#encodeIn(`edge type ${edge.id}`, edge.id, field, op.props[fieldId]!);
      if (json !== null) props.set(fieldId, json);
    }
    for (const f of edge.fields) {
      if (f.required && !props.has(f.id)) {
        throw this.#reject(
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
      const other = this.#db
        .stmt(
          "SELECT to_id FROM edges WHERE edge_type_id = ? AND from_id = ? AND to_id <> ? LIMIT 1",
        )
        .get(edge.id, from, to);
      if (other) {
        throw this.#reject(
          "already_exists",
          "UNIQUE_PER_FROM",
          `Node ${JSON.stringify(from)} already has an edge of type ${edge.id}, which allows one per from node.`,
          { typeId: edge.id },
        );
      }
    }
    const existing = this.#db
      .stmt("SELECT created_at FROM edges WHERE edge_type_id = ? AND from_id = ? AND to_id = ?")
      .get(edge.id, from, to);
    if (existing) {
      this.#db
        .stmt("UPDATE edges SET props = ? WHERE edge_type_id = ? AND from_id = ? AND to_id = ?")
        .run(serializePayload(props), edge.id, from, to);
    } else {
      this.#db
        .stmt(
          "INSERT INTO edges (edge_type_id, from_id, to_id, props, created_at) VALUES (?, ?, ?, ?, ?)",
        )
        .run(edge.id, from, to, serializePayload(props), this.#ctx.nowMicros);
    }
    return result("", existing === undefined, 0n);
  }

  #deleteEdge(op: DeleteEdge): OperationResult {
    if (!edgeById(this.#ctx.schema, op.edgeTypeId)) {
      throw this.#reject(
        "invalid_argument",
        "UNKNOWN_TYPE",
        `The schema has no edge type with id ${op.edgeTypeId}.`,
        {
          typeId: op.edgeTypeId,
        },
      );
    }
    this.#db
      .stmt("DELETE FROM edges WHERE edge_type_id = ? AND from_id = ? AND to_id = ?")
      .run(op.edgeTypeId, this.#resolve(op.fromId), this.#resolve(op.toId));
    return result("", false, 0n);
  }

  // ------------------------------------------------------------------ checks

  #checkPrecondition(
    type: NodeType,
    row: NodeRow,
    payload: Payload,
    pre: Precondition | undefined,
  ): void {
    if (!pre) return;
    if (pre.version !== undefined && pre.version !== row.version) {
      throw this.#reject(
        "failed_precondition",
        "PRECONDITION_FAILED",
        `Node ${JSON.stringify(row.id)} has version ${row.version}; the plan expected version ${pre.version}.`,
        { typeId: type.id },
      );
    }
    for (const fieldId of sortedKeys(pre.fieldsEqual)) {
      const field = this.#field(type, fieldId);
      const expected = this.#encode(type, field, pre.fieldsEqual[fieldId]!);
      const current = payload.get(fieldId);
      const same =
        expected === null
          ? current === undefined
          : current !== undefined && stringifyJson(current) === stringifyJson(expected);
      if (!same) {
        throw this.#reject(
          "failed_precondition",
          "PRECONDITION_FAILED",
          `Field ${fieldId} of node ${JSON.stringify(row.id)} does not have the value the plan expected.`,
          { typeId: type.id, fieldId },
        );
      }
    }
  }

  /** Every ref value among `fieldIds` must name an existing node of the ref's target type. */
  #checkRefs(type: NodeType, fieldIds: readonly number[], payload: Payload): void {
    for (const fieldId of fieldIds) {
      const field = type.fields.find((f) => f.id === fieldId);
      if (!field) continue;
      const t = field.type;
      const targetId =
        t.kind === "ref"
          ? t.targetId
          : t.kind === "list" && t.element.kind === "ref"
            ? t.element.targetId
            : 0;
      if (targetId === 0) continue;
      const json = payload.get(fieldId);
      const ids = Array.isArray(json) ? (json as JsonValue[]) : [json];
      for (const ref of ids) {
        if (typeof ref !== "string") continue;
        const row = this.#db.stmt("SELECT type_id FROM nodes WHERE id = ?").get(ref) as
          | { type_id: bigint }
          | undefined;
        if (!row || Number(row.type_id) !== targetId) {
          throw this.#reject(
            "failed_precondition",
            "MISSING_REF",
            row
              ? `Field ${fieldId} of type ${type.id} refers to node ${JSON.stringify(ref)} of type ${row.type_id}; it must be of type ${targetId}.`
              : `Field ${fieldId} of type ${type.id} refers to node ${JSON.stringify(ref)}, which does not exist.`,
            { typeId: type.id, fieldId },
          );
        }
      }
    }
  }

  #checkEndpoint(edgeTypeId: number, end: "from" | "to", id: string, wantType: number): void {
    const row = this.#db.stmt("SELECT type_id FROM nodes WHERE id = ?").get(id) as
      | { type_id: bigint }
      | undefined;
    if (row && Number(row.type_id) === wantType) return;
    throw this.#reject(
      "failed_precondition",
      "MISSING_REF",
      row
        ? `The ${end} node ${JSON.stringify(id)} of edge type ${edgeTypeId} is of type ${row.type_id}; it must be of type ${wantType}.`
        : `The ${end} node ${JSON.stringify(id)} of edge type ${edgeTypeId} does not exist.`,
      { typeId: edgeTypeId },
    );
  }

  /**
   * Unique fields and composite uniques of `type` (only those touching `changed`, when
   * given) must not match another node. A constraint with an unset field never clashes.
   */
  #checkUniques(
    type: NodeType,
    payload: Payload,
    selfId: string,
    changed: ReadonlySet<number> | undefined,
  ): void {
    const constraints: (readonly number[])[] = [
      ...type.fields.filter((f) => f.unique).map((f) => [f.id]),
      ...type.uniques.map((u) => u.fieldIds),
    ];
    for (const fieldIds of constraints) {
      if (changed && !fieldIds.some((f) => changed.has(f))) continue;
      const values = fieldIds.map((f) => payload.get(f));
      if (values.some((v) => v === undefined || v === null)) continue;
      const other = this.#findByValues(type.id, fieldIds, values as JsonValue[], selfId);
      if (other) throw this.#uniqueViolation(type.id, fieldIds);
    }
  }

  #findIfAbsent(type: NodeType, on: readonly number[], payload: Payload): NodeRow | undefined {
    const ids = [...on].sort((a, b) => a - b);
    const isKey =
      (ids.length === 1 && type.fields.some((f) => f.id === ids[0] && f.unique)) ||
      type.uniques.some(
        (u) =>
          u.fieldIds.length === ids.length &&
          [...u.fieldIds].sort((a, b) => a - b).every((v, i) => v === ids[i]),
      );
    if (!isKey) {
      throw this.#reject(
        "invalid_argument",
        "INVALID_VALUE",
        `if_absent_on [${ids.join(", ")}] is not one unique field or all fields of one composite unique of type ${type.id}.`,
        { typeId: type.id, fieldId: ids[0] ?? 0 },
      );
    }
    const values = ids.map((f) => payload.get(f));
    const missing = ids.find((_, i) => values[i] === undefined || values[i] === null);
    if (missing !== undefined) {
      throw this.#reject(
        "invalid_argument",
        "INVALID_VALUE",
        `if_absent_on needs a value for field ${missing} of type ${type.id}.`,
        {
          typeId: type.id,
          fieldId: missing,
        },
      );
    }
    return this.#findByValues(type.id, ids, values as JsonValue[], undefined);
  }

  #findByValues(
    typeId: number,
    fieldIds: readonly number[],
    values: readonly JsonValue[],
    notId: string | undefined,
  ): NodeRow | undefined {
    const where = [`type_id = ${typeId}`, ...fieldIds.map((f) => `${nodeFieldExpr(f)} = ?`)];
    const params: SqlScalar[] = values.map(sqlValueOf);
    if (notId !== undefined) {
      where.push("id <> ?");
      params.push(notId);
    }
    return this.#db
      .stmt(`SELECT ${NODE_COLUMNS} FROM nodes WHERE ${where.join(" AND ")} LIMIT 1`)
      .get(...params) as NodeRow | undefined;
  }

  // ------------------------------------------------------------------ full-text

  #ftsInsert(typeId: number, seq: bigint, payload: Payload): void {
    const fields = this.#db.ftsFields(typeId);
    if (!fields) return;
    const values = fields.map((f) => {
      const v = payload.get(f);
      return v === undefined || v === null ? null : typeof v === "string" ? v : stringifyJson(v);
    });
    this.#db
      .stmt(
        `INSERT INTO ${ftsTableName(typeId)}(rowid, ${fields.map(ftsColumnName).join(", ")}) VALUES (?, ${fields.map(() => "?").join(", ")})`,
      )
      .run(seq, ...values);
  }

  #ftsDelete(typeId: number, seq: bigint): void {
    if (!this.#db.ftsFields(typeId)) return;
    this.#db.stmt(`DELETE FROM ${ftsTableName(typeId)} WHERE rowid = ?`).run(seq);
  }

  // ------------------------------------------------------------------ helpers

  #resolve(id: string): string {
    return this.#redirects.get(id) ?? id;
  }

  #nodeRow(id: string): NodeRow | undefined {
    return this.#db.stmt(`SELECT ${NODE_COLUMNS} FROM nodes WHERE id = ?`).get(id) as
      | NodeRow
      | undefined;
  }

  #nodeRowOfType(id: string, typeId: number): NodeRow {
    const row = this.#nodeRow(id);
    if (!row || Number(row.type_id) !== typeId) {
      throw this.#reject(
        "not_found",
        "NOT_FOUND",
        `No node of type ${typeId} has id ${JSON.stringify(id)}.`,
        { typeId },
      );
    }
    return row;
  }

  #nodeType(typeId: number): NodeType {
    const type = nodeById(this.#ctx.schema, typeId);
    if (!type) {
      throw this.#reject(
        "invalid_argument",
        "UNKNOWN_TYPE",
        `The schema has no node type with id ${typeId}.`,
        { typeId },
      );
    }
    return type;
  }

  #field(type: NodeType, fieldId: number): Field {
    const field = type.fields.find((f) => f.id === fieldId);
    if (!field) {
      throw this.#reject(
        "invalid_argument",
        "UNKNOWN_FIELD",
        `Type ${type.id} has no field ${fieldId}.`,
        {
          typeId: type.id,
          fieldId,
        },
      );
    }
    return field;
  }

  /** Encodes a node field value, redirecting refs to nodes an `if_absent_on` resolved. */
  #encode(type: NodeType, field: Field, value: Value): JsonValue | null {
    return this.#encodeIn(`type ${type.id}`, type.id, field, value);
  }

  #encodeIn(owner: string, typeId: number, field: Field, value: Value): JsonValue | null {
    let json: JsonValue | null;
    try {
      json = encodeValue(this.#ctx.schema, field.type, value, { owner, fieldId: field.id });
    } catch (err) {
      if (err instanceof StoreError && err.code === "invalid-argument") {
        throw this.#reject("invalid_argument", "INVALID_VALUE", err.message, {
          typeId,
          fieldId: field.id,
        });
      }
      throw err;
    }
    if (this.#redirects.size === 0 || json === null) return json;
    const t = field.type;
    if (t.kind === "ref" && typeof json === "string") return this.#resolve(json);
    if (t.kind === "list" && t.element.kind === "ref" && Array.isArray(json)) {
      return (json as JsonValue[]).map((v) => (typeof v === "string" ? this.#resolve(v) : v));
    }
    return json;
  }

  #uniqueViolation(typeId: number, fieldIds: readonly number[]): PlanRejection {
    return this.#reject(
      "already_exists",
      "UNIQUE_VIOLATION",
      fieldIds.length === 1
        ? `Another node of type ${typeId} has the same value of unique field ${fieldIds[0]}.`
        : `Another node of type ${typeId} has the same values of unique fields [${fieldIds.join(", ")}].`,
      { typeId, fieldId: fieldIds[0]! },
    );
  }

  #reject(
    code: PlanRejection["code"],
    reason: ConstructorParameters<typeof PlanRejection>[1],
    message: string,
    at: { readonly typeId?: number; readonly fieldId?: number },
  ): PlanRejection {
    return new PlanRejection(code, reason, message, { operationIndex: this.#index, ...at });
  }

  /**
   * A unique index of a newer schema version than the event's may still refuse a row
   * the event's model allowed; SQLite names the index, and the name holds the ids.
   */
  #asRejection(err: unknown): unknown {
    if (err instanceof PlanRejection) return err;
    if (err instanceof Error && "code" in err && err.code === "SQLITE_CONSTRAINT_UNIQUE") {
      const name = /index '([^']+)'/.exec(err.message)?.[1];
      const parsed = name === undefined ? undefined : parseObjectName(name);
      if (parsed?.kind === "unique") return this.#uniqueViolation(parsed.typeId, parsed.fieldIds);
    }
    return err;
  }
}

function result(id: string, created: boolean, version: bigint): OperationResult {
  return create(OperationResultSchema, { id, created, version });
}

function sortedKeys(map: { readonly [key: number]: unknown }): number[] {
  return Object.keys(map)
    .map(Number)
    .sort((a, b) => a - b);
}
