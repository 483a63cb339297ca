import { create, toJson } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { type Value, ValueSchema } from "../../generated/entdb/v1/values_pb.js";
import {
  type AnyFieldMeta,
  decodeValue,
  EntDbError,
  encodeValue,
  INT64_MAX,
  INT64_MIN,
} from "../../runtime/v1.ts";
import { idsOnly } from "../../runtime/wire-value-codec.ts";
import { Status } from "./test-schema.ts";

const INT: AnyFieldMeta = { id: 2, kind: "int" };
const TS: AnyFieldMeta = { id: 3, kind: "timestamp" };
const BYTES: AnyFieldMeta = { id: 3, kind: "bytes" };
const JSON_FIELD: AnyFieldMeta = { id: 6, kind: "json" };
const ENUM: AnyFieldMeta = { id: 2, kind: "enum", enum: Status };
const STRING: AnyFieldMeta = { id: 1, kind: "string" };
const LIST: AnyFieldMeta = { id: 5, kind: "list", element: { kind: "string" } };
const JSON_LIST: AnyFieldMeta = { id: 7, kind: "list", element: { kind: "json" } };

const encode = (field: AnyFieldMeta, value: unknown): Value =>
  encodeValue(field, value, "Task.x", idsOnly);
const wire = (value: Value): unknown => toJson(ValueSchema, value);

describe("int values", () => {
  it("round-trips the int64 extremes as bigints without loss", () => {
    for (const n of [INT64_MAX, INT64_MIN, 0n, -1n, 2n ** 53n + 1n]) {
      const value = encode(INT, n);
      expect(value.kind).toEqual({ case: "intValue", value: n });
      expect(decodeValue(INT, value, "Task.x")).toBe(n);
    }
    expect(wire(encode(INT, INT64_MAX))).toEqual({ intValue: "9223372036854775807" });
  });

  it("accepts a safe-integer number and decodes it as a bigint", () => {
    const value = encode(INT, 2 ** 53 - 1);
    expect(value.kind).toEqual({ case: "intValue", value: 9007199254740991n });
    expect(decodeValue(INT, value, "Task.x")).toBe(9007199254740991n);
  });

  it("rejects an unsafe number with a RangeError naming the field", () => {
    expectThrow(
      () => encode(INT, 2 ** 53),
      RangeError,
      "Task.x got the number 9007199254740992, which is not a safe integer; pass a bigint (e.g. 9007199254740992n) for values beyond ±2^53−1.",
    );
    expect(() => encode(INT, 1.5)).toThrow(RangeError);
    expect(() => encode(INT, Number.NaN)).toThrow(RangeError);
  });

  it("rejects a bigint outside int64 with a RangeError naming the field", () => {
    expectThrow(
      () => encode(INT, INT64_MAX + 1n),
      RangeError,
      "Task.x must fit in 64 bits (−2^63 … 2^63−1); got 9223372036854775808n.",
    );
    expect(() => encode(INT, INT64_MIN - 1n)).toThrow(RangeError);
  });

  it("rejects a string for an int with a TypeError", () => {
    expectThrow(
      () => encode(INT, "5"),
      TypeError,
      'Task.x must be a bigint or a safe-integer number; got the string "5".',
    );
  });
});

describe("timestamp values", () => {
  it("encodes a Date as seconds and nanos, also before 1970", () => {
    expect(encode(TS, new Date("2024-03-04T05:06:07.089Z")).kind).toEqual({
      case: "timestampValue",
      value: expect.objectContaining({ seconds: 1709528767n, nanos: 89_000_000 }),
    });
    expect(encode(TS, new Date(-1)).kind).toEqual({
      case: "timestampValue",
      value: expect.objectContaining({ seconds: -1n, nanos: 999_000_000 }),
    });
  });

  it("decodes to a Date, truncating microseconds", () => {
    const value = create(ValueSchema, {
      kind: { case: "timestampValue", value: { seconds: 1709528767n, nanos: 89_999_000 } },
    });
    expect(decodeValue(TS, value, "Task.x")).toEqual(new Date("2024-03-04T05:06:07.089Z"));
    const before = create(ValueSchema, {
      kind: { case: "timestampValue", value: { seconds: -1n, nanos: 999_000_000 } },
    });
    expect(decodeValue(TS, before, "Task.x")).toEqual(new Date(-1));
  });

  it("rejects an invalid Date and a non-Date", () => {
    expectThrow(() => encode(TS, new Date(Number.NaN)), RangeError, "Task.x is an invalid Date.");
    expectThrow(
      () => encode(TS, "2024-01-01"),
      TypeError,
      'Task.x must be a Date; got the string "2024-01-01".',
    );
  });
});

describe("string values", () => {
  it("sends well-formed text as it is, surrogate pairs included", () => {
    for (const text of ["", "plain", "a\u0000b", "\u{1F600}", "\uFFFD"]) {
      const value = encode(STRING, text);
      expect(value.kind).toEqual({ case: "stringValue", value: text });
      expect(decodeValue(STRING, value, "Task.x")).toBe(text);
    }
  });

  it("rejects a lone surrogate, which UTF-8 would turn into U+FFFD, naming where it is", () => {
    const lone = (unit: string, at: number) =>
      `Task.x holds a lone UTF-16 surrogate (\\u${unit} at index ${at}), which UTF-8 cannot carry; pass well-formed Unicode text (pair the surrogate or drop it).`;
    expectThrow(() => encode(STRING, "ab\uD800"), TypeError, lone("D800", 2));
    expectThrow(() => encode(STRING, "\uDC00x"), TypeError, lone("DC00", 0));
    expectThrow(() => encode(STRING, "\uD83D\uDE00\uDE00"), TypeError, lone("DE00", 2));
    expectThrow(
      () => encode(LIST, ["ok", "\uDBFF"]),
      TypeError,
      lone("DBFF", 0).replace("Task.x", "Task.x[1]"),
    );
  });
});

