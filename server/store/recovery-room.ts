/**
 * What a tenant parked by a full disk needs freed before its retry can succeed. The
 * retry opens the tenant file and checkpoints its `-wal` file into it: the database file
 * grows by the pages the `-wal` file holds beyond its end, and the `-wal` file is reset
 * only once all of them are in. So the room needed is at most the `-wal` file's size
 * (all of it, when every page it holds is new: measured on a tmpfs, 0.67-0.70 of the
 * `-wal` file for inserts, nearly nothing for rewrites of existing pages;
 * docs/durability.md "A disk that fills").
 */

import { existsSync, statSync } from "node:fs";

/** Whether `err`, or an error in its `cause` chain, is SQLite's full disk. */
export function isFullDisk(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; depth++) {
    const code = (e as { code?: unknown }).code;
    if (code === "SQLITE_FULL" || code === "ENOSPC") return true;
    e = e.cause;
  }
  return false;
}

/**
 * The sentence a full disk's park message ends with: the tenant file whose disk needs
 * room and how much (its `-wal` file's size, rounded up to 0.1 MB); undefined when
 * `err` is no full disk.
 */
export function roomToRecover(path: string, err: unknown): string | undefined {
  if (!isFullDisk(err)) return undefined;
  const wal = `${path}-wal`;
  const bytes = existsSync(wal) ? statSync(wal).size : 0;
  if (bytes === 0)
    return `Free space on the disk of ${path}; the next retry applies the tenant's events.`;
  const mb = (Math.ceil((bytes / (1024 * 1024)) * 10) / 10).toFixed(1);
  return `Free ${mb} MB on the disk of ${path}: the retry checkpoints its ${mb} MB -wal file into it, which grows the file by up to that much.`;
}
