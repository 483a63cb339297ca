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
 * A frozen message cannot change, so its bytes are kept beside it (in a `WeakMap`, gone
 * with the message): the store's node cache (`server/store/node-cache.ts`) hands the
 * same frozen `Node` to every read of an unchanged row, and each answer after the first
 * copies its bytes instead of encoding it again.
 */

import type { Edge, Node } from "../../generated/entdb/v1/entdb_pb.js";
import {
  delimited,
  edgeSize,
  lengths,
  NOT_ENCODABLE,
  nodeSize,
  reserve,
} from "./node-wire-size.ts";
import { Writer } from "./node-wire-writer.ts";

/** Which message a field holds, for {@link encodeNodeLike}. */
export type NodeLikeKind = "node" | "edge";

/** The bytes of frozen messages (without tag and length), or null if not encodable here. */
const frozenBytes = new WeakMap<object, Uint8Array | null>();

/** The bytes of one message (without tag and length); undefined if not encodable here. */
function encodeOne(kind: NodeLikeKind, m: Node | Edge): Uint8Array | undefined {
  lengths.length = 0;
  let size: number;
  try {
    size = kind === "node" ? nodeSize(m as Node) : edgeSize(m as Edge);
  } catch (e) {
    if (e === NOT_ENCODABLE) return undefined;
    throw e;
  }
  const w = new Writer(Buffer.allocUnsafe(size));
  if (kind === "node") w.node(m as Node);
  else w.edge(m as Edge);
  lengths.length = 0;
  return w.buf;
}

/** A frozen message's bytes, encoded on first use; undefined if not frozen or not encodable. */
function bytesOfFrozen(kind: NodeLikeKind, m: Node | Edge): Uint8Array | null | undefined {
  if (!Object.isFrozen(m)) return undefined;
  let bytes = frozenBytes.get(m);
  if (bytes === undefined) {
    bytes = encodeOne(kind, m) ?? null;
    frozenBytes.set(m, bytes);
  }
  return bytes;
}

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
  // Frozen messages first: each is encoded alone (once), before the sizing pass below
  // fills `lengths` for the rest.
  let kept: (Uint8Array | undefined)[] | undefined;
  for (let i = 0; i < messages.length; i++) {
    const bytes = bytesOfFrozen(kind, messages[i] as Node | Edge);
    if (bytes === null) return undefined;
    if (bytes === undefined) continue;
    kept ??= new Array<Uint8Array | undefined>(messages.length);
    kept[i] = bytes;
  }
  lengths.length = 0;
  let total = 0;
  try {
    for (let i = 0; i < messages.length; i++) {
      const bytes = kept?.[i];
      if (bytes !== undefined) {
        total += delimited(bytes.byteLength);
        continue;
      }
      const m = messages[i] as Node | Edge;
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
    const bytes = kept?.[i];
    if (bytes !== undefined) {
      w.uint32(bytes.byteLength);
      w.buf.set(bytes, w.pos);
      w.pos += bytes.byteLength;
      continue;
    }
    w.length();
    const m = messages[i] as Node | Edge;
    if (kind === "node") w.node(m as Node);
    else w.edge(m as Edge);
  }
  lengths.length = 0;
  return new Uint8Array(w.buf.buffer, w.buf.byteOffset, w.buf.byteLength);
}
