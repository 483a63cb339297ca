/**
 * Reads a SQLite `-wal` file the way SQLite's recovery does, so crash tests can damage
 * it precisely and predict what survives. Format (sqlite.org/fileformat2.html#walformat):
 * a 32-byte header (magic, version, page size, checkpoint sequence, two salts, checksum),
 * then frames of a 24-byte header (page number, database size after commit — non-zero
 * only in a transaction's last frame —, the two salts, a cumulative checksum) and one
 * page. Recovery accepts frames while their salts match the header and the running
 * checksum matches; the log ends after the last commit frame of that valid run.
 */

/** One frame of the valid run. */
export interface WalFileFrame {
  /** Byte offset of the frame header in the file. */
  readonly start: number;
  readonly pageNumber: number;
  /** Whether this frame ends a transaction. */
  readonly commit: boolean;
}

/** What recovery would see in a `-wal` file. */
export interface WalFileLayout {
  readonly pageSize: number;
  /** Frames up to and including the last valid commit frame. */
  readonly frames: readonly WalFileFrame[];
  /** The commit frames among them, one per committed transaction, in order. */
  readonly commits: readonly WalFileFrame[];
}

const HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 24;

/** The valid prefix of a `-wal` file's bytes; an unreadable header gives no frames. */
export function readWalFrames(bytes: Uint8Array): WalFileLayout {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const none = { pageSize: 0, frames: [], commits: [] };
  if (bytes.byteLength < HEADER_BYTES) return none;
  const magic = view.getUint32(0);
  if (magic !== 0x377f0682 && magic !== 0x377f0683) return none;
  const bigEndian = (magic & 1) === 1;
  const pageSize = view.getUint32(8);
  const salt1 = view.getUint32(16);
  const salt2 = view.getUint32(20);
  let sum = checksum(view, 0, 24, bigEndian, [0, 0]);
  if (sum[0] !== view.getUint32(24) || sum[1] !== view.getUint32(28)) return none;
  const frames: WalFileFrame[] = [];
  let lastCommit = -1;
  const frameBytes = FRAME_HEADER_BYTES + pageSize;
  for (let start = HEADER_BYTES; start + frameBytes <= bytes.byteLength; start += frameBytes) {
    if (view.getUint32(start + 8) !== salt1 || view.getUint32(start + 12) !== salt2) break;
    const afterHeader = checksum(view, start, 8, bigEndian, sum);
    const next = checksum(view, start + FRAME_HEADER_BYTES, pageSize, bigEndian, afterHeader);
    if (next[0] !== view.getUint32(start + 16) || next[1] !== view.getUint32(start + 20)) break;
    sum = next;
    const commit = view.getUint32(start + 4) !== 0;
    frames.push({ start, pageNumber: view.getUint32(start), commit });
    if (commit) lastCommit = frames.length - 1;
  }
  const valid = frames.slice(0, lastCommit + 1);
  return { pageSize, frames: valid, commits: valid.filter((frame) => frame.commit) };
}

/** SQLite's WAL checksum: Fibonacci-weighted sums of 32-bit words, continued from `seed`. */
function checksum(
  view: DataView,
  start: number,
  length: number,
  bigEndian: boolean,
  seed: readonly [number, number],
): [number, number] {
  let [s0, s1] = seed;
  for (let i = start; i < start + length; i += 8) {
    s0 = (s0 + view.getUint32(i, !bigEndian) + s1) >>> 0;
    s1 = (s1 + view.getUint32(i + 4, !bigEndian) + s0) >>> 0;
  }
  return [s0, s1];
}
