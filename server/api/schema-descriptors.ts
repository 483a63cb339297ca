/**
 * The served schema's protobuf descriptors: the `.proto` files `entdb generate` writes for
 * it (the shared file, then one per node and edge type), resolved into a registry, which
 * the typed services and reflection answer from, and the same files as a serialized
 * `FileDescriptorSet` (with the well-known types they import) for `GetSchema`.
 */

import { create, createFileRegistry, type DescFile, toBinary } from "@bufbuild/protobuf";
import {
  type FileDescriptorProto,
  FileDescriptorSetSchema,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
} from "@bufbuild/protobuf/wkt";
import { buildFileDescriptors } from "../../codegen/index.ts";
import type { Schema } from "../../schema/index.ts";
import { InternalError } from "../internal-error.ts";

/** The schema's descriptors, resolved and serialized. */
export interface SchemaDescriptors {
  /** The generated files, in generation order (the shared file first). */
  readonly files: readonly DescFile[];
  /** Every file above and the well-known types they import, dependencies first. */
  readonly descriptorSet: Uint8Array;
}

/** The well-known files a generated `.proto` may import. */
const WELL_KNOWN: ReadonlyMap<string, FileDescriptorProto> = new Map(
  [file_google_protobuf_timestamp, file_google_protobuf_struct].map((f) => [f.proto.name, f.proto]),
);

/** Builds and resolves the descriptors of `schema`. */
export function schemaDescriptors(schema: Schema): SchemaDescriptors {
  const generated = buildFileDescriptors(schema);
  const imported = new Set(generated.flatMap((f) => f.dependency));
  const wellKnown = [...WELL_KNOWN].filter(([name]) => imported.has(name)).map(([, f]) => f);
  const set = create(FileDescriptorSetSchema, { file: [...wellKnown, ...generated] });
  const registry = createFileRegistry(set);
  const files = generated.map((proto) => {
    const file = registry.getFile(proto.name);
    if (file === undefined) {
      throw new InternalError(
        "descriptor",
        `descriptor of ${proto.name} missing from its registry`,
      );
    }
    return file;
  });
  return { files, descriptorSet: toBinary(FileDescriptorSetSchema, set) };
}
