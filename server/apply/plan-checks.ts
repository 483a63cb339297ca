/**
 * The checks a node step makes against the tenant's state before it writes:
 * preconditions, refs to existing nodes of the right type, unique constraints, and the
 * `if_absent_on` lookup. Each throws a {@link PlanRejection} through the run.
 */

import { nodeFieldExpr, nodeUniqueName } from "../../codegen/store-layout/index.ts";
import type { Precondition } from "../../generated/entdb/v1/plan_pb.js";
import type { NodeType } from "../../schema/index.ts";
import { type JsonValue, type Payload, stringifyJson } from "../store/lossless-json.ts";
import { NODE_COLUMNS, type NodeRow } from "../store/row-codec.ts";
import { type SqlScalar, sqlValueOf } from "../store/stored-value-codec.ts";
import { type PlanRun, sortedKeys } from "./plan-run.ts";

/** The node must have the version and field values `pre` expects, when given. */
export function checkPrecondition(
  run: PlanRun,
  type: NodeType,
  row: NodeRow,
  payload: Payload,
  pre: Precondition | undefined,
): void {
  if (!pre) return;
  if (pre.version !== undefined && pre.version !== row.version) {
    throw run.reject(
      "failed_precondition",
      "PRECONDITION_FAILED",
      `Node ${JSON.stringify(row.id)} has version ${row.version}; the plan expected version ${pre.version}.`,
      { typeId: type.id },
    );
  }
  for (const fieldId of sortedKeys(pre.fieldsEqual)) {
    const field = run.field(type, fieldId);
    const expected = run.encode(type, field, pre.fieldsEqual[fieldId]!);
    const current = payload.get(fieldId);
    const same =
      expected === null
        ? current === undefined
        : current !== undefined && stringifyJson(current) === stringifyJson(expected);
    if (!same) {
      throw run.reject(
        "failed_precondition",
        "PRECONDITION_FAILED",
        `Field ${fieldId} of node ${JSON.stringify(row.id)} does not have the value the plan expected.`,
        { typeId: type.id, fieldId },
      );
    }
  }
}

/** Every ref value among `fieldIds` must name an existing node of the ref's target type. */
export function checkRefs(
  run: PlanRun,
  type: NodeType,
  fieldIds: readonly number[],
  payload: Payload,
): void {
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
      const row = run.db.stmt("SELECT type_id FROM nodes WHERE id = ?").get(ref) as
        | { type_id: bigint }
        | undefined;
      if (!row || Number(row.type_id) !== targetId) {
        throw run.reject(
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

/**
 * Unique fields and composite uniques of `type` (only those touching `changed`, when
 * given) must not match another node. A constraint with an unset field never clashes.
 */
export function checkUniques(
  run: PlanRun,
  type: NodeType,
  payload: Payload,
  selfId: string,
  changed: ReadonlySet<number> | undefined,
): void {
  for (const fieldIds of uniqueConstraints(type)) {
    if (changed && !fieldIds.some((f) => changed.has(f))) continue;
    const values = fieldIds.map((f) => payload.get(f));
    if (values.some((v) => v === undefined || v === null)) continue;
    const other = findByValues(run, type.id, fieldIds, values as JsonValue[], selfId);
    if (other) throw run.uniqueViolation(type.id, fieldIds);
  }
}

/**
 * Whether the tenant file has the unique index of every unique constraint of `type` in
 * the event's model. Then a create that clashes fails its INSERT on one of them, and
 * need not look each constraint up first (node-ops.ts). A file at another schema
 * version than the event's may lack one (a newer version dropped the constraint): then
 * every constraint is looked up before the INSERT, as for updates.
 */
export function uniquesIndexed(run: PlanRun, type: NodeType): boolean {
  let names = uniqueNamesOf.get(type);
  if (names === undefined) {
    names = uniqueConstraints(type).map((fieldIds) => nodeUniqueName(type.id, fieldIds));
    uniqueNamesOf.set(type, names);
  }
  for (const name of names) if (!run.db.hasObject(name)) return false;
  return true;
}

const uniqueNamesOf = new WeakMap<NodeType, readonly string[]>();

/**
 * The node an `if_absent_on` create resolves to, if any. `on` must be one unique field
 * or all fields of one composite unique, each with a value in `payload`.
 */
export function findIfAbsent(
  run: PlanRun,
  type: NodeType,
  on: readonly number[],
  payload: Payload,
): NodeRow | undefined {
  const ids = [...on].sort((a, b) => a - b);
  const isKey =
    (ids.length === 1 && type.fields.some((f) => f.id === ids[0] && f.unique)) ||
    type.uniques.some(
      (u) =>
        u.fieldIds.length === ids.length &&
        [...u.fieldIds].sort((a, b) => a - b).every((v, i) => v === ids[i]),
    );
  if (!isKey) {
    throw run.reject(
      "invalid_argument",
      "INVALID_VALUE",
      `if_absent_on [${ids.join(", ")}] is not one unique field or all fields of one composite unique of type ${type.id}.`,
      { typeId: type.id, fieldId: ids[0] ?? 0 },
    );
  }
  const values = ids.map((f) => payload.get(f));
  const missing = ids.find((_, i) => values[i] === undefined || values[i] === null);
  if (missing !== undefined) {
    throw run.reject(
      "invalid_argument",
      "INVALID_VALUE",
      `if_absent_on needs a value for field ${missing} of type ${type.id}.`,
      {
        typeId: type.id,
        fieldId: missing,
      },
    );
  }
  return findByValues(run, type.id, ids, values as JsonValue[], undefined);
}

/** The unique constraints of each node type: single unique fields, then composites. */
const uniquesOf = new WeakMap<NodeType, readonly (readonly number[])[]>();

function uniqueConstraints(type: NodeType): readonly (readonly number[])[] {
  let constraints = uniquesOf.get(type);
  if (constraints === undefined) {
    constraints = [
      ...type.fields.filter((f) => f.unique).map((f) => [f.id]),
      ...type.uniques.map((u) => u.fieldIds),
    ];
    uniquesOf.set(type, constraints);
  }
  return constraints;
}

/** The statement text of each lookup shape (type, fields, whether a node id is excluded). */
const findSql = new Map<string, string>();

function findByValues(
  run: PlanRun,
  typeId: number,
  fieldIds: readonly number[],
  values: readonly JsonValue[],
  notId: string | undefined,
): NodeRow | undefined {
  const shape = `${typeId}:${fieldIds.join(",")}:${notId === undefined ? 0 : 1}`;
  let sql = findSql.get(shape);
  if (sql === undefined) {
    const where = [`type_id = ${typeId}`, ...fieldIds.map((f) => `${nodeFieldExpr(f)} = ?`)];
    if (notId !== undefined) where.push("id <> ?");
    sql = `SELECT ${NODE_COLUMNS} FROM nodes WHERE ${where.join(" AND ")} LIMIT 1`;
    findSql.set(shape, sql);
  }
  const params: SqlScalar[] = values.map(sqlValueOf);
  if (notId !== undefined) params.push(notId);
  return run.db.stmt(sql).get(...params) as NodeRow | undefined;
}
