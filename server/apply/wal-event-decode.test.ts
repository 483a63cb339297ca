/**
 * `decodeWalEvent` (wal-event-decode.ts) gives what `fromBinary(WalEventSchema, …)` gives
 * for every event, and the library's own error for bytes that are not one; plan events
 * the server writes never leave its fast path.
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type ExecutePlanRequest,
  ExecutePlanRequestSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import { OperationSchema } from "../../generated/entdb/v1/plan_pb.js";
import { type WalEvent, WalEventSchema } from "../../generated/entdb/v1/wal_pb.js";
import { type EventInit, operation, planEvent } from "../../tests/plan-arbitraries.ts";
import { text, uint32 } from "../../tests/value-arbitraries.ts";
import { byteFlips, concat, flipped } from "../../tests/wire-bytes.ts";
import {
  decodeExecutePlanRequestHere,
  decodeWalEvent,
  decodeWalEventHere,
} from "./wal-event-decode.ts";

/** Events this decoder leaves to the library whole. */
const otherEvent: fc.Arbitrary<EventInit> = fc.oneof(
  fc.record({
    tenant: text,
    body: fc
      .record({ version: uint32, fingerprint: text, lockJson: text })
      .map((value) => ({ case: "schemaChange" as const, value })),
  }),
  fc.record({
    tenant: text,
    body: text.map((owner) => ({
      case: "access" as const,
      value: { change: { case: "createTenantOwner" as const, value: owner } },
    })),
  }),
  fc.record({
    tenant: text,
    body: fc
      .record({ nodeIds: fc.array(text, { maxLength: 3 }), read: fc.boolean() })
      .map((value) => ({ case: "mailbox" as const, value })),
  }),
);

/** Both decoders' answer for `bytes`: the message, or the error's class and message. */
function both(bytes: Uint8Array): void {
  let expected: WalEvent | Error;
  try {
    expected = fromBinary(WalEventSchema, bytes);
  } catch (e) {
    expected = e as Error;
  }
  if (expected instanceof Error) {
    let thrown: unknown;
    try {
      decodeWalEvent(bytes);
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(expected.constructor);
    expect((thrown as Error).message).toBe(expected.message);
  } else {
    expect(decodeWalEvent(bytes)).toStrictEqual(expected);
  }
}

/** Bytes of a random field that WalEvent (or a message inside it) does not declare. */
const unknownField = fc.oneof(
  fc.constant(Uint8Array.of(14 << 3, 1)),
  fc.constant(Uint8Array.of((15 << 3) | 2, 2, 0x61, 0x62)),
  fc.constant(Uint8Array.of(0x80 | ((200 << 3) & 0x7f), 200 >> 4, 7)),
  fc.constant(Uint8Array.of(0x80 | (((16 << 3) | 5) & 0x7f), 1, 1, 2, 3, 4)),
);

describe("decodeWalEvent", () => {
  it("decodes random plan events as fromBinary does, on its fast path, and they round-trip", () => {
    fc.assert(
      fc.property(planEvent, (init) => {
        const bytes = toBinary(WalEventSchema, create(WalEventSchema, init));
        const fast = decodeWalEventHere(bytes);
        expect(fast).toBeDefined();
        expect(fast).toStrictEqual(fromBinary(WalEventSchema, bytes));
        expect(toBinary(WalEventSchema, fast as WalEvent)).toEqual(bytes);
      }),
      { numRuns: 1500 },
    );
  });

  it("decodes an empty payload and an event with only defaults", () => {
    for (const bytes of [
      new Uint8Array(0),
      toBinary(WalEventSchema, create(WalEventSchema, { body: { case: "plan", value: {} } })),
      toBinary(
        WalEventSchema,
        create(WalEventSchema, {
          body: {
            case: "plan",
            value: { operations: [{ op: { case: "createNode", value: { fields: { 0: {} } } } }] },
          },
        }),
      ),
    ]) {
      expect(decodeWalEventHere(bytes)).toStrictEqual(fromBinary(WalEventSchema, bytes));
    }
  });

  it("gives what fromBinary gives for schema, access and mailbox changes", () => {
    fc.assert(
      fc.property(otherEvent, (init) => {
        const bytes = toBinary(WalEventSchema, create(WalEventSchema, init));
        expect(decodeWalEventHere(bytes)).toBeUndefined();
        both(bytes);
      }),
      { numRuns: 200 },
    );
  });

  it("keeps unknown fields as fromBinary does, at the top and inside the plan", () => {
    fc.assert(
      fc.property(planEvent, unknownField, fc.nat(), (init, extra, at) => {
        const bytes = toBinary(WalEventSchema, create(WalEventSchema, init));
        // At the end of the event: the library keeps it in $unknown.
        const tail = concat(bytes, extra);
        both(tail);
        expect(decodeWalEvent(tail).$unknown).toHaveLength(1);
        // Anywhere else it lands mid-field or inside a message: whatever the library
        // makes of that.
        const cut = at % (bytes.length + 1);
        both(concat(bytes.subarray(0, cut), extra, bytes.subarray(cut)));
      }),
      { numRuns: 500 },
    );
  });

  it("decodes values written in the non-canonical forms the wire allows", () => {
    // Unpacked repeated uint32, a repeated scalar (last wins), a map entry with its
    // value before its key and without a value, a 10-byte negative enum, a bool as 2.
    const ifAbsent = [0x20, 0x05, 0x20, 0x80, 0x01];
    const entryValueFirst = [0x1a, 0x06, 0x12, 0x02, 0x28, 0x01, 0x08, 0x07];
    const entryNoValue = [0x1a, 0x02, 0x08, 0x09];
    const enumNeg = [
      0x1a,
      0x0f,
      0x08,
      0x03,
      0x12,
      0x0b,
      0x40,
      ...[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
    ];
    const create1 = [
      0x08,
      0x02,
      0x08,
      0x03,
      ...ifAbsent,
      ...entryValueFirst,
      ...entryNoValue,
      ...enumNeg,
    ];
    const op = [0x0a, create1.length, ...create1];
    const plan = [0x0a, op.length, ...op];
    const bytes = Uint8Array.from([0x32, plan.length, ...plan, 0x48, 0x02, 0x50, 0x80, 0x00]);
    const fast = decodeWalEventHere(bytes);
    expect(fast).toBeDefined();
    expect(fast).toStrictEqual(fromBinary(WalEventSchema, bytes));
  });

  it("gives fromBinary's answer or error for truncated and corrupted bytes", () => {
    fc.assert(
      fc.property(planEvent, byteFlips, fc.nat(), (init, flips, cutAt) => {
        const bytes = toBinary(WalEventSchema, create(WalEventSchema, init));
        both(bytes.subarray(0, cutAt % (bytes.length + 1)));
        if (bytes.length === 0) return;
        const corrupt = flipped(bytes, flips);
        both(corrupt);
      }),
      { numRuns: 1500 },
    );
  });

  it("gives fromBinary's answer or error for random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => both(bytes)),
      { numRuns: 2000 },
    );
  });

  it("reads a payload that is a view into a larger buffer", () => {
    const bytes = toBinary(
      WalEventSchema,
      create(WalEventSchema, {
        tenant: "acme",
        schemaVersion: 3,
        planDigest: Uint8Array.of(1, 2, 3),
        body: {
          case: "plan",
          value: {
            operations: [
              create(OperationSchema, {
                op: {
                  case: "createNode",
                  value: {
                    typeId: 2,
                    id: "n1",
                    fields: { 1: { kind: { case: "floatValue", value: 1.5 } } },
                  },
                },
              }),
            ],
          },
        },
      }),
    );
    const outer = concat(Uint8Array.of(0xff, 0xff, 0xff), bytes, Uint8Array.of(0xff));
    const view = outer.subarray(3, 3 + bytes.length);
    expect(decodeWalEventHere(view)).toStrictEqual(fromBinary(WalEventSchema, bytes));
  });
});

