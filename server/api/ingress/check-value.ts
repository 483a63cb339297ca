/**
 * Checks one `entdb.v1.Value` against the kind a field declares, and resolves
 * `$alias` references to the ids minted earlier in the same plan. Runs at ingress,
 * before anything is logged, so a wrongly typed value never reaches the WAL.
 */

import { create } from "@bufbuild/protobuf";
import { type Value, ValueSchema } from "../../../generated/entdb/v1/values_pb.js";
import type { ElementType, FieldType, Schema } from "../../../schema/index.ts";
import { enumByName, nodeById } from "../../../schema/index.ts";
import { type ErrorSite, invalidArgument } from "./ingress-error.ts";
import { isNodeId } from "./node-id.ts";
import { jsonDepth, loneSurrogateAt, utf8Length, type ValueLimits } from "./value-limits.ts";

/** A node created earlier in the plan, by alias. */
export interface AliasTarget {
  readonly id: string;
  readonly typeId: number;
}

/** What a value check needs besides the value. */
export interface ValueContext {
  readonly schema: Schema;
  readonly aliases: ReadonlyMap<string, AliasTarget>;
  readonly site: ErrorSite;
  /** "Task.title", used in messages. */
  readonly fieldLabel: string;
  /** What the store takes (value-limits.ts). */
  readonly limits: ValueLimits;
}

/** Timestamps must fall in 0001-01-01 .. 9999-12-31 (RFC 3339), like google.protobuf.Timestamp. */
const MIN_SECONDS = -62_135_596_800n;
const MAX_SECONDS = 253_402_300_799n;

/** Returns the value to log (aliases resolved), or throws INVALID_ARGUMENT saying what to fix. */
export function checkValue(value: Value, type: FieldType, ctx: ValueContext): Value {
  if (type.kind === "list") {
    if (value.kind.case !== "listValue") throw mismatch(value, "a list", ctx);
    const items = value.kind.value.values;
    if (items.length > ctx.limits.maxListLength) {
      throw invalidArgument(
        `Field ${placeOf(ctx)} holds ${items.length} elements; the limit is ${ctx.limits.maxListLength}.`,
        ctx.site,
      );
    }
    const checked = items.map((item, i) =>
      // Each property by name: a context's label and site may be getters, which a spread
      // would not copy.
      checkElement(item, type.element, {
        schema: ctx.schema,
        aliases: ctx.aliases,
        limits: ctx.limits,
        site: ctx.site,
        fieldLabel: `${ctx.fieldLabel}[${i}]`,
      }),
    );
    return create(ValueSchema, { kind: { case: "listValue", value: { values: checked } } });
  }
  return checkElement(value, type, ctx);
}

function checkElement(value: Value, type: ElementType, ctx: ValueContext): Value {
  const k = value.kind;
  switch (type.kind) {
    case "string":
      if (k.case !== "stringValue") throw mismatch(value, "a string", ctx);
      checkSize(utf8Length(k.value), ctx.limits.maxStringBytes, "UTF-8 bytes", ctx);
      checkWellFormed(k.value, ctx);
      return value;
    case "int":
      if (k.case !== "intValue") throw mismatch(value, "an int (int_value)", ctx);
      return value;
    case "float":
      if (k.case !== "floatValue") throw mismatch(value, "a float", ctx);
      if (!Number.isFinite(k.value)) {
        throw invalidArgument(
          `Field ${ctx.fieldLabel} must be a finite number, not ${k.value}.`,
          ctx.site,
        );
      }
      return value;
    case "bool":
      if (k.case !== "boolValue") throw mismatch(value, "a bool", ctx);
      return value;
    case "bytes":
      if (k.case !== "bytesValue") throw mismatch(value, "bytes", ctx);
      checkSize(k.value.length, ctx.limits.maxBytesLength, "bytes", ctx);
      return value;
    case "timestamp": {
      if (k.case !== "timestampValue") throw mismatch(value, "a timestamp", ctx);
      const { seconds, nanos } = k.value;
      if (seconds < MIN_SECONDS || seconds > MAX_SECONDS || nanos < 0 || nanos > 999_999_999) {
        throw invalidArgument(
          `Field ${ctx.fieldLabel} is outside 0001-01-01..9999-12-31 or has invalid nanos.`,
          ctx.site,
        );
      }
      if (nanos % 1000 !== 0) {
        throw invalidArgument(
          `Field ${ctx.fieldLabel} has sub-microsecond precision (nanos ${nanos}); timestamps are stored in microseconds, round to a multiple of 1000 nanos.`,
          ctx.site,
        );
      }
      return value;
    }
    case "json": {
      if (k.case !== "jsonValue") throw mismatch(value, "JSON text (json_value)", ctx);
      checkSize(utf8Length(k.value), ctx.limits.maxJsonBytes, "UTF-8 bytes of JSON text", ctx);
      checkWellFormed(k.value, ctx);
      try {
        JSON.parse(k.value);
      } catch {
        throw invalidArgument(`Field ${ctx.fieldLabel} is not valid JSON text.`, ctx.site);
      }
      const max = ctx.limits.maxJsonDepth;
      if (jsonDepth(k.value, max) > max) {
        throw invalidArgument(
          `Field ${placeOf(ctx)} nests JSON arrays and objects more than ${max} deep; the limit is ${max}. Flatten the value.`,
          ctx.site,
        );
      }
      return value;
    }
    case "enum": {
      if (k.case !== "enumValue")
        throw mismatch(value, `a ${type.enumName} value (enum_value)`, ctx);
      const e = enumByName(ctx.schema, type.enumName);
      if (!e?.values.some((v) => v.number === k.value)) {
        const allowed = e?.values.map((v) => `${v.number} (${v.name})`).join(", ") ?? "";
        throw invalidArgument(
          `Field ${ctx.fieldLabel} got enum number ${k.value}, which ${type.enumName} does not define; allowed: ${allowed}.`,
          ctx.site,
          UNKNOWN_ENUM_NUMBER,
        );
      }
      return value;
    }
    case "ref": {
      if (k.case !== "refValue") throw mismatch(value, "a node id (ref_value)", ctx);
      const id = resolveRef(k.value, type.targetId, ctx);
      return create(ValueSchema, { kind: { case: "refValue", value: id } });
    }
  }
}

