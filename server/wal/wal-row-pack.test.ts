import { describe, expect, it } from "vitest";
import type { WalRow } from "./sqlite-wal-file.ts";
import { packedPayloads, packRows, ROW_FIELDS } from "./wal-row-pack.ts";

/** A row whose payload is a view into the middle of a larger buffer, as callers may pass. */
function row(partition: number, offset: number, tenant: string, bytes: number[]): WalRow {
  const backing = new Uint8Array(bytes.length + 6).fill(0xee);
  backing.set(bytes, 3);
  return { partition, offset, tenant, payload: backing.subarray(3, 3 + bytes.length) };
}

describe("packRows", () => {
  it("copies each run of one partition into a buffer of its own and gives every row back", () => {
    const rows = [
      row(2, 7, "a", [1, 2, 3]),
      row(2, 8, "b", []),
      row(5, Number.MAX_SAFE_INTEGER - 1, "c", [4]),
      row(2, 9, "a", [5, 6]),
    ];
    const originals = rows.map((r) => [...r.payload]);
    const packed = packRows(rows);

    expect(packed.tenants).toEqual(["a", "b", "c", "a"]);
    // Three runs: partition 2, 5, then 2 again; each buffer holds only its run's bytes.
    expect(packed.chunks.map((chunk) => [...new Uint8Array(chunk)])).toEqual([
      [1, 2, 3],
      [4],
      [5, 6],
    ]);
    const numbers = Array.from({ length: rows.length }, (_, i) => [
      ...packed.layout.subarray(i * ROW_FIELDS, (i + 1) * ROW_FIELDS),
    ]);
    expect(numbers.map(([partition, offset]) => [partition, offset])).toEqual([
      [2, 7],
      [2, 8],
      [5, Number.MAX_SAFE_INTEGER - 1],
      [2, 9],
    ]);

    // The copies do not follow the caller's buffers.
    for (const r of rows) new Uint8Array(r.payload.buffer).fill(0);
    const payloads = packedPayloads(packed.layout, packed.chunks);
    expect(payloads.map((p) => [...p])).toEqual(originals);
    expect(payloads.map((p) => p.buffer)).toEqual([
      packed.chunks[0],
      packed.chunks[0],
      packed.chunks[1],
      packed.chunks[2],
    ]);
  });

  it("packs no rows into no buffers", () => {
    const packed = packRows([]);
    expect(packed).toMatchObject({ tenants: [], chunks: [] });
    expect(packed.layout.length).toBe(0);
    expect(packedPayloads(packed.layout, packed.chunks)).toEqual([]);
  });
});
