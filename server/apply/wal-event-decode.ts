/**
 * Decodes a logged `entdb.v1.WalEvent` carrying a plan into exactly the message objects
 * `fromBinary(WalEventSchema, …)` builds (same `$typeName`s, defaults, oneof shapes,
 * bigints and numbers), without protobuf-es's descriptor-driven reader. The applier
 * decodes every event it applies, and for a restore's replay the generic reader was a
 * tenth of the apply thread's CPU.
 *
 * It knows the fields a plan event carries: the event's own (tenant, actor, key, schema
 * version, ingress time, groups, digest), the plan's operations, preconditions, values
 * and value lists. Anything else goes to `fromBinary`, so its result, or its error, is
 * always the library's: another body (schema, access or mailbox change), an unknown
 * field, a wire type a field does not have, a tag, varint or length that is malformed or
 * runs past its message, a message field given twice (the library merges the two),
 * invalid UTF-8, nesting deeper than {@link MAX_DEPTH}. `wal-event-decode.test.ts`
 * decodes random events and random corruptions of them both ways.
 *
 * The same reader decodes plan requests (`entdb.v1.ExecutePlanRequest`) for the API's
 * fast paths, which carry the same operations, and query requests
 * (`entdb.v1.QueryNodesRequest`), whose filters carry the same values.
 *
 * Not reentrant: the reader's state is module-level, and decoding never yields.
 */

import { fromBinary } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import type {
  ExecutePlanRequest,
  Filter,
  OrderBy,
  QueryNodesRequest,
} from "../../generated/entdb/v1/entdb_pb.js";
import type {
  CreateEdge,
  CreateNode,
  DeleteEdge,
  DeleteNode,
  Operation,
  Precondition,
  UpdateNode,
} from "../../generated/entdb/v1/plan_pb.js";
import type { LogPosition, Value, ValueList } from "../../generated/entdb/v1/values_pb.js";
import { type WalEvent, WalEventSchema, type WritePlan } from "../../generated/entdb/v1/wal_pb.js";

/** Thrown inside the decoder when the bytes are not its to decode. */
class NotDecodable extends Error {}
const NOT_DECODABLE = new NotDecodable("not decodable here");

/** Deeper nesting (value lists in value lists) is left to the library and its limit. */
const MAX_DEPTH = 32;

/** Up to this many bytes, an ASCII string is built by char codes (V8 keeps them flat). */
const SHORT_STRING = 12;

const WT_VARINT = 0;
const WT_BIT64 = 1;
const WT_LEN = 2;

/** `fromBinary`'s zero bytes value: one shared empty array, as the library's create. */
const EMPTY_BYTES = new Uint8Array(0);

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
/** Eight bytes to read a double or a 64-bit integer from, little-endian as on the wire. */
const scratch = new DataView(new ArrayBuffer(8));
const scratchBytes = new Uint8Array(scratch.buffer);

let buf: Uint8Array = EMPTY_BYTES;
const EMPTY_BUFFER = Buffer.alloc(0);
/** `buf` as a Buffer (the same memory), for its documented latin1 `toString`. */
let view: Buffer = EMPTY_BUFFER;
let pos = 0;
let len = 0;
/** Whether creates of plain fields are decoded as {@link LeanCreateNode}s. */
let lean = false;

/**
 * The event in `bytes`, as `fromBinary(WalEventSchema, bytes)` gives it (or throws).
 * Bytes fields are views into `bytes`, as the library's are.
 */
export function decodeWalEvent(bytes: Uint8Array): WalEvent {
  return decodeWalEventHere(bytes) ?? fromBinary(WalEventSchema, bytes);
}

/**
 * The event in `bytes` as {@link decodeWalEvent} gives it, except that a create whose
 * fields are all of the plain kinds (string, ref, int, bool, enum; field ids ascending, each
 * once) is a {@link LeanCreateNode}: its values are kept as they were read, and its
 * `fields` are made from them only when read. The applier's create step reads the values
 * directly (node-ops.ts); anything else that reads `fields` gets what `fromBinary` gives.
 * A restore's appliers decode with it; a live applier, whose events go on to
 * subscriptions, does not.
 */
