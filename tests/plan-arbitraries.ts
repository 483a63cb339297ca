/**
 * fast-check arbitraries of plan operations and of `entdb.v1.WalEvent`s carrying a plan,
 * for the tests that compare a hand-written codec of logged events with protobuf-es's
 * (`server/apply/wal-event-decode.test.ts`, `server/api/ingress/wal-event-wire.test.ts`):
 * every step kind with every value kind, preconditions with and without a version, and
 * events with and without a body.
 */

import type { MessageInitShape } from "@bufbuild/protobuf";
import fc from "fast-check";
import type { OperationSchema } from "../generated/entdb/v1/plan_pb.js";
import type { WalEventSchema } from "../generated/entdb/v1/wal_pb.js";
import { int64, text, timestamp, uint32, value } from "./value-arbitraries.ts";

/** A `map<uint32, Value>`: field id 0 included. */
export const fields = fc.dictionary(fc.oneof(uint32, fc.constant(0)).map(String), value, {
  maxKeys: 6,
});
export const precondition = fc.record(
  { version: int64, fieldsEqual: fields },
  { requiredKeys: ["fieldsEqual"] },
);

export type OperationInit = MessageInitShape<typeof OperationSchema>;
/** One operation of any kind, or an empty one. */
export const operation: fc.Arbitrary<OperationInit> = fc.oneof(
  fc.constant({}),
  fc
    .record({
      typeId: uint32,
      alias: text,
      fields,
      ifAbsentOn: fc.array(uint32, { maxLength: 4 }),
      id: text,
    })
    .map((value) => ({ op: { case: "createNode" as const, value } })),
  fc
    .record(
      {
        typeId: uint32,
        id: text,
        set: fields,
        clear: fc.array(uint32, { maxLength: 4 }),
        precondition,
      },
      { requiredKeys: ["typeId", "id", "set", "clear"] },
    )
    .map((value) => ({ op: { case: "updateNode" as const, value } })),
  fc
    .record({ typeId: uint32, id: text, precondition }, { requiredKeys: ["typeId", "id"] })
    .map((value) => ({ op: { case: "deleteNode" as const, value } })),
  fc
    .record({ edgeTypeId: uint32, fromId: text, toId: text, props: fields })
    .map((value) => ({ op: { case: "createEdge" as const, value } })),
  fc
    .record({ edgeTypeId: uint32, fromId: text, toId: text })
    .map((value) => ({ op: { case: "deleteEdge" as const, value } })),
);

export type EventInit = MessageInitShape<typeof WalEventSchema>;
/** A plan event (or one with no body) with any of its fields set. */
export const planEvent: fc.Arbitrary<EventInit> = fc.record(
  {
    tenant: text,
    actor: text,
    idempotencyKey: text,
    schemaVersion: uint32,
    ingressTime: timestamp,
    body: fc.oneof(
      fc
        .array(operation, { maxLength: 6 })
        .map((operations) => ({ case: "plan" as const, value: { operations } })),
      fc.constant({ case: undefined }),
    ),
    actorAdmin: fc.boolean(),
    openAccess: fc.boolean(),
    actorGroups: fc.array(text, { maxLength: 3 }),
    planDigest: fc.uint8Array({ maxLength: 40 }),
  },
  { requiredKeys: [] },
);
