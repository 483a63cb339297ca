/**
 * Converts between TypeScript values and `entdb.v1.Value`, driven by the field's kind
 * from the schema metadata:
 *
 * | kind      | TypeScript in             | TypeScript out | wire                    |
 * | --------- | ------------------------- | -------------- | ----------------------- |
 * | string    | string                    | string         | string_value            |
 * | int       | bigint, or a safe-integer number | bigint  | int_value (int64)       |
 * | float     | number                    | number         | float_value             |
 * | bool      | boolean                   | boolean        | bool_value              |
 * | timestamp | Date                      | Date           | timestamp_value         |
 * | bytes     | Uint8Array                | Uint8Array     | bytes_value             |
 * | json      | a JSON value              | a JSON value   | json_value (JSON text)  |
 * | enum      | value name                | value name     | enum_value (number)     |
 * | ref       | id, or a plan handle      | id             | ref_value (id / $alias) |
 * | list      | array                     | array          | list_value              |
 *
 * Encoding never loses information silently: an int outside int64, or a number that
 * is not a safe integer, is a `RangeError` naming the field, raised before anything is
 * sent; a string with a lone surrogate (which UTF-8 cannot carry) and a json value
 * holding NaN or ±Infinity (which JSON cannot) are `TypeError`s. Decoding a value whose kind does not match the field is an `EntDbError` with
 * code `schema_mismatch` (the client and server disagree about the schema).
 */

import { create } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { type Value, ValueSchema } from "../generated/entdb/v1/values_pb.js";
import { EntDbError } from "./entdb-error.ts";
import { describe, type NodeIdInput, type ValueInit } from "./plan-builder.ts";
import type { AnyFieldMeta, ElementMeta } from "./schema-meta.ts";

/** Smallest `int` value. */
export const INT64_MIN = -(2n ** 63n);
/** Largest `int` value. */
export const INT64_MAX = 2n ** 63n - 1n;

/** What an `int` field accepts: a bigint, or a number that is a safe integer. */
export type Int64Input = bigint | number;

/** Any JSON value. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/**
 * What a `json` field holds: any JSON value except a top-level `null`, because a
 * field's `null` means "unset" (in a patch, "clear it").
 */
export type JsonFieldValue = Exclude<JsonValue, null>;

/**
 * Turns a ref input into the wire id: an id passes, a handle becomes its `$alias`
 * (checked against the plan), anything else is a `TypeError`.
 */
export type RefResolver = (ref: NodeIdInput, targetTypeId: number, label: string) => string;

/** Refs outside a plan: ids only. */
export const idsOnly: RefResolver = (ref, _target, label) => {
  if (typeof ref === "string" && ref !== "") return ref;
  if (typeof ref === "object" && ref !== null && !("alias" in ref) && typeof ref.id === "string") {
    return ref.id;
  }
  if (typeof ref === "object" && ref !== null && "alias" in ref) {
    throw new TypeError(
      `${label} is a plan handle (${ref.alias}); handles are only valid inside the db.atomic plan that created them.`,
    );
  }
  throw new TypeError(`${label} must be a node id; got ${describe(ref)}.`);
};

/** Encodes one field value. `label` (`Task.number`) names the field in errors. */
export function encodeValue(
  field: AnyFieldMeta,
  input: unknown,
  label: string,
  refs: RefResolver,
): Value {
  if (field.kind === "list") {
    if (!Array.isArray(input)) {
      throw new TypeError(`${label} must be an array; got ${describe(input)}.`);
    }
    const values = input.map((item: unknown, i) =>
      // Inside a list, `null` is an element like any other, not "unset".
      field.element.kind === "json" && item === null
        ? create(ValueSchema, { kind: { case: "jsonValue", value: "null" } })
        : encodeElement(field.element, item, `${label}[${i}]`, refs),
    );
    return create(ValueSchema, { kind: { case: "listValue", value: { values } } });
  }
  return encodeElement(field, input, label, refs);
}

function encodeElement(
  element: ElementMeta,
  input: unknown,
  label: string,
  refs: RefResolver,
): Value {
  return create(ValueSchema, elementInit(element, input, label, refs));
}

