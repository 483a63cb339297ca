/**
 * Keeps the embedded log's `-wal` file allocated on disk, so that a commit's fsync
 * flushes the commit's blocks and the inode's timestamps, not also a block allocation.
 *
 * SQLite appends frames to the `-wal` file until a checkpoint, then rewrites it from its
 * start (it never truncates it here: no `journal_size_limit`, PASSIVE checkpoints), so
 * once the file has grown to its checkpoint size every later commit overwrites blocks it
 * already has. Until then each commit extends the file, and its fsync also writes the
 * new blocks' allocation (bitmaps, extents, the size): on this project's ext4 about 60–150
 * µs more per commit, for the first ~500 commits after every open (SQLite deletes the
 * `-wal` file at close). Writing zeros up to that size once at open moves the cost there.
 *
 * Why it is safe (the reasoning in docs/durability.md, "Embedded WAL"):
 * - Only bytes past the file's current end are written, before this connection commits
 *   anything further, so no frame SQLite wrote is touched.
 * - SQLite's recovery reads frames from the start while their salts and checksums match
 *   the header; a zero frame matches neither, so the zeros end the log exactly as the
 *   stale frames of an earlier generation do after a checkpoint. A zero header (a file
 *   preallocated while empty) is an empty log, which SQLite rewrites at its first commit.
 * - A crash during or after the preallocation leaves a longer file with a zero tail and
 *   the same valid prefix: nothing acknowledged depends on it.
 * - Zeros written, not `fallocate`: an allocated but unwritten extent would make the
 *   first write to each block convert it, which is again metadata in the commit's fsync.
 */

import { closeSync, fstatSync, fsyncSync, openSync, statfsSync, writeSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Size the `-wal` file is kept at: SQLite's automatic checkpoint comes after 1,000 frames
 * of a 4 KiB page (4,120 bytes each with its header), plus room for the transaction that
 * crosses it.
 */
export const WAL_PREALLOCATE_BYTES = 4_352 * 1024;

/**
 * Preallocate only on a file system with at least this many times the bytes free, so a
 * nearly full (or small) disk keeps its space for records and fails commits as before.
 */
export const PREALLOCATE_FREE_FACTOR = 16;

const CHUNK_BYTES = 256 * 1024;

/**
 * Extends the `-wal` file at `walPath` with zeros to `bytes` and fsyncs it; returns how
 * many bytes were added. Adds nothing to a missing file, a file already that long, or one
 * on a file system with less than {@link PREALLOCATE_FREE_FACTOR} times `bytes` free.
 * A failure (a full disk meanwhile, an I/O error) is not the caller's: the file then
 * ends in fewer zeros, or none, and grows as it would have, so it adds 0.
 */
export function preallocateWalFile(walPath: string, bytes = WAL_PREALLOCATE_BYTES): number {
  let fd: number;
  try {
    fd = openSync(walPath, "r+");
  } catch {
    return 0;
  }
  try {
    const size = fstatSync(fd).size;
    if (size >= bytes) return 0;
    const disk = statfsSync(dirname(walPath));
    if (disk.bavail * disk.bsize < PREALLOCATE_FREE_FACTOR * bytes) return 0;
    const zeros = new Uint8Array(CHUNK_BYTES);
    for (let at = size; at < bytes; ) {
      at += writeSync(fd, zeros, 0, Math.min(CHUNK_BYTES, bytes - at), at);
    }
    fsyncSync(fd);
    return bytes - size;
  } catch {
    return 0;
  } finally {
    closeSync(fd);
  }
}
