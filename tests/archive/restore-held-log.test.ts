/**
 * A restore's apply threads other than its own apply the records the read phase holds
 * without opening the restored log file (`heldRecordsLog`, server/archive/restore-records.ts):
 * what they read of the log (identity, partitions, ends, each tenant's partition, the log
 * start, and the records a subscription delivers) must be the file's, and nothing can be
 * appended to it.
 */

import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { heldRecordsLog } from "../../server/archive/restore-records.ts";
import { openEmbeddedWal } from "../../server/wal/embedded-wal.ts";
import type { Wal, WalEntry } from "../../server/wal/wal.ts";
import { tempDir } from "../store/store-fixtures.ts";

const dirs: { remove(): void }[] = [];
afterAll(() => {
  for (const d of dirs) d.remove();
});

/** Every record of `wal` from offset 0, per partition, through a subscription in batches of `maxBatch`. */
async function readAll(wal: Wal, ends: readonly number[], maxBatch: number): Promise<WalEntry[][]> {
  const got: WalEntry[][] = ends.map(() => []);
  let resolve: () => void = () => {};
  const all = new Promise<void>((r) => {
    resolve = r;
  });
  const check = () => {
    if (got.every((entries, p) => entries.length >= ends[p]!)) resolve();
  };
  const subscription = wal.subscribe({
    startOffset: () => 0,
    maxBatch,
    handler: async (entries) => {
      for (const e of entries)
        got[e.position.partition]!.push({
          tenant: e.tenant,
          payload: Uint8Array.from(e.payload),
          position: e.position,
        });
      check();
    },
  });
  check();
  await all;
  await subscription.stop();
  return got;
}

describe("the held records as a log", () => {
  it("reads as the restored log file does, and refuses appends", async () => {
    const d = tempDir("held-log");
    dirs.push(d);
    const file = await openEmbeddedWal({ path: join(d.path, "wal.sqlite"), partitions: 3 });
    try {
      const tenants = ["t-a", "t-b", "t-c", "t-d", "__schema", "not a tenant id"];
      await file.append(
        Array.from({ length: 500 }, (_, i) => ({
          tenant: tenants[(i * 7) % tenants.length]!,
          payload: new TextEncoder().encode(`record ${i}`),
        })),
      );
      const ends = await Promise.all([0, 1, 2].map((p) => file.endOffset(p)));
      expect(ends.reduce((a, b) => a + b, 0)).toBe(500);
      const records = await readAll(file, ends, 64);
      const held = heldRecordsLog(file.identity, records);

      expect(held.identity).toBe(file.identity);
      expect(held.partitions).toBe(3);
      expect(held.failure).toBeUndefined();
      expect(await Promise.all([0, 1, 2].map((p) => held.endOffset(p)))).toEqual(ends);
      for (const tenant of tenants)
        expect(held.partitionFor(tenant)).toBe(file.partitionFor(tenant));
      expect([0, 1, 2].map((p) => held.logStart(p))).toEqual([0, 0, 0]);
      // Delivered in other batch sizes, the same records at the same positions.
      for (const maxBatch of [1, 7, 1024])
        expect(await readAll(held, ends, maxBatch)).toEqual(records);
      await expect(held.append([{ tenant: "t-a", payload: new Uint8Array(1) }])).rejects.toThrow(
        "A restore's held records cannot be appended to.",
      );
      await held.close();
    } finally {
      await file.close();
    }
  });
});
