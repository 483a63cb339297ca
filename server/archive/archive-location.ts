/**
 * Where an archive lives, parsed once, and the keys of everything in it: an S3 bucket
 * (`s3://BUCKET/PREFIX`) or a local directory (`file:///abs/path`, or the path itself).
 * Every key is under the prefix, so several logs can share a bucket; a directory holds
 * one archive, its keys being paths under it.
 *
 * Layout (PREFIX/…):
 * - `log.json`: which log this is (its identity and partition count), written once.
 * - `wal/p00003/00000000000000000100-00000000000000000200.seg.gz`: a segment of
 *   partition 3 holding offsets 100 up to (not including) 200. Fixed-width numbers
 *   make the lexical order of keys the order of offsets.
 */

import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ArchiveError } from "./archive-error.ts";

/** A parsed `s3://bucket/prefix`. `prefix` is "" or ends with "/". */
export interface S3ArchiveLocation {
  readonly kind: "s3";
  readonly bucket: string;
  readonly prefix: string;
  /** The URL as an operator wrote it, normalized (`s3://bucket/prefix`), for messages. */
  readonly url: string;
}

/** A parsed directory archive: keys are paths relative to `root`, so `prefix` is "". */
export interface DirArchiveLocation {
  readonly kind: "dir";
  /** The directory, absolute and normalized (no trailing slash, no `.` or `..`). */
  readonly root: string;
  readonly prefix: "";
  /** The directory's absolute path, for messages (what `--archive` takes back). */
  readonly url: string;
}

/** Where an archive lives: {@link S3ArchiveLocation} or {@link DirArchiveLocation}. */
export type ArchiveLocation = S3ArchiveLocation | DirArchiveLocation;

/** S3's bucket naming rules (the DNS-compatible ones, which path-style addressing also needs). */
const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

const WHAT_TO_WRITE =
  "write s3://BUCKET/PREFIX (for example s3://backups/entdb/prod) or a directory (/mnt/backup/entdb or file:///mnt/backup/entdb)";

/**
 * Parses `s3://bucket[/prefix]`, `file:///abs/path` or a directory path; throws
 * `ArchiveError` "invalid" with what to fix. A relative path is resolved against `cwd`
 * (the process's working directory) now, so the location does not move if it changes.
 */
export function parseArchiveUrl(text: string, cwd: string = process.cwd()): ArchiveLocation {
  if (text.startsWith("file:")) return parseFileUrl(text);
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(text) && !text.startsWith("s3:"))
    throw new ArchiveError("invalid", `'${text}' is not an archive location; ${WHAT_TO_WRITE}.`);
  if (!text.startsWith("s3:")) return dirLocation(text, cwd);
  const match = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(text);
  if (!match)
    throw new ArchiveError("invalid", `'${text}' is not an archive location; ${WHAT_TO_WRITE}.`);
  const bucket = match[1]!;
  if (!BUCKET.test(bucket))
    throw new ArchiveError(
      "invalid",
      `'${bucket}' in '${text}' is not a valid bucket name: 3-63 lower-case letters, digits, '.' and '-'.`,
    );
  const parts = (match[2] ?? "").split("/").filter((p) => p !== "");
  const prefix = parts.length === 0 ? "" : `${parts.join("/")}/`;
  return { kind: "s3", bucket, prefix, url: `s3://${bucket}/${parts.join("/")}` };
}

/** `file:///abs/path` (`file://localhost/…` too); a host or a relative path is refused. */
function parseFileUrl(text: string): DirArchiveLocation {
  if (!text.startsWith("file://"))
    throw new ArchiveError(
      "invalid",
      `'${text}' is not a usable file URL; write file:///ABSOLUTE/PATH or the path itself.`,
    );
  // The URL parser would drop a '..' silently; refuse it as for a plain path.
  if (/\/\.\.(\/|$)/.test(text)) throw dotDot(text);
  let path: string;
  try {
    path = fileURLToPath(text);
  } catch (error) {
    throw new ArchiveError(
      "invalid",
      `'${text}' is not a usable file URL (${(error as Error).message}); write file:///ABSOLUTE/PATH or the path itself.`,
    );
  }
  return dirLocation(path, "/", text);
}

/** A directory archive at `path`, resolved against `cwd`. */
function dirLocation(path: string, cwd: string, written: string = path): DirArchiveLocation {
  if (path === "")
    throw new ArchiveError("invalid", `The archive location is empty; ${WHAT_TO_WRITE}.`);
  // A '..' after a name is refused; leading ones walk up from the working directory, which
  // is a real path, so they mean what they seem to.
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  const named = parts.findIndex((p) => p !== "..");
  if (named >= 0 && parts.indexOf("..", named) >= 0) throw dotDot(written);
  if (path.includes("\0"))
    throw new ArchiveError(
      "invalid",
      `'${written}' is not a directory path (it holds a NUL byte).`,
    );
  const root = isAbsolute(path) ? resolve(path) : resolve(cwd, path);
  if (root === "/")
    throw new ArchiveError(
      "invalid",
      `'${written}' is the file system's root; give the archive a directory of its own.`,
    );
  return { kind: "dir", root, prefix: "", url: root };
}

function dotDot(written: string): ArchiveError {
  return new ArchiveError(
    "invalid",
    `'${written}' has a '..' component; write the directory without it (after a symbolic link, '..' is not the parent the path seems to name).`,
  );
}

const OFFSET_WIDTH = 20;
const PARTITION_WIDTH = 5;

/**
 * An object's name as an operator finds it, for messages: the file's path in a directory
 * archive, `s3://BUCKET/KEY` in a bucket (a key is the whole key in the bucket, prefix
 * included).
 */
export function objectUrl(location: ArchiveLocation, key: string): string {
  return location.kind === "dir" ? join(location.root, key) : `s3://${location.bucket}/${key}`;
}

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

/** The usage error of `--s3-endpoint` (or `ENTDB_S3_ENDPOINT`) given with a directory archive. */
export function endpointWithDir(dir: string): ArchiveError {
  return new ArchiveError(
    "invalid",
    `--s3-endpoint (ENTDB_S3_ENDPOINT) is only used with an s3:// archive, but ${dir} is a directory; drop --s3-endpoint or give an s3://BUCKET/PREFIX archive.`,
  );
}

/**
 * Refuses ("invalid") a directory archive that is the data dir, inside it, or holds it:
 * deleting the data dir, or `entdb restore --force` replacing it, would take the archive
 * with it. Paths are compared as written, resolved against `cwd`.
 */
export function checkArchiveApart(
  location: DirArchiveLocation,
  dataDir: string,
  cwd: string = process.cwd(),
): void {
  const data = resolve(cwd, dataDir);
  const root = location.root;
  const within = (inner: string, outer: string) =>
    inner === outer || inner.startsWith(outer.endsWith("/") ? outer : `${outer}/`);
  if (within(root, data) || within(data, root))
    throw new ArchiveError(
      "invalid",
      `The archive directory ${root} and the data dir ${data} overlap: losing, deleting or restoring over the data dir would take the archive with it. Give the archive a directory of its own, on another disk or mount.`,
    );
}