describe("bytes, json, enum and list values", () => {
  it("round-trips bytes as Uint8Array", () => {
    const bytes = new Uint8Array([0, 255, 7]);
    const value = encode(BYTES, bytes);
    expect(wire(value)).toEqual({ bytesValue: "AP8H" });
    expect(decodeValue(BYTES, value, "Task.x")).toEqual(bytes);
  });

  it("sends json as JSON text and parses it back", () => {
    const value = encode(JSON_FIELD, { a: [1, "two", null], b: { c: true } });
    expect(value.kind).toEqual({ case: "jsonValue", value: '{"a":[1,"two",null],"b":{"c":true}}' });
    expect(decodeValue(JSON_FIELD, value, "Task.x")).toEqual({
      a: [1, "two", null],
      b: { c: true },
    });
    expect(decodeValue(JSON_FIELD, encode(JSON_FIELD, "text"), "Task.x")).toBe("text");
  });

  it("rejects a top-level null json value and reads stored JSON null as unset", () => {
    expectThrow(
      () => encode(JSON_FIELD, null),
      TypeError,
      "Task.x is a json field; null means unset, so leave it out instead.",
    );
    const stored = create(ValueSchema, { kind: { case: "jsonValue", value: "null" } });
    expect(decodeValue(JSON_FIELD, stored, "Task.x")).toBeUndefined();
  });

  it("rejects NaN and ±Infinity anywhere in a json value instead of sending null", () => {
    const message = (n: string) =>
      `Task.x is not JSON-serializable: it holds the number ${n}, which JSON cannot carry (JSON.stringify would send null in its place).`;
    expectThrow(() => encode(JSON_FIELD, { a: [1, Number.NaN] }), TypeError, message("NaN"));
    expectThrow(() => encode(JSON_FIELD, Number.POSITIVE_INFINITY), TypeError, message("Infinity"));
    expectThrow(
      () => encode(JSON_LIST, [{ b: Number.NEGATIVE_INFINITY }]),
      TypeError,
      message("-Infinity").replace("Task.x", "Task.x[0]"),
    );
    expect(encode(JSON_FIELD, { a: 1.5, b: -0, c: 1e308 }).kind).toEqual({
      case: "jsonValue",
      value: '{"a":1.5,"b":0,"c":1e+308}',
    });
  });

  it("keeps null elements of a list of json", () => {
    const value = encode(JSON_LIST, [null, 1, { a: null }]);
    expect(wire(value)).toEqual({
      listValue: {
        values: [{ jsonValue: "null" }, { jsonValue: "1" }, { jsonValue: '{"a":null}' }],
      },
    });
    expect(decodeValue(JSON_LIST, value, "Task.x")).toEqual([null, 1, { a: null }]);
  });

  it("sends enum names as numbers and reads numbers as names", () => {
    const value = encode(ENUM, "doing");
    expect(value.kind).toEqual({ case: "enumValue", value: 2 });
    expect(decodeValue(ENUM, value, "Task.x")).toBe("doing");
  });

  it("rejects an unknown enum name, including inherited object keys", () => {
    const message = 'Task.x must be one of "todo", "doing", "done"; got the string "toString".';
    expectThrow(() => encode(ENUM, "toString"), RangeError, message);
    expect(() => encode(ENUM, 1)).toThrow(RangeError);
  });

  it("reports an enum number the client does not know as a schema mismatch", () => {
    const value = create(ValueSchema, { kind: { case: "enumValue", value: 9 } });
    const err = catchError(() => decodeValue(ENUM, value, "Task.status"));
    expect(err).toBeInstanceOf(EntDbError);
    expect(err).toMatchObject({
      code: "schema_mismatch",
      message:
        "Task.status holds enum number 9, which this client does not know; regenerate the client from the server's schema.",
    });
  });

  it("encodes lists element by element and names the bad element", () => {
    expect(wire(encode(LIST, ["a", "b"]))).toEqual({
      listValue: { values: [{ stringValue: "a" }, { stringValue: "b" }] },
    });
    expect(decodeValue(LIST, encode(LIST, []), "Task.x")).toEqual([]);
    expectThrow(
      () => encode(LIST, ["a", 3]),
      TypeError,
      "Task.x[1] must be a string; got number 3.",
    );
    expectThrow(() => encode(LIST, "a"), TypeError, 'Task.x must be an array; got the string "a".');
  });

  it("reports a value of the wrong kind from the server as a schema mismatch", () => {
    const value = create(ValueSchema, { kind: { case: "stringValue", value: "5" } });
    expect(catchError(() => decodeValue(INT, value, "Task.number"))).toMatchObject({
      code: "schema_mismatch",
      message:
        "Task.number should hold an int but the server sent stringValue; is the client generated from the server's schema?",
    });
  });

  it("decodes a null value as undefined", () => {
    const value = create(ValueSchema, { kind: { case: "nullValue", value: true } });
    expect(decodeValue(INT, value, "Task.x")).toBeUndefined();
  });
});

function expectThrow(fn: () => unknown, type: ErrorConstructor, message: string): void {
  const err = catchError(fn);
  expect(err).toBeInstanceOf(type);
  expect(err).toHaveProperty("message", message);
}

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error("expected an error");
}
