/**
 * Node ids: UUID version 7 (RFC 9562), minted at ingress so the log holds concrete
 * ids and replay is deterministic. The 48-bit millisecond timestamp prefix makes ids
 * of one server roughly creation-ordered, which keeps the nodes table's primary key
 * index append-mostly.
 */

import { randomFillSync } from "node:crypto";

const pool = new Uint8Array(16 * 256);
let poolOffset = pool.length;

/** The ASCII codes of the two lowercase hex digits of each byte value, at 2 × value. */
const HEX_CODES = new Uint8Array(512);
for (let i = 0; i < 256; i++) {
  const hex = i.toString(16).padStart(2, "0");
  HEX_CODES[2 * i] = hex.charCodeAt(0);
  HEX_CODES[2 * i + 1] = hex.charCodeAt(1);
}

/**
 * The id being written, as ASCII; its dashes stay put. One buffer read back as one flat
 * string: joining 20 pieces with `+` made a tree of about 20 strings per id, which the
 * first consumer (the log event's encoder) then copied into a flat one.
 */
const text = Buffer.alloc(36, "-");

function hexAt(at: number, byte: number): void {
  text[at] = HEX_CODES[2 * byte]!;
  text[at + 1] = HEX_CODES[2 * byte + 1]!;
}

/** Returns a new UUIDv7 string. `now` is a Unix time in milliseconds below 2^48. */
export function mintNodeId(now: number = Date.now()): string {
  if (poolOffset + 16 > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const b = pool;
  const o = poolOffset;
  poolOffset += 16;
  // The 48-bit timestamp: its high 16 bits, then its low 32 (a double holds both exactly).
  const high = Math.floor(now / 0x1_0000_0000);
  const low = now - high * 0x1_0000_0000;
  hexAt(0, (high >>> 8) & 0xff);
  hexAt(2, high & 0xff);
  hexAt(4, low >>> 24);
  hexAt(6, (low >>> 16) & 0xff);
  hexAt(9, (low >>> 8) & 0xff);
  hexAt(11, low & 0xff);
  hexAt(14, (b[o + 6]! & 0x0f) | 0x70); // version 7
  hexAt(16, b[o + 7]!);
  hexAt(19, (b[o + 8]! & 0x3f) | 0x80); // RFC 9562 variant
  hexAt(21, b[o + 9]!);
  for (let i = 10; i < 16; i++) hexAt(24 + 2 * (i - 10), b[o + i]!);
  return text.toString("latin1", 0, 36);
}

const NODE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Whether `id` has the shape of a node id (any UUID in lowercase hex). */
export function isNodeId(id: string): boolean {
  return NODE_ID.test(id);
}
