/**
 * A lean decoder for the small request messages of the hot read calls (`GetNodeRequest`,
 * `GetNodesRequest`, `ListEdgesRequest`, …): flat messages of strings, `uint32`s, bools
 * and enums, decoded into exactly the object `fromBinary` builds (the same `$typeName`,
 * the same properties in the same order), without protobuf-es's reader, its read
 * context and its per-field dispatch. `fromBinary` was 3–5 % of a get's CPU.
 *
 * It decodes only what it is sure to decode as the library does, and says so by
 * returning undefined for anything else, which then goes to `fromBinary` (so its result,
 * or its error, is the library's):
 * - a field this table does not have: an unknown field (the library keeps it in
 *   `$unknown`), a message field (`after_position`), bytes, 64-bit or other scalars
 * - a tag longer than one byte (field numbers past 15), or a wire type the field does
 *   not have
 * - a string that is not all ASCII (the library checks UTF-8), a length or a varint that
 *   runs past the message
 * - a `uint32` past 2^28 (a varint longer than four bytes), a bool or an enum value
 *   past 127 (longer than one byte)
 * - a message with oneofs, maps, or a zero value the library builds with a prototype
 *   (proto2 defaults): their shapes are the library's business
 *
 * `request-decode.test.ts` decodes random and edge-case inputs both ways and compares.
 * Not reentrant: decoding never yields.
 */

import { create, type DescMessage, type Message, ScalarType } from "@bufbuild/protobuf";

const WT_VARINT = 0;
const WT_LEN = 2;

/** How one field is read. */
const STRING = 0;
const UINT32 = 1;
const BOOL = 2;
const ENUM = 3;
const STRINGS = 4;
type Kind = typeof STRING | typeof UINT32 | typeof BOOL | typeof ENUM | typeof STRINGS;

/** What the decoder knows of one message: its zero value and, by field number, its fields. */
interface Plan {
  readonly zero: Message;
  /** Index: field number (1–15). */
  readonly names: readonly (string | undefined)[];
  readonly kinds: readonly (Kind | undefined)[];
  /** Whether the zero value has list fields, which need their own arrays per message. */
  readonly lists: readonly string[];
}

/** Up to this many bytes, an ASCII string is built by char codes (V8 keeps them flat). */
const SHORT_STRING = 12;

const plans = new WeakMap<DescMessage, Plan | null>();

/**
 * The message in `bytes` as `fromBinary(desc, bytes)` builds it, if this decoder covers
 * the message type and these bytes (see the module's comment); otherwise undefined.
 */
export function decodeRequestHere<T extends Message>(
  desc: DescMessage,
  bytes: Uint8Array,
): T | undefined {
  let plan = plans.get(desc);
  if (plan === undefined) {
    plan = planOf(desc);
    plans.set(desc, plan);
  }
  if (plan === null) return undefined;
  return decode(plan, bytes) as T | undefined;
}

/** The plan of a message type this decoder covers, or null. */
function planOf(desc: DescMessage): Plan | null {
  if (desc.oneofs.length > 0) return null;
  const zero = create(desc);
  if (Object.getPrototypeOf(zero) !== Object.prototype) return null;
  const names: (string | undefined)[] = [];
  const kinds: (Kind | undefined)[] = [];
  const lists: string[] = [];
  for (const field of desc.fields) {
    if (field.number > 15) continue;
    let kind: Kind | undefined;
    if (field.fieldKind === "scalar") {
      // Explicit presence (proto3 `optional`) has no zero value set: its property order
      // would depend on the wire; leave it to the library.
      if (!(field.localName in zero)) continue;
      if (field.scalar === ScalarType.STRING) kind = STRING;
      else if (field.scalar === ScalarType.UINT32) kind = UINT32;
      else if (field.scalar === ScalarType.BOOL) kind = BOOL;
    } else if (field.fieldKind === "enum") {
      if (!(field.localName in zero)) continue;
      kind = ENUM;
    } else if (field.fieldKind === "list" && field.listKind === "scalar") {
      if (field.scalar === ScalarType.STRING) {
        kind = STRINGS;
        lists.push(field.localName);
      }
    } else if (field.fieldKind === "map") {
      return null;
    }
    if (kind === undefined) continue;
    names[field.number] = field.localName;
    kinds[field.number] = kind;
  }
  // Every list field must be one this decoder fills: another would share the zero's array.
  for (const field of desc.fields) {
    if (field.fieldKind === "list" && !lists.includes(field.localName)) return null;
  }
  return { zero, names, kinds, lists };
}

function decode(plan: Plan, bytes: Uint8Array): Message | undefined {
  const buf = bytes;
  const len = buf.length;
  let view: Buffer | undefined;
  const message = { ...plan.zero } as Record<string, unknown>;
  for (const name of plan.lists) message[name] = [];
  let pos = 0;
  while (pos < len) {
    const t = buf[pos++] as number;
    if (t >= 0x80) return undefined;
    const no = t >>> 3;
    const kind = plan.kinds[no];
    if (kind === undefined) return undefined;
    const name = plan.names[no] as string;
    const wt = t & 7;
    if (kind === STRING || kind === STRINGS) {
      if (wt !== WT_LEN || pos >= len) return undefined;
      // The length: one byte, or two (strings up to 16 KiB); longer ones go to the library.
      let n = buf[pos++] as number;
      if (n >= 0x80) {
        if (pos >= len) return undefined;
        const b = buf[pos++] as number;
        if (b >= 0x80) return undefined;
        n = (n & 0x7f) | (b << 7);
      }
      const end = pos + n;
      if (end > len) return undefined;
      let s: string;
      if (n <= SHORT_STRING) {
        s = "";
        for (let i = pos; i < end; i++) {
          const c = buf[i] as number;
          if (c >= 0x80) return undefined;
          s += String.fromCharCode(c);
        }
      } else {
        for (let i = pos; i < end; i++) if ((buf[i] as number) >= 0x80) return undefined;
        view ??= Buffer.isBuffer(buf)
          ? buf
          : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
        s = view.toString("latin1", pos, end);
      }
      pos = end;
      if (kind === STRING) message[name] = s;
      else (message[name] as string[]).push(s);
      continue;
    }
    if (wt !== WT_VARINT || pos >= len) return undefined;
    let v = buf[pos++] as number;
    if (kind === UINT32) {
      if (v >= 0x80) {
        // Up to four bytes: values below 2^28, where `>>> 0` changes nothing.
        v &= 0x7f;
        let shift = 7;
        for (;;) {
          if (pos >= len || shift > 21) return undefined;
          const b = buf[pos++] as number;
          v |= (b & 0x7f) << shift;
          if (b < 0x80) break;
          shift += 7;
        }
      }
      message[name] = v;
    } else if (kind === BOOL) {
      if (v > 1) return undefined;
      message[name] = v === 1;
    } else {
      if (v >= 0x80) return undefined;
      message[name] = v;
    }
  }
  return message as Message;
}
