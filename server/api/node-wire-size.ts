/**
 * The sizing pass of `node-wire.ts`: the bytes of each `entdb.v1.Node` / `Edge` (and the
 * `Value`, `ValueList` and `Timestamp` inside), checking on the way that the message is
 * one this encoder writes exactly as `toBinary` would ({@link NOT_ENCODABLE} otherwise).
 * The lengths the writing pass needs are recorded in {@link lengths} in writing order.
 */

import type { Edge, Node } from "../../generated/entdb/v1/entdb_pb.js";
import type { Value } from "../../generated/entdb/v1/values_pb.js";

/** A message this module does not encode; the caller falls back to `toBinary`. */
export class NotEncodable extends Error {}
export const NOT_ENCODABLE = new NotEncodable("not encodable here");

const TWO_POW_32 = 2 ** 32;
const MAX_UINT32 = TWO_POW_32 - 1;

/** Bytes of `n` (an unsigned 32-bit integer) as a varint. */
export function uint32Size(n: number): number {
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

export const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
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
export function int64Size(n: bigint): number {
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
export function utf8Length(s: string): number {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) >= 0x80) return Buffer.byteLength(s, "utf8");
  }
  return s.length;
}

export function checkUint32(n: unknown): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > MAX_UINT32) throw NOT_ENCODABLE;
  return n;
}

function checkInt32(n: unknown): number {
  if (typeof n !== "number" || !Number.isInteger(n) || n < -0x80000000 || n > 0x7fffffff)
    throw NOT_ENCODABLE;
  return n;
}

export function checkInt64(n: unknown): bigint {
  if (typeof n !== "bigint" || n < MIN_INT64 || n > MAX_INT64) throw NOT_ENCODABLE;
  return n;
}

export function checkString(s: unknown): string {
  if (typeof s !== "string") throw NOT_ENCODABLE;
  return s;
}

/** A message's own fields only: one with unknown fields goes to `toBinary`. */
export function checkKnown(message: object, typeName: string): void {
  const m = message as { $typeName?: unknown; $unknown?: unknown };
  if (m.$typeName !== typeName || m.$unknown !== undefined) throw NOT_ENCODABLE;
}

export interface Timestamp {
  readonly seconds: bigint;
  readonly nanos: number;
}

/**
 * The lengths the writing pass needs (of strings and nested messages, and each map's
 * entry count and keys), recorded by the sizing pass in the order the writing pass uses
 * them, so nothing is measured twice. Slots from 0 up to the last {@link pushLength}
 * since {@link resetLengths} are this encoding's; the array is never shortened, because
 * `length = 0` hands its storage back and the next message grows it again, copy by copy
 * (a plan of many creates records a few dozen lengths per create); only a list grown
 * past {@link KEPT_LENGTHS} by an unusually large message is given back.
 * Encoding is synchronous, so one array serves every call.
 */
export const lengths: number[] = [];
let used = 0;

/** Past this many slots a message's list is given back rather than kept for the next. */
const KEPT_LENGTHS = 1 << 16;

/** Starts the lengths of a new message. */
export function resetLengths(): void {
  used = 0;
  if (lengths.length > KEPT_LENGTHS) lengths.length = 0;
}

/** Records the next length. */
export function pushLength(length: number): void {
  lengths[used++] = length;
}

/** Reserves the slot of a length known only after its content is sized. */
export function reserve(): number {
  lengths[used] = 0;
  return used++;
}

export function stringSize(s: unknown): number {
  const length = utf8Length(checkString(s));
  pushLength(length);
  return 1 + uint32Size(length) + length;
}

export function timestampSize(t: Timestamp): number {
  checkKnown(t, "google.protobuf.Timestamp");
  const seconds = checkInt64(t.seconds);
  const nanos = checkInt32(t.nanos);
  const size =
    (seconds !== 0n ? 1 + int64Size(seconds) : 0) + (nanos !== 0 ? 1 + int32Size(nanos) : 0);
  pushLength(size);
  return 1 + uint32Size(size) + size;
}

/** Size of a length-delimited field's tag (one byte: fields 1-15), length and content. */
export function delimited(contentSize: number): number {
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

export type ValueMap = { readonly [key: number]: Value };

/**
 * Size of a `map<uint32, Value>` field: per entry a key (field 1) and a value (field 2,
 * always written). The entry count and each key go into {@link lengths} too, so the
 * writing pass does not enumerate the map again (enumerating integer keys builds a
 * string per key).
 */
export function mapSize(map: ValueMap): number {
  let size = 0;
  const names = Object.keys(map);
  pushLength(names.length);
  for (const name of names) {
    const key = Number(name);
    if (String(key) !== name) throw NOT_ENCODABLE;
    checkUint32(key);
    pushLength(key);
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
export function isSet(message: object, name: string, value: unknown): boolean {
  return value !== undefined && Object.hasOwn(message, name);
}

export function nodeSize(n: Node): number {
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

export function edgeSize(e: Edge): number {
  checkKnown(e, "entdb.v1.Edge");
  let size = 0;
  if (checkUint32(e.edgeTypeId) !== 0) size += 1 + uint32Size(e.edgeTypeId);
  if (checkString(e.fromId) !== "") size += stringSize(e.fromId);
  if (checkString(e.toId) !== "") size += stringSize(e.toId);
  size += mapSize(e.props);
  if (isSet(e, "createdAt", e.createdAt)) size += timestampSize(e.createdAt as Timestamp);
  return size;
}
