/**
 * `decodeQueryNodesRequestHere` (wal-event-decode.ts, tried first by `parseInput`) builds
 * what `fromBinary` builds for a `QueryNodesRequest`, property order included, and leaves
 * to the library what it cannot decode as the library does: unknown fields, a message
 * field given twice (merged by the library), malformed or truncated bytes.
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type FilterOp,
  type QueryNodesRequest,
  QueryNodesRequestSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import { int64, text, uint32, value } from "../../tests/value-arbitraries.ts";
import { byteFlips, concat, flipped } from "../../tests/wire-bytes.ts";
import { decodeQueryNodesRequestHere } from "../apply/index.ts";
import { parseInput } from "./unary-call.ts";

const filter = fc.record(
  {
    fieldId: uint32,
    op: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
    values: fc.array(value, { maxLength: 4 }),
  },
  { requiredKeys: [] },
);
const request = fc.record(
  {
    tenant: text,
    typeId: uint32,
    filters: fc.array(filter, { maxLength: 4 }),
    orderBy: fc.record({ fieldId: uint32, descending: fc.boolean() }, { requiredKeys: [] }),
    limit: uint32,
    cursor: text,
    afterPosition: fc.record({ partition: uint32, offset: int64 }, { requiredKeys: [] }),
  },
  { requiredKeys: [] },
);

const encode = (init: Parameters<typeof create<typeof QueryNodesRequestSchema>>[1]) =>
  toBinary(QueryNodesRequestSchema, create(QueryNodesRequestSchema, init));

/** fromBinary's request or error, the decoder's answer for the same bytes, and parseInput's. */
function same(bytes: Uint8Array): QueryNodesRequest | undefined {
  let expected: QueryNodesRequest | Error;
  try {
    expected = fromBinary(QueryNodesRequestSchema, bytes);
  } catch (e) {
    expected = e as Error;
  }
  const here = decodeQueryNodesRequestHere(bytes);
  if (expected instanceof Error) {
    expect(here).toBeUndefined();
    expect(() => parseInput(QueryNodesRequestSchema, bytes)).toThrow(
      expected.message.replace(/^parse binary: /, ""),
    );
    return undefined;
  }
  if (here !== undefined) {
    expect(here).toStrictEqual(expected);
    expect(Object.keys(here)).toEqual(Object.keys(expected));
    for (let i = 0; i < here.filters.length; i++) {
      expect(Object.keys(here.filters[i] as object)).toEqual(
        Object.keys(expected.filters[i] as object),
      );
    }
  }
  expect(parseInput(QueryNodesRequestSchema, bytes)).toStrictEqual(expected);
  return here;
}

describe("decodeQueryNodesRequestHere", () => {
  it("decodes random query requests as fromBinary does, on its fast path", () => {
    fc.assert(
      fc.property(request, (init) => {
        const bytes = encode(init);
        expect(same(bytes)).toBeDefined();
      }),
      { numRuns: 1000 },
    );
  });

  it("decodes the edge cases: empty, defaults, extremes, NaN and infinities, multi-byte text", () => {
    const cases: Uint8Array[] = [
      new Uint8Array(0),
      encode({ orderBy: {}, afterPosition: {}, filters: [{}] }),
      encode({
        tenant: "tenant-é-日本-🙂",
        typeId: 2 ** 32 - 1,
        limit: 2 ** 32 - 1,
        cursor: "x".repeat(20_000),
        orderBy: { fieldId: 2 ** 32 - 1, descending: true },
        afterPosition: { partition: 2 ** 32 - 1, offset: -(2n ** 63n) },
        filters: [
          {
            fieldId: 1,
            op: -1 as FilterOp,
            values: [
              { kind: { case: "intValue", value: -1n } },
              { kind: { case: "intValue", value: 2n ** 63n - 1n } },
              { kind: { case: "floatValue", value: Number.NaN } },
              { kind: { case: "floatValue", value: Number.POSITIVE_INFINITY } },
              { kind: { case: "floatValue", value: Number.NEGATIVE_INFINITY } },
              { kind: { case: "floatValue", value: -0 } },
              { kind: { case: "stringValue", value: "" } },
              { kind: { case: "stringValue", value: "ünïcödé 🙂" } },
              { kind: { case: "enumValue", value: -(2 ** 31) } },
              {
                kind: {
                  case: "listValue",
                  value: { values: [{}, { kind: { case: "boolValue", value: true } }] },
                },
              },
              {},
            ],
          },
        ],
      }),
    ];
    for (const bytes of cases) expect(same(bytes)).toBeDefined();
  });

  it("keeps the wire's order of fields: filters split around others, message fields in the order they come", () => {
    const a = encode({ tenant: "t", filters: [{ fieldId: 1, op: 1 }] });
    const b = encode({ afterPosition: { offset: 5n }, cursor: "c" });
    const c = encode({
      filters: [{ fieldId: 2, values: [{ kind: { case: "refValue", value: "n1" } }] }],
    });
    const d = encode({ orderBy: { fieldId: 3 }, typeId: 9, limit: 50 });
    const here = same(concat(d, c, b, a));
    expect(here?.filters.map((f) => f.fieldId)).toEqual([2, 1]);
    expect(Object.keys(here ?? {}).slice(-2)).toEqual(["orderBy", "afterPosition"]);
    // A scalar given twice: the last one wins, as in the library.
    expect(same(concat(a, encode({ tenant: "u" })))?.tenant).toBe("u");
    // A message field given twice is merged by the library: it decodes that.
    const twice = concat(b, encode({ afterPosition: { partition: 3 } }));
    expect(decodeQueryNodesRequestHere(twice)).toBeUndefined();
    expect(fromBinary(QueryNodesRequestSchema, twice).afterPosition).toMatchObject({
      partition: 3,
      offset: 5n,
    });
    same(twice);
  });

  it("leaves unknown fields, truncated and corrupted bytes to fromBinary", () => {
    const unknownField = fc.oneof(
      fc.constant(Uint8Array.of(14 << 3, 1)),
      fc.constant(Uint8Array.of((8 << 3) | 2, 2, 0x61, 0x62)),
      fc.constant(Uint8Array.of(0x80 | ((200 << 3) & 0x7f), 200 >> 4, 7)),
    );
    fc.assert(
      fc.property(request, unknownField, byteFlips, fc.nat(), (init, extra, flips, cutAt) => {
        const bytes = encode(init);
        const withUnknown = concat(bytes, extra);
        expect(decodeQueryNodesRequestHere(withUnknown)).toBeUndefined();
        expect(fromBinary(QueryNodesRequestSchema, withUnknown).$unknown).toHaveLength(1);
        same(withUnknown);
        same(bytes.subarray(0, cutAt % (bytes.length + 1)));
        if (bytes.length === 0) return;
        const corrupt = flipped(bytes, flips);
        same(corrupt);
      }),
      { numRuns: 1000 },
    );
  });
});
