/**
 * The binary encoding of `entdb.v1.Node` and `entdb.v1.Edge` messages, byte for byte
 * what `toBinary` writes, in one sized buffer. Reads answer up to thousands of nodes a
 * call, and `toBinary`'s general writer (a descriptor walk, a fork and join per nested
 * message, a `TextEncoder` call per string) cost more per node than reading and decoding
 * the row. This encoder knows the two messages' fields (and those of `Value`,
 * `ValueList` and `Timestamp` inside them): it sizes the message, then writes it.
 *
 * It covers only what the store builds: a message with unknown fields, a value of the
 * wrong type or out of range is not encoded here ({@link encodeNodeLike} returns
 * undefined) and the caller uses `toBinary`, which encodes it or throws its own error.
 * `node-wire.test.ts` checks the bytes against `toBinary` for every kind of value.
 */

import type { Edge, Node } from "../../generated/entdb/v1/entdb_pb.js";
import type { Value } from "../../generated/entdb/v1/values_pb.js";

/** A message this module does not encode; the caller falls back to `toBinary`. */
class NotEncodable extends Error {}
const NOT_ENCODABLE = new NotEncodable("not encodable here");

const TWO_POW_32 = 2 ** 32;
const MAX_UINT32 = TWO_POW_32 - 1;

/** Bytes of `n` (an unsigned 32-bit integer) as a varint. */
function uint32Size(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  return 5;
}

/** Bytes of a signed 32-bit integer as protobuf writes it (negatives take 10). */
function int32Size(n: number): number {
  return n < 0 ? 10 : uint32Size(n);
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_INT64 = -(2n ** 63n);
const MAX_INT64 = 2n ** 63n - 1n;

/** Bytes of a non-negative safe integer as a varint. */
function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

/**
 * Bytes of a signed 64-bit integer's two's complement as a varint. Versions, seconds
 * and most stored integers are small and positive: those are counted as numbers, since
 * every bigint operation allocates.
 */
function int64Size(n: bigint): number {
  if (n >= 0n && n <= MAX_SAFE) return varintSize(Number(n));
  if (n < 0n) return 10;
  let u = n;
  let size = 1;
  while (u >= 0x80n) {
    u >>= 7n;
    size++;
  }
  return size;
}

/** UTF-8 length of `s` (lone surrogates count as U+FFFD, as `TextEncoder` writes them). */
function utf8Length(s: string): number {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, "utf8");
  }
  return s.length;
}

function checkUint32(n: unknown): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > MAX_UINT32) throw NOT_ENCODABLE;
  return n;
}

function checkInt32(n: unknown): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < -0x80000000 || n > 0x7fffffff)
    throw NOT_ENCODABLE;
  return n;
}

function checkInt64(n: unknown): bigint {
  if (typeof n !== "bigint" || n < MIN_INT64 || n > MAX_INT64) throw NOT_ENCODABLE;
  return n;
}

function checkString(s: unknown): string {
  if (typeof s !== "string") throw NOT_ENCODABLE;
  return s;
}

/** A message's own fields only: one with unknown fields goes to `toBinary`. */
function checkKnown(message: object, typeName: string): void {
  const m = message as { $typeName?: unknown; $unknown?: unknown };
  if (m.$typeName !== typeName || m.$unknown !== undefined) throw NOT_ENCODABLE;
}

interface Timestamp {
  readonly seconds: bigint;
  readonly nanos: number;
}

/**
 * The lengths the writing pass needs (of strings and nested messages), recorded by the
 * sizing pass in the order the writing pass uses them, so nothing is measured twice.
 * Encoding is synchronous, so one array serves every call.
 */
const lengths: number[] = [];
let next = 0;

/** Reserves the slot of a length known only after its content is sized. */
function reserve(): number {
  lengths.push(0);
  return lengths.length - 1;
}

function stringSize(s: unknown): number {
  const length = utf8Length(checkString(s));
  lengths.push(length);
  return 1 + uint32Size(length) + length;
}

function timestampSize(t: Timestamp): number {
  checkKnown(t, "google.protobuf.Timestamp");
  const seconds = checkInt64(t.seconds);
  const nanos = checkInt32(t.nanos);
  const size =
    (seconds !== 0n ? 1 + int64Size(seconds) : 0) + (nanos !== 0 ? 1 + int32Size(nanos) : 0);
  lengths.push(size);
  return 1 + uint32Size(size) + size;
}

/** Size of a length-delimited field's tag (one byte: fields 1-15), length and content. */
function delimited(contentSize: number): number {
  return 1 + uint32Size(contentSize) + contentSize;
}

