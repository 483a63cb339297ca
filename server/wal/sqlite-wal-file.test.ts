/**
 * A commit of many rows (a burst, a restore's segment) goes in multi-row INSERT
 * statements, the rest one row a statement: every row is stored in order either way, and
 * a duplicate anywhere in the commit still fails it whole. Opening reads each partition's
 * first and last offsets by index seeks, and still refuses records of a partition the log
 * does not have.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { SqliteWalFile, type WalRow } from "./sqlite-wal-file.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function open(): { file: SqliteWalFile; path: string } {
  const dir = mkdtempSync(join(tmpdir(), "entdb-wal-commit-"));
  dirs.push(dir);
  const path = join(dir, "wal.sqlite");
  return { file: SqliteWalFile.open({ path, partitions: 2 }), path };
}

function rows(partition: number, first: number, count: number): WalRow[] {
  return Array.from({ length: count }, (_, i) => ({
    partition,
    offset: first + i,
    tenant: `tenant-${(first + i) % 3}`,
    payload: Uint8Array.from({ length: (first + i) % 7 }, (_, k) => (first + i + k) & 0xff),
  }));
}

function plain(list: readonly { tenant: string; payload: Uint8Array }[]) {
  return list.map((r) => ({ tenant: r.tenant, payload: [...r.payload] }));
}

describe("SqliteWalFile.commit of many rows", () => {
  it("stores every row of commits of 1, 63, 64, 150 and 1,000 rows, in order, across a reopen", () => {
    const { file, path } = open();
    const written: WalRow[] = [];
    let next = 0;
    for (const count of [1, 63, 64, 150, 1000]) {
      const batch = rows(1, next, count);
      file.commit(batch);
      written.push(...batch);
      next += count;
    }
    expect(plain(file.read(1, 0, 10_000))).toEqual(plain(written));
    file.close();
    const again = SqliteWalFile.open({ path });
    expect(again.ends).toEqual([0, next]);
    expect(plain(again.read(1, 0, 10_000))).toEqual(plain(written));
    again.close();
  });

  it("fails a large commit whole when one of its rows takes a stored offset", () => {
    const { file } = open();
    file.commit(rows(0, 0, 10));
    // 200 rows from offset 10, the 130th (in the third multi-row statement) a duplicate of 5.
    const batch = rows(0, 10, 200);
    batch[130] = { ...batch[130]!, offset: 5 };
    expect(() => file.commit(batch)).toThrow(/UNIQUE constraint failed/);
    expect(file.read(0, 0, 1000).map((e) => e.position.offset)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
    ]);
    file.close();
  });
});

describe("SqliteWalFile.open", () => {
  it("finds each partition's first and last offsets, after a truncation too", () => {
    const { file, path } = open();
    file.commit([...rows(0, 0, 300), ...rows(1, 0, 5)]);
    expect(file.truncate(0, 120, 1000)).toBe(120);
    file.close();
    const again = SqliteWalFile.open({ path });
    expect({ starts: again.starts, ends: again.ends }).toEqual({
      starts: [120, 0],
      ends: [300, 5],
    });
    again.close();
    const empty = open();
    expect({ starts: empty.file.starts, ends: empty.file.ends }).toEqual({
      starts: [0, 0],
      ends: [0, 0],
    });
    empty.file.close();
  });

  it.each([5, -1])("refuses a log holding records of partition %i of 2", (partition) => {
    const { file, path } = open();
    file.commit(rows(1, 0, 3));
    file.close();
    const db = new Database(path);
    db.prepare(
      "INSERT INTO wal_records (partition_no, log_offset, tenant, payload) VALUES (?, 0, 't', x'00')",
    ).run(partition);
    db.close();
    expect(() => SqliteWalFile.open({ path })).toThrow(
      `The log ${path} holds records of partition ${partition}.`,
    );
  });
});
