/**
 * A {@link WalWriter} that runs SQLite on the calling thread (the event loop) and makes
 * every write durable itself, with an `fdatasync` of the `-wal` file, instead of SQLite's
 * fsync inside COMMIT: on the calling thread when the log is quiet (a lone append, as one
 * client sending one write at a time makes), so that write costs no thread hop; on
 * libuv's thread pool otherwise, so the event loop keeps accepting appends and forming
 * the next group while the disk syncs. The measurements behind it are in
 * docs/performance-log.md ("The engine's per-write cost").
 *
 * Invariants:
 * - A write (commit, truncate) resolves only after an `fdatasync` of the `-wal` file that
 *   began after the write's frames were written. That is the durability of
 *   `synchronous=FULL`: `fdatasync` flushes the data and any size change, and skips
 *   only the modification time.
 * - Writes and checkpoints run one at a time, in call order (a promise chain). So a
 *   checkpoint runs only when every frame of the `-wal` file is durable, and the database
 *   file is fsynced after it, before the next write may restart the `-wal` file over
 *   frames the database file now holds.
 * - The directory is fsynced once at open, so a `-wal` file that this open created
 *   survives a power loss (SQLite does the same under FULL when it creates the file).
 * - Reads run at once on the calling thread and may see rows whose sync is still
 *   running; `EmbeddedWal` asks only for offsets below its committed end.
 * - After a failed write every later one fails too (the file's state is unknown until it
 *   is reopened, which `EmbeddedWal` does); `close` still closes the file.
 */

import { closeSync, fdatasync, fdatasyncSync, fsyncSync, openSync } from "node:fs";
import { dirname } from "node:path";
import type { SqliteWalFileOptions, WalRow } from "./sqlite-wal-file.ts";
import { SqliteWalFile, settleWalCall, toWalError } from "./sqlite-wal-file.ts";
import type { WalWriter } from "./wal-writer.ts";

/**
 * Checkpoint once this many bytes of records were written since the last one (SQLite's
 * own default is 1,000 pages, about 4 MiB of `-wal` file).
 */
export const CHECKPOINT_BYTES = 4 * 1024 * 1024;

/** ...or once this many writes were made since the last one (each writes 2 or more pages). */
export const CHECKPOINT_WRITES = 1000;

/** Opens the file on the calling thread; commits sync it as described at the top. */
export function openLoopWalWriter(options: SqliteWalFileOptions): WalWriter {
  const { path } = options;
  const file = SqliteWalFile.open({ ...options, sync: "caller" });
  let walFd: number | undefined;
  let dbFd: number | undefined;
  try {
    // SQLite created the `-wal` file at open (journal_mode=WAL or the schema's first
    // write) and keeps it until close: in exclusive locking mode nothing else removes it.
    walFd = openSync(`${path}-wal`, "r+");
    dbFd = openSync(path, "r+");
    const dirFd = openSync(dirname(path), "r");
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch (error) {
    if (walFd !== undefined) closeSync(walFd);
    if (dbFd !== undefined) closeSync(dbFd);
    file.close();
    throw toWalError(error, path);
  }
  const wal = walFd;
  const db = dbFd;

  let chain: Promise<unknown> = Promise.resolve();
  let failed: unknown;
  let bytesSince = 0;
  let writesSince = 0;

  /** Runs `write` after every earlier write; a failure fails every later one too. */
  const serialize = <T>(write: () => Promise<T>): Promise<T> => {
    const run = chain.then(async () => {
      if (failed !== undefined) throw toWalError(failed, path);
      try {
        return await write();
      } catch (error) {
        failed = error;
        throw toWalError(error, path);
      }
    });
    chain = run.catch(() => {});
    return run;
  };

  const syncLog = (quiet: boolean): Promise<void> =>
    quiet
      ? Promise.resolve(fdatasyncSync(wal))
      : new Promise((resolve, reject) =>
          fdatasync(wal, (error) => (error === null ? resolve() : reject(error))),
        );

  /** After a durable write: checkpoints when the `-wal` file has grown enough. */
  const maybeCheckpoint = (bytes: number): void => {
    bytesSince += bytes;
    writesSince++;
    if (bytesSince < CHECKPOINT_BYTES && writesSince < CHECKPOINT_WRITES) return;
    file.checkpoint();
    fsyncSync(db);
    bytesSince = 0;
    writesSince = 0;
  };

  return {
    partitions: file.partitions,
    ends: file.ends,
    starts: file.starts,
    identity: file.identity,
    commit(rows: readonly WalRow[], quiet = false) {
      return serialize(async () => {
        file.commit(rows);
        await syncLog(quiet);
        let bytes = 0;
        for (const row of rows) bytes += row.payload.byteLength + row.tenant.length + 16;
        maybeCheckpoint(bytes);
        return undefined;
      });
    },
    truncate(partition, below, limit) {
      return serialize(async () => {
        const deleted = file.truncate(partition, below, limit);
        if (deleted > 0) {
          await syncLog(false);
          maybeCheckpoint(0);
        }
        return deleted;
      });
    },
    read: (partition, from, limit) => settleWalCall(path, () => file.read(partition, from, limit)),
    close() {
      const closing = chain.then(() => {
        try {
          file.close();
        } finally {
          closeSync(wal);
          closeSync(db);
        }
      });
      chain = closing.catch(() => {});
      return closing.catch((error: unknown) => {
        throw toWalError(error, path);
      });
    },
  };
}