export function decodeWalEventLean(bytes: Uint8Array): WalEvent {
  lean = true;
  try {
    return decodeWalEvent(bytes);
  } finally {
    lean = false;
  }
}

/**
 * The event in `bytes` if this decoder covers it (see the module's comment), else
 * undefined: then `fromBinary` decodes it or throws.
 */
export function decodeWalEventHere(bytes: Uint8Array): WalEvent | undefined {
  return decodeHere(bytes, walEvent);
}

/**
 * The `entdb.v1.ExecutePlanRequest` in `bytes` as `fromBinary` gives it, if this decoder
 * covers it, else undefined (then `fromBinary` decodes it or throws). A request carries
 * the same operations a plan event does, and ingress decodes one per plan: the same
 * reader serves both, with the same limits (one-byte tags, no unknown fields).
 */
export function decodeExecutePlanRequestHere(bytes: Uint8Array): ExecutePlanRequest | undefined {
  return decodeHere(bytes, executePlanRequest);
}

/**
 * The `entdb.v1.QueryNodesRequest` in `bytes` as `fromBinary` gives it, if this decoder
 * covers it, else undefined (then `fromBinary` decodes it or throws): its filters hold
 * values, which flat requests' decoder (request-decode.ts) leaves to the library. Its
 * message fields (`order_by`, `after_position`) are set in the order they come, as the
 * library sets them; one given twice (the library merges the two) is the library's.
 */
export function decodeQueryNodesRequestHere(bytes: Uint8Array): QueryNodesRequest | undefined {
  return decodeHere(bytes, queryNodesRequest);
}

function decodeHere<T>(bytes: Uint8Array, read: () => T): T | undefined {
  buf = bytes;
  pos = 0;
  len = bytes.length;
  view = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    return read();
  } catch (e) {
    if (e !== NOT_DECODABLE) throw e;
    return undefined;
  } finally {
    buf = EMPTY_BYTES;
    view = EMPTY_BUFFER;
  }
}

function fail(): never {
  throw NOT_DECODABLE;
}

/** One tag; every field this decoder knows has a one-byte tag, so longer ones are not its own. */
function tag(): number {
  const t = buf[pos++] as number;
  if (t >= 0x80 || t < 8 || pos > len) fail();
  return t;
}

/** A uint32 varint exactly as the library reads it (bits past 32 dropped). */
function u32(): number {
  let b = buf[pos++] as number;
  if ((b & 0x80) === 0) {
    if (pos > len) fail();
    return b;
  }
  let result = b & 0x7f;
  b = buf[pos++] as number;
  result |= (b & 0x7f) << 7;
  if ((b & 0x80) === 0) {
    if (pos > len) fail();
    return result;
  }
  b = buf[pos++] as number;
  result |= (b & 0x7f) << 14;
  if ((b & 0x80) === 0) {
    if (pos > len) fail();
    return result;
  }
  b = buf[pos++] as number;
  result |= (b & 0x7f) << 21;
  if ((b & 0x80) === 0) {
    if (pos > len) fail();
    return result;
  }
  b = buf[pos++] as number;
  result |= (b & 0x0f) << 28;
  for (let read = 5; (b & 0x80) !== 0 && read < 10; read++) b = buf[pos++] as number;
  if ((b & 0x80) !== 0 || pos > len) fail();
  return result >>> 0;
}

let lo = 0;
let hi = 0;

/** A 64-bit varint into {@link lo} and {@link hi}, as the library's `varint64read`. */
function varint64(): void {
  let p = pos;
  lo = 0;
  hi = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    const b = buf[p++] as number;
    lo |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) {
      pos = p;
      if (pos > len) fail();
      return;
    }
  }
  const middle = buf[p++] as number;
  lo |= (middle & 0x0f) << 28;
  hi = (middle & 0x70) >> 4;
  if ((middle & 0x80) === 0) {
    pos = p;
    if (pos > len) fail();
    return;
  }
  for (let shift = 3; shift <= 31; shift += 7) {
    const b = buf[p++] as number;
    hi |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) {
      pos = p;
      if (pos > len) fail();
      return;
    }
  }
  fail();
}

