/**
 * The readable `.proto` text of a schema: what `buf`, `protoc` and people read. It is
 * printed from the descriptor, so text and descriptor always describe the same file.
 */

import type { FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import type { Schema } from "../../schema/index.ts";
import { buildProtoFile } from "./build-descriptor.ts";
import { renderProto } from "./render-proto.ts";
import { pathKey } from "./spec-to-descriptor.ts";

/**
 * Prints the `.proto` of `schema` with its doc comments. Pass the descriptor already
 * built by `buildFileDescriptor(schema)` to skip building it again (`buildProtoFile`
 * gives both from one rendering). Deterministic: the same schema gives the same text.
 * The writer adds the one-line header in front.
 */
export function printProto(schema: Schema, descriptor?: FileDescriptorProto): string {
  if (descriptor === undefined) return buildProtoFile(schema).text;
  const comments = new Map<string, string>();
  for (const location of descriptor.sourceCodeInfo?.location ?? []) {
    if (location.leadingComments !== "") {
      comments.set(pathKey(location.path), location.leadingComments);
    }
  }
  return renderProto(descriptor, comments).text;
}
