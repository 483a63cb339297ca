/**
 * Prints the protobuf-es code of one `.proto` file from its descriptor: `<name>_pb.js`
 * (the embedded descriptor and one constant per message, enum and service, built by the
 * runtime's `@bufbuild/protobuf/codegenv2` functions) and `<name>_pb.d.ts` (their
 * types). The format is protoc-gen-es's `target=js+dts` with `erasable_syntax=true`
 * (enums as const objects with a union type), doc comments from the `.proto` only,
 * `json_types` and `import_extension` as options (see docs/generated-proto.md);
 * `tests/codegen/print-es-oracle.test.ts` compares it with protoc-gen-es itself.
 *
 * It prints what the descriptor says: any message, enum, service and rpc (any streaming
 * kind, any options) of a proto3 file. It does not print what our `.proto` files never
 * contain (maps, extensions, proto2 or editions files) and throws on them.
 */

import type {
  DescriptorProto,
  EnumDescriptorProto,
  FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import { CodegenError } from "../codegen-error.ts";
import { EsDocs, jsDocBlock } from "./es-docs.ts";
import type { EsFile, EsType } from "./es-names.ts";
import {
  type Context,
  call,
  codegen,
  descRef,
  type EsTypeIndex,
  jsonRef,
  PATH,
  PURE,
  shapeRef,
  typeDesc,
} from "./es-print-context.ts";
import { type EsPrintable, EsPrinter, esExport, esString } from "./es-printer.ts";
import {
  enumJsonType,
  printEnumShape,
  printMessageJsonShape,
  printMessageShape,
  serviceShape,
} from "./print-es-shapes.ts";

/** Options of the printed code. */
export interface PrintEsOptions {
  /** Relative imports end in `.js` (the default) or have no extension (`none`). */
  readonly importExtension?: "js" | "none";
  /** Also print the `…Json` types of the JSON form of each message and enum. */
  readonly jsonTypes?: boolean;
}

/** One file's `_pb.js` and `_pb.d.ts` text. */
export interface EsFileText {
  readonly js: string;
  readonly dts: string;
}

/** Prints `file` (whose embedded descriptor is `embedded`, base64) with types from `index`. */
export function printEsFile(
  file: EsFile,
  embedded: string,
  index: EsTypeIndex,
  dependencies: readonly EsFile[],
  options: PrintEsOptions = {},
): EsFileText {
  assertPrintable(file.proto);
  const context: Context = {
    file,
    index,
    docs: new EsDocs(file.proto),
    jsonTypes: options.jsonTypes === true,
  };
  const rewrite = (from: string): string =>
    options.importExtension === "none" && /^\.{1,2}\//.test(from) && from.endsWith(".js")
      ? from.slice(0, -".js".length)
      : from;
  const preamble = preambleOf(file.proto);
  const js = new EsPrinter(file.importPath, rewrite);
  printJs(js, context, embedded, dependencies);
  const dts = new EsPrinter(file.importPath, rewrite);
  printDts(dts, context);
  return { js: `${preamble}\n${js.content()}`, dts: `${preamble}\n${dts.content()}` };
}

function preambleOf(proto: FileDescriptorProto): string {
  const pkg = proto.package === "" ? "" : `package ${commentValue(proto.package)}, `;
  return `// @generated from file ${commentValue(proto.name)} (${pkg}syntax proto3)\n/* eslint-disable */\n`;
}

/** A value in a `//` comment, escaped like a string literal's body (U+2028/9 end a line). */
function commentValue(value: string): string {
  return value.replace(/[\\"\n\r\u2028\u2029]/g, (c) =>
    c === "\\"
      ? "\\\\"
      : c === '"'
        ? '\\"'
        : c === "\n"
          ? "\\n"
          : c === "\r"
            ? "\\r"
            : c === "\u2028"
              ? "\\u2028"
              : "\\u2029",
  );
}

function assertPrintable(proto: FileDescriptorProto): void {
  const what =
    proto.syntax !== "proto3"
      ? `syntax '${proto.syntax || "proto2"}'`
      : proto.extension.length > 0
        ? "extensions"
        : undefined;
  const nestedProblem = (m: DescriptorProto): string | undefined =>
    m.extension.length > 0
      ? "extensions"
      : m.nestedType.some((n) => n.options?.mapEntry === true)
        ? "map fields"
        : m.nestedType.map(nestedProblem).find((p) => p !== undefined);
  const problem = what ?? proto.messageType.map(nestedProblem).find((p) => p !== undefined);
  if (problem !== undefined) {
    throw new CodegenError(
      "generator-failed",
      `Cannot print TypeScript for '${proto.name}': it has ${problem}, which the protobuf-es printer does not support.`,
    );
  }
}

// --- the .js file -----------------------------------------------------------------

function printJs(
  f: EsPrinter,
  context: Context,
  embedded: string,
  dependencies: readonly EsFile[],
): void {
  const { file } = context;
  const fileDesc = descRef(file, file.importPath);
  const args: EsPrintable[] = [esString(embedded)];
  if (dependencies.length > 0) {
    const deps: EsPrintable[] = ["["];
    dependencies.forEach((d, i) => {
      deps.push(descRef(d, d.importPath));
      if (i < dependencies.length - 1) deps.push(", ");
    });
    deps.push("]");
    args.push(deps);
  }
  f.print(esExport("const", file.descName), " = ", PURE);
  f.print("  ", call(codegen("fileDesc"), args), ";");
  f.print();
  for (const type of file.types) {
    const fn = codegen(type.kind === "message" ? "messageDesc" : "enumDesc");
    f.print(esExport("const", type.descName), " = ", PURE);
    f.print("  ", call(fn, [fileDesc, ...type.path]), ";");
    f.print();
    if (type.kind === "enum") {
      f.print(esExport("const", type.shapeName), " = ", PURE);
      f.print("  ", call(codegen("objEnum"), [typeDesc(type)]), ";");
      f.print();
    }
  }
  for (const service of file.services) {
    f.print(esExport("const", service.descName), " = ", PURE);
    f.print("  ", call(codegen("serviceDesc"), [fileDesc, service.index]), ";");
    f.print();
  }
}

// --- the .d.ts file ---------------------------------------------------------------

function printDts(f: EsPrinter, context: Context): void {
  const { file, docs } = context;
  const fileDeprecated = file.proto.options?.deprecated === true;
  printDescribes(f, `file ${file.proto.name}`, fileDeprecated);
  f.print(esExport("declare const", file.descName), ": ", codegen("GenFile", true), ";");
  f.print();
  for (const type of file.types) {
    const path = sourcePath(type);
    const deprecated = fileDeprecated || deprecatedWithParents(type);
    if (type.kind === "message") {
      const message = type.proto as DescriptorProto;
      printMessageShape(f, context, type, message, path, deprecated);
      if (context.jsonTypes) printMessageJsonShape(f, context, type, message, path, deprecated);
      printDescribes(f, type, deprecated);
      const json: EsPrintable[] = context.jsonTypes ? [", {jsonType: ", jsonRef(type), "}"] : [];
      f.print(
        esExport("declare const", type.descName),
        ": ",
        codegen("GenMessage", true),
        "<",
        shapeRef(type),
        json,
        ">;",
      );
      f.print();
    } else {
      const enumeration = type.proto as EnumDescriptorProto;
      const doc = docs.block(path, deprecated);
      printEnumShape(f, context, type, enumeration, path, doc);
      if (context.jsonTypes) {
        f.print(
          doc,
          esExport("declare type", type.jsonName),
          " = ",
          enumJsonType(enumeration),
          ";",
        );
        f.print();
      }
      printDescribes(f, type, deprecated);
      const json: EsPrintable[] = context.jsonTypes ? [", ", jsonRef(type)] : [];
      f.print(
        esExport("declare const", type.descName),
        ": ",
        codegen("GenEnum", true),
        "<",
        shapeRef(type),
        json,
        ">;",
      );
      f.print();
    }
  }
  for (const service of file.services) {
    const path = [PATH.service, service.index];
    const deprecated = fileDeprecated || service.proto.options?.deprecated === true;
    f.print(
      docs.block(path, deprecated),
      esExport("declare const", service.descName),
      ": ",
      codegen("GenService", true),
      "<",
      serviceShape(context, service, path),
      ">;",
    );
    f.print();
  }
}

/**
 * The block protoc-gen-es puts on a descriptor constant ("Describes the message …"),
 * which says what the constant's name and type say: printed only when it carries a
 * `@deprecated`.
 */
function printDescribes(f: EsPrinter, what: EsType | string, deprecated: boolean): void {
  if (!deprecated) return;
  const lines =
    typeof what === "string"
      ? [`Describes the ${what}.`]
      : [`Describes the ${what.kind} ${what.typeName}.`];
  if (typeof what !== "string" && what.kind === "message") {
    lines.push(`Use \`create(${what.descName})\` to create a new message.`);
  }
  lines.push("@deprecated");
  f.print(jsDocBlock(lines).slice(0, -1));
}

function sourcePath(type: EsType): number[] {
  if (type.parent === undefined) {
    return [type.kind === "message" ? PATH.message : PATH.enum, type.path.at(-1) ?? 0];
  }
  return [
    ...sourcePath(type.parent),
    type.kind === "message" ? PATH.nestedMessage : PATH.nestedEnum,
    type.path.at(-1) ?? 0,
  ];
}

function deprecatedWithParents(type: EsType): boolean {
  for (let t: EsType | undefined = type; t !== undefined; t = t.parent) {
    if (t.proto.options?.deprecated === true) return true;
  }
  return false;
}
