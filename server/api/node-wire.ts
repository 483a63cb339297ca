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
 *
 * A frozen message cannot change, so its bytes are kept in its wire box (see
 * `server/store/node-cache.ts`): the store's caches hand the same frozen `Node` or
 * `Edge` to every read of an unchanged row, and each answer after the first copies its
 * bytes instead of encoding it again.
 */

import type { Edge, Node } from "../../generated/entdb/v1/entdb_pb.js";
import { type PageWireBox, pageWireBoxOf, type WireBox, wireBoxOf } from "../store/index.ts";
import {
  checkInt64,
  checkString,
  delimited,
  edgeSize,
  int64Size,
  isSet,
  lengths,
  NOT_ENCODABLE,
  nodeSize,
  reserve,
  resetLengths,
  stringSize,
} from "./node-wire-size.ts";
import { Writer } from "./node-wire-writer.ts";

/** Which message a field holds, for {@link encodeNodeLike}. */
export type NodeLikeKind = "node" | "edge";

/**
 * A field of the answer after the one {@link encodeNodeLike} writes, of a kind written
 * here too: a string, a list of strings or an int64, numbered 2 to 15, with implicit
 * presence (written unless "" or 0) or explicit (written when set).
 */
export interface TailField {
  readonly localName: string;
  readonly number: number;
  readonly kind: "string" | "strings" | "int64";
  readonly explicit: boolean;
}

/** The answer's other fields, in field number order, to write after the messages. */
export interface Tail {
  /** The answer, which must have no unknown fields. */
  readonly message: { readonly $unknown?: unknown };
  readonly fields: readonly TailField[];
}

/**
 * `messages` as the repeated (or singular) field `fieldNo` (1-15) of the message around
 * them: for each one its tag, its length and its bytes, exactly as `toBinary` writes
 * that field; then, given a `tail`, the answer's other fields, in the same buffer.
 * Undefined if any of them is not encodable here.
 */
export function encodeNodeLike(
  kind: NodeLikeKind,
  fieldNo: number,
  messages: readonly (Node | Edge)[],
  tail?: Tail,
): Uint8Array | undefined {
  if (fieldNo < 1 || fieldNo > 15) return undefined;
  // A shared page (server/store/edge-cache.ts) keeps the field's bytes whole.
  const page = pageWireBoxOf(messages);
  if (page?.bytes !== undefined && page.fieldNo === fieldNo) return keptPage(page, tail);
  const tag = (fieldNo << 3) | 2;
  // Per message: its kept bytes, or the box to keep the bytes written for it in (a
  // shared message's first encoding), or neither.
  const kept: (Uint8Array | WireBox | undefined)[] = new Array(messages.length);
  resetLengths();
  let total = 0;
  try {
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i] as Node | Edge;
      const box = wireBoxOf(m);
      const bytes = box?.bytes;
      if (bytes !== undefined) {
        kept[i] = bytes;
        total += delimited(bytes.byteLength);
        continue;
      }
      kept[i] = box;
      const slot = reserve();
      const size = kind === "node" ? nodeSize(m as Node) : edgeSize(m as Edge);
      lengths[slot] = size;
      total += delimited(size);
    }
    if (tail !== undefined) total += tailSize(tail);
  } catch (e) {
    if (e === NOT_ENCODABLE) return undefined;
    throw e;
  }
  const w = new Writer(Buffer.allocUnsafe(total));
  for (let i = 0; i < messages.length; i++) {
    w.buf[w.pos++] = tag;
    const bytes = kept[i];
    if (bytes instanceof Uint8Array) {
      w.uint32(bytes.byteLength);
      w.buf.set(bytes, w.pos);
      w.pos += bytes.byteLength;
      continue;
    }
    w.length();
    const m = messages[i] as Node | Edge;
    const start = w.pos;
    if (kind === "node") w.node(m as Node);
    else w.edge(m as Edge);
    if (bytes !== undefined) {
      const copy = Buffer.allocUnsafe(w.pos - start);
      w.buf.copy(copy, 0, start, w.pos);
      bytes.bytes = copy;
    }
  }
  if (page !== undefined) {
    page.bytes = new Uint8Array(w.buf.subarray(0, w.pos));
    page.fieldNo = fieldNo;
  }
  if (tail !== undefined) writeTail(w, tail);
  resetLengths();
  return new Uint8Array(w.buf.buffer, w.buf.byteOffset, w.buf.byteLength);
}

