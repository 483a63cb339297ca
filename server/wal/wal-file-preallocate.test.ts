import { mkdtempSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readWalFrames } from "../../tests/wal/sqlite-wal-frames.ts";
import { SqliteWalFile } from "./sqlite-wal-file.ts";
import {
  PREALLOCATE_FREE_FACTOR,
  preallocateWalFile,
  WAL_PREALLOCATE_BYTES,
} from "./wal-file-preallocate.ts";

const dirs: string[] = [];
const files: SqliteWalFile[] = [];
afterEach(() => {
  for (const file of files.splice(0)) file.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "entdb-wal-preallocate-"));
  dirs.push(dir);
  return dir;
}

function open(path: string): SqliteWalFile {
  const file = SqliteWalFile.open({ path, partitions: 2 });
  files.push(file);
  return file;
}

const payload = (n: number): Uint8Array => new TextEncoder().encode(`record ${n}`.padEnd(300, "."));

/** Where the valid frames of a `-wal` file's bytes end. */
function framesEnd(bytes: Uint8Array): number {
  const { pageSize, frames } = readWalFrames(bytes);
  const last = frames.at(-1);
  if (last === undefined) throw new Error("The -wal file holds no frames.");
  return last.start + 24 + pageSize;
}

describe("the embedded log's -wal file preallocation", () => {
  it("extends a new log's -wal file with zeros after its frames, and commits overwrite them", () => {
    const path = join(tempDir(), "log.db");
    const file = open(path);
    const opened = readFileSync(`${path}-wal`);
    expect(opened.byteLength).toBe(WAL_PREALLOCATE_BYTES);
    expect(opened.subarray(framesEnd(opened)).every((byte) => byte === 0)).toBe(true);

    // 300 one-record commits write about 600 frames: within the preallocated size, so the
    // file does not grow (SQLite checkpoints only after 1,000 frames).
    for (let i = 0; i < 300; i++) {
      file.commit([{ partition: i % 2, offset: i >> 1, tenant: "t1", payload: payload(i) }]);
    }
    const written = readFileSync(`${path}-wal`);
    expect(written.byteLength).toBe(WAL_PREALLOCATE_BYTES);
    expect(readWalFrames(written).commits.length).toBeGreaterThanOrEqual(300);
    expect(written.subarray(framesEnd(written)).every((byte) => byte === 0)).toBe(true);
  });

  it("recovers every committed record from a crash image whose -wal file ends in zeros", () => {
    const dir = tempDir();
    const path = join(dir, "log.db");
    const file = open(path);
    for (let i = 0; i < 300; i++) {
      file.commit([{ partition: i % 2, offset: i >> 1, tenant: "t1", payload: payload(i) }]);
    }
    // What a crash leaves: every commit was fsynced, so the files as they are now.
    const image = join(dir, "image.db");
    writeFileSync(image, readFileSync(path));
    writeFileSync(`${image}-wal`, readFileSync(`${path}-wal`));

    const recovered = open(image);
    expect(recovered.ends).toEqual([150, 150]);
    const records = [...recovered.read(0, 0, 1000), ...recovered.read(1, 0, 1000)];
    expect(records).toHaveLength(300);
    for (const record of records) {
      const { partition, offset } = record.position;
      expect(record.payload).toEqual(payload(offset * 2 + partition));
    }
    // The recovered log takes commits after the recovered ends.
    recovered.commit([{ partition: 0, offset: 150, tenant: "t1", payload: payload(300) }]);
    expect(recovered.read(0, 150, 10).map((entry) => entry.position.offset)).toEqual([150]);
  });

  it("writes only past the file's end, and nothing to a file already that long", () => {
    const path = join(tempDir(), "log.db-wal");
    const content = new Uint8Array(10_000).map((_, i) => (i * 7 + 1) % 251 || 1);
    writeFileSync(path, content);

    expect(preallocateWalFile(path, 50_000)).toBe(40_000);
    const extended = readFileSync(path);
    expect(extended.byteLength).toBe(50_000);
    expect(extended.subarray(0, 10_000)).toEqual(Buffer.from(content));
    expect(extended.subarray(10_000).every((byte) => byte === 0)).toBe(true);

    expect(preallocateWalFile(path, 50_000)).toBe(0);
    expect(preallocateWalFile(path, 20_000)).toBe(0);
    expect(statSync(path).size).toBe(50_000);
  });

  it("adds nothing on a file system without that much room to spare, or to a missing file", () => {
    const dir = tempDir();
    const path = join(dir, "log.db-wal");
    writeFileSync(path, new Uint8Array(100));
    const disk = statfsSync(dir);
    const free = disk.bavail * disk.bsize;
    expect(preallocateWalFile(path, Math.ceil(free / PREALLOCATE_FREE_FACTOR) + 4096)).toBe(0);
    expect(statSync(path).size).toBe(100);
    expect(preallocateWalFile(join(dir, "missing.db-wal"), 50_000)).toBe(0);
  });
});
