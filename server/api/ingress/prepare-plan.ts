/**
 * Ingress for write plans: checks every step against the served schema, applies
 * defaults, mints node ids, resolves `$alias` references, and returns the
 * `WalEvent` to log. After this, applying the event needs no further input, so the
 * applier is deterministic (DESIGN.md contract 4).
 *
 * What is decided here: anything the request alone shows to be wrong (unknown type
 * or field ids, wrong kinds, missing required fields, bad enum numbers, int64 range,
 * bad aliases, oversized plans). What is NOT decided here, because it depends on the
 * tenant's state: unique violations, preconditions, whether referenced nodes exist.
 * Those are the applier's, recorded with the idempotency key (contract 6).
 */

import { create } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import {
  type CreateNode,
  type Operation,
  OperationSchema,
  type Precondition,
  type UpdateNode,
} from "../../../generated/entdb/v1/plan_pb.js";
import { type Value, ValueSchema } from "../../../generated/entdb/v1/values_pb.js";
import type { WalEvent } from "../../../generated/entdb/v1/wal_pb.js";
import type { DefaultValue, EdgeType, Field, NodeType, Schema } from "../../../schema/index.ts";
import { edgeById, enumByName, nodeById } from "../../../schema/index.ts";
import { sha256 } from "../idempotency.ts";
import { type AliasTarget, checkValue, resolveRef, type ValueContext } from "./check-value.ts";
import { type ErrorSite, invalidArgument } from "./ingress-error.ts";
import { mintNodeId } from "./node-id.ts";
import { DEFAULT_VALUE_LIMITS, loneSurrogateAt, type ValueLimits } from "./value-limits.ts";
import { encodeWritePlanTransient } from "./wal-event-wire.ts";

/** Limits on one plan. */
export interface PlanLimits {
  readonly maxOperations: number;
  readonly maxIdempotencyKeyLength: number;
}

export const DEFAULT_PLAN_LIMITS: PlanLimits = {
  maxOperations: 1_000,
  maxIdempotencyKeyLength: 256,
};

/** Everything ingress knows about a request besides its steps. */
export interface PlanContext {
  readonly schema: Schema;
  readonly schemaVersion: number;
  readonly tenant: string;
  /** The authenticated actor (never a value from the request body). */
  readonly actor: string;
  /** The actor's groups and admin flag, and whether the server runs without access control. */
  readonly actorGroups?: readonly string[];
  readonly actorAdmin?: boolean;
  readonly openAccess?: boolean;
  readonly idempotencyKey: string;
  readonly now?: number;
  readonly limits?: PlanLimits;
  /** What one value may hold (default {@link DEFAULT_VALUE_LIMITS}). */
  readonly valueLimits?: ValueLimits;
}

const ALIAS = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Checks a plan and builds the event to log; throws a ConnectError (INVALID_ARGUMENT) on bad input. */
export function preparePlan(operations: readonly Operation[], ctx: PlanContext): WalEvent {
  const limits = ctx.limits ?? DEFAULT_PLAN_LIMITS;
  if (operations.length === 0) {
    throw invalidArgument("The plan has no operations; add at least one.");
  }
  if (operations.length > limits.maxOperations) {
    throw invalidArgument(
      `The plan has ${operations.length} operations; the limit is ${limits.maxOperations}. Split it into several plans.`,
    );
  }
  if (ctx.idempotencyKey.length > limits.maxIdempotencyKeyLength) {
    throw invalidArgument(
      `The idempotency key is ${ctx.idempotencyKey.length} characters; the limit is ${limits.maxIdempotencyKeyLength}.`,
    );
  }
  checkText(ctx.idempotencyKey, "The idempotency key");
  checkText(ctx.actor, "The caller's principal");
  for (const group of ctx.actorGroups ?? []) checkText(group, "The caller's group");
  const now = ctx.now ?? Date.now();
  const aliases = new Map<string, AliasTarget>();
  const out: Operation[] = [];
  operations.forEach((op, index) => {
    out.push(prepareOperation(op, index, ctx, aliases, now));
  });
  // Literals, not `create`: every field is given, and `create` walks the descriptor's
  // fields for each message (prepare-plan.test.ts checks the result against a decode).
  return {
    $typeName: "entdb.v1.WalEvent",
    tenant: ctx.tenant,
    actor: ctx.actor,
    idempotencyKey: ctx.idempotencyKey,
    schemaVersion: ctx.schemaVersion,
    ingressTime: timestampLiteral(now),
    body: { case: "plan", value: { $typeName: "entdb.v1.WritePlan", operations: out } },
    actorAdmin: ctx.actorAdmin ?? false,
    openAccess: ctx.openAccess ?? false,
    actorGroups: [...(ctx.actorGroups ?? [])],
    planDigest: planDigest(operations),
  };
}

