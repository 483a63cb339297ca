/**
 * Shared fixtures of the store and applier tests: the tracker example compiled (and a
 * second version of it), served-schema lookups, Value and WalEvent builders, temp dirs.
 */

import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { Filter } from "../../generated/entdb/v1/entdb_pb.js";
import {
  type Operation,
  OperationSchema,
  type PreconditionSchema,
} from "../../generated/entdb/v1/plan_pb.js";
import { type Value, ValueSchema } from "../../generated/entdb/v1/values_pb.js";
import { type AccessChangeSchema, WalEventSchema } from "../../generated/entdb/v1/wal_pb.js";
import { compileSchema } from "../../schema/compile.ts";
import { schemaFingerprint } from "../../schema/fingerprint.ts";
import { lockFromSchema } from "../../schema/lock.ts";
import type { Schema } from "../../schema/model.ts";
import type { ServedSchema } from "../../server/engine.ts";
import { encodeNodeCursor, filtersDigest } from "../../server/store/page-cursor.ts";

const TRACKER_PATH = join(import.meta.dirname, "../../examples/tracker/schema.entdb");

/** Compiles schema text; throws with the diagnostics if it does not compile. */
export function compile(text: string, path = "schema.entdb"): Schema {
  const result = compileSchema({ path, text });
  if (!result.schema || result.diagnostics.some((d) => d.severity === "error")) {
    throw new Error(
      `schema did not compile: ${JSON.stringify(result.diagnostics.map((d) => d.message))}`,
    );
  }
  return result.schema;
}

/** The tracker example's source text. */
export const TRACKER_TEXT = readFileSync(TRACKER_PATH, "utf8");

/** The tracker example as version 1. */
export const TRACKER_V1 = compile(TRACKER_TEXT, "examples/tracker/schema.entdb");

/**
 * Version 2 of the tracker: Task.estimate_minutes (8) gains an index, Comment.body (3)
 * stops being searchable and Comment gets a searchable `summary` (7).
 */
export const TRACKER_V2 = compile(
  TRACKER_TEXT.replace("estimate_minutes: int = 8;", "estimate_minutes: int = 8 [index];").replace(
    "body: string = 3 [required, searchable];",
    "body: string = 3 [required];\n  summary: string = 7 [searchable];",
  ),
  "examples/tracker/schema.entdb",
);

/** A served schema record for a model. */
export function served(version: number, model: Schema): ServedSchema {
  return { version, model, fingerprint: schemaFingerprint(model), lockJson: lockFromSchema(model) };
}

/** A lookup serving the given versions. */
export function lookupOf(
  ...schemas: ServedSchema[]
): (version: number) => ServedSchema | undefined {
  const byVersion = new Map(schemas.map((s) => [s.version, s]));
  return (v) => byVersion.get(v);
}

/** Tracker type and field ids used by the tests, so they read as names. */
export const T = {
  User: 1,
  Team: 2,
  Project: 3,
  Task: 4,
  Comment: 5,
  MemberOf: 100,
  AssignedTo: 101,
  SubtaskOf: 102,
  BlockedBy: 103,
  Watches: 104,
} as const;

/** Value builders. */
export const v = {
  str: (value: string): Value => create(ValueSchema, { kind: { case: "stringValue", value } }),
  int: (value: bigint): Value => create(ValueSchema, { kind: { case: "intValue", value } }),
  float: (value: number): Value => create(ValueSchema, { kind: { case: "floatValue", value } }),
  bool: (value: boolean): Value => create(ValueSchema, { kind: { case: "boolValue", value } }),
  enum: (value: number): Value => create(ValueSchema, { kind: { case: "enumValue", value } }),
  ref: (value: string): Value => create(ValueSchema, { kind: { case: "refValue", value } }),
  json: (value: string): Value => create(ValueSchema, { kind: { case: "jsonValue", value } }),
  bytes: (value: Uint8Array): Value => create(ValueSchema, { kind: { case: "bytesValue", value } }),
  null: (): Value => create(ValueSchema, { kind: { case: "nullValue", value: true } }),
  ts: (ms: number): Value =>
    create(ValueSchema, { kind: { case: "timestampValue", value: timestampFromMs(ms) } }),
  list: (...values: Value[]): Value =>
    create(ValueSchema, { kind: { case: "listValue", value: { values } } }),
};

type Fields = Record<number, Value>;

