/**
 * Where the embedded log's SQLite connection lives. {@link EmbeddedWal} forms commit
 * groups and assigns offsets; a writer only executes them. Three placements, all passing
 * the contract suite: the connection on the calling thread ({@link openInlineWalWriter}),
 * whose commits block the event loop for the fsync; on a worker thread
 * (`thread-wal-writer.ts`), which keeps the event loop free at the cost of copying
 * records between threads and two thread wake-ups per commit; or on the calling thread
 * with the fsync done by the writer (`loop-wal-writer.ts`), inline for a lone append and
 * on libuv's thread pool when appends are arriving. `docs/durability.md` has the
 * measurements behind the default.
 */

import type { SqliteWalFileOptions, WalRow } from "./sqlite-wal-file.ts";
import { SqliteWalFile, settleWalCall } from "./sqlite-wal-file.ts";
import type { Wal, WalEntry } from "./wal.ts";

/**
 * Executes commits and reads against one open log file.
 * Must be called with at most one `commit` outstanding at a time (the caller serializes
 * commits so that offsets reach the file in order); reads may overlap commits and see
 * only committed rows. After `close` resolves no method may be called.
 */
export interface WalWriter {
  /** Partition count stored in the file. */
  readonly partitions: number;
  /** Per partition, one past the last stored offset when the file was opened. */
  readonly ends: readonly number[];
  /** Per partition, the lowest stored offset when the file was opened. */
  readonly starts: readonly number[];
  /** The log's identity stored in the file. */
  readonly identity: string;
  /**
   * Writes the rows in one transaction; resolves after the fsync, rejects with a
   * `WalError`. `quiet`: no other append waits, so the writer may block the calling
   * thread for the fsync rather than pay a thread hop (only the loop writer uses it).
   * May resolve with the rows' payloads (in row order) in memory of the writer's own,
   * which nothing else holds or changes, so the caller may keep them without a copy; a
   * writer that has no such copy resolves with nothing.
   */
  commit(rows: readonly WalRow[], quiet?: boolean): Promise<readonly Uint8Array[] | undefined>;
  /** {@link SqliteWalFile.truncate}: deletes up to `limit` oldest records below `below`. */
  truncate(partition: number, below: number, limit: number): Promise<number>;
  /** Up to `limit` committed entries of `partition` from offset `from`. */
  read(partition: number, from: number, limit: number): Promise<WalEntry[]>;
  /** Checkpoints, closes the file and releases its lock. */
  close(): Promise<void>;
  /**
   * Settles, synchronously, the calls a writer on another thread has finished but whose
   * answers the event loop has not yet taken ({@link Wal.takeCompletions}).
   */
  takeCompletions?(): void;
}

/**
 * Which thread runs the SQLite connection: `"inline"` the calling thread, fsync inside
 * COMMIT; `"thread"` a worker thread; `"loop"` the calling thread, with the writer's own
 * fsync (`loop-wal-writer.ts`).
 */
export type WalWriterPlacement = "thread" | "inline" | "loop";

/** Opens the file on the calling thread; commits block it for their fsync. */
export function openInlineWalWriter(options: SqliteWalFileOptions): WalWriter {
  const file = SqliteWalFile.open(options);
  const { path } = options;
  return {
    partitions: file.partitions,
    ends: file.ends,
    starts: file.starts,
    identity: file.identity,
    commit: (rows) =>
      settleWalCall(path, () => {
        file.commit(rows);
        return undefined;
      }),
    truncate: (partition, below, limit) =>
      settleWalCall(path, () => file.truncate(partition, below, limit)),
    read: (partition, from, limit) => settleWalCall(path, () => file.read(partition, from, limit)),
    close: () => settleWalCall(path, () => file.close()),
  };
}