/** `timestampFromMs(ms)` as a literal (its arithmetic, without `create`). */
function timestampLiteral(ms: number): Timestamp {
  const seconds = Math.floor(ms / 1000);
  return {
    $typeName: "google.protobuf.Timestamp",
    seconds: BigInt(seconds),
    nanos: (ms - seconds * 1000) * 1_000_000,
  };
}

/**
 * Refuses text of the event that UTF-8 cannot carry (a lone surrogate), so the logged
 * bytes decode to this very event (value-limits.ts says why; built-events.ts relies on
 * it). Values are checked in check-value.ts, node ids and aliases are ASCII by their
 * grammar; this covers the rest: the key and the caller's principal and groups.
 */
export function checkText(text: string, what: string): void {
  const at = loneSurrogateAt(text);
  if (at < 0) return;
  const unit = text.charCodeAt(at).toString(16).toUpperCase();
  throw invalidArgument(
    `${what} holds a lone UTF-16 surrogate (\\u${unit} at index ${at}), which UTF-8 cannot store; send well-formed Unicode text (pair the surrogate or drop it).`,
  );
}

/**
 * SHA-256 of the operations as the client sent them. Their binary form is canonical for
 * the same plan: fields go out in field-number order, and every map of a plan is keyed
 * by integers, which JavaScript objects iterate in ascending order.
 */
export function planDigest(operations: readonly Operation[]): Uint8Array {
  return sha256(encodeWritePlanTransient(operations));
}

function prepareOperation(
  op: Operation,
  index: number,
  ctx: PlanContext,
  aliases: Map<string, AliasTarget>,
  now: number,
): Operation {
  const o = op.op;
  switch (o.case) {
    case "createNode":
      // A literal, not `create`: the message is whole, and `create` walks its fields.
      return {
        $typeName: "entdb.v1.Operation",
        op: { case: "createNode", value: prepareCreate(o.value, index, ctx, aliases, now) },
      };
    case "updateNode": {
      const type = nodeType(o.value.typeId, index, ctx.schema);
      const vctx = valueContext(ctx, aliases, index, type.id, `${type.name}.id`);
      const id = resolveNodeId(o.value.id, type, vctx);
      const { set, clear } = prepareUpdate(o.value, type, index, ctx, aliases);
      return create(OperationSchema, {
        op: {
          case: "updateNode",
          value: {
            typeId: type.id,
            id,
            set,
            clear,
            precondition: preparePrecondition(o.value.precondition, type, index, ctx, aliases),
          },
        },
      });
    }
    case "deleteNode": {
      const type = nodeType(o.value.typeId, index, ctx.schema);
      const vctx = valueContext(ctx, aliases, index, type.id, `${type.name}.id`);
      const id = resolveNodeId(o.value.id, type, vctx);
      return create(OperationSchema, {
        op: {
          case: "deleteNode",
          value: {
            typeId: type.id,
            id,
            precondition: preparePrecondition(o.value.precondition, type, index, ctx, aliases),
          },
        },
      });
    }
    case "createEdge":
    case "deleteEdge": {
      const edge = edgeType(o.value.edgeTypeId, index, ctx.schema);
      const from = resolveRef(
        o.value.fromId,
        edge.fromId,
        valueContext(ctx, aliases, index, edge.id, `${edge.name}.from`),
      );
      const to = resolveRef(
        o.value.toId,
        edge.toId,
        valueContext(ctx, aliases, index, edge.id, `${edge.name}.to`),
      );
      if (o.case === "deleteEdge") {
        return create(OperationSchema, {
          op: { case: "deleteEdge", value: { edgeTypeId: edge.id, fromId: from, toId: to } },
        });
      }
      const props = prepareFields(o.value.props, edge, index, ctx, aliases, { create: true });
      return create(OperationSchema, {
        op: { case: "createEdge", value: { edgeTypeId: edge.id, fromId: from, toId: to, props } },
      });
    }
    default:
      throw invalidArgument(
        `Operation ${index} is empty; set one of create_node, update_node, delete_node, create_edge, delete_edge.`,
        {
          operationIndex: index,
        },
      );
  }
}

