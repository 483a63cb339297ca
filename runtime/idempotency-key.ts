/**
 * The idempotency key a write gets when the caller passes none: a UUIDv7 (RFC 9562),
 * whose 48-bit millisecond prefix makes the keys of one client ascend. The server keeps
 * each applied plan's outcome in a table ordered by its key, so ascending keys are
 * appended at the end of it; random keys (UUIDv4) wrote one more page of the tenant's
 * file per plan (docs/performance-log.md, "The engine's per-write cost", item 25). Made from
 * `crypto.getRandomValues`, which browsers offer outside secure contexts too.
 */

import { checkWellFormed } from "./wire-value-codec.ts";

/** The two lowercase hex digits of each byte value. */
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** A fresh key: a UUIDv7 of `now` (Unix milliseconds, below 2^48) and 74 random bits. */
export function newIdempotencyKey(now: number = Date.now()): string {
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  const high = Math.floor(now / 0x1_0000_0000);
  const low = now - high * 0x1_0000_0000;
  b[0] = (high >>> 8) & 0xff;
  b[1] = high & 0xff;
  b[2] = low >>> 24;
  b[3] = (low >>> 16) & 0xff;
  b[4] = (low >>> 8) & 0xff;
  b[5] = low & 0xff;
  b[6] = (b[6]! & 0x0f) | 0x70; // version 7
  b[8] = (b[8]! & 0x3f) | 0x80; // RFC 9562 variant
  let out = "";
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) out += "-";
    out += HEX[b[i]!];
  }
  return out;
}

/**
 * The key a write is sent under: the caller's, or a fresh one when it gave none or an
 * empty one (sent empty, the server would log each attempt under a new key of its own,
 * and a retry could apply the write twice). A key with a lone surrogate is refused:
 * the encoder would send U+FFFD in its place, another key than the caller's.
 */
export function idempotencyKeyFor(given: string | undefined): string {
  if (given === undefined || given === "") return newIdempotencyKey();
  checkWellFormed(given, "The idempotency key");
  return given;
}
