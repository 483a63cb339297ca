/**
 * The archived form of a run of log records: one immutable, gzip-compressed object per
 * segment. A segment holds consecutive offsets `first` up to (not including) `end` of
 * one partition, exactly as the log holds them (tenant key and payload bytes).
 *
 * Body before compression: the magic `ENTDBSEG1\n`, then partition (u32), first offset
 * (u64), record count (u32), then per record: tenant length (u32), tenant UTF-8 bytes,
 * payload length (u32), payload bytes. All big-endian.
 *
 * Object metadata: `sha256` of the stored (compressed) bytes, `partition`, `first`, `end`,
 * `records` and `log` (the identity of the log). Reading checks the checksum first, then
 * that key, metadata and body agree on the range, so a corrupt, truncated or misnamed
 * object is refused with its key in the message, never half-read.
 */

import { createHash, webcrypto } from "node:crypto";
import { promisify } from "node:util";
import { gunzip, gunzipSync, gzip, gzipSync } from "node:zlib";
import type { WalEntry } from "../wal/index.ts";
import { ArchiveError } from "./archive-error.ts";
import type { SegmentRange } from "./archive-location.ts";

const MAGIC = Buffer.from("ENTDBSEG1\n", "latin1");
const HEADER_BYTES = MAGIC.length + 4 + 8 + 4;

/** A segment ready to put: its range, compressed body and metadata. */
export interface EncodedSegment {
  readonly range: SegmentRange;
  readonly body: Uint8Array;
  readonly metadata: Readonly<Record<string, string>>;
}

/** Hex SHA-256 of `bytes`. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * Encodes consecutive entries of one partition. Throws if they are not consecutive: a
 * segment never has a hole.
 */
export function encodeSegment(logIdentity: string, entries: readonly WalEntry[]): EncodedSegment {
  const { raw, range } = rawSegment(entries);
  return sealSegment(logIdentity, range, gzipSync(raw, GZIP));
}

/**
 * {@link encodeSegment} with the compression on the thread pool, so the archiver inside
 * the server does not hold up the event loop that serves requests.
 */
export async function encodeSegmentAsync(
  logIdentity: string,
  entries: readonly WalEntry[],
): Promise<EncodedSegment> {
  const { raw, range } = rawSegment(entries);
  return sealSegment(logIdentity, range, await gzipAsync(raw, GZIP));
}

const GZIP = { level: 6 } as const;
const gzipAsync = promisify(gzip);

/** The uncompressed body (module comment), written into one buffer. */
function rawSegment(entries: readonly WalEntry[]): { raw: Buffer; range: SegmentRange } {
  const head = entries[0];
  if (!head) throw new ArchiveError("invalid", "A segment needs at least one record.");
  const { partition, offset: first } = head.position;
  const tenants = entries.map((entry, i) => {
    if (entry.position.partition !== partition || entry.position.offset !== first + i)
      throw new ArchiveError(
        "gap",
        `Segment records must be consecutive: expected ${partition}:${first + i}, got ${entry.position.partition}:${entry.position.offset}.`,
      );
    return Buffer.from(entry.tenant, "utf8");
  });
  let size = HEADER_BYTES;
  entries.forEach((entry, i) => {
    size += 8 + tenants[i]!.length + entry.payload.byteLength;
  });
  const raw = Buffer.allocUnsafe(size);
  MAGIC.copy(raw, 0);
  raw.writeUInt32BE(partition, MAGIC.length);
  raw.writeBigUInt64BE(BigInt(first), MAGIC.length + 4);
  raw.writeUInt32BE(entries.length, MAGIC.length + 12);
  let at = HEADER_BYTES;
  entries.forEach((entry, i) => {
    const tenant = tenants[i]!;
    at = raw.writeUInt32BE(tenant.length, at);
    at += tenant.copy(raw, at);
    at = raw.writeUInt32BE(entry.payload.byteLength, at);
    raw.set(entry.payload, at);
    at += entry.payload.byteLength;
  });
  return { raw, range: { partition, first, end: first + entries.length } };
}

function sealSegment(logIdentity: string, range: SegmentRange, body: Buffer): EncodedSegment {
  return {
    range,
    body,
    metadata: {
      sha256: sha256Hex(body),
      partition: String(range.partition),
      first: String(range.first),
      end: String(range.end),
      records: String(range.end - range.first),
      log: logIdentity,
    },
  };
}

/**
 * Decodes a segment read from `key`, which names `range`. Checks, in order: the sha256 in
 * the metadata against the bytes, the metadata's range against the key's, then the body
 * (decompression, header, every record's bounds). Throws `ArchiveError` "corrupt" naming
 * `key` and what failed: restore passes the object's path or `s3://` URL (`objectUrl`),
 * so the operator can find it.
 */
