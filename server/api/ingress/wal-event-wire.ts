/**
 * The binary encoding of the plan events ingress logs (`entdb.v1.WalEvent` with a plan
 * body) and of a plan's operations for its digest (`entdb.v1.WritePlan`), byte for byte
 * what `toBinary` writes, in one sized buffer.
 *
 * Why: ingress encodes every plan twice (the request's operations for the digest, then
 * the event), and `toBinary`'s general writer walks descriptors, forks and joins per
 * nested message and calls an encoder per string: for a plan of many creates that was
 * one of the largest per-node costs of a write. The logged bytes are a contract (a
 * replay decodes them, built-events.ts compares them, the digest is stored with the
 * outcome), so this writes exactly the library's bytes rather than a format of its own.
 *
 * Like `node-wire.ts`, whose sizing and writing passes it shares, it covers only what
 * ingress builds: a message with unknown fields (a newer client's), another event body,
 * a value of the wrong type or out of range is not encoded here, and `toBinary` encodes
 * it or throws its own error. `wal-event-wire.test.ts` compares the bytes with
 * `toBinary`'s for random events and plans.
 */

import { create, toBinary } from "@bufbuild/protobuf";
import type {
  CreateEdge,
  CreateNode,
  DeleteEdge,
  DeleteNode,
  Operation,
  Precondition,
  UpdateNode,
} from "../../../generated/entdb/v1/plan_pb.js";
import {
  type WalEvent,
  WalEventSchema,
  WritePlanSchema,
} from "../../../generated/entdb/v1/wal_pb.js";
import {
  checkInt64,
  checkKnown,
  checkString,
  checkUint32,
  delimited,
  int64Size,
  isSet,
  lengths,
  mapSize,
  NOT_ENCODABLE,
  pushLength,
  reserve,
  resetLengths,
  stringSize,
  type Timestamp,
  timestampSize,
  uint32Size,
} from "../node-wire-size.ts";
import { Writer } from "../node-wire-writer.ts";

/** `toBinary(WalEventSchema, event)`. */
export function encodeWalEvent(event: WalEvent): Uint8Array {
  return encodeWalEventHere(event) ?? toBinary(WalEventSchema, event);
}

/** The bytes of `event` if this module covers it (see the module's comment), else undefined. */
export function encodeWalEventHere(event: WalEvent): Uint8Array | undefined {
  return encodeHere(event, eventSize, writeEvent);
}

/** `toBinary` of a `WritePlan` holding `operations`. */
export function encodeWritePlan(operations: readonly Operation[]): Uint8Array {
  return (
    encodeHere(operations, operationsSize, writeOperations) ??
    toBinary(WritePlanSchema, create(WritePlanSchema, { operations: [...operations] }))
  );
}

/**
 * The bytes of {@link encodeWritePlan}, valid only until the next call: a plan encoded
 * for its digest is hashed at once and dropped, so it is written into one buffer kept
 * for the next plan rather than a new `ArrayBuffer` a write (an allocation of its own
 * memory, and work for the garbage collector, every plan).
 */
export function encodeWritePlanTransient(operations: readonly Operation[]): Uint8Array {
  return (
    encodeHere(operations, operationsSize, writeOperations, true) ??
    toBinary(WritePlanSchema, create(WritePlanSchema, { operations: [...operations] }))
  );
}

/** The buffer {@link encodeWritePlanTransient} writes into; grown as plans need, up to {@link KEPT_SCRATCH}. */
let scratch = Buffer.allocUnsafeSlow(4096);

/** A plan's encoding larger than this gets a buffer of its own, so a rare large plan's memory is not kept. */
const KEPT_SCRATCH = 1 << 16;

/**
 * The bytes of `message`, or undefined when the sizing pass finds it is not this module's.
 * `transient`: into {@link scratch} when it fits, valid until the next transient call.
 */
function encodeHere<T>(
  message: T,
  size: (message: T) => number,
  write: (w: Writer, message: T) => void,
  transient = false,
): Uint8Array | undefined {
  resetLengths();
  let total: number;
  try {
    total = size(message);
  } catch (e) {
    if (e === NOT_ENCODABLE) return undefined;
    throw e;
  }
  if (transient && total > scratch.byteLength && total <= KEPT_SCRATCH) {
    scratch = Buffer.allocUnsafeSlow(Math.min(KEPT_SCRATCH, 2 * total));
  }
  // Otherwise its own memory, not a slice of Buffer's shared pool: the log may hold it long.
  const buf = transient && total <= scratch.byteLength ? scratch : Buffer.allocUnsafeSlow(total);
  const w = new Writer(buf);
  write(w, message);
  if (w.pos !== total) throw new Error(`wrote ${w.pos} bytes of a ${total}-byte message`);
  return new Uint8Array(buf.buffer, buf.byteOffset, total);
}

