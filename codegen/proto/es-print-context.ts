/**
 * What the protobuf-es printers share: the file being printed, the runtime's modules and
 * symbols, and references to the declarations of this and other files.
 */

import { CodegenError } from "../codegen-error.ts";
import type { EsDocs } from "./es-docs.ts";
import type { EsFile, EsService, EsType } from "./es-names.ts";
import { type EsPrintable, type EsSymbol, esSymbol } from "./es-printer.ts";

/** Every message and enum the printed file may refer to, by type name without a dot. */
export type EsTypeIndex = ReadonlyMap<string, EsType>;

/** The runtime's main module. */
export const PROTOBUF = "@bufbuild/protobuf";
/** The runtime's module for generated code. */
export const CODEGEN = "@bufbuild/protobuf/codegenv2";
/** Tells bundlers the call after it has no side effects, so an unused constant can go. */
export const PURE = "/*@__PURE__*/";

/** Field descriptor source path parts (see descriptor.proto). */
export const PATH = {
  message: 4,
  enum: 5,
  service: 6,
  field: 2,
  nestedMessage: 3,
  nestedEnum: 4,
  oneof: 8,
  value: 2,
  method: 2,
} as const;

/** The file being printed and what it may refer to. */
export interface Context {
  readonly file: EsFile;
  readonly index: EsTypeIndex;
  readonly docs: EsDocs;
  readonly jsonTypes: boolean;
}

/** The runtime's codegen symbols. */
export function codegen(name: string, typeOnly = false): EsSymbol {
  return esSymbol(name, CODEGEN, typeOnly);
}

/** The descriptor constant of a type, service or file, from `from`. */
export function descRef(
  type: EsType | EsFile | EsService,
  from: string,
  typeOnly = false,
): EsSymbol {
  return esSymbol(type.descName, from, typeOnly);
}

/** A type's descriptor constant (`TaskSchema`). */
export function typeDesc(type: EsType, typeOnly = false): EsSymbol {
  return descRef(type, type.file.importPath, typeOnly);
}

/** A type's TypeScript type (`Task`), a type-only symbol. */
export function shapeRef(type: EsType): EsSymbol {
  return esSymbol(type.shapeName, type.file.importPath, true);
}

/** A type's JSON type (`TaskJson`), a type-only symbol. */
export function jsonRef(type: EsType): EsSymbol {
  return esSymbol(type.jsonName, type.file.importPath, true);
}

/** `fn(arg, …)`. */
export function call(fn: EsSymbol, args: readonly EsPrintable[]): EsPrintable[] {
  const out: EsPrintable[] = [fn, "("];
  args.forEach((arg, i) => {
    out.push(arg);
    if (i < args.length - 1) out.push(", ");
  });
  out.push(")");
  return out;
}

/**
 * The message or enum a field or method names (`.acme.tracker.Task`); throws a
 * `CodegenError` (`generator-failed`) if none of the files it may import declares it.
 */
export function resolve(context: Context, typeName: string): EsType {
  const name = typeName.startsWith(".") ? typeName.slice(1) : typeName;
  const type = context.index.get(name);
  if (type === undefined) {
    throw new CodegenError(
      "generator-failed",
      `Cannot print TypeScript for '${context.file.proto.name}': it refers to '${name}', which is in none of the files it imports.`,
    );
  }
  return type;
}