function int64(): bigint {
  varint64();
  if (hi === 0 && lo >= 0) return BigInt(lo);
  scratch.setInt32(0, lo, true);
  scratch.setInt32(4, hi, true);
  return scratch.getBigInt64(0, true);
}

function bool(): boolean {
  const b = buf[pos] as number;
  if (b < 0x80) {
    pos++;
    return b !== 0;
  }
  varint64();
  return lo !== 0 || hi !== 0;
}

function double(): number {
  if (pos + 8 > len) fail();
  for (let i = 0; i < 8; i++) scratchBytes[i] = buf[pos + i] as number;
  pos += 8;
  return scratch.getFloat64(0, true);
}

/** The end of a length-delimited field whose length is next. */
function delimitedEnd(): number {
  const n = u32();
  const end = pos + n;
  if (end > len) fail();
  return end;
}

function string(): string {
  const end = delimitedEnd();
  const start = pos;
  pos = end;
  return text(start, end);
}

/** The UTF-8 text in `buf` from `start` to `end`. */
function text(start: number, end: number): string {
  if (end - start <= SHORT_STRING) {
    let ascii = 0;
    for (let i = start; i < end; i++) ascii |= buf[i] as number;
    if (ascii >= 0x80) return utf8Slice(start, end);
    return shortAscii(start, end - start);
  }
  for (let i = start; i < end; i++) if ((buf[i] as number) >= 0x80) return utf8Slice(start, end);
  return view.toString("latin1", start, end);
}

/**
 * Up to {@link SHORT_STRING} ASCII bytes of `buf` from `at` as one string, made by one call
 * (building it a character at a time made a string per character).
 */
function shortAscii(at: number, n: number): string {
  const b = buf;
  const f = String.fromCharCode;
  switch (n) {
    case 1:
      return f(b[at] as number);
    case 2:
      return f(b[at] as number, b[at + 1] as number);
    case 3:
      return f(b[at] as number, b[at + 1] as number, b[at + 2] as number);
    case 4:
      return f(b[at] as number, b[at + 1] as number, b[at + 2] as number, b[at + 3] as number);
    case 5:
      return f(
        b[at] as number,
        b[at + 1] as number,
        b[at + 2] as number,
        b[at + 3] as number,
        b[at + 4] as number,
      );
    case 6:
      return f(
        b[at] as number,
        b[at + 1] as number,
        b[at + 2] as number,
        b[at + 3] as number,
        b[at + 4] as number,
        b[at + 5] as number,
      );
    case 7:
      return f(
        b[at] as number,
        b[at + 1] as number,
        b[at + 2] as number,
        b[at + 3] as number,
        b[at + 4] as number,
        b[at + 5] as number,
        b[at + 6] as number,
      );
    case 8:
      return f(
        b[at] as number,
        b[at + 1] as number,
        b[at + 2] as number,
        b[at + 3] as number,
        b[at + 4] as number,
        b[at + 5] as number,
        b[at + 6] as number,
        b[at + 7] as number,
      );
    case 9:
      return f(
        b[at] as number,
        b[at + 1] as number,
        b[at + 2] as number,
        b[at + 3] as number,
        b[at + 4] as number,
        b[at + 5] as number,
        b[at + 6] as number,
        b[at + 7] as number,
        b[at + 8] as number,
      );
    case 10:
      return f(
        b[at] as number,
        b[at + 1] as number,
        b[at + 2] as number,
        b[at + 3] as number,
        b[at + 4] as number,
        b[at + 5] as number,
        b[at + 6] as number,
        b[at + 7] as number,
        b[at + 8] as number,
        b[at + 9] as number,
      );
    case 11:
      return f(
        b[at] as number,
        b[at + 1] as number,
        b[at + 2] as number,
        b[at + 3] as number,
        b[at + 4] as number,
        b[at + 5] as number,
        b[at + 6] as number,
        b[at + 7] as number,
        b[at + 8] as number,
        b[at + 9] as number,
        b[at + 10] as number,
      );
    case 12:
      return f(
        b[at] as number,
        b[at + 1] as number,
        b[at + 2] as number,
        b[at + 3] as number,
        b[at + 4] as number,
        b[at + 5] as number,
        b[at + 6] as number,
        b[at + 7] as number,
        b[at + 8] as number,
        b[at + 9] as number,
        b[at + 10] as number,
        b[at + 11] as number,
      );
    default:
      return "";
  }
}

