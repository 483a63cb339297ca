/**
 * protobuf-es code (`*_pb.js` + `*_pb.d.ts`) for the schema's `.proto` files, printed
 * from their descriptors (`print-es.ts`): no protoc, no plugin, no child process.
 *
 * JavaScript with declarations rather than TypeScript, as for the server's own API protos
 * (`buf.gen.yaml`): the `.js` runs in Node and in bundlers without a TypeScript transform,
 * and a consumer's tsc reads the types from the `.d.ts` instead of checking one
 * `GenMessage<…>` initializer per type (with `skipLibCheck` the declarations are not
 * checked at all).
 */

import type { FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import {
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
} from "@bufbuild/protobuf/wkt";
import { CodegenError } from "../codegen-error.ts";
import type { GeneratedFile } from "../writer/generated-file.ts";
import { createGeneratedFile } from "../writer/generated-file.ts";
import { embeddedDescriptor } from "./embed-descriptor.ts";
import { type EsFile, type EsType, esFileOf, WKT_IMPORT_PATH } from "./es-names.ts";
import { type PrintEsOptions, printEsFile } from "./print-es.ts";

/** Options of `generateEs`: those of the printed code. */
export type GenerateEsOptions = PrintEsOptions;

/** Descriptors a generated `.proto` may import besides its siblings: well-known types only. */
const IMPORTABLE: readonly FileDescriptorProto[] = [
  file_google_protobuf_struct.proto,
  file_google_protobuf_timestamp.proto,
];

/** The names in the well-known files, computed once. */
let wellKnown: ReadonlyMap<string, EsFile> | undefined;

/**
 * The protobuf-es code of `descriptors` (each after the files it imports, as
 * `buildFileDescriptors` returns them): the `_pb.js` of each descriptor in order
 * (`acme/tracker/schema_pb.js`, `acme/tracker/task_pb.js`, …) then the `_pb.d.ts` of
 * each, paths relative to the out dir, without the entdb header (the writer adds it).
 * Throws a `CodegenError` (`generator-failed`) if a file imports anything but the files
 * before it and well-known types, or has what the printer does not support.
 */
export function generateEs(
  descriptors: readonly FileDescriptorProto[],
  options: GenerateEsOptions = {},
): GeneratedFile[] {
  wellKnown ??= new Map(IMPORTABLE.map((proto) => [proto.name, esFileOf(proto, WKT_IMPORT_PATH)]));
  const files = new Map<string, EsFile>();
  const index = new Map<string, EsType>();
  const add = (file: EsFile): void => {
    files.set(file.proto.name, file);
    for (const type of file.types) index.set(type.typeName, type);
  };
  for (const descriptor of descriptors) {
    for (const name of descriptor.dependency) {
      if (files.has(name)) continue;
      const dep = wellKnown.get(name);
      if (dep === undefined) {
        throw new CodegenError(
          "generator-failed",
          `Cannot generate TypeScript for '${descriptor.name}': it imports '${name}', which is neither a well-known type nor a file generated before it.`,
        );
      }
      add(dep);
    }
    add(esFileOf(descriptor));
  }
  const js: GeneratedFile[] = [];
  const dts: GeneratedFile[] = [];
  for (const descriptor of descriptors) {
    const file = files.get(descriptor.name);
    if (file === undefined) continue;
    const dependencies = descriptor.dependency.flatMap((name) => files.get(name) ?? []);
    const text = printEsFile(file, embeddedDescriptor(descriptor), index, dependencies, options);
    js.push(createGeneratedFile(`${file.base}_pb.js`, text.js));
    dts.push(createGeneratedFile(`${file.base}_pb.d.ts`, text.dts));
  }
  return [...js, ...dts];
}
