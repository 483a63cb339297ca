/**
 * Model → `FileDescriptorProto`s for the schema's `.proto` files (the shared file, then
 * one per node and edge type; see `file-spec.ts`), built in-process (no protoc). Each
 * descriptor carries SourceCodeInfo: a location for every message, field, oneof, enum,
 * enum value, service and method, with the schema's doc comments as leading comments and
 * spans into the `.proto` text as the writer writes it.
 */

import { create } from "@bufbuild/protobuf";
import type { FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { SourceCodeInfo_LocationSchema, SourceCodeInfoSchema } from "@bufbuild/protobuf/wkt";
import type { Schema } from "../../schema/index.ts";
import { HEADER_LINE_COUNT } from "../writer/header.ts";
import { checkProtoNames } from "./check-names.ts";
import { buildFileSpecs } from "./file-spec.ts";
import type { FileSpec } from "./proto-spec.ts";
import { renderProto } from "./render-proto.ts";
import { specToDescriptor } from "./spec-to-descriptor.ts";

/** One generated `.proto`: its descriptor and its text. */
export interface ProtoFile {
  readonly descriptor: FileDescriptorProto;
  /** What `printProto` prints for the descriptor: the text its spans point into. */
  readonly text: string;
}

/**
 * The descriptors of the `.proto` files generated for `schema`, each file after the files
 * it imports (the shared file first). Throws a `CodegenError` (`name-collision`) when a
 * schema name clashes with a generated one.
 */
export function buildFileDescriptors(schema: Schema): FileDescriptorProto[] {
  return buildProtoFiles(schema).map((f) => f.descriptor);
}

/**
 * The descriptors and the texts of the `.proto` files generated for `schema`, in the
 * order of `buildFileDescriptors`, each from one rendering: the text is printed anyway to
 * place the spans, and printing it again from the descriptor (`printProto`) gives the
 * same text. Throws as `buildFileDescriptors`.
 */
export function buildProtoFiles(schema: Schema): ProtoFile[] {
  checkProtoNames(schema);
  return buildFileSpecs(schema).map(protoFileOf);
}

function protoFileOf(spec: FileSpec): ProtoFile {
  const { descriptor, comments } = specToDescriptor(spec);
  // Spans come from printing the very text `printProto` returns, so they cannot drift.
  const { text, locations } = renderProto(descriptor, comments, { firstLine: HEADER_LINE_COUNT });
  descriptor.sourceCodeInfo = create(SourceCodeInfoSchema, {
    location: locations.map((l) =>
      create(SourceCodeInfo_LocationSchema, {
        path: [...l.path],
        span: [...l.span],
        ...(l.leadingComments === undefined ? {} : { leadingComments: l.leadingComments }),
      }),
    ),
  });
  return { descriptor, text };
}
