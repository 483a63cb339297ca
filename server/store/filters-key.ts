/**
 * A text key of a node query's filters, for keeping their digest (page-cursor.ts's
 * `filtersDigest`) between calls: two lists of filters with the same key have the same
 * protobuf encoding, so the digest kept for one is the digest of the other. Only what
 * the encoding reads is in the key (each filter's field, operator and values, each
 * value's kind and contents), and every part is delimited or length-prefixed, so no two
 * different lists of filters share a key. Filters the key does not cover (unknown
 * fields, a `-0` float, bytes or list values, a key longer than {@link MAX_KEY_LENGTH})
 * have no key: their digest is computed each time, as before.
 */

import type { Filter } from "../../generated/entdb/v1/entdb_pb.js";
import type { Value } from "../../generated/entdb/v1/values_pb.js";

/** Longest key kept: a long IN list is digested each time rather than kept. */
export const MAX_KEY_LENGTH = 256;

/** The key of `filters`, or undefined when they are not kept. */
export function filtersKey(filters: readonly Filter[]): string | undefined {
  let key = `${filters.length};`;
  for (const f of filters) {
    if (f.$unknown !== undefined && f.$unknown.length > 0) return undefined;
    key += `${f.fieldId},${f.op},${f.values.length};`;
    for (const v of f.values) {
      const part = valueKey(v);
      if (part === undefined) return undefined;
      key += part;
    }
    if (key.length > MAX_KEY_LENGTH) return undefined;
  }
  return key;
}

function valueKey(v: Value): string | undefined {
  if (v.$unknown !== undefined && v.$unknown.length > 0) return undefined;
  const kind = v.kind;
  switch (kind.case) {
    case undefined:
      return "u";
    case "nullValue":
      return kind.value ? "N1" : "N0";
    case "boolValue":
      return kind.value ? "B1" : "B0";
    case "stringValue":
      return `s${kind.value.length}:${kind.value}`;
    case "refValue":
      return `r${kind.value.length}:${kind.value}`;
    case "jsonValue":
      return `j${kind.value.length}:${kind.value}`;
    case "intValue":
      return `i${kind.value};`;
    case "enumValue":
      return `e${kind.value};`;
    case "floatValue":
      // `String(-0)` is "0", but -0 is encoded with its sign bit.
      return Object.is(kind.value, -0) ? undefined : `f${kind.value};`;
    case "timestampValue": {
      const t = kind.value;
      if (t.$unknown !== undefined && t.$unknown.length > 0) return undefined;
      return `t${t.seconds},${t.nanos};`;
    }
    default:
      return undefined;
  }
}
