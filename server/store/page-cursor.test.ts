import { create, toBinary } from "@bufbuild/protobuf";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { type Filter, FilterOp, FilterSchema } from "../../generated/entdb/v1/entdb_pb.js";
import { type Value, ValueListSchema, ValueSchema } from "../../generated/entdb/v1/values_pb.js";
import { filterBytes, filtersDigest } from "./page-cursor.ts";

const value = (kind: Value["kind"]): Value => create(ValueSchema, { kind });
const ts = (seconds: bigint, nanos: number): Value =>
  value({ case: "timestampValue", value: create(TimestampSchema, { seconds, nanos }) });

/** One value of every kind, with the edges of each encoding (zero, negative, widest, UTF-8). */
const VALUES: Value[] = [
  value({ case: undefined }),
  value({ case: "nullValue", value: true }),
  value({ case: "nullValue", value: false }),
  value({ case: "boolValue", value: true }),
  value({ case: "boolValue", value: false }),
  ...[0n, 1n, 127n, 128n, 300n, -1n, -128n, 2n ** 53n + 1n, 2n ** 63n - 1n, -(2n ** 63n)].map((n) =>
    value({ case: "intValue", value: n }),
  ),
  ...[0, -0, 1.5, -2.25, Number.MAX_VALUE, Number.MIN_VALUE, Number.NaN, -Infinity].map((n) =>
    value({ case: "floatValue", value: n }),
  ),
  ...[0, 1, 150, 2 ** 31 - 1, -1, -(2 ** 31)].map((n) => value({ case: "enumValue", value: n })),
  ts(0n, 0),
  ts(1_700_000_000n, 0),
  ts(0n, 999_999_999),
  ts(-62_135_596_800n, 5),
  ts(253_402_300_799n, 1),
  ...["", "a", "Fix bug", "é😀\u{10FFFF}", "x".repeat(200)].flatMap((s) => [
    value({ case: "stringValue", value: s }),
    value({ case: "refValue", value: s }),
    value({ case: "jsonValue", value: s }),
  ]),
  value({ case: "bytesValue", value: new Uint8Array() }),
  value({ case: "bytesValue", value: new Uint8Array(300).map((_, i) => i) }),
];

describe("filterBytes", () => {
  it("writes what toBinary writes, for every value kind, field and operator", () => {
    const filters: Filter[] = [create(FilterSchema, {})];
    for (const fieldId of [0, 1, 127, 128, 70_000]) {
      for (const op of [FilterOp.UNSPECIFIED, FilterOp.EQ, FilterOp.PREFIX, 99, -3]) {
        filters.push(create(FilterSchema, { fieldId, op, values: [VALUES[7]!] }));
      }
    }
    for (const v of VALUES)
      filters.push(create(FilterSchema, { fieldId: 3, op: FilterOp.EQ, values: [v] }));
    filters.push(create(FilterSchema, { fieldId: 2, op: FilterOp.IN, values: VALUES }));
    for (const f of filters) expect(filterBytes(f)).toEqual(toBinary(FilterSchema, f));
  });

  it("hands lists and unknown fields to toBinary", () => {
    const list = value({
      case: "listValue",
      value: create(ValueListSchema, { values: [VALUES[7]!, VALUES[3]!] }),
    });
    const withList = create(FilterSchema, { fieldId: 9, op: FilterOp.CONTAINS, values: [list] });
    expect(filterBytes(withList)).toEqual(toBinary(FilterSchema, withList));
    const unknown = create(FilterSchema, { fieldId: 2, op: FilterOp.EQ, values: [VALUES[7]!] });
    unknown.$unknown = [{ no: 15, wireType: 0, data: new Uint8Array([7]) }];
    expect(filterBytes(unknown)).toEqual(toBinary(FilterSchema, unknown));
    expect(filterBytes(unknown)).not.toEqual(filterBytes({ ...unknown, $unknown: [] }));
  });

  it("keeps the digest cursors already carry", () => {
    // Digests of filters as the general writer encoded them, before filterBytes.
    expect(filtersDigest([])).toBe("47DEQpj8HBSa-_TImW-5JC");
    expect(
      filtersDigest([
        create(FilterSchema, { fieldId: 7, op: FilterOp.GTE, values: [ts(1_700_000_000n, 0)] }),
        create(FilterSchema, {
          fieldId: 3,
          op: FilterOp.PREFIX,
          values: [value({ case: "stringValue", value: "é😀\u{10FFFF}" })],
        }),
      ]),
    ).toBe("k51bDqIhV99Bk5yZYslvEs");
  });
});
