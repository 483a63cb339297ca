/**
 * Preload for `wal-bench.ts` (`node --import ./tests/bench/wal-bench-slow-fsync.ts …`):
 * makes every embedded-log commit block its thread for `ENTDB_BENCH_FSYNC_MS` extra
 * milliseconds, the way a slow fsync does (cloud block storage, SSDs without power-loss
 * protection). Node runs `--import` preloads in worker threads too, so both writer
 * placements are slowed alike. Benchmark use only.
 */

import { SqliteWalFile } from "../../server/wal/sqlite-wal-file.ts";

const delayMs = Number(process.env["ENTDB_BENCH_FSYNC_MS"] ?? "0");
const cell = new Int32Array(new SharedArrayBuffer(4));
const commit = SqliteWalFile.prototype.commit;

SqliteWalFile.prototype.commit = function slowCommit(rows) {
  commit.call(this, rows);
  // Blocks the thread without spinning, as a real fsync would.
  Atomics.wait(cell, 0, 0, delayMs);
};
