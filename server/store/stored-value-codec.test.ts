import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { type Value, ValueSchema } from "../../generated/entdb/v1/values_pb.js";
import type { FieldType, Schema } from "../../schema/index.ts";
import { INT64_MAX, INT64_MIN } from "../../schema/index.ts";
import { parsePayload, serializePayload } from "./lossless-json.ts";
import { StoreError } from "./store-error.ts";
import {
  decodeValue,
  encodeValue,
  microsToTimestamp,
  sqlValueOf,
  timestampToMicros,
} from "./stored-value-codec.ts";

const schema: Schema = {
  package: "t",
  nodes: [],
  edges: [],
  enums: [
    {
      name: "Color",
      values: [
        { number: 1, name: "red", deprecated: false },
        { number: 2, name: "blue", deprecated: false },
      ],
      reservedNumbers: [],
      reservedNames: [],
    },
  ],
  reservedIds: [],
  reservedNames: [],
};

const place = { owner: "type 7", fieldId: 3 };
const val = (kind: Value["kind"]): Value => create(ValueSchema, { kind });

function roundTrip(type: FieldType, value: Value): { stored: string; back: Value } {
  const json = encodeValue(schema, type, value, place);
  if (json === null) throw new Error("null");
  const stored = serializePayload(new Map([[3, json]]));
  const back = decodeValue(type, parsePayload(stored).get(3)!, place);
  return { stored, back };
}

describe("int64 values", () => {
  it("store 2^63-1 and -2^63 as exact JSON integers and read them back exactly", () => {
    for (const n of [INT64_MAX, INT64_MIN, 2n ** 53n + 1n, -(2n ** 53n) - 1n, 0n]) {
      const { stored, back } = roundTrip({ kind: "int" }, val({ case: "intValue", value: n }));
      expect(stored).toBe(`{"3":${n}}`);
      expect(back.kind).toEqual({ case: "intValue", value: n });
    }
  });

  it("stay exact through SQLite's json_extract, so indexes and filters compare them exactly", () => {
    const db = new Database(":memory:");
    db.defaultSafeIntegers(true);
    const stored = serializePayload(
      new Map([
        [
          1,
          encodeValue(schema, { kind: "int" }, val({ case: "intValue", value: INT64_MAX }), place)!,
        ],
        [
          2,
          encodeValue(schema, { kind: "int" }, val({ case: "intValue", value: INT64_MIN }), place)!,
        ],
      ]),
    );
    const row = db
      .prepare(
        `WITH p(x) AS (SELECT ?) SELECT json_extract(x, '$."1"') AS a, json_extract(x, '$."2"') AS b, json_extract(x, '$."1"') = ? AS eq FROM p`,
      )
      .get(stored, INT64_MAX - 1n) as { a: bigint; b: bigint; eq: bigint };
    expect(row).toEqual({ a: INT64_MAX, b: INT64_MIN, eq: 0n });
  });

  it("keep big numbers inside json values as written", () => {
    const text = `{"a":12345678901234567890123,"b":[1.50,-0.0,1e400],"c":"x"}`;
    const { stored, back } = roundTrip({ kind: "json" }, val({ case: "jsonValue", value: text }));
    expect(stored).toBe(`{"3":${text}}`);
    expect(back.kind).toEqual({ case: "jsonValue", value: text });
  });
});

describe("timestamps", () => {
  it("are stored as integer microseconds, before and after the epoch", () => {
    const ms = Date.UTC(2024, 0, 2, 3, 4, 5, 678);
    const ts = { ...timestampFromMs(ms), nanos: 678_901_000 };
    const { stored, back } = roundTrip(
      { kind: "timestamp" },
      val({ case: "timestampValue", value: ts }),
    );
    expect(stored).toBe(`{"3":1704164645678901}`);
    expect(back.kind.value).toEqual(ts);
    const before = microsToTimestamp(-1n);
    expect([before.seconds, before.nanos]).toEqual([-1n, 999_999_000]);
    expect(timestampToMicros(before)).toBe(-1n);
    expect(timestampToMicros(microsToTimestamp(253402300799999999n))).toBe(253402300799999999n);
  });

  it("reject sub-microsecond precision", () => {
    const ts = { ...timestampFromMs(0), nanos: 1 };
    expect(() =>
      encodeValue(schema, { kind: "timestamp" }, val({ case: "timestampValue", value: ts }), place),
    ).toThrow(
      "Field 3 of type 7 has nanos 1; timestamps have microsecond precision (a multiple of 1000 in 0..999999000).",
    );
  });
});