function elementInit(
  element: ElementMeta,
  input: unknown,
  label: string,
  refs: RefResolver,
): ValueInit {
  switch (element.kind) {
    case "string":
      if (typeof input !== "string") throw wrongType(label, "a string", input);
      checkWellFormed(input, label);
      return { kind: { case: "stringValue", value: input } };
    case "int":
      return { kind: { case: "intValue", value: toInt64(input, label) } };
    case "float":
      if (typeof input !== "number") throw wrongType(label, "a number", input);
      return { kind: { case: "floatValue", value: input } };
    case "bool":
      if (typeof input !== "boolean") throw wrongType(label, "a boolean", input);
      return { kind: { case: "boolValue", value: input } };
    case "timestamp":
      return { kind: { case: "timestampValue", value: dateToTimestamp(input, label) } };
    case "bytes":
      if (!(input instanceof Uint8Array)) throw wrongType(label, "a Uint8Array", input);
      return { kind: { case: "bytesValue", value: input } };
    case "json":
      return { kind: { case: "jsonValue", value: toJsonText(input, label) } };
    case "enum": {
      const number =
        typeof input === "string" && Object.hasOwn(element.enum.numbers, input)
          ? element.enum.numbers[input]
          : undefined;
      if (number === undefined) {
        const allowed = Object.keys(element.enum.numbers)
          .map((n) => `"${n}"`)
          .join(", ");
        throw new RangeError(`${label} must be one of ${allowed}; got ${describe(input)}.`);
      }
      return { kind: { case: "enumValue", value: number } };
    }
    case "ref":
      return {
        kind: { case: "refValue", value: refs(refInput(input, label), element.target, label) },
      };
  }
}

function refInput(input: unknown, label: string): NodeIdInput {
  if (typeof input === "string") return input;
  if (typeof input === "object" && input !== null && ("alias" in input || "id" in input)) {
    // Shape checked by the resolver, which knows handles and plain `{ id }` objects.
    return input as NodeIdInput;
  }
  throw new TypeError(`${label} must be a node id; got ${describe(input)}.`);
}

/**
 * The int64 for an `int` input: bigints in range pass; numbers must be safe integers
 * (a larger number has already lost digits, so accepting it would hide the loss).
 */
export function toInt64(input: unknown, label: string): bigint {
  if (typeof input === "bigint") {
    if (input < INT64_MIN || input > INT64_MAX) {
      throw new RangeError(`${label} must fit in 64 bits (−2^63 … 2^63−1); got ${input}n.`);
    }
    return input;
  }
  if (typeof input === "number") {
    if (!Number.isSafeInteger(input)) {
      throw new RangeError(
        `${label} got the number ${input}, which is not a safe integer; pass a bigint (e.g. ${
          Number.isFinite(input) ? `${BigInt(Math.trunc(input))}n` : "123n"
        }) for values beyond ±2^53−1.`,
      );
    }
    return BigInt(input);
  }
  throw wrongType(label, "a bigint or a safe-integer number", input);
}

