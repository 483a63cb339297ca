import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type EmbeddedWal, openEmbeddedWal } from "./embedded-wal.ts";
import { readRange } from "./read-range.ts";

const dirs: string[] = [];
const wals: EmbeddedWal[] = [];

afterEach(async () => {
  for (const wal of wals.splice(0)) await wal.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function walWith(records: number): Promise<{ wal: EmbeddedWal; partition: number }> {
  const dir = mkdtempSync(join(tmpdir(), "entdb-read-range-"));
  dirs.push(dir);
  const wal = await openEmbeddedWal({ path: join(dir, "wal.sqlite"), partitions: 4 });
  wals.push(wal);
  const payload = (i: number) => new TextEncoder().encode(`r${i}`);
  await wal.append(
    Array.from({ length: records }, (_, i) => ({ tenant: "t", payload: payload(i) })),
  );
  // Another partition's records must not show up.
  await wal.append([{ tenant: "other-tenant-9", payload: payload(-1) }]);
  return { wal, partition: wal.partitionFor("t") };
}

async function offsets(batches: AsyncIterable<readonly { position: { offset: number } }[]>) {
  const out: number[] = [];
  for await (const batch of batches) out.push(...batch.map((e) => e.position.offset));
  return out;
}

describe("readRange", () => {
  it("reads exactly the records in [from, to) of one partition, in order, in batches", async () => {
    const { wal, partition } = await walWith(30);
    expect(await offsets(readRange(wal, partition, 5, 27, 4))).toEqual(
      Array.from({ length: 22 }, (_, i) => 5 + i),
    );
    expect(await offsets(readRange(wal, partition, 3, 3))).toEqual([]);
  });

  it("stops the log's delivery when the reader breaks out", async () => {
    const { wal, partition } = await walWith(50);
    const seen: number[] = [];
    for await (const batch of readRange(wal, partition, 0, 50, 5)) {
      seen.push(...batch.map((e) => e.position.offset));
      if (seen.length >= 10) break;
    }
    expect(seen).toEqual(Array.from({ length: 10 }, (_, i) => i));
    // A fresh read still works after the broken one released its subscription.
    expect(await offsets(readRange(wal, partition, 48, 50))).toEqual([48, 49]);
  });
});