function utf8Slice(start: number, end: number): string {
  try {
    return utf8.decode(buf.subarray(start, end));
  } catch {
    // Invalid UTF-8: the library throws its own error for it.
    return fail();
  }
}

function bytes(): Uint8Array {
  const end = delimitedEnd();
  const start = pos;
  pos = end;
  return buf.subarray(start, end);
}

/** Repeated uint32, packed or not. */
function u32s(into: number[], wireType: number): void {
  if (wireType === WT_VARINT) {
    into.push(u32());
    return;
  }
  if (wireType !== WT_LEN) fail();
  const end = delimitedEnd();
  while (pos < end) into.push(u32());
  if (pos !== end) fail();
}

function expect(wireType: number, wanted: number): void {
  if (wireType !== wanted) fail();
}

/** Requires a message's fields to end where its length said. */
function closed(end: number): void {
  if (pos !== end) fail();
}

function walEvent(): WalEvent {
  const event: WalEvent = {
    $typeName: "entdb.v1.WalEvent",
    tenant: "",
    actor: "",
    idempotencyKey: "",
    schemaVersion: 0,
    body: { case: undefined },
    actorAdmin: false,
    openAccess: false,
    actorGroups: [],
    planDigest: EMPTY_BYTES,
  };
  while (pos < len) {
    const t = tag();
    const wt = t & 7;
    switch (t >>> 3) {
      case 1:
        expect(wt, WT_LEN);
        event.tenant = string();
        break;
      case 2:
        expect(wt, WT_LEN);
        event.actor = string();
        break;
      case 3:
        expect(wt, WT_LEN);
        event.idempotencyKey = string();
        break;
      case 4:
        expect(wt, WT_VARINT);
        event.schemaVersion = u32();
        break;
      case 5:
        expect(wt, WT_LEN);
        if (event.ingressTime !== undefined) fail();
        event.ingressTime = timestamp(delimitedEnd());
        break;
      case 6:
        expect(wt, WT_LEN);
        if (event.body.case === "plan") fail();
        event.body = { case: "plan", value: writePlan(delimitedEnd()) };
        break;
      case 9:
        expect(wt, WT_VARINT);
        event.actorAdmin = bool();
        break;
      case 10:
        expect(wt, WT_VARINT);
        event.openAccess = bool();
        break;
      case 11:
        expect(wt, WT_LEN);
        event.actorGroups.push(string());
        break;
      case 12:
        expect(wt, WT_LEN);
        event.planDigest = bytes();
        break;
      default:
        fail();
    }
  }
  return event;
}

function executePlanRequest(): ExecutePlanRequest {
  const req: ExecutePlanRequest = {
    $typeName: "entdb.v1.ExecutePlanRequest",
    tenant: "",
    operations: [],
    idempotencyKey: "",
    noWait: false,
  };
  while (pos < len) {
    const t = tag();
    const wt = t & 7;
    switch (t >>> 3) {
      case 1:
        expect(wt, WT_LEN);
        req.tenant = string();
        break;
      case 2:
        expect(wt, WT_LEN);
        req.operations.push(operation(delimitedEnd()));
        break;
      case 3:
        expect(wt, WT_LEN);
        req.idempotencyKey = string();
        break;
      case 4:
        expect(wt, WT_VARINT);
        req.noWait = bool();
        break;
      default:
        fail();
    }
  }
  return req;
}

