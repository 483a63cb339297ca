/**
 * `decodePlainPayload` decodes exactly what the lossless path decodes, or declines.
 * Random payload texts (canonical and not: big integers, `1.0`, `1e2`, `-0`, odd keys,
 * values of the wrong kind) are decoded both ways; where the plain decoder answers, its
 * answer equals the lossless one, and where the lossless path reports corruption, the
 * plain decoder declines.
 */

import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Value } from "../../generated/entdb/v1/values_pb.js";
import type { Field, FieldType } from "../../schema/index.ts";
import { type JsonValue, parsePayload } from "./lossless-json.ts";
import { decodePlainPayload } from "./plain-decode.ts";
import { decodeValue } from "./stored-value-codec.ts";

const field = (id: number, type: FieldType): Field => ({
  id,
  name: `f${id}`,
  type,
  required: false,
  unique: false,
  index: false,
  searchable: false,
  deprecated: false,
});

const FIELDS: readonly Field[] = [
  field(1, { kind: "string" }),
  field(2, { kind: "int" }),
  field(3, { kind: "float" }),
  field(4, { kind: "bool" }),
  field(5, { kind: "timestamp" }),
  field(6, { kind: "enum", enumName: "E" }),
  field(7, { kind: "ref", targetId: 1 }),
  field(8, { kind: "bytes" }),
  field(9, { kind: "json" }),
  field(10, { kind: "list", element: { kind: "int" } }),
];

/** The lossless decoding (what row-codec.ts did before), or "corrupt". */
function lossless(text: string): { [key: number]: Value } | "corrupt" {
  const payload = parsePayload(text);
  const out: { [key: number]: Value } = {};
  try {
    for (const f of FIELDS) {
      const json: JsonValue | undefined = payload.get(f.id);
      if (json === undefined || json === null) continue;
      out[f.id] = decodeValue(f.type, json, { owner: "type 1", fieldId: f.id });
    }
  } catch {
    return "corrupt";
  }
  return out;
}

/** Number tokens as JSON text, canonical or not. */
const numberText = fc.oneof(
  fc.integer().map(String),
  fc.maxSafeInteger().map(String),
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => JSON.stringify(n)),
  fc.constantFrom("1.0", "1e2", "-0", "0", "9007199254740993", "1152921504606847000", "2.5E-3"),
);
const token = fc.oneof(
  numberText,
  fc.string().map((s) => JSON.stringify(s)),
  fc.constantFrom("true", "false", "null", "[]", '{"a":1}', "[1,2,3]", "[1.0]"),
);
const key = fc.oneof(
  fc.integer({ min: 1, max: 11 }).map(String),
  fc.constantFrom("01", "-0", "1e0", "x", "__proto__"),
);
const payloadText = fc
  .array(fc.tuple(key, token), { maxLength: 8 })
  .map((entries) => `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(",")}}`);

describe("decodePlainPayload", () => {
  it("answers as the lossless path does, or declines", () => {
    fc.assert(
      fc.property(payloadText, (text) => {
        const plain = decodePlainPayload(FIELDS, text);
        if (plain === undefined) return;
        const reference = lossless(text);
        expect(reference).not.toBe("corrupt");
        expect(isDeepStrictEqual(plain, reference)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it("decodes the canonical payloads the server writes", () => {
    const text = '{"1":"ada","2":-42,"3":1.5,"4":true,"5":1704164645123456,"6":3,"7":"n1"}';
    const plain = decodePlainPayload(FIELDS, text);
    expect(plain).toBeDefined();
    expect(isDeepStrictEqual(plain, lossless(text))).toBe(true);
  });

  it("declines what only the lossless path reads exactly or reports", () => {
    for (const text of [
      '{"2":9007199254740993}', // beyond 2^53
      '{"2":1.0}', // not canonical: the lossless path calls it corrupt
      '{"3":-0}',
      '{"01":"x"}',
      '{"1": "spaced"}',
      '{"2":"7"}', // a string in an int field: corrupt
      '{"9":{"a":1}}', // json fields take the lossless path
      '{"10":[1,2]}', // lists too
      "[1]",
    ]) {
      expect(decodePlainPayload(FIELDS, text), text).toBeUndefined();
    }
  });
});
