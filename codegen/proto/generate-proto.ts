/**
 * The proto stage in one call: the schema's `.proto` text and its protobuf-es code,
 * both from one descriptor built in-process.
 */

import type { FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import type { Schema } from "../../schema/index.ts";
import type { GeneratedFile } from "../writer/generated-file.ts";
import { createGeneratedFile } from "../writer/generated-file.ts";
import { buildProtoFile } from "./build-descriptor.ts";
import type { GenerateEsOptions } from "./generate-es.ts";
import { generateEs } from "./generate-es.ts";

/** The descriptor and the files generated from it. */
export interface ProtoOutput {
  readonly descriptor: FileDescriptorProto;
  /** `<package path>/schema.proto`, then `<package path>/schema_pb.js` and `schema_pb.d.ts`. */
  readonly files: readonly GeneratedFile[];
}

/**
 * Generates `acme/tracker/schema.proto`, `acme/tracker/schema_pb.js` and
 * `acme/tracker/schema_pb.d.ts` for a schema of package `acme.tracker`. Throws a `CodegenError` on a name collision.
 */
export function generateProto(schema: Schema, options: GenerateEsOptions = {}): ProtoOutput {
  const { descriptor, text } = buildProtoFile(schema);
  return {
    descriptor,
    files: [createGeneratedFile(descriptor.name, text), ...generateEs(descriptor, options)],
  };
}
