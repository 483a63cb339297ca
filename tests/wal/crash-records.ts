/**
 * The records the WAL crash tests write, derived from a call id alone, so the parent
 * can check every stored byte without being told what the killed child appended.
 * A call id is `round.loop.seq`; its records are `round.loop.seq.j/n` for j < n, all
 * of one tenant (`tenant-<loop mod 8>`), with a payload of the record id, a `|`, and
 * filler bytes whose length and content follow from the id.
 */

import type { WalRecord } from "../../server/wal/wal.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** FNV-1a over the UTF-8 bytes: a small deterministic hash for sizes and filler. */
function fnv(text: string): number {
  let h = 0x811c9dc5;
  for (const byte of encoder.encode(text)) h = Math.imul(h ^ byte, 0x01000193) >>> 0;
  return h;
}

/** Parts of a record id. */
export interface CrashRecordId {
  readonly call: string;
  readonly round: number;
  readonly loop: number;
  readonly seq: number;
  readonly index: number;
  readonly count: number;
}

/** The tenant every call of `loop` appends for. */
export function crashTenant(loop: number): string {
  return `tenant-${loop % 8}`;
}

/** The records of one call; `maxFiller` bounds the filler bytes per record. */
export function crashRecords(
  round: number,
  loop: number,
  seq: number,
  maxFiller: number,
): WalRecord[] {
  const call = `${round}.${loop}.${seq}`;
  const count = 1 + (fnv(call) % 3);
  return Array.from({ length: count }, (_, index) => ({
    tenant: crashTenant(loop),
    payload: crashPayload(`${call}.${index}/${count}`, maxFiller),
  }));
}

/** The payload of record `id`. */
export function crashPayload(id: string, maxFiller: number): Uint8Array {
  const head = encoder.encode(`${id}|`);
  const seed = fnv(id);
  const filler = maxFiller === 0 ? 0 : seed % (maxFiller + 1);
  const bytes = new Uint8Array(head.length + filler);
  bytes.set(head);
  for (let i = 0; i < filler; i++) bytes[head.length + i] = (seed + i * 31) & 0xff;
  return bytes;
}

/** The id a payload starts with, or undefined if it has none. */
export function crashRecordId(payload: Uint8Array): CrashRecordId | undefined {
  const bar = payload.indexOf(0x7c);
  if (bar < 0) return undefined;
  const match = /^(\d+)\.(\d+)\.(\d+)\.(\d+)\/(\d+)$/.exec(
    decoder.decode(payload.subarray(0, bar)),
  );
  if (match === null) return undefined;
  const [round, loop, seq, index, count] = match.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
  ];
  return { call: `${round}.${loop}.${seq}`, round, loop, seq, index, count };
}
