/**
 * The object store of an archive location: S3 for `s3://…`, a directory for a path.
 * `entdb serve --archive` and `entdb restore --from` both open their store here.
 */

import { type ArchiveLocation, endpointWithDir } from "./archive-location.ts";
import { DirObjectStore } from "./dir-object-store.ts";
import { type ObjectStore, S3ObjectStore } from "./object-store.ts";

/** How to open the store of a location. */
export interface OpenObjectStoreOptions {
  /** `--s3-endpoint`; refused ("invalid") with a directory. */
  readonly endpoint?: string | undefined;
  /**
   * Make a directory archive's directory if it is missing (`entdb serve`); without it a
   * missing directory is "not-found" (`entdb restore`: there is no archive there).
   */
  readonly create: boolean;
}

/** Opens the store `location` names. Throws `ArchiveError`. */
export async function openObjectStore(
  location: ArchiveLocation,
  options: OpenObjectStoreOptions,
): Promise<ObjectStore> {
  if (location.kind === "s3") return new S3ObjectStore({ location, endpoint: options.endpoint });
  if (options.endpoint !== undefined) throw endpointWithDir(location.url);
  return DirObjectStore.open(location, { create: options.create });
}