function dateToTimestamp(input: unknown, label: string): { seconds: bigint; nanos: number } {
  if (!(input instanceof Date)) throw wrongType(label, "a Date", input);
  const ms = input.getTime();
  if (Number.isNaN(ms)) throw new RangeError(`${label} is an invalid Date.`);
  const seconds = Math.floor(ms / 1000);
  return { seconds: BigInt(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
}

function toJsonText(input: unknown, label: string): string {
  if (input === null || input === undefined) {
    throw new TypeError(`${label} is a json field; null means unset, so leave it out instead.`);
  }
  let text: string | undefined;
  // JSON.stringify writes null for NaN and ±Infinity: the stored value would differ from
  // the one given, so the first such number is reported instead.
  let nonFinite: number | undefined;
  try {
    text = JSON.stringify(input, (_key, value: unknown) => {
      if (typeof value === "number" && !Number.isFinite(value)) nonFinite ??= value;
      return value;
    });
  } catch (cause) {
    throw new TypeError(`${label} is not JSON-serializable: ${String(cause)}`, { cause });
  }
  if (nonFinite !== undefined)
    throw new TypeError(
      `${label} is not JSON-serializable: it holds the number ${nonFinite}, which JSON cannot carry (JSON.stringify would send null in its place).`,
    );
  if (text === undefined)
    throw new TypeError(`${label} is not a JSON value; got ${describe(input)}.`);
  return text;
}

/** A lone UTF-16 surrogate: half of a pair, without the other half. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Refuses a string with a lone surrogate: UTF-8 cannot carry one, so the protobuf encoder
 * would send U+FFFD in its place and the server would store other text than the caller's.
 */
export function checkWellFormed(text: string, label: string): void {
  const at = text.search(LONE_SURROGATE);
  if (at < 0) return;
  const unit = text.charCodeAt(at).toString(16).toUpperCase();
  throw new TypeError(
    `${label} holds a lone UTF-16 surrogate (\\u${unit} at index ${at}), which UTF-8 cannot carry; pass well-formed Unicode text (pair the surrogate or drop it).`,
  );
}

function wrongType(label: string, expected: string, got: unknown): TypeError {
  return new TypeError(`${label} must be ${expected}; got ${describe(got)}.`);
}

/**
 * Decodes one field value; `undefined` for a null value. Throws `EntDbError`
 * (`schema_mismatch`) when the value's kind is not the field's.
 */
export function decodeValue(field: AnyFieldMeta, value: Value, label: string): unknown {
  const kind = value.kind;
  if (kind.case === "nullValue" || kind.case === undefined) return undefined;
  if (field.kind === "list") {
    if (kind.case !== "listValue") throw mismatch(label, "a list", kind.case);
    return kind.value.values.map((item, i) => {
      const decoded = decodeElement(field.element, item, `${label}[${i}]`);
      return decoded === undefined && field.element.kind === "json" ? null : decoded;
    });
  }
  return decodeElement(field, value, label);
}

function decodeElement(element: ElementMeta, value: Value, label: string): unknown {
  const kind = value.kind;
  switch (element.kind) {
    case "string":
      if (kind.case !== "stringValue") throw mismatch(label, "a string", kind.case);
      return kind.value;
    case "int":
      if (kind.case !== "intValue") throw mismatch(label, "an int", kind.case);
      return kind.value;
    case "float":
      if (kind.case !== "floatValue") throw mismatch(label, "a float", kind.case);
      return kind.value;
    case "bool":
      if (kind.case !== "boolValue") throw mismatch(label, "a bool", kind.case);
      return kind.value;
    case "timestamp":
      if (kind.case !== "timestampValue") throw mismatch(label, "a timestamp", kind.case);
      return timestampToDate(kind.value);
    case "bytes":
      if (kind.case !== "bytesValue") throw mismatch(label, "bytes", kind.case);
      return kind.value;
    case "json": {
      if (kind.case !== "jsonValue") throw mismatch(label, "JSON text", kind.case);
      const parsed: unknown = JSON.parse(kind.value);
      return parsed === null ? undefined : parsed;
    }
    case "enum": {
      if (kind.case !== "enumValue") throw mismatch(label, "an enum number", kind.case);
      const name = element.enum.names.get(kind.value);
      if (name === undefined) {
        throw new EntDbError(
          "schema_mismatch",
          `${label} holds enum number ${kind.value}, which this client does not know; regenerate the client from the server's schema.`,
        );
      }
      return name;
    }
    case "ref":
      if (kind.case !== "refValue") throw mismatch(label, "a ref", kind.case);
      return kind.value;
  }
}

/**
 * A `Date` from a protobuf timestamp. `Date` holds milliseconds, so the microsecond
 * digits the server keeps are truncated (toward the past).
 */
export function timestampToDate(ts: Timestamp | undefined): Date {
  if (ts === undefined) return new Date(0);
  return new Date(Number(ts.seconds) * 1000 + Math.floor(ts.nanos / 1_000_000));
}

function mismatch(label: string, expected: string, got: string | undefined): EntDbError {
  return new EntDbError(
    "schema_mismatch",
    `${label} should hold ${expected} but the server sent ${got ?? "an empty value"}; is the client generated from the server's schema?`,
  );
}