describe("other kinds", () => {
  it("store bytes as base64, enums as numbers, refs as ids and lists as arrays", () => {
    expect(
      roundTrip({ kind: "bytes" }, val({ case: "bytesValue", value: new Uint8Array([0, 255, 7]) }))
        .stored,
    ).toBe(`{"3":"AP8H"}`);
    expect(
      roundTrip({ kind: "enum", enumName: "Color" }, val({ case: "enumValue", value: 2 })).stored,
    ).toBe(`{"3":2}`);
    expect(
      roundTrip({ kind: "ref", targetId: 1 }, val({ case: "refValue", value: "n_1" })).stored,
    ).toBe(`{"3":"n_1"}`);
    const list = val({
      case: "listValue",
      value: {
        $typeName: "entdb.v1.ValueList",
        values: [val({ case: "intValue", value: INT64_MAX }), val({ case: "intValue", value: 1n })],
      },
    });
    const { stored, back } = roundTrip({ kind: "list", element: { kind: "int" } }, list);
    expect(stored).toBe(`{"3":[9223372036854775807,1]}`);
    expect(back).toEqual(list);
  });

  it("round-trips every scalar kind to an equal Value", () => {
    const cases: [FieldType, Value][] = [
      [{ kind: "string" }, val({ case: "stringValue", value: 'héllo \u0000 "q"' })],
      [{ kind: "float" }, val({ case: "floatValue", value: 0.1 })],
      [{ kind: "float" }, val({ case: "floatValue", value: 1e21 })],
      [{ kind: "bool" }, val({ case: "boolValue", value: false })],
      [{ kind: "bytes" }, val({ case: "bytesValue", value: new Uint8Array([1, 2, 3]) })],
    ];
    for (const [type, value] of cases) expect(roundTrip(type, value).back).toEqual(value);
  });

  it("reject a value of the wrong kind, naming the field", () => {
    try {
      encodeValue(schema, { kind: "int" }, val({ case: "stringValue", value: "5" }), place);
      throw new Error("accepted");
    } catch (err) {
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).code).toBe("invalid-argument");
      expect((err as StoreError).fieldId).toBe(3);
      expect((err as StoreError).message).toBe("Field 3 of type 7 expects int, got stringValue.");
    }
  });

  it("reject non-finite floats, unknown enum numbers and invalid JSON", () => {
    expect(() =>
      encodeValue(schema, { kind: "float" }, val({ case: "floatValue", value: Number.NaN }), place),
    ).toThrow("Field 3 of type 7 must be a finite number, got NaN.");
    expect(() =>
      encodeValue(
        schema,
        { kind: "enum", enumName: "Color" },
        val({ case: "enumValue", value: 3 }),
        place,
      ),
    ).toThrow("Field 3 of type 7 has no enum value numbered 3.");
    expect(() =>
      encodeValue(schema, { kind: "json" }, val({ case: "jsonValue", value: "{" }), place),
    ).toThrow(/^Field 3 of type 7 is not valid JSON/);
  });

  it("gives SQL values of the type json_extract returns", () => {
    const enc = (type: FieldType, value: Value) =>
      sqlValueOf(encodeValue(schema, type, value, place));
    expect(enc({ kind: "int" }, val({ case: "intValue", value: INT64_MIN }))).toBe(INT64_MIN);
    expect(enc({ kind: "bool" }, val({ case: "boolValue", value: true }))).toBe(1n);
    expect(enc({ kind: "float" }, val({ case: "floatValue", value: 2.5 }))).toBe(2.5);
    expect(enc({ kind: "string" }, val({ case: "nullValue", value: true }))).toBeNull();
  });
});
