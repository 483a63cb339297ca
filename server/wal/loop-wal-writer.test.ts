import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { CHECKPOINT_WRITES, openLoopWalWriter } from "./loop-wal-writer.ts";
import type { WalRow } from "./sqlite-wal-file.ts";
import { openInlineWalWriter } from "./wal-writer.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function logPath(): string {
  const dir = mkdtempSync(join(tmpdir(), "entdb-loop-writer-"));
  dirs.push(dir);
  return join(dir, "log.db");
}

const row = (offset: number): WalRow => ({
  partition: 0,
  offset,
  tenant: "t1",
  payload: new TextEncoder().encode(`record ${offset}`),
});

describe("the loop writer", () => {
  it("checkpoints into the database file after enough durable writes, and keeps every record", async () => {
    const path = logPath();
    const writer = openLoopWalWriter({ path, partitions: 1 });
    const before = statSync(path).size;
    // Quiet (fsync on this thread) and not (on the thread pool), alternating.
    for (let offset = 0; offset < CHECKPOINT_WRITES; offset++) {
      await writer.commit([row(offset)], offset % 2 === 0);
    }
    // The last write reached the threshold: its pages were copied into the database file.
    expect(statSync(path).size).toBeGreaterThan(before);
    await writer.commit([row(CHECKPOINT_WRITES)]);
    await writer.close();
    expect(existsSync(`${path}-wal`)).toBe(false);

    const reopened = openInlineWalWriter({ path });
    try {
      expect(reopened.ends).toEqual([CHECKPOINT_WRITES + 1]);
      const entries = await reopened.read(0, 0, CHECKPOINT_WRITES + 1);
      expect(entries.map((entry) => entry.position.offset)).toEqual(
        Array.from({ length: CHECKPOINT_WRITES + 1 }, (_, offset) => offset),
      );
      expect(new TextDecoder().decode(entries.at(-1)!.payload)).toBe(`record ${CHECKPOINT_WRITES}`);
    } finally {
      await reopened.close();
    }
  });

  it("leaves a file that opens with synchronous=FULL, and holds the lock until closed", async () => {
    const path = logPath();
    const writer = openLoopWalWriter({ path, partitions: 2 });
    await writer.commit([row(0)], true);
    expect(() => openLoopWalWriter({ path })).toThrow(/is open elsewhere/);
    await writer.close();
    const db = new Database(path, { readonly: true });
    try {
      const count = db.prepare("SELECT COUNT(*) AS n FROM wal_records").get() as { n: number };
      expect(count.n).toBe(1);
    } finally {
      db.close();
    }
    const inline = openInlineWalWriter({ path });
    expect(inline.ends).toEqual([1, 0]);
    await inline.close();
  });

  it("deletes old records, and commits after it keep the offsets going", async () => {
    const path = logPath();
    const writer = openLoopWalWriter({ path, partitions: 1 });
    for (let offset = 0; offset < 10; offset++) await writer.commit([row(offset)], true);
    expect(await writer.truncate(0, 6, 100)).toBe(6);
    await writer.commit([row(10)], false);
    expect((await writer.read(0, 0, 100)).map((entry) => entry.position.offset)).toEqual([
      6, 7, 8, 9, 10,
    ]);
    await writer.close();
    const reopened = openInlineWalWriter({ path });
    expect([reopened.starts, reopened.ends]).toEqual([[6], [11]]);
    await reopened.close();
  });
});
