/**
 * Byte helpers for the tests that compare a hand-written protobuf decoder with
 * protobuf-es's (`server/apply/wal-event-decode.test.ts`,
 * `server/api/query-request-decode.test.ts`): joining encoded parts, and random byte
 * overwrites to corrupt an encoding with.
 */

import fc from "fast-check";

/** `parts` joined into one new array. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** One to three `[position, byte]` overwrites; a position is taken modulo the length. */
export const byteFlips = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
  minLength: 1,
  maxLength: 3,
});

/** A copy of `bytes` (not empty) with `flips` written over it. */
export function flipped(
  bytes: Uint8Array,
  flips: readonly (readonly [number, number])[],
): Uint8Array {
  const out = bytes.slice();
  for (const [at, b] of flips) out[at % out.length] = b;
  return out;
}
