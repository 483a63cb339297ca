/**
 * Where an archive lives: `s3://BUCKET/PREFIX`, parsed once, and the keys of everything
 * in it. Every key is under the prefix, so several logs can share a bucket.
 *
 * Layout (PREFIX/…):
 * - `log.json`: which log this is (its identity and partition count), written once.
 * - `wal/p00003/00000000000000000100-00000000000000000200.seg.gz`: a segment of
 *   partition 3 holding offsets 100 up to (not including) 200. Fixed-width numbers
 *   make the lexical order of keys the order of offsets.
 */

import { ArchiveError } from "./archive-error.ts";

/** A parsed `s3://bucket/prefix`. `prefix` is "" or ends with "/". */
export interface ArchiveLocation {
  readonly bucket: string;
  readonly prefix: string;
  /** The URL as an operator wrote it, normalized (`s3://bucket/prefix`), for messages. */
  readonly url: string;
}

/** S3's bucket naming rules (the DNS-compatible ones, which path-style addressing also needs). */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Parses `s3://bucket[/prefix]`; throws `ArchiveError` "invalid" with what to fix. */
export function parseArchiveUrl(text: string): ArchiveLocation {
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(text);
  if (!match)
    throw new ArchiveError(
      "invalid",
      `'${text}' is not an archive location; write s3://BUCKET/PREFIX (for example s3://backups/entdb/prod).`,
    );
  const bucket = match[1]!;
  if (!BUCKET.test(bucket))
    throw new ArchiveError(
      "invalid",
      `'${bucket}' in '${text}' is not a valid bucket name: 3-63 lower-case letters, digits, '.' and '-'.`,
    );
  const parts = (match[2] ?? "").split("/").filter((p) => p !== "");
  const prefix = parts.length === 0 ? "" : `${parts.join("/")}/`;
  return { bucket, prefix, url: `s3://${bucket}/${parts.join("/")}` };
}

const OFFSET_WIDTH = 20;
const PARTITION_WIDTH = 5;

/** The key of the log's manifest. */
export function manifestKey(location: ArchiveLocation): string {
  return `${location.prefix}log.json`;
}

/** The key prefix of one partition's segments. */
export function partitionPrefix(location: ArchiveLocation, partition: number): string {
  return `${location.prefix}wal/p${String(partition).padStart(PARTITION_WIDTH, "0")}/`;
}

/** A segment's range: offsets `first` up to (not including) `end` of `partition`. */
export interface SegmentRange {
  readonly partition: number;
  readonly first: number;
  readonly end: number;
}

/** The key of the segment holding `range`. */
export function segmentKey(location: ArchiveLocation, range: SegmentRange): string {
  const pad = (n: number) => String(n).padStart(OFFSET_WIDTH, "0");
  return `${partitionPrefix(location, range.partition)}${pad(range.first)}-${pad(range.end)}.seg.gz`;
}

/** The range a segment key names, or undefined for a key that is not a segment's. */
export function parseSegmentKey(
  location: ArchiveLocation,
  partition: number,
  key: string,
): SegmentRange | undefined {
  const base = partitionPrefix(location, partition);
  if (!key.startsWith(base)) return undefined;
  const match = /^(\d{20})-(\d{20})\.seg\.gz$/.exec(key.slice(base.length));
  if (!match) return undefined;
  const first = Number(match[1]);
  const end = Number(match[2]);
  if (!Number.isSafeInteger(end) || end <= first) return undefined;
  return { partition, first, end };
}

/** Checks an S3 endpoint URL (`--s3-endpoint`): http or https; throws `ArchiveError` "invalid". */
export function checkS3Endpoint(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== "http:" && url.protocol !== "https:"))
    throw new ArchiveError(
      "invalid",
      `The S3 endpoint '${text}' is not an http(s) URL; write it like http://127.0.0.1:9000.`,
    );
  return text;
}