/** Operation builders (ids are concrete, as after ingress). */
export const op = {
  createNode: (typeId: number, id: string, fields: Fields, ifAbsentOn: number[] = []): Operation =>
    create(OperationSchema, {
      op: { case: "createNode", value: { typeId, id, fields, ifAbsentOn } },
    }),
  updateNode: (
    typeId: number,
    id: string,
    set: Fields,
    extra: { clear?: number[]; precondition?: MessageInitShape<typeof PreconditionSchema> } = {},
  ): Operation =>
    create(OperationSchema, {
      op: {
        case: "updateNode",
        value: {
          typeId,
          id,
          set,
          clear: extra.clear ?? [],
          ...(extra.precondition ? { precondition: extra.precondition } : {}),
        },
      },
    }),
  deleteNode: (
    typeId: number,
    id: string,
    precondition?: MessageInitShape<typeof PreconditionSchema>,
  ): Operation =>
    create(OperationSchema, {
      op: { case: "deleteNode", value: { typeId, id, ...(precondition ? { precondition } : {}) } },
    }),
  createEdge: (edgeTypeId: number, fromId: string, toId: string, props: Fields = {}): Operation =>
    create(OperationSchema, {
      op: { case: "createEdge", value: { edgeTypeId, fromId, toId, props } },
    }),
  deleteEdge: (edgeTypeId: number, fromId: string, toId: string): Operation =>
    create(OperationSchema, { op: { case: "deleteEdge", value: { edgeTypeId, fromId, toId } } }),
};

/** Base ingress time of events: 2024-01-02T03:04:05Z. */
export const T0_MS = Date.UTC(2024, 0, 2, 3, 4, 5);

/** How an event's actor was authenticated (wal.proto): dev mode unless told otherwise. */
export interface EventActor {
  readonly actor?: string;
  /** Logged in dev mode, where no access checks apply (default true). */
  readonly openAccess?: boolean;
  readonly actorAdmin?: boolean;
  readonly actorGroups?: readonly string[];
}

/** An encoded plan event. */
export function planEvent(
  tenant: string,
  key: string,
  operations: Operation[],
  options: { schemaVersion?: number; atMs?: number } & EventActor = {},
): Uint8Array {
  return toBinary(
    WalEventSchema,
    create(WalEventSchema, {
      tenant,
      ...eventActor(options),
      idempotencyKey: key,
      schemaVersion: options.schemaVersion ?? 1,
      ingressTime: timestampFromMs(options.atMs ?? T0_MS),
      body: { case: "plan", value: { operations } },
    }),
  );
}

/** An encoded access change event. */
export function accessEvent(
  tenant: string,
  key: string,
  change: NonNullable<MessageInitShape<typeof AccessChangeSchema>["change"]>,
  options: { schemaVersion?: number; atMs?: number } & EventActor = {},
): Uint8Array {
  return toBinary(
    WalEventSchema,
    create(WalEventSchema, {
      tenant,
      ...eventActor(options),
      idempotencyKey: key,
      schemaVersion: options.schemaVersion ?? 1,
      ingressTime: timestampFromMs(options.atMs ?? T0_MS),
      body: { case: "access", value: { change } },
    }),
  );
}

function eventActor(options: EventActor) {
  return {
    actor: options.actor ?? "user:ada",
    openAccess: options.openAccess ?? true,
    actorAdmin: options.actorAdmin ?? false,
    actorGroups: [...(options.actorGroups ?? [])],
  };
}

/** An encoded schema change event. */
export function schemaChangeEvent(tenant: string, schema: ServedSchema): Uint8Array {
  return toBinary(
    WalEventSchema,
    create(WalEventSchema, {
      tenant,
      actor: "system",
      schemaVersion: schema.version,
      ingressTime: timestampFromMs(T0_MS),
      body: {
        case: "schemaChange",
        value: {
          version: schema.version,
          fingerprint: schema.fingerprint,
          lockJson: schema.lockJson,
        },
      },
    }),
  );
}

/**
 * A fresh temp dir, and its removal. `inMemory` puts it on tmpfs (`/dev/shm`) when the
 * machine has one, for tests that create many files and would otherwise measure fsync.
 */
export function tempDir(
  prefix: string,
  inMemory = false,
): { readonly path: string; remove(): void } {
  const root = inMemory && existsSync("/dev/shm") ? "/dev/shm" : tmpdir();
  const path = mkdtempSync(join(root, `entdb-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** The fields of a tracker User. */
export function userFields(n: number, extra: Fields = {}): Fields {
  return {
    1: v.str(`user${n}@example.com`),
    2: v.str(`User ${n}`),
    3: v.str(`user${n}`),
    6: v.ts(T0_MS),
    7: v.bool(true),
    ...extra,
  };
}

/** A cursor of a Task query ordered by due date with `filters`, after `key` and `lastId`. */
export function dueCursor(filters: Filter[], key: bigint | null, lastId: string): string {
  return encodeNodeCursor({
    typeId: T.Task,
    orderField: 7,
    descending: false,
    filters: filtersDigest(filters),
    key,
    lastId,
  });
}