export function decodeSegment(
  key: string,
  range: SegmentRange,
  body: Uint8Array,
  metadata: Readonly<Record<string, string>>,
): WalEntry[] {
  checkSegment(key, range, body, metadata, sha256Hex(body));
  let raw: Buffer;
  try {
    raw = gunzipSync(body);
  } catch (error) {
    throw corruptSegment(key, `it does not decompress (${(error as Error).message})`);
  }
  return decodeRecords(key, range, raw);
}

/**
 * {@link decodeSegment} with the checksum and the decompression on the thread pool, so a
 * restore's thread decodes the records of one segment while they run for the next ones.
 * Same checks in the same order, same errors.
 */
export async function decodeSegmentAsync(
  key: string,
  range: SegmentRange,
  body: Uint8Array,
  metadata: Readonly<Record<string, string>>,
): Promise<WalEntry[]> {
  const digest = Buffer.from(await webcrypto.subtle.digest("SHA-256", body)).toString("hex");
  checkSegment(key, range, body, metadata, digest);
  let raw: Buffer;
  try {
    raw = await gunzipAsync(body);
  } catch (error) {
    throw corruptSegment(key, `it does not decompress (${(error as Error).message})`);
  }
  return decodeRecords(key, range, raw);
}

const gunzipAsync = promisify(gunzip);

function corruptSegment(key: string, what: string): ArchiveError {
  return new ArchiveError("corrupt", `The archived segment ${key} is corrupt: ${what}.`);
}

/** The checksum (`actual`, of the stored bytes) and the metadata's range against the key's. */
function checkSegment(
  key: string,
  range: SegmentRange,
  body: Uint8Array,
  metadata: Readonly<Record<string, string>>,
  actual: string,
): void {
  const expected = metadata["sha256"];
  if (expected === undefined) throw corruptSegment(key, "it has no sha256 in its metadata");
  if (actual !== expected)
    throw corruptSegment(
      key,
      `its sha256 is ${actual} but ${expected} was recorded (${body.byteLength} bytes: truncated or altered)`,
    );
  if (
    metadata["partition"] !== String(range.partition) ||
    metadata["first"] !== String(range.first) ||
    metadata["end"] !== String(range.end)
  )
    throw corruptSegment(
      key,
      `its metadata names ${metadata["partition"]}:${metadata["first"]}-${metadata["end"]}, its key ${range.partition}:${range.first}-${range.end}`,
    );
}

/** The records of a decompressed, checked segment body: header, then every record's bounds. */
function decodeRecords(key: string, range: SegmentRange, raw: Buffer): WalEntry[] {
  const corrupt = (what: string) => corruptSegment(key, what);
  if (raw.length < HEADER_BYTES || !raw.subarray(0, MAGIC.length).equals(MAGIC))
    throw corrupt("it does not start with a segment header");
  const partition = raw.readUInt32BE(MAGIC.length);
  const first = Number(raw.readBigUInt64BE(MAGIC.length + 4));
  const count = raw.readUInt32BE(MAGIC.length + 12);
  if (partition !== range.partition || first !== range.first || first + count !== range.end)
    throw corrupt(
      `its header holds ${partition}:${first}-${first + count}, its key ${range.partition}:${range.first}-${range.end}`,
    );
  const entries: WalEntry[] = [];
  const bytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
  let at = HEADER_BYTES;
  // Runs of one tenant are the common case: its key is decoded once per run.
  let tenant = "";
  let tenantAt = -1;
  let tenantLength = -1;
  for (let i = 0; i < count; i++) {
    if (at + 4 > bytes.length) throw corrupt(`record ${i} is cut short`);
    const length = readU32(bytes, at);
    at += 4;
    if (at + length > bytes.length) throw corrupt(`record ${i} is cut short`);
    if (length !== tenantLength || !sameBytes(bytes, tenantAt, at, length)) {
      tenant = raw.toString("utf8", at, at + length);
      tenantAt = at;
      tenantLength = length;
    }
    at += length;
    if (at + 4 > bytes.length) throw corrupt(`record ${i} is cut short`);
    const payloadLength = readU32(bytes, at);
    at += 4;
    if (at + payloadLength > bytes.length) throw corrupt(`record ${i} is cut short`);
    entries.push({
      tenant,
      payload: bytes.subarray(at, at + payloadLength),
      position: { partition, offset: first + i },
    });
    at += payloadLength;
  }
  if (at !== raw.length) throw corrupt(`${raw.length - at} bytes follow the last record`);
  return entries;
}

function readU32(bytes: Uint8Array, at: number): number {
  return (
    ((bytes[at]! << 24) >>> 0) + (bytes[at + 1]! << 16) + (bytes[at + 2]! << 8) + bytes[at + 3]!
  );
}

/** Whether the `length` bytes at `a` and at `b` are equal. */
function sameBytes(bytes: Uint8Array, a: number, b: number, length: number): boolean {
  for (let k = 0; k < length; k++) if (bytes[a + k] !== bytes[b + k]) return false;
  return true;
}
