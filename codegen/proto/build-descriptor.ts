/**
 * Model → `FileDescriptorProto` for the schema's one `.proto`, built in-process (no
 * protoc). The descriptor carries SourceCodeInfo: a location for every message, field,
 * oneof, enum, enum value, service and method, with the schema's doc comments as leading
 * comments and spans into the `.proto` text as the writer writes it.
 */

import { create } from "@bufbuild/protobuf";
import type { FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import { SourceCodeInfo_LocationSchema, SourceCodeInfoSchema } from "@bufbuild/protobuf/wkt";
import type { Schema } from "../../schema/index.ts";
import { HEADER_LINE_COUNT } from "../writer/header.ts";
import { checkProtoNames } from "./check-names.ts";
import { buildFileSpec } from "./file-spec.ts";
import { renderProto } from "./render-proto.ts";
import { specToDescriptor } from "./spec-to-descriptor.ts";

/** The `.proto` of a schema: its descriptor and its text. */
export interface ProtoFile {
  readonly descriptor: FileDescriptorProto;
  /** What `printProto` prints for the schema: the text the descriptor's spans point into. */
  readonly text: string;
}

/**
 * The descriptor of the `.proto` generated for `schema`. Throws a `CodegenError`
 * (`name-collision`) when a schema name clashes with a generated one.
 */
export function buildFileDescriptor(schema: Schema): FileDescriptorProto {
  return buildProtoFile(schema).descriptor;
}

/**
 * The descriptor and the text of the `.proto` generated for `schema`, from one
 * rendering: the text is printed anyway to place the spans, and printing it again from
 * the descriptor (`printProto`) gives the same text. Throws as `buildFileDescriptor`.
 */
export function buildProtoFile(schema: Schema): ProtoFile {
  checkProtoNames(schema);
  const { descriptor, comments } = specToDescriptor(buildFileSpec(schema));
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
