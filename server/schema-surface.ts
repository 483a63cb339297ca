/**
 * What the API derives from one served schema version: the descriptors of its generated
 * `.proto` files (the typed services and reflection are built from them) and those
 * descriptors as the serialized FileDescriptorSet `GetSchema` returns. Built at start and
 * again for each version pushed while the server runs, so the API follows the version live.
 */

import type { DescFile } from "@bufbuild/protobuf";
import { schemaDescriptors } from "./api/schema-descriptors.ts";
import type { ServedSchema } from "./engine.ts";

/** One served version and the descriptors derived from it. */
export interface SchemaSurface {
  readonly served: ServedSchema;
  /** The generated `.proto` files of the schema, resolved (the shared file first). */
  readonly files: readonly DescFile[];
  /** `files` and their imports as a serialized FileDescriptorSet. */
  readonly descriptorSet: Uint8Array;
}

/** Builds the surface of `served`. */
export function schemaSurface(served: ServedSchema): SchemaSurface {
  const { files, descriptorSet } = schemaDescriptors(served.model);
  return { served, files, descriptorSet };
}
