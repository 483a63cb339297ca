/**
 * The proto stage in one call: the schema's `.proto` texts and their protobuf-es code,
 * all from descriptors built in-process.
 */

import type { FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import type { Schema } from "../../schema/index.ts";
import type { GeneratedFile } from "../writer/generated-file.ts";
import { createGeneratedFile } from "../writer/generated-file.ts";
import { buildProtoFiles } from "./build-descriptor.ts";
import type { GenerateEsOptions } from "./generate-es.ts";
import { generateEs } from "./generate-es.ts";

/** The descriptors and the files generated from them. */
export interface ProtoOutput {
  /** The shared file's first, then one per node and edge type (see `buildFileDescriptors`). */
  readonly descriptors: readonly FileDescriptorProto[];
  /** Each `.proto` in descriptor order, then their `_pb.js` files, then their `_pb.d.ts` files. */
  readonly files: readonly GeneratedFile[];
}

/**
 * Generates, for a schema of package `acme.tracker`, `acme/tracker/schema.proto` (enums and
 * shared messages) and one `.proto` per node and edge type (`acme/tracker/task.proto`),
 * with the protobuf-es code of each (`acme/tracker/task_pb.js`, `task_pb.d.ts`). Throws a
 * `CodegenError` on a name collision.
 */
export function generateProto(schema: Schema, options: GenerateEsOptions = {}): ProtoOutput {
  const protos = buildProtoFiles(schema);
  const descriptors = protos.map((p) => p.descriptor);
  return {
    descriptors,
    files: [
      ...protos.map((p) => createGeneratedFile(p.descriptor.name, p.text)),
      ...generateEs(descriptors, options),
    ],
  };
}