/** Size of a value's content (without its own tag and length). */
function valueSize(v: Value): number {
  checkKnown(v, "entdb.v1.Value");
  const kind = v.kind;
  switch (kind.case) {
    case undefined:
      return 0;
    case "nullValue":
    case "boolValue":
      if (typeof kind.value !== "boolean") throw NOT_ENCODABLE;
      return 2;
    case "stringValue":
    case "refValue":
    case "jsonValue":
      return stringSize(kind.value);
    case "intValue":
      return 1 + int64Size(checkInt64(kind.value));
    case "floatValue":
      if (typeof kind.value !== "number") throw NOT_ENCODABLE;
      return 9;
    case "timestampValue":
      return timestampSize(kind.value);
    case "bytesValue":
      if (!(kind.value instanceof Uint8Array)) throw NOT_ENCODABLE;
      return delimited(kind.value.byteLength);
    case "enumValue":
      return 1 + int32Size(checkInt32(kind.value));
    case "listValue": {
      checkKnown(kind.value, "entdb.v1.ValueList");
      const slot = reserve();
      let size = 0;
      for (const item of kind.value.values) {
        const itemSlot = reserve();
        const itemSize = valueSize(item);
        lengths[itemSlot] = itemSize;
        size += delimited(itemSize);
      }
      lengths[slot] = size;
      return delimited(size);
    }
    default:
      throw NOT_ENCODABLE;
  }
}

type ValueMap = { readonly [key: number]: Value };

/** Size of a `map<uint32, Value>` field: per entry a key (field 1) and a value (field 2, always written). */
function mapSize(map: ValueMap): number {
  let size = 0;
  for (const name in map) {
    const key = Number(name);
    if (String(key) !== name) throw NOT_ENCODABLE;
    checkUint32(key);
    const entrySlot = reserve();
    const valueSlot = reserve();
    const inner = valueSize(map[key] as Value);
    lengths[valueSlot] = inner;
    const entry = 1 + uint32Size(key) + delimited(inner);
    lengths[entrySlot] = entry;
    size += delimited(entry);
  }
  return size;
}

/** Whether a message field with explicit presence is set, as `toBinary` decides it. */
function isSet(message: object, name: string, value: unknown): boolean {
  return value !== undefined && Object.hasOwn(message, name);
}

function nodeSize(n: Node): number {
  checkKnown(n, "entdb.v1.Node");
  let size = 0;
  if (checkString(n.id) !== "") size += stringSize(n.id);
  if (checkUint32(n.typeId) !== 0) size += 1 + uint32Size(n.typeId);
  size += mapSize(n.fields);
  if (checkInt64(n.version) !== 0n) size += 1 + int64Size(n.version);
  if (isSet(n, "createdAt", n.createdAt)) size += timestampSize(n.createdAt as Timestamp);
  if (isSet(n, "updatedAt", n.updatedAt)) size += timestampSize(n.updatedAt as Timestamp);
  if (checkString(n.owner) !== "") size += stringSize(n.owner);
  return size;
}

function edgeSize(e: Edge): number {
  checkKnown(e, "entdb.v1.Edge");
  let size = 0;
  if (checkUint32(e.edgeTypeId) !== 0) size += 1 + uint32Size(e.edgeTypeId);
  if (checkString(e.fromId) !== "") size += stringSize(e.fromId);
  if (checkString(e.toId) !== "") size += stringSize(e.toId);
  size += mapSize(e.props);
  if (isSet(e, "createdAt", e.createdAt)) size += timestampSize(e.createdAt as Timestamp);
  return size;
}

