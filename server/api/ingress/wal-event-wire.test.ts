/**
 * `encodeWalEvent` and `encodeWritePlan` (wal-event-wire.ts) write exactly the bytes
 * `toBinary` writes, for every plan event and plan; what they do not cover goes to
 * `toBinary`, with its bytes or its error.
 */

import { create, toBinary } from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Operation, OperationSchema } from "../../../generated/entdb/v1/plan_pb.js";
import { ValueSchema } from "../../../generated/entdb/v1/values_pb.js";
import {
  type WalEvent,
  WalEventSchema,
  WritePlanSchema,
} from "../../../generated/entdb/v1/wal_pb.js";
import { type EventInit, operation, planEvent } from "../../../tests/plan-arbitraries.ts";
import {
  encodeWalEvent,
  encodeWalEventHere,
  encodeWritePlan,
  encodeWritePlanTransient,
} from "./wal-event-wire.ts";

const plan = (operations: Operation[]) =>
  toBinary(WritePlanSchema, create(WritePlanSchema, { operations }));

/** `fast` gives the bytes `expected` gives, or throws the error it throws. */
function same(expected: () => Uint8Array, fast: () => Uint8Array): void {
  let bytes: Uint8Array | undefined;
  let error: Error | undefined;
  try {
    bytes = expected();
  } catch (e) {
    error = e as Error;
  }
  if (error === undefined) {
    expect(Buffer.from(fast())).toEqual(Buffer.from(bytes as Uint8Array));
  } else {
    expect(fast).toThrow(error.message);
  }
}

describe("encodeWalEvent", () => {
  it("writes random plan events and events without a body as toBinary does", () => {
    fc.assert(
      fc.property(planEvent, (init) => {
        const event = create(WalEventSchema, init);
        const expected = Buffer.from(toBinary(WalEventSchema, event));
        expect(Buffer.from(encodeWalEvent(event))).toEqual(expected);
        if (event.body.case !== "plan") return;
        // A plan event never leaves the fast path, and has memory of its own: nothing
        // else shares the buffer the log is handed.
        const bytes = encodeWalEventHere(event);
        expect(Buffer.from(bytes as Uint8Array)).toEqual(expected);
        expect(bytes?.byteOffset).toBe(0);
        expect(bytes?.buffer.byteLength).toBe(expected.byteLength);
      }),
      { numRuns: 1500 },
    );
  });

  it("writes a plan whose steps and values are empty, and an empty event", () => {
    const inits: EventInit[] = [
      {},
      { body: { case: "plan", value: {} } },
      {
        body: {
          case: "plan",
          value: {
            operations: [
              {},
              { op: { case: "createNode", value: { fields: { 0: {} } } } },
              { op: { case: "updateNode", value: { precondition: {} } } },
              { op: { case: "deleteNode", value: { precondition: { version: 0n } } } },
              { op: { case: "createEdge", value: {} } },
              { op: { case: "deleteEdge", value: {} } },
            ],
          },
        },
      },
    ];
    for (const init of inits) {
      const event = create(WalEventSchema, init);
      expect(Buffer.from(encodeWalEvent(event))).toEqual(
        Buffer.from(toBinary(WalEventSchema, event)),
      );
    }
  });

  it("leaves other bodies, unknown fields and out-of-range values to toBinary", () => {
    const base = (): WalEvent =>
      create(WalEventSchema, {
        tenant: "acme",
        body: {
          case: "plan",
          value: {
            operations: [
              {
                op: {
                  case: "createNode",
                  value: { typeId: 1, fields: { 1: { kind: { case: "enumValue", value: 2 } } } },
                },
              },
            ],
          },
        },
      });
    const createOf = (e: WalEvent) => {
      const body = e.body;
      if (body.case !== "plan") throw new Error("not a plan");
      const op = body.value.operations[0]!.op;
      if (op.case !== "createNode") throw new Error("not a create");
      return op.value;
    };
    const cases: WalEvent[] = [
      create(WalEventSchema, {
        tenant: "acme",
        body: { case: "schemaChange", value: { version: 2, lockJson: "{}" } },
      }),
      (() => {
        const e = base();
        e.$unknown = [{ no: 40, wireType: WireType.Varint, data: Uint8Array.of(1) }];
        return e;
      })(),
      (() => {
        const e = base();
        createOf(e).$unknown = [
          { no: 40, wireType: WireType.LengthDelimited, data: Uint8Array.of(1, 0x61) },
        ];
        return e;
      })(),
      (() => {
        const e = base();
        createOf(e).fields[1]!.$unknown = [
          { no: 40, wireType: WireType.Varint, data: Uint8Array.of(3) },
        ];
        return e;
      })(),
      (() => {
        // Out of int32's range: toBinary throws, and so does encodeWalEvent.
        const e = base();
        createOf(e).fields[1] = create(ValueSchema, {
          kind: { case: "enumValue", value: 2 ** 31 },
        });
        return e;
      })(),
      (() => {
        const e = base();
        e.schemaVersion = -1;
        return e;
      })(),
    ];
    for (const event of cases) {
      expect(encodeWalEventHere(event)).toBeUndefined();
      same(
        () => toBinary(WalEventSchema, event),
        () => encodeWalEvent(event),
      );
    }
  });
});

