/**
 * fast-check arbitraries of the API's scalar and `entdb.v1.Value` messages, for the tests
 * that compare a hand-written wire codec with protobuf-es's (`server/api/node-wire.test.ts`,
 * `server/apply/wal-event-decode.test.ts`): 64-bit extremes and small numbers, unicode,
 * lone surrogates and binary strings, every value kind, and lists of values (one level of
 * lists in lists: the codecs read and write any depth the same way).
 */

import type { MessageInitShape } from "@bufbuild/protobuf";
import fc from "fast-check";
import type { ValueSchema } from "../generated/entdb/v1/values_pb.js";

export const int64 = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.bigInt({ min: -1000n, max: 1000n }),
);
export const int32 = fc.oneof(
  fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }),
  fc.integer({ min: -5, max: 5 }),
);
export const uint32 = fc.oneof(
  fc.integer({ min: 0, max: 2 ** 32 - 1 }),
  fc.integer({ min: 0, max: 300 }),
);
export const text = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme" }),
  fc.string({ unit: "binary", maxLength: 80 }),
  fc.uuid(),
  fc.constant(""),
  fc.string({ minLength: 40, maxLength: 200 }),
);
/** Any int32 nanos, negative ones too: the wire carries them, and a codec must sign-extend. */
export const timestamp = fc.record({
  seconds: fc.oneof(int64, fc.constant(0n)),
  nanos: fc.oneof(int32, fc.constant(0)),
});

export type ValueInit = MessageInitShape<typeof ValueSchema>;

export const scalarValue: fc.Arbitrary<ValueInit> = fc.oneof(
  fc.constant({}),
  fc.boolean().map((value) => ({ kind: { case: "nullValue" as const, value } })),
  text.map((value) => ({ kind: { case: "stringValue" as const, value } })),
  int64.map((value) => ({ kind: { case: "intValue" as const, value } })),
  fc.double().map((value) => ({ kind: { case: "floatValue" as const, value } })),
  fc.boolean().map((value) => ({ kind: { case: "boolValue" as const, value } })),
  timestamp.map((value) => ({ kind: { case: "timestampValue" as const, value } })),
  fc
    .uint8Array({ maxLength: 200 })
    .map((value) => ({ kind: { case: "bytesValue" as const, value } })),
  int32.map((value) => ({ kind: { case: "enumValue" as const, value } })),
  text.map((value) => ({ kind: { case: "refValue" as const, value } })),
  text.map((value) => ({ kind: { case: "jsonValue" as const, value } })),
);

const list = (of: fc.Arbitrary<ValueInit>, maxLength: number): fc.Arbitrary<ValueInit> =>
  fc
    .array(of, { maxLength })
    .map((values) => ({ kind: { case: "listValue" as const, value: { values } } }));

export const value: fc.Arbitrary<ValueInit> = fc.oneof(
  { weight: 4, arbitrary: scalarValue },
  { weight: 1, arbitrary: list(fc.oneof(scalarValue, list(scalarValue, 3)), 5) },
);