function prepareCreate(
  c: CreateNode,
  index: number,
  ctx: PlanContext,
  aliases: Map<string, AliasTarget>,
  now: number,
): CreateNode {
  const type = nodeType(c.typeId, index, ctx.schema);
  if (c.id !== "") {
    throw invalidArgument(
      `Operation ${index} (create ${type.name}) sets an id; leave it empty: the server mints ids.`,
      {
        operationIndex: index,
        typeId: type.id,
      },
    );
  }
  const fields = prepareFields(c.fields, type, index, ctx, aliases, { create: true });
  if (c.ifAbsentOn.length > 0) checkIfAbsent(c.ifAbsentOn, type, index, fields);
  const id = mintNodeId(now);
  if (c.alias !== "") {
    if (!ALIAS.test(c.alias)) {
      throw invalidArgument(
        `Operation ${index} has alias '${c.alias.slice(0, 80)}'; aliases are 1-64 letters, digits or '_' and do not start with a digit.`,
        { operationIndex: index, typeId: type.id },
      );
    }
    if (aliases.has(c.alias)) {
      throw invalidArgument(
        `Operation ${index} reuses alias '${c.alias}'; each alias names one node of the plan.`,
        {
          operationIndex: index,
          typeId: type.id,
        },
      );
    }
    aliases.set(c.alias, { id, typeId: type.id });
  }
  return { ...c, id, fields, alias: c.alias };
}

/**
 * Checks field values of a create (node fields or edge properties): every id known,
 * kinds right, no nulls, required fields present after defaults are applied.
 */
function prepareFields(
  given: { readonly [fieldId: number]: Value },
  type: NodeType | EdgeType,
  index: number,
  ctx: PlanContext,
  aliases: ReadonlyMap<string, AliasTarget>,
  _mode: { create: true },
): { [fieldId: number]: Value } {
  const out: { [fieldId: number]: Value } = {};
  // Object.keys, not entries: the pairs cost more than the lookups. The keys are the
  // field ids as strings, which index the map as they are.
  const byKey: { readonly [key: string]: Value } = given;
  let vctx: FieldValueContext | undefined;
  for (const key of Object.keys(given)) {
    const value = byKey[key]!;
    const field = fieldOf(type, Number(key), index);
    if (value.kind.case === "nullValue" || value.kind.case === undefined) {
      throw invalidArgument(
        `Field ${type.name}.${field.name} is set to null on create; leave it out instead.`,
        { operationIndex: index, typeId: type.id, fieldId: field.id },
      );
    }
    vctx = vctx?.at(field) ?? new FieldValueContext(ctx, aliases, index, type, field);
    out[field.id] = checkValue(value, field.type, vctx);
  }
  for (const field of type.fields) {
    if (out[field.id] !== undefined) continue;
    if (field.default) {
      out[field.id] = defaultOf(field, ctx.schema);
    } else if (field.required) {
      throw invalidArgument(
        `Field ${type.name}.${field.name} (id ${field.id}) is required; set it.`,
        {
          operationIndex: index,
          typeId: type.id,
          fieldId: field.id,
        },
      );
    }
  }
  return out;
}

