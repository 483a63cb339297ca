/**
 * Snapshots in the archive: one gzip-compressed SQLite file per tenant and applied
 * position, under `PREFIX/snapshots/<tenant>/<position>.sqlite.gz`, where the position is
 * the tenant's applied offset (one past its last applied event) in its partition; fixed
 * width, so keys sort by position. Metadata: `sha256` of the stored bytes, `tenant`,
 * `partition`, `position`, `schema-version`, `log` (the log's identity) and `created`
 * (ISO time). A snapshot's own `tenant_state` row says the same position: it is read from
 * the copy, so the two cannot disagree.
 */

import type { ArchiveLocation } from "./archive-location.ts";

/** A snapshot in the bucket. */
export interface ArchivedSnapshot {
  readonly key: string;
  readonly tenant: string;
  /** The tenant's applied offset when it was taken (one past its last applied event). */
  readonly position: number;
  readonly size: number;
}

/** The key prefix of every snapshot, or of one tenant's. */
export function snapshotPrefix(location: ArchiveLocation, tenant?: string): string {
  return `${location.prefix}snapshots/${tenant === undefined ? "" : `${tenant}/`}`;
}

/** The key of a tenant's snapshot at `position`. */
export function snapshotKey(location: ArchiveLocation, tenant: string, position: number): string {
  return `${snapshotPrefix(location, tenant)}${String(position).padStart(20, "0")}.sqlite.gz`;
}

/** The snapshot a key names, or undefined for another key. */
export function parseSnapshotKey(
  location: ArchiveLocation,
  key: string,
  size: number,
): ArchivedSnapshot | undefined {
  const base = snapshotPrefix(location);
  if (!key.startsWith(base)) return undefined;
  const match = /^([A-Za-z0-9][A-Za-z0-9._-]*)\/(\d{20})\.sqlite\.gz$/.exec(key.slice(base.length));
  if (!match) return undefined;
  return { key, tenant: match[1]!, position: Number(match[2]), size };
}
