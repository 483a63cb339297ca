/**
 * `entdb.v1.Value` ⇄ the JSON kept in payloads, by field kind. How each kind is stored:
 *
 * | kind      | stored as                                   | SQL value of json_extract |
 * |-----------|---------------------------------------------|---------------------------|
 * | string    | JSON string                                 | TEXT                      |
 * | int       | JSON integer, exact 64-bit                  | INTEGER                   |
 * | float     | JSON number (finite only)                   | REAL or INTEGER           |
 * | bool      | `true` / `false`                            | INTEGER 1 / 0             |
 * | timestamp | JSON integer, microseconds since the epoch  | INTEGER                   |
 * | bytes     | JSON string, standard base64 with padding   | TEXT                      |
 * | enum      | JSON integer, the value's number            | INTEGER                   |
 * | ref       | JSON string, the node id                    | TEXT                      |
 * | json      | the JSON value itself (numbers kept exact)  | (not comparable)          |
 * | list<T>   | JSON array of T                             | (CONTAINS via json_each)  |
 *
 * Encoding checks the value against the kind and throws a `StoreError`
 * (`invalid-argument`, with the field id) on a mismatch; the applier records that as
 * the plan's outcome. Decoding trusts what the applier wrote and throws `corrupt` if
 * the stored JSON does not fit the kind.
 */

import { create } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { type Value, ValueListSchema } from "../../generated/entdb/v1/values_pb.js";
import {
  type ElementType,
  enumByName,
  type FieldType,
  INT64_MAX,
  INT64_MIN,
  type Schema,
} from "../../schema/served.ts";
import {
  isIntegerText,
  isRawNumber,
  type JsonValue,
  parseLossless,
  rawNumber,
  stringifyJson,
} from "./lossless-json.ts";
import { StoreError } from "./store-error.ts";

/** Where a value belongs, for messages: `{ owner: "type 4", fieldId: 2 }`. */
export interface FieldPlace {
  readonly owner: string;
  readonly fieldId: number;
  /**
   * What a message calls the value instead of "Field <id> of <owner>", for a request's
   * value ("The value of filter EQ on Team.slug (field 2)"); called only for an error.
   * An applier's outcome has none: it records ids only (DESIGN.md contract 2).
   */
  readonly label?: () => string;
}

/** A value SQLite can bind and compare. */
export type SqlScalar = string | bigint | number | null;

const MICROS_PER_SECOND = 1_000_000n;

/**
 * The JSON to store for `value` in a field of type `type`, or `null` for an explicit
 * `null_value` (which clears the field).
 */
export function encodeValue(
  schema: Schema,
  type: FieldType,
  value: Value,
  place: FieldPlace,
): JsonValue | null {
  if (value.kind.case === "nullValue") return null;
  return encodeNonNull(schema, type, value, place);
}

function encodeNonNull(
  schema: Schema,
  type: FieldType | ElementType,
  value: Value,
  place: FieldPlace,
): JsonValue {
  const k = value.kind;
  switch (type.kind) {
    case "string":
      if (k.case === "stringValue") return k.value;
      break;
    case "int":
      if (k.case === "intValue") {
        if (k.value < INT64_MIN || k.value > INT64_MAX)
          throw invalid(place, `is outside the 64-bit range: ${k.value}`);
        return rawNumber(k.value.toString());
      }
      break;
    case "float":
      if (k.case === "floatValue") {
        if (!Number.isFinite(k.value)) {
          throw invalid(place, `must be a finite number, got ${k.value}`);
        }
        return rawNumber(JSON.stringify(k.value));
      }
      break;
    case "bool":
      if (k.case === "boolValue") return k.value;
      break;
    case "timestamp":
      if (k.case === "timestampValue")
        return rawNumber(timestampToMicros(k.value, place).toString());
      break;
    case "bytes":
      if (k.case === "bytesValue") return Buffer.from(k.value).toString("base64");
      break;
    case "enum":
      if (k.case === "enumValue") {
        const e = enumByName(schema, type.enumName);
        if (!e?.values.some((v) => v.number === k.value)) {
          throw invalid(place, `has no enum value numbered ${k.value}`);
        }
        return rawNumber(String(k.value));
      }
      break;
    case "ref":
      if (k.case === "refValue") {
        if (k.value === "") throw invalid(place, "is a reference with an empty node id");
        return k.value;
      }
      break;
    case "json":
      if (k.case === "jsonValue") {
        try {
          return parseLossless(k.value);
        } catch (cause) {
          throw invalid(
            place,
            `is not valid JSON (${cause instanceof Error ? cause.message : String(cause)})`,
          );
        }
      }
      break;
    case "list":
      if (k.case === "listValue") {
        return k.value.values.map((element, i) => {
          if (element.kind.case === "nullValue" || element.kind.case === undefined) {
            throw invalid(place, `has an empty element at index ${i}`);
          }
          return encodeNonNull(schema, type.element, element, place);
        });
      }
      break;
  }
  throw invalid(place, `expects ${kindText(type)}, got ${k.case ?? "no value"}`);
}