function prepareUpdate(
  u: UpdateNode,
  type: NodeType,
  index: number,
  ctx: PlanContext,
  aliases: ReadonlyMap<string, AliasTarget>,
): { set: { [fieldId: number]: Value }; clear: number[] } {
  const set: { [fieldId: number]: Value } = {};
  const clear = new Set<number>();
  for (const fid of u.clear) clear.add(fieldOf(type, fid, index).id);
  for (const [key, value] of Object.entries(u.set)) {
    const field = fieldOf(type, Number(key), index);
    if (value.kind.case === "nullValue") {
      clear.add(field.id);
      continue;
    }
    if (clear.has(field.id)) {
      throw invalidArgument(`Field ${type.name}.${field.name} is both set and cleared; do one.`, {
        operationIndex: index,
        typeId: type.id,
        fieldId: field.id,
      });
    }
    set[field.id] = checkValue(
      value,
      field.type,
      valueContext(ctx, aliases, index, type.id, `${type.name}.${field.name}`, field.id),
    );
  }
  for (const fid of clear) {
    const field = fieldOf(type, fid, index);
    if (field.required) {
      throw invalidArgument(`Field ${type.name}.${field.name} is required and cannot be cleared.`, {
        operationIndex: index,
        typeId: type.id,
        fieldId: field.id,
      });
    }
  }
  if (Object.keys(set).length === 0 && clear.size === 0) {
    throw invalidArgument(
      `Operation ${index} (update ${type.name}) changes nothing; set or clear at least one field.`,
      {
        operationIndex: index,
        typeId: type.id,
      },
    );
  }
  return { set, clear: [...clear].sort((a, b) => a - b) };
}

function preparePrecondition(
  p: Precondition | undefined,
  type: NodeType,
  index: number,
  ctx: PlanContext,
  aliases: ReadonlyMap<string, AliasTarget>,
): Precondition | undefined {
  if (!p) return undefined;
  const fieldsEqual: { [fieldId: number]: Value } = {};
  for (const [key, value] of Object.entries(p.fieldsEqual)) {
    const field = fieldOf(type, Number(key), index);
    fieldsEqual[field.id] =
      value.kind.case === "nullValue"
        ? value
        : checkValue(
            value,
            field.type,
            valueContext(ctx, aliases, index, type.id, `${type.name}.${field.name}`, field.id),
          );
  }
  if (p.version !== undefined && p.version < 1n) {
    throw invalidArgument(`Operation ${index} expects version ${p.version}; versions start at 1.`, {
      operationIndex: index,
      typeId: type.id,
    });
  }
  return { ...p, fieldsEqual };
}

function checkIfAbsent(
  fieldIds: readonly number[],
  type: NodeType,
  index: number,
  fields: { [fieldId: number]: Value },
): void {
  const ids = [...fieldIds].sort((a, b) => a - b);
  const single = ids.length === 1 && type.fields.some((f) => f.id === ids[0] && f.unique);
  const composite = type.uniques.some(
    (u) =>
      u.fieldIds.length === ids.length &&
      [...u.fieldIds].sort((a, b) => a - b).every((f, i) => f === ids[i]),
  );
  if (!single && !composite) {
    throw invalidArgument(
      `Operation ${index} (create ${type.name}) asks create-if-absent on fields [${ids.join(", ")}], which are not a unique field or a composite unique of ${type.name}.`,
      { operationIndex: index, typeId: type.id },
    );
  }
  for (const id of ids) {
    if (fields[id] === undefined) {
      const name = type.fields.find((f) => f.id === id)?.name ?? String(id);
      throw invalidArgument(
        `Operation ${index} asks create-if-absent on ${type.name}.${name} but does not set it.`,
        {
          operationIndex: index,
          typeId: type.id,
          fieldId: id,
        },
      );
    }
  }
}

function resolveNodeId(id: string, type: NodeType, ctx: ValueContext): string {
  if (id === "")
    throw invalidArgument(`${ctx.fieldLabel} is empty; name the node to change.`, ctx.site);
  return resolveRef(id, type.id, ctx);
}

function nodeType(typeId: number, index: number, schema: Schema): NodeType {
  const type = nodeById(schema, typeId);
  if (!type) {
    const hint = edgeById(schema, typeId)
      ? ` (${typeId} is an edge type; use create_edge/delete_edge)`
      : "";
    throw invalidArgument(
      `Operation ${index} names node type id ${typeId}, which the schema does not define${hint}.`,
      {
        operationIndex: index,
        typeId,
      },
    );
  }
  return type;
}

function edgeType(typeId: number, index: number, schema: Schema): EdgeType {
  const type = edgeById(schema, typeId);
  if (!type) {
    const hint = nodeById(schema, typeId) ? ` (${typeId} is a node type)` : "";
    throw invalidArgument(
      `Operation ${index} names edge type id ${typeId}, which the schema does not define${hint}.`,
      {
        operationIndex: index,
        typeId,
      },
    );
  }
  return type;
}