function queryNodesRequest(): QueryNodesRequest {
  const req: QueryNodesRequest = {
    $typeName: "entdb.v1.QueryNodesRequest",
    tenant: "",
    typeId: 0,
    filters: [],
    limit: 0,
    cursor: "",
  };
  while (pos < len) {
    const t = tag();
    const wt = t & 7;
    switch (t >>> 3) {
      case 1:
        expect(wt, WT_LEN);
        req.tenant = string();
        break;
      case 2:
        expect(wt, WT_VARINT);
        req.typeId = u32();
        break;
      case 3:
        expect(wt, WT_LEN);
        req.filters.push(filter(delimitedEnd()));
        break;
      case 4:
        expect(wt, WT_LEN);
        if (req.orderBy !== undefined) fail();
        req.orderBy = orderBy(delimitedEnd());
        break;
      case 5:
        expect(wt, WT_VARINT);
        req.limit = u32();
        break;
      case 6:
        expect(wt, WT_LEN);
        req.cursor = string();
        break;
      case 7:
        expect(wt, WT_LEN);
        if (req.afterPosition !== undefined) fail();
        req.afterPosition = logPosition(delimitedEnd());
        break;
      default:
        fail();
    }
  }
  return req;
}

function filter(end: number): Filter {
  const f: Filter = { $typeName: "entdb.v1.Filter", fieldId: 0, op: 0, values: [] };
  while (pos < end) {
    const t = tag();
    const wt = t & 7;
    switch (t >>> 3) {
      case 1:
        expect(wt, WT_VARINT);
        f.fieldId = u32();
        break;
      case 2:
        // An enum is read as an int32, as the library reads it (any number is kept).
        expect(wt, WT_VARINT);
        f.op = u32() | 0;
        break;
      case 3:
        expect(wt, WT_LEN);
        f.values.push(valueMessage(delimitedEnd(), 1));
        break;
      default:
        fail();
    }
  }
  closed(end);
  return f;
}

function orderBy(end: number): OrderBy {
  const o: OrderBy = { $typeName: "entdb.v1.OrderBy", fieldId: 0, descending: false };
  while (pos < end) {
    const t = tag();
    expect(t & 7, WT_VARINT);
    switch (t >>> 3) {
      case 1:
        o.fieldId = u32();
        break;
      case 2:
        o.descending = bool();
        break;
      default:
        fail();
    }
  }
  closed(end);
  return o;
}

function logPosition(end: number): LogPosition {
  const p: LogPosition = { $typeName: "entdb.v1.LogPosition", partition: 0, offset: 0n };
  while (pos < end) {
    const t = tag();
    expect(t & 7, WT_VARINT);
    switch (t >>> 3) {
      case 1:
        p.partition = u32();
        break;
      case 2:
        p.offset = int64();
        break;
      default:
        fail();
    }
  }
  closed(end);
  return p;
}

function timestamp(end: number): Timestamp {
  const ts: Timestamp = { $typeName: "google.protobuf.Timestamp", seconds: 0n, nanos: 0 };
  while (pos < end) {
    const t = tag();
    expect(t & 7, WT_VARINT);
    switch (t >>> 3) {
      case 1:
        ts.seconds = int64();
        break;
      case 2:
        ts.nanos = u32() | 0;
        break;
      default:
        fail();
    }
  }
  closed(end);
  return ts;
}

function writePlan(end: number): WritePlan {
  const plan: WritePlan = { $typeName: "entdb.v1.WritePlan", operations: [] };
  while (pos < end) {
    const t = tag();
    if (t !== ((1 << 3) | WT_LEN)) fail();
    plan.operations.push(operation(delimitedEnd()));
  }
  closed(end);
  return plan;
}

