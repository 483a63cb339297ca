/**
 * The archive: the log shipped to an object store as immutable segments, and restore
 * from it. See docs/archive.md.
 */

export {
  type ArchivedSegment,
  type ArchiveManifest,
  claimArchive,
  listSegments,
  readManifest,
} from "./archive-catalog.ts";
export { ArchiveError, type ArchiveErrorCode } from "./archive-error.ts";
export {
  type ArchiveLocation,
  checkArchiveApart,
  type DirArchiveLocation,
  endpointWithDir,
  objectUrl,
  parseArchiveUrl,
  type S3ArchiveLocation,
  type SegmentRange,
  segmentKey,
} from "./archive-location.ts";
export { type ArchiveConfig, type ServerArchive, startServerArchive } from "./archive-service.ts";
export { Archiver, type ArchiverOptions } from "./archiver.ts";
export { checkArchiveDir } from "./dir-archive-check.ts";
export { DirObjectStore } from "./dir-object-store.ts";
export {
  type ListedObject,
  MULTIPART_PART_BYTES,
  type ObjectStore,
  S3ObjectStore,
  type S3ObjectStoreOptions,
  type StoredObject,
  type StreamedObject,
  s3Endpoint,
} from "./object-store.ts";
export {
  type OpenObjectStoreOptions,
  openObjectStore,
} from "./open-object-store.ts";
export {
  DEFAULT_RESTORE_THREADS,
  type RestoreOptions,
  type RestoreProgress,
  type RestoreResult,
  restoreArchive,
} from "./restore.ts";
export {
  decodeSegment,
  type EncodedSegment,
  encodeSegment,
  encodeSegmentAsync,
  sha256Hex,
} from "./segment-format.ts";
export {
  type ArchivedSnapshot,
  parseSnapshotKey,
  snapshotKey,
  snapshotPrefix,
} from "./snapshot-format.ts";
export { placeSnapshots } from "./snapshot-restore.ts";
export {
  readState,
  type SnapshotSource,
  type SnapshotTaken,
  Snapshotter,
  type SnapshotterOptions,
} from "./snapshotter.ts";