function fieldOf(type: NodeType | EdgeType, fieldId: number, index: number): Field {
  // A loop, not `find`: this runs for every field of every step, and the callback would
  // be a closure made per call.
  let field: Field | undefined;
  for (const f of type.fields) {
    if (f.id === fieldId) {
      field = f;
      break;
    }
  }
  if (!field) {
    throw invalidArgument(`${type.name} has no field with id ${fieldId}.`, {
      operationIndex: index,
      typeId: type.id,
      fieldId,
    });
  }
  return field;
}

/**
 * The context of checking a create's field values, moved from field to field with
 * {@link FieldValueContext.at}: one per create rather than one per field with its label
 * and error site, which are made only when a message needs them (nearly every value
 * passes). A check uses it synchronously and keeps nothing of it.
 */
class FieldValueContext implements ValueContext {
  readonly schema: Schema;
  readonly aliases: ReadonlyMap<string, AliasTarget>;
  readonly limits: ValueLimits;
  readonly #index: number;
  readonly #type: NodeType | EdgeType;
  #field: Field;

  constructor(
    ctx: PlanContext,
    aliases: ReadonlyMap<string, AliasTarget>,
    index: number,
    type: NodeType | EdgeType,
    field: Field,
  ) {
    this.schema = ctx.schema;
    this.aliases = aliases;
    this.limits = ctx.valueLimits ?? DEFAULT_VALUE_LIMITS;
    this.#index = index;
    this.#type = type;
    this.#field = field;
  }

  /** This context, now of `field` (of the same type and step). */
  at(field: Field): this {
    this.#field = field;
    return this;
  }

  get fieldLabel(): string {
    return `${this.#type.name}.${this.#field.name}`;
  }

  get site(): ErrorSite {
    return { operationIndex: this.#index, typeId: this.#type.id, fieldId: this.#field.id };
  }
}

function valueContext(
  ctx: PlanContext,
  aliases: ReadonlyMap<string, AliasTarget>,
  index: number,
  typeId: number,
  fieldLabel: string,
  fieldId?: number,
): ValueContext {
  return {
    schema: ctx.schema,
    aliases,
    fieldLabel,
    limits: ctx.valueLimits ?? DEFAULT_VALUE_LIMITS,
    site:
      fieldId === undefined
        ? { operationIndex: index, typeId }
        : { operationIndex: index, typeId, fieldId },
  };
}

/**
 * Each field's default as a `Value`, built once per (immutable) field. Events share these
 * messages: nothing changes a logged event's values.
 */
const defaults = new WeakMap<Field, Value>();

function defaultOf(field: Field, schema: Schema): Value {
  let value = defaults.get(field);
  if (value === undefined && field.default) {
    value = defaultToValue(field.default, schema, field);
    defaults.set(field, value);
  }
  return value!;
}

/** The `Value` a default stands for. */
export function defaultToValue(d: DefaultValue, schema: Schema, field: Field): Value {
  switch (d.kind) {
    case "string":
      return create(ValueSchema, { kind: { case: "stringValue", value: d.value } });
    case "int":
      return create(ValueSchema, { kind: { case: "intValue", value: d.value } });
    case "float":
      return create(ValueSchema, { kind: { case: "floatValue", value: d.value } });
    case "bool":
      return create(ValueSchema, { kind: { case: "boolValue", value: d.value } });
    case "timestamp":
      return create(ValueSchema, {
        kind: { case: "timestampValue", value: timestampFromRfc3339(d.value) },
      });
    case "enum": {
      const enumName = field.type.kind === "enum" ? field.type.enumName : "";
      const number =
        enumByName(schema, enumName)?.values.find((v) => v.name === d.value)?.number ?? 0;
      return create(ValueSchema, { kind: { case: "enumValue", value: number } });
    }
  }
}

function timestampFromRfc3339(text: string) {
  const m = /^(.*?)(?:\.(\d{1,9}))?Z$/.exec(text);
  const whole = Date.parse(`${m?.[1] ?? text}Z`);
  const frac = (m?.[2] ?? "").padEnd(9, "0");
  return { seconds: BigInt(Math.floor(whole / 1000)), nanos: Number(frac) };
}
