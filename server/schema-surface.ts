/**
 * What the API derives from one served schema version: the descriptor of its generated
 * `.proto` (the typed services and reflection are built from it) and that descriptor as
 * the serialized FileDescriptorSet `GetSchema` returns. Built at start and again for
 * each version pushed while the server runs, so the API follows the version live.
 */

import { create, createFileRegistry, type DescFile, toBinary } from "@bufbuild/protobuf";
import {
  FileDescriptorSetSchema,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
} from "@bufbuild/protobuf/wkt";
import { buildFileDescriptor } from "../codegen/index.ts";
import type { ServedSchema } from "./engine.ts";
import { InternalError } from "./internal-error.ts";

/** One served version and the descriptors derived from it. */
export interface SchemaSurface {
  readonly served: ServedSchema;
  /** The generated `.proto` of the schema, resolved. */
  readonly file: DescFile;
  /** `file` and its imports as a serialized FileDescriptorSet. */
  readonly descriptorSet: Uint8Array;
}

/** Builds the surface of `served`. */
export function schemaSurface(served: ServedSchema): SchemaSurface {
  const schemaFile = buildFileDescriptor(served.model);
  const registry = createFileRegistry(schemaFile, (name) => {
    if (name === "google/protobuf/timestamp.proto") return file_google_protobuf_timestamp;
    if (name === "google/protobuf/struct.proto") return file_google_protobuf_struct;
    return undefined;
  });
  const file = registry.getFile(schemaFile.name);
  if (!file)
    throw new InternalError(
      "descriptor",
      `descriptor of ${schemaFile.name} missing from its registry`,
    );
  const descriptorSet = toBinary(
    FileDescriptorSetSchema,
    create(FileDescriptorSetSchema, { file: [...registry.files].map((f) => f.proto) }),
  );
  return { served, file, descriptorSet };
}
