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
import { type WireBox, wireBoxOf } from "../store/index.ts";
import {
  delimited,
  edgeSize,
  lengths,
  NOT_ENCODABLE,
  nodeSize,
  reserve,
  resetLengths,
} from "./node-wire-size.ts";
import { Writer } from "./node-wire-writer.ts";

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
  resetLengths();
  return new Uint8Array(w.buf.buffer, w.buf.byteOffset, w.buf.byteLength);
}
