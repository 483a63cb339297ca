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
import { type CreateNode, OperationSchema } from "../../generated/entdb/v1/plan_pb.js";
import { type WalEvent, WalEventSchema } from "../../generated/entdb/v1/wal_pb.js";
import { type EventInit, operation, planEvent } from "../../tests/plan-arbitraries.ts";
import { int32, int64, text, uint32 } from "../../tests/value-arbitraries.ts";
import { byteFlips, concat, flipped } from "../../tests/wire-bytes.ts";
import {
  decodeExecutePlanRequestHere,
  decodeWalEvent,
  decodeWalEventHere,
  decodeWalEventLean,
  LeanCreateNode,
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

/**
 * `event` with each {@link LeanCreateNode} as the plain message `fromBinary` makes, its
 * `fields` read from it; how many there were goes to `leanCount`.
 */
function plainOf(event: WalEvent): WalEvent {
  if (event.body.case !== "plan") return event;
  const operations = event.body.value.operations.map((o) => {
    if (!(o.op.value instanceof LeanCreateNode)) return o;
    leanCount++;
    const c = o.op.value;
    const value: CreateNode = {
      $typeName: c.$typeName,
      typeId: c.typeId,
      alias: c.alias,
      fields: c.fields,
      ifAbsentOn: c.ifAbsentOn,
      id: c.id,
    };
    return { ...o, op: { case: "createNode" as const, value } };
  });
  return { ...event, body: { case: "plan", value: { ...event.body.value, operations } } };
}
let leanCount = 0;

/**
 * Both decoders' answer for `bytes` (and the lean one's, its creates made plain): the
 * message, or the error's class and message.
 */
function both(bytes: Uint8Array): void {
  let expected: WalEvent | Error;
  try {
    expected = fromBinary(WalEventSchema, bytes);
  } catch (e) {
    expected = e as Error;
  }
  for (const decode of [decodeWalEvent, (b: Uint8Array) => plainOf(decodeWalEventLean(b))]) {
    if (expected instanceof Error) {
      let thrown: unknown;
      try {
        decode(bytes);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(expected.constructor);
      expect((thrown as Error).message).toBe(expected.message);
    } else {
      expect(decode(bytes)).toStrictEqual(expected);
    }
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
        expect(plainOf(decodeWalEventLean(bytes))).toStrictEqual(fast);
      }),
      { numRuns: 1500 },
    );
  });

  it("decodes creates of plain fields lean, and gives fromBinary's fields when they are read", () => {
    leanCount = 0;
    const plainValue = fc.oneof(
      text.map((value) => ({ kind: { case: "stringValue" as const, value } })),
      text.map((value) => ({ kind: { case: "refValue" as const, value } })),
      int64.map((value) => ({ kind: { case: "intValue" as const, value } })),
      fc.boolean().map((value) => ({ kind: { case: "boolValue" as const, value } })),
      int32.map((value) => ({ kind: { case: "enumValue" as const, value } })),
    );
    const plainCreate = fc.record({
      typeId: uint32,
      id: text,
      alias: text,
      ifAbsentOn: fc.array(uint32, { maxLength: 3 }),
      fields: fc.dictionary(uint32.map(String), plainValue, { maxKeys: 6 }),
    });
    fc.assert(
      fc.property(
        fc.array(plainCreate, { minLength: 1, maxLength: 4 }),
        text,
        (creates, tenant) => {
          const bytes = toBinary(
            WalEventSchema,
            create(WalEventSchema, {
              tenant,
              body: {
                case: "plan",
                value: {
                  operations: creates.map((value) => ({
                    op: { case: "createNode" as const, value },
                  })),
                },
              },
            }),
          );
          const before = leanCount;
          expect(plainOf(decodeWalEventLean(bytes))).toStrictEqual(
            fromBinary(WalEventSchema, bytes),
          );
          expect(leanCount - before).toBe(creates.length);
        },
      ),
      { numRuns: 1000 },
    );
    // A create with a value of another kind, or none, is decoded whole.
    for (const value of [{}, { kind: { case: "floatValue" as const, value: 1.5 } }]) {
      const bytes = toBinary(
        WalEventSchema,
        create(WalEventSchema, {
          body: {
            case: "plan",
            value: {
              operations: [
                {
                  op: {
                    case: "createNode",
                    value: {
                      fields: { 1: { kind: { case: "stringValue", value: "a" } }, 2: value },
                    },
                  },
                },
              ],
            },
          },
        }),
      );
      const event = decodeWalEventLean(bytes);
      if (event.body.case !== "plan") throw new Error("a plan event");
      expect(event.body.value.operations[0]!.op.value).not.toBeInstanceOf(LeanCreateNode);
      expect(event).toStrictEqual(fromBinary(WalEventSchema, bytes));
    }
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

  it("decodes strings of every short length, ASCII and not, as fromBinary does", () => {
    // Up to 12 bytes, ASCII text is made by one call per length (shortAscii).
    for (let n = 0; n <= 14; n++) {
      const ascii = Array.from({ length: n }, (_, i) =>
        String.fromCharCode(0x20 + ((i * 7 + n) % 95)),
      );
      const texts = [ascii.join("")];
      for (let at = 0; at < n; at++)
        texts.push([...ascii.slice(0, at), "é", ...ascii.slice(at + 1)].join(""));
      for (const t of texts) {
        const bytes = toBinary(
          WalEventSchema,
          create(WalEventSchema, {
            tenant: t,
            idempotencyKey: `${t}\u0000`,
            body: {
              case: "plan",
              value: {
                operations: [
                  {
                    op: {
                      case: "createNode",
                      value: { id: t, fields: { 1: { kind: { case: "stringValue", value: t } } } },
                    },
                  },
                ],
              },
            },
          }),
        );
        const fast = decodeWalEventHere(bytes);
        expect(fast).toBeDefined();
        expect(fast).toStrictEqual(fromBinary(WalEventSchema, bytes));
        expect(fast?.tenant).toBe(t);
      }
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
    expect(plainOf(decodeWalEventLean(bytes))).toStrictEqual(fast);
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