/** Refuses text with a lone UTF-16 surrogate (value-limits.ts says why). */
function checkWellFormed(text: string, ctx: ValueContext): void {
  const at = loneSurrogateAt(text);
  if (at < 0) return;
  const unit = text.charCodeAt(at).toString(16).toUpperCase();
  throw invalidArgument(
    `Field ${ctx.fieldLabel} holds a lone UTF-16 surrogate (\\u${unit} at index ${at}), which UTF-8 cannot store; send well-formed Unicode text (pair the surrogate or drop it).`,
    ctx.site,
  );
}

/**
 * Resolves a node reference: a node id passes as is (whether it exists is the
 * applier's decision), a `$alias` becomes the id minted for it, provided it names a
 * node of `expectedTypeId` created earlier in the plan.
 */
export function resolveRef(
  ref: string,
  expectedTypeId: number | undefined,
  ctx: ValueContext,
): string {
  if (ref.startsWith("$")) {
    const target = ctx.aliases.get(ref.slice(1));
    if (!target) {
      throw invalidArgument(
        `${ctx.fieldLabel} refers to '${ref}', but no earlier step of this plan creates a node with alias '${ref.slice(1)}'.`,
        ctx.site,
      );
    }
    if (expectedTypeId !== undefined && target.typeId !== expectedTypeId) {
      const want = nodeById(ctx.schema, expectedTypeId)?.name ?? `#${expectedTypeId}`;
      const got = nodeById(ctx.schema, target.typeId)?.name ?? `#${target.typeId}`;
      throw invalidArgument(
        `${ctx.fieldLabel} must refer to a ${want}, but '${ref}' is a ${got}.`,
        ctx.site,
      );
    }
    return target.id;
  }
  if (!isNodeId(ref)) {
    throw invalidArgument(
      `${ctx.fieldLabel} got '${ref.slice(0, 80)}', which is neither a node id (a lowercase UUID) nor a '$alias' of this plan.`,
      ctx.site,
    );
  }
  return ref;
}

const CASE_NAMES: Record<string, string> = {
  nullValue: "null",
  stringValue: "a string",
  intValue: "an int",
  floatValue: "a float",
  boolValue: "a bool",
  timestampValue: "a timestamp",
  bytesValue: "bytes",
  enumValue: "an enum number",
  refValue: "a ref",
  jsonValue: "JSON",
  listValue: "a list",
};

function checkSize(size: number, limit: number, unit: string, ctx: ValueContext): void {
  if (size > limit) {
    throw invalidArgument(
      `Field ${placeOf(ctx)} holds ${size} ${unit}; the limit is ${limit}.`,
      ctx.site,
    );
  }
}

/** "Task.title (operation 2)", for the messages of limits. */
function placeOf(ctx: ValueContext): string {
  const index = ctx.site.operationIndex;
  return index === undefined ? ctx.fieldLabel : `${ctx.fieldLabel} (operation ${index})`;
}

function mismatch(value: Value, expected: string, ctx: ValueContext) {
  const got = value.kind.case ? CASE_NAMES[value.kind.case] : "an empty Value";
  return invalidArgument(`Field ${ctx.fieldLabel} expects ${expected}, got ${got}.`, ctx.site);
}

/** The `WriteFailure.reason` of an enum number the field's enum does not define (schema-skew.ts). */
export const UNKNOWN_ENUM_NUMBER = "UNKNOWN_ENUM_NUMBER";
