/**
 * Node ids: UUID version 7 (RFC 9562), minted at ingress so the log holds concrete
 * ids and replay is deterministic. The 48-bit millisecond timestamp prefix makes ids
 * of one server roughly creation-ordered, which keeps the nodes table's primary key
 * index append-mostly.
 */

import { randomFillSync } from "node:crypto";

const pool = new Uint8Array(16 * 256);
let poolOffset = pool.length;

/** Two lowercase hex digits per byte value. */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

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
  return (
    HEX[(high >>> 8) & 0xff]! +
    HEX[high & 0xff]! +
    HEX[low >>> 24]! +
    HEX[(low >>> 16) & 0xff]! +
    "-" +
    HEX[(low >>> 8) & 0xff]! +
    HEX[low & 0xff]! +
    "-" +
    HEX[(b[o + 6]! & 0x0f) | 0x70]! + // version 7
    HEX[b[o + 7]!]! +
    "-" +
    HEX[(b[o + 8]! & 0x3f) | 0x80]! + // RFC 9562 variant
    HEX[b[o + 9]!]! +
    "-" +
    HEX[b[o + 10]!]! +
    HEX[b[o + 11]!]! +
    HEX[b[o + 12]!]! +
    HEX[b[o + 13]!]! +
    HEX[b[o + 14]!]! +
    HEX[b[o + 15]!]!
  );
}

const NODE_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Whether `id` has the shape of a node id (any UUID in lowercase hex). */
export function isNodeId(id: string): boolean {
  return NODE_ID.test(id);
}