function operation(end: number): Operation {
  const o: Operation = { $typeName: "entdb.v1.Operation", op: { case: undefined } };
  while (pos < end) {
    const t = tag();
    expect(t & 7, WT_LEN);
    switch (t >>> 3) {
      case 1:
        if (o.op.case === "createNode") fail();
        o.op = { case: "createNode", value: createNode(delimitedEnd()) };
        break;
      case 2:
        if (o.op.case === "updateNode") fail();
        o.op = { case: "updateNode", value: updateNode(delimitedEnd()) };
        break;
      case 3:
        if (o.op.case === "deleteNode") fail();
        o.op = { case: "deleteNode", value: deleteNode(delimitedEnd()) };
        break;
      case 4:
        if (o.op.case === "createEdge") fail();
        o.op = { case: "createEdge", value: createEdge(delimitedEnd()) };
        break;
      case 5:
        if (o.op.case === "deleteEdge") fail();
        o.op = { case: "deleteEdge", value: deleteEdge(delimitedEnd()) };
        break;
      default:
        fail();
    }
  }
  closed(end);
  return o;
}

/** A plain value's kind, as `Value.kind.case` names it. */
export type PlainKind = "stringValue" | "refValue" | "intValue" | "boolValue" | "enumValue";

/**
 * A `CreateNode` whose field values were kept as read (see {@link decodeWalEventLean}):
 * `entries` holds, per field in ascending field id order, the field id, the value's kind
 * and its value (a string, a bigint, a boolean or an enum number), three slots a field.
 * `fields` is made from them at its first read, as `fromBinary` makes it.
 */
export class LeanCreateNode implements CreateNode {
  readonly $typeName = "entdb.v1.CreateNode" as const;
  typeId: number;
  alias: string;
  ifAbsentOn: number[];
  id: string;
  readonly entries: readonly (number | string | bigint | boolean)[];
  #fields: { [key: number]: Value } | undefined;

  constructor(
    typeId: number,
    alias: string,
    ifAbsentOn: number[],
    id: string,
    entries: readonly (number | string | bigint | boolean)[],
  ) {
    this.typeId = typeId;
    this.alias = alias;
    this.ifAbsentOn = ifAbsentOn;
    this.id = id;
    this.entries = entries;
  }

  get fields(): { [key: number]: Value } {
    if (this.#fields === undefined) {
      const fields: { [key: number]: Value } = {};
      const e = this.entries;
      for (let i = 0; i < e.length; i += 3) {
        fields[e[i] as number] = {
          $typeName: "entdb.v1.Value",
          kind: { case: e[i + 1], value: e[i + 2] } as Value["kind"],
        };
      }
      this.#fields = fields;
    }
    return this.#fields;
  }

  set fields(fields: { [key: number]: Value }) {
    this.#fields = fields;
  }
}

function createNode(end: number): CreateNode {
  if (lean) {
    const start = pos;
    const m = leanCreateNode(end);
    if (m !== undefined) return m;
    pos = start;
  }
  const m: CreateNode = {
    $typeName: "entdb.v1.CreateNode",
    typeId: 0,
    alias: "",
    fields: {},
    ifAbsentOn: [],
    id: "",
  };
  while (pos < end) {
    const t = tag();
    const wt = t & 7;
    switch (t >>> 3) {
      case 1:
        expect(wt, WT_VARINT);
        m.typeId = u32();
        break;
      case 2:
        expect(wt, WT_LEN);
        m.alias = string();
        break;
      case 3:
        expect(wt, WT_LEN);
        mapEntry(m.fields);
        break;
      case 4:
        u32s(m.ifAbsentOn, wt);
        break;
      case 5:
        expect(wt, WT_LEN);
        m.id = string();
        break;
      default:
        fail();
    }
  }
  closed(end);
  return m;
}

/**
 * The create at `pos` as a {@link LeanCreateNode}, or undefined (then `pos` is anywhere
 * inside it) if it is not one: a field of another kind, a map entry or a value not in
 * the form the server writes (key, then a value of one kind field), field ids not
 * strictly ascending. Its other fields are read as {@link createNode} reads them.
 */
