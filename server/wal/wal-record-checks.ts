/**
 * The checks every WAL backend makes before it queues anything, and its group-commit
 * budget. Kept in one place so that the embedded and the Kafka log refuse the same
 * records with the same messages and group calls the same way.
 */

import type { WalRecord } from "./wal.ts";
import { WalError } from "./wal.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The option `value` named `name`, if it is a positive safe integer; otherwise throws
 * `invalid`.
 */
export function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new WalError("invalid", `${name} must be a positive integer, got ${value}.`);
  }
  return value;
}

/**
 * The record's size in bytes (tenant UTF-8 bytes plus payload), or why it is refused:
 * `invalid` for an empty or malformed tenant id or a payload that is not bytes,
 * `too-large` past `maxRecordBytes`. `index` is the record's place in its call.
 */
export function walRecordSize(
  record: WalRecord,
  index: number,
  maxRecordBytes: number,
): number | WalError {
  const { tenant, payload } = record;
  if (typeof tenant !== "string" || tenant.length === 0) {
    return new WalError("invalid", `Record ${index} has an empty tenant id.`);
  }
  // A lone surrogate would be written (and hashed) as U+FFFD, i.e. as another tenant.
  const tenantBytes = encoder.encode(tenant);
  if (decoder.decode(tenantBytes) !== tenant) {
    return new WalError("invalid", `Record ${index} has a tenant id that is not valid Unicode.`);
  }
  if (!(payload instanceof Uint8Array)) {
    return new WalError("invalid", `Record ${index} has a payload that is not a Uint8Array.`);
  }
  const size = tenantBytes.byteLength + payload.byteLength;
  if (size > maxRecordBytes) {
    return new WalError(
      "too-large",
      `Record ${index} has ${size} bytes; the log accepts at most ${maxRecordBytes}.`,
      { size: { bytes: size, maxBytes: maxRecordBytes } },
    );
  }
  return size;
}

/**
 * The total size of one `append` call's records, or the refusal of the first bad one:
 * a call is accepted whole or not at all.
 */
export function walRecordsSize(
  records: readonly WalRecord[],
  maxRecordBytes: number,
): number | WalError {
  let bytes = 0;
  for (const [index, record] of records.entries()) {
    const size = walRecordSize(record, index, maxRecordBytes);
    if (size instanceof WalError) return size;
    bytes += size;
  }
  return bytes;
}

/**
 * How many calls from the head of `queue` make the next group: the longest prefix whose
 * bytes fit `maxGroupBytes`, but at least one call (a call larger than the budget is
 * sent alone rather than never). 0 only for an empty queue.
 */
export function groupLength(
  queue: readonly { readonly bytes: number }[],
  maxGroupBytes: number,
): number {
  let bytes = 0;
  let count = 0;
  while (count < queue.length) {
    const next = queue[count]!;
    if (count > 0 && bytes + next.bytes > maxGroupBytes) break;
    bytes += next.bytes;
    count++;
  }
  return count;
}
