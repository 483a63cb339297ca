/**
 * What an archive holds: its manifest (`log.json`: which log, how many partitions) and
 * each partition's segments, checked to follow one another with no gap and no overlap.
 * The archiver resumes from it and restore reads through it.
 */

import { ArchiveError } from "./archive-error.ts";
import {
  type ArchiveLocation,
  manifestKey,
  objectUrl,
  parseSegmentKey,
  partitionPrefix,
  type SegmentRange,
} from "./archive-location.ts";
import type { ObjectStore } from "./object-store.ts";

/** The manifest of an archive: written once, by the first archiver of a log. */
export interface ArchiveManifest {
  readonly format: 1;
  /** The archived log's identity (`Wal.identity`). */
  readonly identity: string;
  readonly partitions: number;
}

/** A segment in the bucket: its key, its range and its stored size. */
export interface ArchivedSegment extends SegmentRange {
  readonly key: string;
  readonly size: number;
}

/** Reads the manifest; undefined when the location holds no archive yet. */
export async function readManifest(
  store: ObjectStore,
  location: ArchiveLocation,
): Promise<ArchiveManifest | undefined> {
  const key = manifestKey(location);
  let text: string;
  try {
    text = Buffer.from((await store.get(key)).body).toString("utf8");
  } catch (error) {
    if (error instanceof ArchiveError && error.code === "not-found") return undefined;
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ArchiveError("corrupt", `The archive manifest ${location.url}/log.json is not JSON.`);
  }
  const m = parsed as Partial<ArchiveManifest>;
  if (
    m.format !== 1 ||
    typeof m.identity !== "string" ||
    !Number.isSafeInteger(m.partitions) ||
    (m.partitions ?? 0) < 1
  )
    throw new ArchiveError(
      "corrupt",
      `The archive manifest ${location.url}/log.json is not an EntDB archive manifest (format 1).`,
    );
  return { format: 1, identity: m.identity, partitions: m.partitions! };
}

/**
 * Makes sure the location archives the log `identity`: writes the manifest if there is
 * none, refuses with "foreign" if it names another log or partition count.
 */
export async function claimArchive(
  store: ObjectStore,
  location: ArchiveLocation,
  log: { readonly identity: string; readonly partitions: number },
): Promise<void> {
  const wanted: ArchiveManifest = { format: 1, identity: log.identity, partitions: log.partitions };
  let manifest = await readManifest(store, location);
  if (manifest === undefined) {
    const body = Buffer.from(`${JSON.stringify(wanted)}\n`, "utf8");
    await store.putIfAbsent(manifestKey(location), body, {});
    // Read back: another server may have claimed it between the read and the put.
    manifest = await readManifest(store, location);
  }
  if (manifest?.identity !== log.identity || manifest.partitions !== log.partitions)
    throw new ArchiveError(
      "foreign",
      `${location.url} holds the archive of another log (${manifest?.identity}, ${manifest?.partitions} partitions); ` +
        `this server's log is ${log.identity} with ${log.partitions}. Archive it under another prefix.`,
    );
}

/**
 * The segments of one partition in offset order, checked to be contiguous: a hole or an
 * overlap is an `ArchiveError` "gap" naming the keys around it.
 */
export async function listSegments(
  store: ObjectStore,
  location: ArchiveLocation,
  partition: number,
): Promise<ArchivedSegment[]> {
  const found: ArchivedSegment[] = [];
  for (const { key, size } of await store.list(partitionPrefix(location, partition))) {
    const range = parseSegmentKey(location, partition, key);
    if (range) found.push({ ...range, key, size });
  }
  found.sort((a, b) => a.first - b.first || a.end - b.end);
  for (let i = 1; i < found.length; i++) {
    const before = found[i - 1]!;
    const after = found[i]!;
    if (after.first !== before.end)
      throw new ArchiveError(
        "gap",
        `The archive of partition ${partition} is not contiguous: ${objectUrl(location, before.key)} ends at ${before.end} but ${objectUrl(location, after.key)} starts at ${after.first}.`,
      );
  }
  return found;
}
