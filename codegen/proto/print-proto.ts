/**
 * The readable `.proto` text of a schema: what `buf`, `protoc` and people read. It is
 * printed from the descriptors, so texts and descriptors always describe the same files.
 */

import type { FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import type { Schema } from "../../schema/index.ts";
import { buildProtoFiles } from "./build-descriptor.ts";
import { renderProto } from "./render-proto.ts";
import { pathKey } from "./spec-to-descriptor.ts";

/** One printed `.proto`: its path (relative to the out dir) and its text. */
export interface PrintedProto {
  readonly path: string;
  readonly text: string;
}

/**
 * Prints the `.proto` files of `schema` with their doc comments, the shared file first.
 * Deterministic: the same schema gives the same text. The writer adds the one-line header
 * in front of each.
 */
export function printProtoFiles(schema: Schema): PrintedProto[] {
  return buildProtoFiles(schema).map((f) => ({ path: f.descriptor.name, text: f.text }));
}

/**
 * Prints one descriptor built by `buildFileDescriptors`, with the doc comments its source
 * info carries: the same text `buildProtoFiles` gives for it.
 */
export function printProto(descriptor: FileDescriptorProto): string {
  const comments = new Map<string, string>();
  for (const location of descriptor.sourceCodeInfo?.location ?? []) {
    if (location.leadingComments !== "") {
      comments.set(pathKey(location.path), location.leadingComments);
    }
  }
  return renderProto(descriptor, comments).text;
}