/** Writes into a buffer sized beforehand; every write advances `pos`. */
class Writer {
  pos = 0;
  readonly buf: Buffer;
  readonly view: DataView;
  constructor(buf: Buffer) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  uint32(n: number): void {
    const buf = this.buf;
    while (n > 0x7f) {
      buf[this.pos++] = (n & 0x7f) | 0x80;
      n = n >>> 7;
    }
    buf[this.pos++] = n;
  }
  int32(n: number): void {
    if (n >= 0) this.uint32(n);
    else this.int64(BigInt(n));
  }
  int64(n: bigint): void {
    const buf = this.buf;
    if (n >= 0n && n <= MAX_SAFE) {
      let v = Number(n);
      while (v >= 0x80) {
        buf[this.pos++] = (v % 0x80) | 0x80;
        v = Math.floor(v / 0x80);
      }
      buf[this.pos++] = v;
      return;
    }
    let u = BigInt.asUintN(64, n);
    while (u >= 0x80n) {
      buf[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    buf[this.pos++] = Number(u);
  }
  /** A length recorded by the sizing pass. */
  length(): number {
    const length = lengths[next++] as number;
    this.uint32(length);
    return length;
  }
  string(tag: number, s: string): void {
    this.buf[this.pos++] = tag;
    const length = this.length();
    // An ASCII string (its UTF-8 length is its length) is the same bytes in latin1,
    // which Buffer writes without an encoder.
    this.buf.write(s, this.pos, length, length === s.length ? "latin1" : "utf8");
    this.pos += length;
  }
  timestamp(tag: number, t: Timestamp): void {
    this.buf[this.pos++] = tag;
    this.length();
    if (t.seconds !== 0n) {
      this.buf[this.pos++] = 0x08;
      this.int64(t.seconds);
    }
    if (t.nanos !== 0) {
      this.buf[this.pos++] = 0x10;
      this.int32(t.nanos);
    }
  }
  value(v: Value): void {
    const kind = v.kind;
    switch (kind.case) {
      case undefined:
        return;
      case "nullValue":
        this.buf[this.pos++] = 0x08;
        this.buf[this.pos++] = kind.value ? 1 : 0;
        return;
      case "stringValue":
        this.string(0x12, kind.value);
        return;
      case "intValue":
        this.buf[this.pos++] = 0x18;
        this.int64(kind.value);
        return;
      case "floatValue":
        this.buf[this.pos++] = 0x21;
        this.view.setFloat64(this.pos, kind.value, true);
        this.pos += 8;
        return;
      case "boolValue":
        this.buf[this.pos++] = 0x28;
        this.buf[this.pos++] = kind.value ? 1 : 0;
        return;
      case "timestampValue":
        this.timestamp(0x32, kind.value);
        return;
      case "bytesValue":
        this.buf[this.pos++] = 0x3a;
        this.uint32(kind.value.byteLength);
        this.buf.set(kind.value, this.pos);
        this.pos += kind.value.byteLength;
        return;
      case "enumValue":
        this.buf[this.pos++] = 0x40;
        this.int32(kind.value);
        return;
      case "refValue":
        this.string(0x4a, kind.value);
        return;
      case "jsonValue":
        this.string(0x52, kind.value);
        return;
      case "listValue":
        this.buf[this.pos++] = 0x5a;
        this.length();
        for (const item of kind.value.values) {
          this.buf[this.pos++] = 0x0a;
          this.length();
          this.value(item);
        }
        return;
    }
  }
  map(tag: number, map: ValueMap): void {
    for (const name in map) {
      const key = Number(name);
      this.buf[this.pos++] = tag;
      this.length();
      this.buf[this.pos++] = 0x08;
      this.uint32(key);
      this.buf[this.pos++] = 0x12;
      this.length();
      this.value(map[key] as Value);
    }
  }
  node(n: Node): void {
    if (n.id !== "") this.string(0x0a, n.id);
    if (n.typeId !== 0) {
      this.buf[this.pos++] = 0x10;
      this.uint32(n.typeId);
    }
    this.map(0x1a, n.fields);
    if (n.version !== 0n) {
      this.buf[this.pos++] = 0x20;
      this.int64(n.version);
    }
    if (isSet(n, "createdAt", n.createdAt)) this.timestamp(0x2a, n.createdAt as Timestamp);
    if (isSet(n, "updatedAt", n.updatedAt)) this.timestamp(0x32, n.updatedAt as Timestamp);
    if (n.owner !== "") this.string(0x3a, n.owner);
  }
  edge(e: Edge): void {
    if (e.edgeTypeId !== 0) {
      this.buf[this.pos++] = 0x08;
      this.uint32(e.edgeTypeId);
    }
    if (e.fromId !== "") this.string(0x12, e.fromId);
    if (e.toId !== "") this.string(0x1a, e.toId);
    this.map(0x22, e.props);
    if (isSet(e, "createdAt", e.createdAt)) this.timestamp(0x2a, e.createdAt as Timestamp);
  }
}

/** Which message a field holds, for {@link encodeNodeLike}. */
export type NodeLikeKind = "node" | "edge";

/**
 * `messages` as the repeated (or singular) field `fieldNo` (1-15) of the message around
 * them: for each one its tag, its length and its bytes, exactly as `toBinary` writes
 * that field. Undefined if any of them is not encodable here.
 */
export function encodeNodeLike(
  kind: NodeLikeKind,
  fieldNo: number,
  messages: readonly (Node | Edge)[],
): Uint8Array | undefined {
  if (fieldNo < 1 || fieldNo > 15) return undefined;
  const tag = (fieldNo << 3) | 2;
  lengths.length = 0;
  next = 0;
  let total = 0;
  try {
    for (const m of messages) {
      const slot = reserve();
      const size = kind === "node" ? nodeSize(m as Node) : edgeSize(m as Edge);
      lengths[slot] = size;
      total += delimited(size);
    }
  } catch (e) {
    if (e === NOT_ENCODABLE) return undefined;
    throw e;
  }
  const w = new Writer(Buffer.allocUnsafe(total));
  for (const m of messages) {
    w.buf[w.pos++] = tag;
    w.length();
    if (kind === "node") w.node(m as Node);
    else w.edge(m as Edge);
  }
  lengths.length = 0;
  return new Uint8Array(w.buf.buffer, w.buf.byteOffset, w.buf.byteLength);
}