function leanCreateNode(end: number): LeanCreateNode | undefined {
  let typeId = 0;
  let alias = "";
  const ifAbsentOn: number[] = [];
  let id = "";
  const entries: (number | string | bigint | boolean)[] = [];
  let last = -1;
  while (pos < end) {
    const t = tag();
    const wt = t & 7;
    switch (t >>> 3) {
      case 1:
        expect(wt, WT_VARINT);
        typeId = u32();
        break;
      case 2:
        expect(wt, WT_LEN);
        alias = string();
        break;
      case 3: {
        expect(wt, WT_LEN);
        const entryEnd = delimitedEnd();
        if (pos >= entryEnd || tag() !== ((1 << 3) | WT_VARINT)) return undefined;
        const key = u32();
        if (key <= last) return undefined;
        last = key;
        if (pos >= entryEnd || tag() !== ((2 << 3) | WT_LEN)) return undefined;
        const valueEnd = delimitedEnd();
        if (valueEnd !== entryEnd || pos === valueEnd) return undefined;
        const vt = tag();
        let kind: PlainKind;
        let value: string | bigint | boolean | number;
        switch (vt) {
          case (2 << 3) | WT_LEN:
            kind = "stringValue";
            value = string();
            break;
          case (9 << 3) | WT_LEN:
            kind = "refValue";
            value = string();
            break;
          case (3 << 3) | WT_VARINT:
            kind = "intValue";
            value = int64();
            break;
          case (5 << 3) | WT_VARINT:
            kind = "boolValue";
            value = bool();
            break;
          case (8 << 3) | WT_VARINT:
            kind = "enumValue";
            value = u32() | 0;
            break;
          default:
            return undefined;
        }
        if (pos !== valueEnd) return undefined;
        entries.push(key, kind, value);
        break;
      }
      case 4:
        u32s(ifAbsentOn, wt);
        break;
      case 5:
        expect(wt, WT_LEN);
        id = string();
        break;
      default:
        fail();
    }
  }
  closed(end);
  return new LeanCreateNode(typeId, alias, ifAbsentOn, id, entries);
}

function updateNode(end: number): UpdateNode {
  const m: UpdateNode = {
    $typeName: "entdb.v1.UpdateNode",
    typeId: 0,
    id: "",
    set: {},
    clear: [],
  };
  while (pos < end) {
    const t = tag();
    const wt = t & 7;
    switch (t >>> 3) {
      case 1:
        expect(wt, WT_VARINT);
        m.typeId = u32();
        break;
      case 2:
        expect(wt, WT_LEN);
        m.id = string();
        break;
      case 3:
        expect(wt, WT_LEN);
        mapEntry(m.set);
        break;
      case 4:
        u32s(m.clear, wt);
        break;
      case 5:
        expect(wt, WT_LEN);
        if (m.precondition !== undefined) fail();
        m.precondition = precondition(delimitedEnd());
        break;
      default:
        fail();
    }
  }
  closed(end);
  return m;
}

function deleteNode(end: number): DeleteNode {
  const m: DeleteNode = { $typeName: "entdb.v1.DeleteNode", typeId: 0, id: "" };
  while (pos < end) {
    const t = tag();
    const wt = t & 7;
    switch (t >>> 3) {
      case 1:
        expect(wt, WT_VARINT);
        m.typeId = u32();
        break;
      case 2:
        expect(wt, WT_LEN);
        m.id = string();
        break;
      case 3:
        expect(wt, WT_LEN);
        if (m.precondition !== undefined) fail();
        m.precondition = precondition(delimitedEnd());
        break;
      default:
        fail();
    }
  }
  closed(end);
  return m;
}

function createEdge(end: number): CreateEdge {
  const m: CreateEdge = {
    $typeName: "entdb.v1.CreateEdge",
    edgeTypeId: 0,
    fromId: "",
    toId: "",
    props: {},
  };
  while (pos < end) {
    const t = tag();
    const wt = t & 7;
    switch (t >>> 3) {
      case 1:
        expect(wt, WT_VARINT);
        m.edgeTypeId = u32();
        break;
      case 2:
        expect(wt, WT_LEN);
        m.fromId = string();
        break;
      case 3:
        expect(wt, WT_LEN);
        m.toId = string();
        break;
      case 4:
        expect(wt, WT_LEN);
        mapEntry(m.props);
        break;
      default:
        fail();
    }
  }
  closed(end);
  return m;
}

