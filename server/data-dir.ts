/**
 * The start-up check of the data dir: before anything is opened, the server creates the
 * dir if needed and writes, fsyncs and removes a small file in it, so a dir it cannot
 * write fails start-up with the dir and the cause named ("is read-only", "permission
 * denied", "is on a full disk") instead of SQLite's "disk I/O error" from deeper down.
 * It checks the moment of start only: a disk that fills later is the log's to report
 * (`/ready`, `docs/durability.md`).
 */

import { closeSync, fsyncSync, mkdirSync, openSync, rmSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";

/** The data dir cannot be used; the message names the dir, the cause and the fix. */
export class DataDirError extends Error {
  override readonly name = "DataDirError";
  readonly code = "data-dir";
}

/** Bytes of the probe file: one page, so a disk with no free block fails the check. */
const PROBE_BYTES = 4096;

/** Creates `dir` if missing and checks this process can write and fsync a file in it. */
export function checkDataDir(dir: string): void {
  const path = resolve(dir);
  try {
    mkdirSync(path, { recursive: true });
  } catch (error) {
    throw dataDirError(path, error);
  }
  const probe = join(path, `.entdb-write-check-${process.pid}`);
  let fd: number | undefined;
  try {
    fd = openSync(probe, "w");
    writeSync(fd, new Uint8Array(PROBE_BYTES));
    fsyncSync(fd);
  } catch (error) {
    throw dataDirError(path, error);
  } finally {
    if (fd !== undefined) closeSync(fd);
    rmSync(probe, { force: true });
  }
}

function dataDirError(dir: string, error: unknown): DataDirError {
  const code = (error as { code?: unknown } | null)?.code;
  const fix = "; fix that or choose another --data-dir (ENTDB_DATA_DIR).";
  const uid = typeof process.getuid === "function" ? ` by uid ${process.getuid()}` : "";
  const cause =
    code === "EROFS"
      ? `the data dir ${dir} is read-only (EROFS: its file system is mounted read-only)`
      : code === "EACCES" || code === "EPERM"
        ? `permission denied: the data dir ${dir} is not writable${uid} (${code})`
        : code === "ENOSPC" || code === "EDQUOT"
          ? `the data dir ${dir} is on a full disk (${code})`
          : code === "ENOTDIR" || code === "EEXIST"
            ? `the data dir ${dir} is not a directory (${code})`
            : `the data dir ${dir} cannot be written: ${error instanceof Error ? error.message : String(error)}`;
  return new DataDirError(`${cause}${fix}`, { cause: error });
}
