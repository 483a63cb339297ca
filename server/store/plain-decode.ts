/**
 * Decodes a stored payload's fields from a plain `JSON.parse`, for the payloads where
 * that gives exactly what the lossless path (`parsePayload` + `decodeValue`) gives.
 *
 * That holds when the text is canonical (`JSON.stringify` of its plain parse gives it
 * back, as for every payload the server writes): each number token is then `String` of
 * its parsed number, so an integer is exact when it is a safe integer, and a float is
 * the number itself. The lossless path wraps every number as its source text and
 * parses it again by the field's kind; on a canonical payload that is the same value
 * reached by a longer way. Anything else (text that is not canonical, a key that is
 * not a canonical integer, an integer beyond 2^53, a value that does not fit its
 * field's kind) returns undefined, and the caller takes the lossless path, which
 * decodes it or reports it as corrupt.
 */

import type { Value } from "../../generated/entdb/v1/values_pb.js";
import type { ElementType, Field, FieldType } from "../../schema/index.ts";
import { microsToTimestamp } from "./stored-value-codec.ts";

/** Field values by field id, as `Node.fields` and `Edge.props` hold them. */
export type DecodedFields = { [key: number]: Value };

/** The fields of a canonical payload, or undefined if the lossless path must decide. */
export function decodePlainPayload(
  fields: readonly Field[],
  text: string,
): DecodedFields | undefined {
  let plain: unknown;
  try {
    plain = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof plain !== "object" || plain === null || Array.isArray(plain)) return undefined;
  if (JSON.stringify(plain) !== text) return undefined;
  const record = plain as Record<string, unknown>;
  // The lossless path keys the payload by Number(key); a plain lookup by field id
  // finds the same value only when every key is written as its number.
  for (const key in record) {
    if (String(Number(key)) !== key) return undefined;
  }
  const out: DecodedFields = {};
  for (const field of fields) {
    const json = record[field.id];
    if (json === undefined || json === null) continue;
    const value = decodePlain(field.type, json);
    if (value === undefined) return undefined;
    out[field.id] = value;
  }
  return out;
}

/** A Value as `create(ValueSchema, …)` builds it, without the descriptor walk. */
function value(kind: Value["kind"]): Value {
  return { $typeName: "entdb.v1.Value", kind } as Value;
}

/** Whether `n`'s canonical text is an integer literal the lossless path reads exactly. */
function exactInteger(n: unknown): n is number {
  return typeof n === "number" && Number.isSafeInteger(n);
}

function decodePlain(type: FieldType | ElementType, json: unknown): Value | undefined {
  switch (type.kind) {
    case "string":
      return typeof json === "string" ? value({ case: "stringValue", value: json }) : undefined;
    case "ref":
      return typeof json === "string" ? value({ case: "refValue", value: json }) : undefined;
    case "bool":
      return typeof json === "boolean" ? value({ case: "boolValue", value: json }) : undefined;
    case "int":
      return exactInteger(json) ? value({ case: "intValue", value: BigInt(json) }) : undefined;
    case "float":
      return typeof json === "number" ? value({ case: "floatValue", value: json }) : undefined;
    case "timestamp":
      return exactInteger(json)
        ? value({ case: "timestampValue", value: microsToTimestamp(BigInt(json)) })
        : undefined;
    case "enum":
      return exactInteger(json) ? value({ case: "enumValue", value: json }) : undefined;
    default:
      // bytes, json and lists are rare in reads and have their own rules: the
      // lossless path decodes them.
      return undefined;
  }
}
