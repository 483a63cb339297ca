import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openEmbeddedWal } from "./embedded-wal.ts";
import type { WalEntry } from "./wal.ts";
import { WalError } from "./wal.ts";
import type { WalWriterPlacement } from "./wal-writer.ts";

const encoder = new TextEncoder();
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function logPath(): string {
  const dir = mkdtempSync(join(tmpdir(), "entdb-wal-truncate-"));
  dirs.push(dir);
  return join(dir, "wal.sqlite");
}

/** Reads `partition` from `from` to `end` through a subscription; rejects with its error. */
async function readFrom(
  wal: Awaited<ReturnType<typeof openEmbeddedWal>>,
  partition: number,
  from: number,
  end: number,
): Promise<WalEntry[]> {
  const got: WalEntry[] = [];
  let finish = (): void => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const sub = wal.subscribe({
    startOffset: (p) => (p === partition ? from : 0),
    handler: async (entries) => {
      if (entries[0]?.position.partition !== partition) return;
      got.push(...entries);
      if (got.length >= end - from) finish();
    },
  });
  try {
    await Promise.race([finished, sub.done]);
  } finally {
    await sub.stop();
  }
  await sub.done;
  return got;
}

describe.each(["inline", "thread", "loop"] as const)(
  "embedded log truncation (%s writer)",
  (writer: WalWriterPlacement) => {
    it("deletes the oldest records below the bound in batches, never the last one, and keeps the end across a reopen", async () => {
      const path = logPath();
      let wal = await openEmbeddedWal({ path, partitions: 1, writer });
      for (let i = 0; i < 10; i++)
        await wal.append([{ tenant: "acme", payload: encoder.encode(`v${i}`) }]);
      expect(wal.logStart(0)).toBe(0);
      expect(await wal.truncateBelow(0, 6, 4)).toBe(4);
      expect(wal.logStart(0)).toBe(4);
      expect(await wal.truncateBelow(0, 6, 4)).toBe(2);
      expect(wal.logStart(0)).toBe(6);
      // Asked to go past the end: the last record stays.
      expect(await wal.truncateBelow(0, 100, 100)).toBe(3);
      expect(wal.logStart(0)).toBe(9);
      expect(await wal.truncateBelow(0, 100, 100)).toBe(0);
      await wal.close();

      wal = await openEmbeddedWal({ path, writer });
      expect(wal.logStart(0)).toBe(9);
      expect(await wal.endOffset(0)).toBe(10);
      expect(await wal.append([{ tenant: "acme", payload: encoder.encode("v10") }])).toEqual([
        { partition: 0, offset: 10 },
      ]);
      const rest = await readFrom(wal, 0, 9, 11);
      expect(rest.map((e) => [e.position.offset, new TextDecoder().decode(e.payload)])).toEqual([
        [9, "v9"],
        [10, "v10"],
      ]);
      await wal.close();
    });

    it("refuses a subscriber that asks for a deleted offset, naming the retention", async () => {
      const wal = await openEmbeddedWal({ path: logPath(), partitions: 1, writer });
      for (let i = 0; i < 5; i++)
        await wal.append([{ tenant: "acme", payload: encoder.encode(`v${i}`) }]);
      await wal.truncateBelow(0, 3, 100);
      const error = await readFrom(wal, 0, 1, 5).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WalError);
      expect((error as WalError).code).toBe("corrupt");
      expect((error as WalError).message).toBe(
        "Partition 0 of the log starts at offset 3: the records below it were deleted by local retention " +
          "after they were archived, so it cannot be read from 1. Restore the data dir from the archive " +
          "(entdb restore) to rebuild from them.",
      );
      await wal.close();
    });
  },
);