/**
 * An answer whose one field set is `message`, the singular field `fieldNo` (1-15) of an
 * answer with no unknown fields: the same bytes {@link encodeNodeLike} writes for it. A
 * shared message keeps them, so every answer after the first is that one array (it is
 * never written to; an answer's bytes are only read from here on). Undefined if the
 * message is not encodable here.
 */
export function encodeAlone(
  kind: NodeLikeKind,
  fieldNo: number,
  message: Node | Edge,
): Uint8Array | undefined {
  const box = wireBoxOf(message);
  if (box !== undefined && box.answer !== undefined && box.answerField === fieldNo)
    return box.answer;
  ALONE[0] = message;
  const bytes = encodeNodeLike(kind, fieldNo, ALONE as (Node | Edge)[]);
  ALONE[0] = undefined;
  if (bytes === undefined || box === undefined) return bytes;
  // Its own buffer: the encoder's comes from Node's pool, whose slab it would keep.
  box.answer = new Uint8Array(bytes);
  box.answerField = fieldNo;
  return box.answer;
}

/** The one-message list {@link encodeAlone} hands the encoder, emptied after. */
const ALONE: (Node | Edge | undefined)[] = [undefined];

/**
 * A shared page's kept bytes, then the answer's other fields; the answer the page last
 * gave when those fields hold the same values (a kept query page's answer is always the
 * same: its cursor is kept with it), which is then never written to.
 */
function keptPage(page: PageWireBox, tail: Tail | undefined): Uint8Array | undefined {
  const bytes = page.bytes as Uint8Array;
  let values: unknown[] | undefined;
  if (tail !== undefined && tail.message.$unknown === undefined) {
    values = new Array(tail.fields.length);
    let same = page.answer !== undefined && page.answerTail.length === values.length;
    for (let i = 0; i < values.length; i++) {
      const value = tailValue(tail.message, tail.fields[i] as TailField);
      values[i] = value;
      if (value !== page.answerTail[i]) same = false;
    }
    if (same) return page.answer;
  }
  let total = bytes.byteLength;
  resetLengths();
  try {
    if (tail !== undefined) total += tailSize(tail);
  } catch (e) {
    if (e === NOT_ENCODABLE) return undefined;
    throw e;
  }
  const w = new Writer(Buffer.allocUnsafe(total));
  w.buf.set(bytes, 0);
  w.pos = bytes.byteLength;
  if (tail !== undefined) writeTail(w, tail);
  resetLengths();
  const answer = new Uint8Array(w.buf.buffer, w.buf.byteOffset, w.buf.byteLength);
  // Only values that compare by value: a list of strings is a new array each answer.
  if (values?.every((v) => !Array.isArray(v))) {
    // Its own buffer: Node's pool would keep its whole slab for a small answer.
    page.answer = new Uint8Array(answer);
    page.answerTail = values;
    return page.answer;
  }
  return answer;
}

/** The value of a tail field, or undefined when `toBinary` would not write it. */
function tailValue(message: object, field: TailField): unknown {
  const value = (message as Record<string, unknown>)[field.localName];
  if (field.explicit) return isSet(message, field.localName, value) ? value : undefined;
  if (field.kind === "strings")
    return Array.isArray(value) && value.length === 0 ? undefined : value;
  return value === "" || value === 0n ? undefined : value;
}

/** Bytes of the tail's fields, recording their strings' lengths after the messages'. */
function tailSize(tail: Tail): number {
  if (tail.message.$unknown !== undefined) throw NOT_ENCODABLE;
  let size = 0;
  for (const field of tail.fields) {
    const value = tailValue(tail.message, field);
    if (value === undefined) continue;
    if (field.kind === "string") size += stringSize(value);
    else if (field.kind === "int64") size += 1 + int64Size(checkInt64(value));
    else {
      if (!Array.isArray(value)) throw NOT_ENCODABLE;
      for (const item of value) size += stringSize(item);
    }
  }
  return size;
}

function writeTail(w: Writer, tail: Tail): void {
  for (const field of tail.fields) {
    const value = tailValue(tail.message, field);
    if (value === undefined) continue;
    if (field.kind === "int64") {
      w.buf[w.pos++] = field.number << 3;
      w.int64(value as bigint);
      continue;
    }
    const tag = (field.number << 3) | 2;
    if (field.kind === "string") w.string(tag, checkString(value));
    else for (const item of value as string[]) w.string(tag, item);
  }
}