describe("decodeExecutePlanRequestHere", () => {
  const request = fc.record(
    {
      tenant: text,
      operations: fc.array(operation, { maxLength: 6 }),
      idempotencyKey: text,
      noWait: fc.boolean(),
    },
    { requiredKeys: [] },
  );

  /** fromBinary's request or error, and what the fast decoder makes of the same bytes. */
  function sameRequest(bytes: Uint8Array): void {
    let expected: ExecutePlanRequest | undefined;
    try {
      expected = fromBinary(ExecutePlanRequestSchema, bytes);
    } catch {
      // The library refuses the bytes: the fast decoder must not accept them.
      expect(decodeExecutePlanRequestHere(bytes)).toBeUndefined();
      return;
    }
    const fast = decodeExecutePlanRequestHere(bytes);
    if (fast !== undefined) expect(fast).toStrictEqual(expected);
  }

  it("decodes random plan requests as fromBinary does, on its fast path", () => {
    fc.assert(
      fc.property(request, (init) => {
        const bytes = toBinary(ExecutePlanRequestSchema, create(ExecutePlanRequestSchema, init));
        const fast = decodeExecutePlanRequestHere(bytes);
        expect(fast).toBeDefined();
        expect(fast).toStrictEqual(fromBinary(ExecutePlanRequestSchema, bytes));
      }),
      { numRuns: 1000 },
    );
  });

  it("leaves unknown fields, truncated and corrupted bytes to fromBinary", () => {
    fc.assert(
      fc.property(request, unknownField, byteFlips, fc.nat(), (init, extra, flips, cutAt) => {
        const bytes = toBinary(ExecutePlanRequestSchema, create(ExecutePlanRequestSchema, init));
        const withUnknown = concat(bytes, extra);
        expect(decodeExecutePlanRequestHere(withUnknown)).toBeUndefined();
        expect(fromBinary(ExecutePlanRequestSchema, withUnknown).$unknown).toHaveLength(1);
        sameRequest(bytes.subarray(0, cutAt % (bytes.length + 1)));
        if (bytes.length === 0) return;
        const corrupt = flipped(bytes, flips);
        sameRequest(corrupt);
      }),
      { numRuns: 1000 },
    );
  });
});
