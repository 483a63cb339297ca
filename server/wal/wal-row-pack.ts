/**
 * How the thread writer (`thread-wal-writer.ts`) hands a commit's rows to its worker
 * without a structured clone of their payloads: the payloads are copied once, into one
 * new buffer per run of consecutive rows of one partition, which are transferred to the
 * worker and back; each row is described by numbers in a `Float64Array` (exact for every
 * offset a log accepts, up to 2^53) and its tenant. The buffers hold rows of one
 * partition only, so the log's in-memory tail, which keeps views of them, keeps no other
 * partition's bytes alive.
 */

import type { WalRow } from "./sqlite-wal-file.ts";

/** Numbers per row in a commit's `layout`. */
export const ROW_FIELDS = 5;

/** A commit's rows as sent to the worker, and the buffers to transfer. */
export interface PackedRows {
  readonly tenants: string[];
  readonly layout: Float64Array;
  readonly chunks: ArrayBuffer[];
}

/**
 * Copies the rows' payloads into one new buffer per run of consecutive rows of one
 * partition, and describes each row by its place in them.
 */
export function packRows(rows: readonly WalRow[]): PackedRows {
  const tenants = new Array<string>(rows.length);
  const layout = new Float64Array(rows.length * ROW_FIELDS);
  const chunks: ArrayBuffer[] = [];
  let first = 0;
  while (first < rows.length) {
    const partition = rows[first]!.partition;
    let end = first;
    let bytes = 0;
    while (end < rows.length && rows[end]!.partition === partition) {
      bytes += rows[end]!.payload.byteLength;
      end++;
    }
    // Its own memory (not Buffer's shared pool, which cannot be transferred).
    const chunk = Buffer.allocUnsafeSlow(bytes);
    let start = 0;
    for (let i = first; i < end; i++) {
      const row = rows[i]!;
      chunk.set(row.payload, start);
      tenants[i] = row.tenant;
      const at = i * ROW_FIELDS;
      layout[at] = partition;
      layout[at + 1] = row.offset;
      layout[at + 2] = chunks.length;
      layout[at + 3] = chunk.byteOffset + start;
      layout[at + 4] = row.payload.byteLength;
      start += row.payload.byteLength;
    }
    chunks.push(chunk.buffer);
    first = end;
  }
  return { tenants, layout, chunks };
}

/** The payloads `layout` describes, as views of `chunks`, in row order. */
export function packedPayloads(layout: Float64Array, chunks: readonly ArrayBuffer[]): Uint8Array[] {
  const payloads = new Array<Uint8Array>(layout.length / ROW_FIELDS);
  for (let i = 0; i < payloads.length; i++) {
    const at = i * ROW_FIELDS;
    payloads[i] = new Uint8Array(chunks[layout[at + 2]!]!, layout[at + 3], layout[at + 4]);
  }
  return payloads;
}
