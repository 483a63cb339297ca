/**
 * `encodePlanResponse` (plan-response-wire.ts) writes exactly `toBinary`'s bytes for
 * every plan answer it takes, and leaves the rest to `toBinary`.
 */

import { create, toBinary } from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ExecutePlanResponseSchema } from "../../generated/entdb/v1/entdb_pb.js";
import { OperationResultSchema } from "../../generated/entdb/v1/plan_pb.js";
import { LogPositionSchema } from "../../generated/entdb/v1/values_pb.js";
import { int64, text, uint32 } from "../../tests/value-arbitraries.ts";
import { encodeOutput } from "./output-encoding.ts";
import { encodePlanResponse } from "./plan-response-wire.ts";

const response = fc.record(
  {
    receipt: fc.record(
      {
        tenant: text,
        position: fc.record({ partition: uint32, offset: int64 }, { requiredKeys: [] }),
        applied: fc.boolean(),
        idempotencyKey: text,
        replayed: fc.boolean(),
        schemaVersion: uint32,
      },
      { requiredKeys: [] },
    ),
    results: fc.array(
      fc.record({ id: text, created: fc.boolean(), version: int64 }, { requiredKeys: [] }),
      { maxLength: 120 },
    ),
  },
  { requiredKeys: [] },
);

describe("encodePlanResponse", () => {
  it("writes random plan answers as toBinary does", () => {
    fc.assert(
      fc.property(response, (init) => {
        const message = create(ExecutePlanResponseSchema, init);
        const expected = Buffer.from(toBinary(ExecutePlanResponseSchema, message));
        const fast = encodePlanResponse(message);
        expect(fast).toBeDefined();
        if (fast !== undefined) expect(Buffer.from(fast)).toEqual(expected);
        expect(Buffer.from(encodeOutput(ExecutePlanResponseSchema, message))).toEqual(expected);
      }),
      { numRuns: 1000 },
    );
  });

  it("leaves answers with unknown fields, or values of the wrong type, to toBinary", () => {
    const answer = () =>
      create(ExecutePlanResponseSchema, {
        receipt: { tenant: "acme", applied: true },
        results: [{ id: "a", created: true, version: 1n }],
      });
    const withUnknown = answer();
    withUnknown.$unknown = [{ no: 9, wireType: WireType.Varint, data: Uint8Array.of(1) }];
    const resultUnknown = answer();
    resultUnknown.results[0]!.$unknown = [
      { no: 9, wireType: WireType.Varint, data: Uint8Array.of(1) },
    ];
    const receiptUnknown = answer();
    receiptUnknown.receipt!.$unknown = [
      { no: 9, wireType: WireType.Varint, data: Uint8Array.of(1) },
    ];
    const positionUnknown = answer();
    positionUnknown.receipt!.position = create(LogPositionSchema, { partition: 1, offset: 2n });
    positionUnknown.receipt!.position.$unknown = [
      { no: 9, wireType: WireType.Varint, data: Uint8Array.of(1) },
    ];
    const foreign = answer();
    foreign.results.push(create(OperationResultSchema, { id: "b" }));
    (foreign.results[1] as { version: unknown }).version = 2;
    for (const message of [withUnknown, resultUnknown, receiptUnknown, positionUnknown]) {
      expect(encodePlanResponse(message)).toBeUndefined();
      expect(Buffer.from(encodeOutput(ExecutePlanResponseSchema, message))).toEqual(
        Buffer.from(toBinary(ExecutePlanResponseSchema, message)),
      );
    }
    expect(encodePlanResponse(foreign)).toBeUndefined();
    const foreignVersion = answer();
    (foreignVersion.receipt as { schemaVersion: unknown }).schemaVersion = -1;
    expect(encodePlanResponse(foreignVersion)).toBeUndefined();
  });
});