/** The `Value` for stored JSON of a field of type `type`. */
export function decodeValue(
  type: FieldType | ElementType,
  json: JsonValue,
  place: FieldPlace,
): Value {
  switch (type.kind) {
    case "string":
      if (typeof json === "string") return value({ case: "stringValue", value: json });
      break;
    case "int":
      if (isRawNumber(json) && isIntegerText(json))
        return value({ case: "intValue", value: BigInt(json.rawJSON) });
      break;
    case "float":
      if (isRawNumber(json)) return value({ case: "floatValue", value: Number(json.rawJSON) });
      break;
    case "bool":
      if (typeof json === "boolean") return value({ case: "boolValue", value: json });
      break;
    case "timestamp":
      if (isRawNumber(json) && isIntegerText(json)) {
        return value({ case: "timestampValue", value: microsToTimestamp(BigInt(json.rawJSON)) });
      }
      break;
    case "bytes":
      if (typeof json === "string") {
        return value({ case: "bytesValue", value: new Uint8Array(Buffer.from(json, "base64")) });
      }
      break;
    case "enum":
      if (isRawNumber(json) && isIntegerText(json))
        return value({ case: "enumValue", value: Number(json.rawJSON) });
      break;
    case "ref":
      if (typeof json === "string") return value({ case: "refValue", value: json });
      break;
    case "json":
      return value({ case: "jsonValue", value: stringifyJson(json) });
    case "list":
      if (Array.isArray(json)) {
        const values = (json as readonly JsonValue[]).map((e) =>
          decodeValue(type.element, e, place),
        );
        return value({ case: "listValue", value: create(ValueListSchema, { values }) });
      }
      break;
  }
  throw new StoreError(
    "corrupt",
    `Field ${place.fieldId} of ${place.owner} holds ${stringifyJson(json).slice(0, 40)}, which is not ${kindText(type)}.`,
    { fieldId: place.fieldId },
  );
}

/**
 * What SQLite's `json_extract` returns for a stored scalar, for binding next to it:
 * integers as bigint (exact), other numbers as number, booleans as 1n/0n, strings as
 * they are. Arrays and objects have no SQL scalar; they are compared as JSON text.
 */
export function sqlValueOf(json: JsonValue | null): SqlScalar {
  if (json === null) return null;
  if (typeof json === "string") return json;
  if (typeof json === "boolean") return json ? 1n : 0n;
  if (isRawNumber(json)) return isIntegerText(json) ? BigInt(json.rawJSON) : Number(json.rawJSON);
  return stringifyJson(json);
}

/** Microseconds since the epoch; throws `invalid-argument` for sub-microsecond or bad nanos. */
export function timestampToMicros(ts: Timestamp, place?: FieldPlace): bigint {
  if (
    !Number.isInteger(ts.nanos) ||
    ts.nanos < 0 ||
    ts.nanos > 999_999_999 ||
    ts.nanos % 1000 !== 0
  ) {
    const message = `has nanos ${ts.nanos}; timestamps have microsecond precision (a multiple of 1000 in 0..999999000)`;
    if (place) throw invalid(place, message);
    throw new StoreError("invalid-argument", `The timestamp ${message}.`);
  }
  return ts.seconds * MICROS_PER_SECOND + BigInt(ts.nanos / 1000);
}

/** A Timestamp from microseconds since the epoch (nanos always in 0..999999000). */
export function microsToTimestamp(micros: bigint): Timestamp {
  let seconds = micros / MICROS_PER_SECOND;
  let rest = micros % MICROS_PER_SECOND;
  if (rest < 0n) {
    seconds -= 1n;
    rest += MICROS_PER_SECOND;
  }
  // What `create(TimestampSchema, …)` makes, without its walk over the descriptor.
  return {
    $typeName: "google.protobuf.Timestamp",
    seconds,
    nanos: Number(rest) * 1000,
  } as Timestamp;
}

/** Readable kind of a field type, for messages: `int`, `list<ref<4>>`, `enum Priority`. */
export function kindText(type: FieldType | ElementType): string {
  switch (type.kind) {
    case "list":
      return `list<${kindText(type.element)}>`;
    case "ref":
      return `ref<${type.targetId}>`;
    case "enum":
      return "enum";
    default:
      return type.kind;
  }
}

/**
 * A `Value` as `create(ValueSchema, { kind })` makes it (the same own properties in the
 * same order), without `create`'s walk over the descriptor: every field of every row
 * a read answers goes through here.
 */
function value(kind: Value["kind"]): Value {
  return { $typeName: "entdb.v1.Value", kind } as Value;
}

function invalid(place: FieldPlace, what: string): StoreError {
  const subject = place.label?.() ?? `Field ${place.fieldId} of ${place.owner}`;
  return new StoreError("invalid-argument", `${subject} ${what}.`, { fieldId: place.fieldId });
}