function deleteEdge(end: number): DeleteEdge {
  const m: DeleteEdge = { $typeName: "entdb.v1.DeleteEdge", edgeTypeId: 0, fromId: "", toId: "" };
  while (pos < end) {
    const t = tag();
    const wt = t & 7;
    switch (t >>> 3) {
      case 1:
        expect(wt, WT_VARINT);
        m.edgeTypeId = u32();
        break;
      case 2:
        expect(wt, WT_LEN);
        m.fromId = string();
        break;
      case 3:
        expect(wt, WT_LEN);
        m.toId = string();
        break;
      default:
        fail();
    }
  }
  closed(end);
  return m;
}

function precondition(end: number): Precondition {
  const m: Precondition = { $typeName: "entdb.v1.Precondition", fieldsEqual: {} };
  while (pos < end) {
    const t = tag();
    const wt = t & 7;
    switch (t >>> 3) {
      case 1:
        expect(wt, WT_VARINT);
        m.version = int64();
        break;
      case 2:
        expect(wt, WT_LEN);
        mapEntry(m.fieldsEqual);
        break;
      default:
        fail();
    }
  }
  closed(end);
  return m;
}

/** One entry of a `map<uint32, Value>` into `record` (a repeated key replaces, as in the library). */
function mapEntry(record: { [key: number]: Value }): void {
  const end = delimitedEnd();
  let key = 0;
  let value: Value | undefined;
  while (pos < end) {
    const t = tag();
    if (t === ((1 << 3) | WT_VARINT)) key = u32();
    else if (t === ((2 << 3) | WT_LEN) && value === undefined)
      value = valueMessage(delimitedEnd(), 1);
    else fail();
  }
  closed(end);
  record[key] = value ?? { $typeName: "entdb.v1.Value", kind: { case: undefined } };
}

function valueMessage(end: number, depth: number): Value {
  if (depth > MAX_DEPTH) fail();
  // The message is made once its kind is read: an empty kind made first and replaced
  // was one object of garbage per value.
  let kind: Value["kind"] | undefined;
  while (pos < end) {
    const t = tag();
    const wt = t & 7;
    switch (t >>> 3) {
      case 1:
        expect(wt, WT_VARINT);
        kind = { case: "nullValue", value: bool() };
        break;
      case 2:
        expect(wt, WT_LEN);
        kind = { case: "stringValue", value: string() };
        break;
      case 3:
        expect(wt, WT_VARINT);
        kind = { case: "intValue", value: int64() };
        break;
      case 4:
        expect(wt, WT_BIT64);
        kind = { case: "floatValue", value: double() };
        break;
      case 5:
        expect(wt, WT_VARINT);
        kind = { case: "boolValue", value: bool() };
        break;
      case 6:
        expect(wt, WT_LEN);
        if (kind?.case === "timestampValue") fail();
        kind = { case: "timestampValue", value: timestamp(delimitedEnd()) };
        break;
      case 7:
        expect(wt, WT_LEN);
        kind = { case: "bytesValue", value: bytes() };
        break;
      case 8:
        expect(wt, WT_VARINT);
        kind = { case: "enumValue", value: u32() | 0 };
        break;
      case 9:
        expect(wt, WT_LEN);
        kind = { case: "refValue", value: string() };
        break;
      case 10:
        expect(wt, WT_LEN);
        kind = { case: "jsonValue", value: string() };
        break;
      case 11:
        expect(wt, WT_LEN);
        if (kind?.case === "listValue") fail();
        kind = { case: "listValue", value: valueList(delimitedEnd(), depth + 1) };
        break;
      default:
        fail();
    }
  }
  closed(end);
  return { $typeName: "entdb.v1.Value", kind: kind ?? { case: undefined } };
}

function valueList(end: number, depth: number): ValueList {
  const m: ValueList = { $typeName: "entdb.v1.ValueList", values: [] };
  while (pos < end) {
    if (tag() !== ((1 << 3) | WT_LEN)) fail();
    m.values.push(valueMessage(delimitedEnd(), depth + 1));
  }
  closed(end);
  return m;
}