// ------------------------------------------------------------------ sizing

function checkBool(b: unknown): boolean {
  if (typeof b !== "boolean") throw NOT_ENCODABLE;
  return b;
}

function eventSize(e: WalEvent): number {
  checkKnown(e, "entdb.v1.WalEvent");
  const body = e.body;
  if (body.case !== "plan") throw NOT_ENCODABLE;
  let size = 0;
  if (checkString(e.tenant) !== "") size += stringSize(e.tenant);
  if (checkString(e.actor) !== "") size += stringSize(e.actor);
  if (checkString(e.idempotencyKey) !== "") size += stringSize(e.idempotencyKey);
  if (checkUint32(e.schemaVersion) !== 0) size += 1 + uint32Size(e.schemaVersion);
  if (isSet(e, "ingressTime", e.ingressTime)) size += timestampSize(e.ingressTime as Timestamp);
  checkKnown(body.value, "entdb.v1.WritePlan");
  const slot = reserve();
  const plan = operationsSize(body.value.operations);
  lengths[slot] = plan;
  size += delimited(plan);
  if (checkBool(e.actorAdmin)) size += 2;
  if (checkBool(e.openAccess)) size += 2;
  for (const group of e.actorGroups) size += stringSize(group);
  if (!(e.planDigest instanceof Uint8Array)) throw NOT_ENCODABLE;
  if (e.planDigest.byteLength > 0) size += delimited(e.planDigest.byteLength);
  return size;
}

/** The content of a `WritePlan`: each operation as field 1. */
function operationsSize(operations: readonly Operation[]): number {
  let size = 0;
  for (const o of operations) {
    const slot = reserve();
    const inner = operationSize(o);
    lengths[slot] = inner;
    size += delimited(inner);
  }
  return size;
}

function operationSize(o: Operation): number {
  checkKnown(o, "entdb.v1.Operation");
  const op = o.op;
  if (op.case === undefined) return 0;
  const slot = reserve();
  let inner: number;
  switch (op.case) {
    case "createNode":
      inner = createNodeSize(op.value);
      break;
    case "updateNode":
      inner = updateNodeSize(op.value);
      break;
    case "deleteNode":
      inner = deleteNodeSize(op.value);
      break;
    case "createEdge":
      inner = createEdgeSize(op.value);
      break;
    case "deleteEdge":
      inner = deleteEdgeSize(op.value);
      break;
    default:
      throw NOT_ENCODABLE;
  }
  lengths[slot] = inner;
  return delimited(inner);
}

function createNodeSize(m: CreateNode): number {
  checkKnown(m, "entdb.v1.CreateNode");
  let size = 0;
  if (checkUint32(m.typeId) !== 0) size += 1 + uint32Size(m.typeId);
  if (checkString(m.alias) !== "") size += stringSize(m.alias);
  size += mapSize(m.fields);
  size += packedSize(m.ifAbsentOn);
  if (checkString(m.id) !== "") size += stringSize(m.id);
  return size;
}

function updateNodeSize(m: UpdateNode): number {
  checkKnown(m, "entdb.v1.UpdateNode");
  let size = 0;
  if (checkUint32(m.typeId) !== 0) size += 1 + uint32Size(m.typeId);
  if (checkString(m.id) !== "") size += stringSize(m.id);
  size += mapSize(m.set);
  size += packedSize(m.clear);
  if (isSet(m, "precondition", m.precondition))
    size += preconditionSize(m.precondition as Precondition);
  return size;
}

function deleteNodeSize(m: DeleteNode): number {
  checkKnown(m, "entdb.v1.DeleteNode");
  let size = 0;
  if (checkUint32(m.typeId) !== 0) size += 1 + uint32Size(m.typeId);
  if (checkString(m.id) !== "") size += stringSize(m.id);
  if (isSet(m, "precondition", m.precondition))
    size += preconditionSize(m.precondition as Precondition);
  return size;
}

function createEdgeSize(m: CreateEdge): number {
  checkKnown(m, "entdb.v1.CreateEdge");
  let size = 0;
  if (checkUint32(m.edgeTypeId) !== 0) size += 1 + uint32Size(m.edgeTypeId);
  if (checkString(m.fromId) !== "") size += stringSize(m.fromId);
  if (checkString(m.toId) !== "") size += stringSize(m.toId);
  size += mapSize(m.props);
  return size;
}

function deleteEdgeSize(m: DeleteEdge): number {
  checkKnown(m, "entdb.v1.DeleteEdge");
  let size = 0;
  if (checkUint32(m.edgeTypeId) !== 0) size += 1 + uint32Size(m.edgeTypeId);
  if (checkString(m.fromId) !== "") size += stringSize(m.fromId);
  if (checkString(m.toId) !== "") size += stringSize(m.toId);
  return size;
}