describe("encodeWritePlan", () => {
  it("writes random operations as toBinary writes their WritePlan", () => {
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 8 }), (inits) => {
        const operations = inits.map((init) => create(OperationSchema, init));
        expect(Buffer.from(encodeWritePlan(operations))).toEqual(Buffer.from(plan(operations)));
        expect(Buffer.from(encodeWritePlanTransient(operations))).toEqual(
          Buffer.from(plan(operations)),
        );
      }),
      { numRuns: 1000 },
    );
  });

  it("writes a transient plan's bytes over the last one's, in a buffer grown as plans need", () => {
    const named = (text: string) =>
      create(OperationSchema, {
        op: {
          case: "createNode",
          value: { typeId: 3, fields: { 1: { kind: { case: "stringValue", value: text } } } },
        },
      });
    const first = encodeWritePlanTransient([named("a")]);
    const firstBytes = Buffer.from(first);
    const second = encodeWritePlanTransient([named("b")]);
    // One buffer: the first view now shows the second plan's bytes.
    expect(second.buffer).toBe(first.buffer);
    expect(Buffer.from(first)).not.toEqual(firstBytes);
    expect(Buffer.from(first)).toEqual(Buffer.from(plan([named("b")])));
    // Larger than the buffer, then larger than what is kept: still toBinary's bytes.
    for (const length of [10_000, 100_000]) {
      const big = [named("x".repeat(length))];
      const bytes = encodeWritePlanTransient(big);
      expect(Buffer.from(bytes)).toEqual(Buffer.from(plan(big)));
    }
    const big = encodeWritePlanTransient([named("y".repeat(100_000))]);
    const small = encodeWritePlanTransient([named("c")]);
    expect(small.buffer).not.toBe(big.buffer);
    expect(Buffer.from(small)).toEqual(Buffer.from(plan([named("c")])));
  });

  it("leaves an operation with unknown fields to toBinary, which keeps them", () => {
    const op = create(OperationSchema, { op: { case: "deleteNode", value: { typeId: 3 } } });
    op.$unknown = [
      { no: 9, wireType: WireType.LengthDelimited, data: Uint8Array.of(2, 0x68, 0x69) },
    ];
    const bytes = encodeWritePlan([op]);
    expect(Buffer.from(bytes)).toEqual(Buffer.from(plan([op])));
    expect(bytes.byteLength).toBeGreaterThan(
      plan([create(OperationSchema, { op: { case: "deleteNode", value: { typeId: 3 } } })])
        .byteLength,
    );
  });
});