/** A precondition with its tag and length. */
function preconditionSize(p: Precondition): number {
  checkKnown(p, "entdb.v1.Precondition");
  const slot = reserve();
  let size = 0;
  if (isSet(p, "version", p.version)) size += 1 + int64Size(checkInt64(p.version));
  size += mapSize(p.fieldsEqual);
  lengths[slot] = size;
  return delimited(size);
}

/** A packed `repeated uint32` with its tag and length; nothing when empty. */
function packedSize(items: readonly number[]): number {
  if (items.length === 0) return 0;
  let size = 0;
  for (const n of items) size += uint32Size(checkUint32(n));
  pushLength(size);
  return delimited(size);
}

// ------------------------------------------------------------------ writing, in the sizing's order

function writeEvent(w: Writer, e: WalEvent): void {
  if (e.tenant !== "") w.string(0x0a, e.tenant);
  if (e.actor !== "") w.string(0x12, e.actor);
  if (e.idempotencyKey !== "") w.string(0x1a, e.idempotencyKey);
  if (e.schemaVersion !== 0) {
    w.buf[w.pos++] = 0x20;
    w.uint32(e.schemaVersion);
  }
  if (isSet(e, "ingressTime", e.ingressTime)) w.timestamp(0x2a, e.ingressTime as Timestamp);
  w.buf[w.pos++] = 0x32;
  w.length();
  writeOperations(w, (e.body.value as { operations: readonly Operation[] }).operations);
  if (e.actorAdmin) {
    w.buf[w.pos++] = 0x48;
    w.buf[w.pos++] = 1;
  }
  if (e.openAccess) {
    w.buf[w.pos++] = 0x50;
    w.buf[w.pos++] = 1;
  }
  for (const group of e.actorGroups) w.string(0x5a, group);
  const digest = e.planDigest;
  if (digest.byteLength > 0) {
    w.buf[w.pos++] = 0x62;
    w.uint32(digest.byteLength);
    w.buf.set(digest, w.pos);
    w.pos += digest.byteLength;
  }
}

function writeOperations(w: Writer, operations: readonly Operation[]): void {
  for (const o of operations) {
    w.buf[w.pos++] = 0x0a;
    w.length();
    const op = o.op;
    switch (op.case) {
      case undefined:
        break;
      case "createNode": {
        w.buf[w.pos++] = 0x0a;
        w.length();
        const m = op.value;
        typeId(w, 0x08, m.typeId);
        if (m.alias !== "") w.string(0x12, m.alias);
        w.map(0x1a, m.fields);
        packed(w, 0x22, m.ifAbsentOn);
        if (m.id !== "") w.string(0x2a, m.id);
        break;
      }
      case "updateNode": {
        w.buf[w.pos++] = 0x12;
        w.length();
        const m = op.value;
        typeId(w, 0x08, m.typeId);
        if (m.id !== "") w.string(0x12, m.id);
        w.map(0x1a, m.set);
        packed(w, 0x22, m.clear);
        if (isSet(m, "precondition", m.precondition))
          precondition(w, 0x2a, m.precondition as Precondition);
        break;
      }
      case "deleteNode": {
        w.buf[w.pos++] = 0x1a;
        w.length();
        const m = op.value;
        typeId(w, 0x08, m.typeId);
        if (m.id !== "") w.string(0x12, m.id);
        if (isSet(m, "precondition", m.precondition))
          precondition(w, 0x1a, m.precondition as Precondition);
        break;
      }
      case "createEdge": {
        w.buf[w.pos++] = 0x22;
        w.length();
        const m = op.value;
        typeId(w, 0x08, m.edgeTypeId);
        if (m.fromId !== "") w.string(0x12, m.fromId);
        if (m.toId !== "") w.string(0x1a, m.toId);
        w.map(0x22, m.props);
        break;
      }
      case "deleteEdge": {
        w.buf[w.pos++] = 0x2a;
        w.length();
        const m = op.value;
        typeId(w, 0x08, m.edgeTypeId);
        if (m.fromId !== "") w.string(0x12, m.fromId);
        if (m.toId !== "") w.string(0x1a, m.toId);
        break;
      }
    }
  }
}

function typeId(w: Writer, tag: number, id: number): void {
  if (id === 0) return;
  w.buf[w.pos++] = tag;
  w.uint32(id);
}

function packed(w: Writer, tag: number, items: readonly number[]): void {
  if (items.length === 0) return;
  w.buf[w.pos++] = tag;
  w.length();
  for (const n of items) w.uint32(n);
}

function precondition(w: Writer, tag: number, p: Precondition): void {
  w.buf[w.pos++] = tag;
  w.length();
  if (isSet(p, "version", p.version)) {
    w.buf[w.pos++] = 0x08;
    w.int64(p.version as bigint);
  }
  w.map(0x12, p.fieldsEqual);
}
