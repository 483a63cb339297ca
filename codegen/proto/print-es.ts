/**
 * Prints the protobuf-es code of one `.proto` file from its descriptor: `<name>_pb.js`
 * (the embedded descriptor and one constant per message, enum and service, built by the
 * runtime's `@bufbuild/protobuf/codegenv2` functions) and `<name>_pb.d.ts` (their
 * types). The format is protoc-gen-es's `target=js+dts` with `erasable_syntax=true`
 * (enums as const objects with a union type), doc comments from the `.proto` only,
 * `json_types` and `import_extension` as options; `es-printer.test.ts` compares it with
 * protoc-gen-es itself.
 *
 * It prints what the descriptor says: any message, enum, service and rpc (any streaming
 * kind, any options) of a proto3 file. It does not print what our `.proto` files never
 * contain (maps, extensions, proto2 or editions files) and throws on them.
 */

import { isFieldSet } from "@bufbuild/protobuf";
import { protoCamelCase, safeObjectProperty } from "@bufbuild/protobuf/reflect";
import type {
  DescriptorProto,
  EnumDescriptorProto,
  FieldDescriptorProto,
  FileDescriptorProto,
  MethodDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FieldDescriptorProtoSchema,
  FieldOptions_JSType,
} from "@bufbuild/protobuf/wkt";
import { CodegenError } from "../codegen-error.ts";
import { EsDocs, jsDocBlock } from "./es-docs.ts";
import type { EsFile, EsService, EsType } from "./es-names.ts";
import {
  type EsPrintable,
  EsPrinter,
  type EsSymbol,
  esExport,
  esString,
  esSymbol,
} from "./es-printer.ts";

/** Options of the printed code. */
export interface PrintEsOptions {
  /** Relative imports end in `.js` (the default) or have no extension (`none`). */
  readonly importExtension?: "js" | "none";
  /** Also print the `…Json` types of the JSON form of each message and enum. */
  readonly jsonTypes?: boolean;
}

/** Every message and enum the printed file may refer to, by type name without a dot. */
export type EsTypeIndex = ReadonlyMap<string, EsType>;

/** One file's `_pb.js` and `_pb.d.ts` text. */
export interface EsFileText {
  readonly js: string;
  readonly dts: string;
}

const PROTOBUF = "@bufbuild/protobuf";
const CODEGEN = "@bufbuild/protobuf/codegenv2";
const PURE = "/*@__PURE__*/";

/** Field descriptor source path parts (see descriptor.proto). */
const PATH = {
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

interface Context {
  readonly file: EsFile;
  readonly index: EsTypeIndex;
  readonly docs: EsDocs;
  readonly jsonTypes: boolean;
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

/** The runtime's codegen symbols. */
function codegen(name: string, typeOnly = false): EsSymbol {
  return esSymbol(name, CODEGEN, typeOnly);
}

function descRef(type: EsType | EsFile | EsService, from: string, typeOnly = false): EsSymbol {
  return esSymbol(type.descName, from, typeOnly);
}

function typeDesc(type: EsType, typeOnly = false): EsSymbol {
  return descRef(type, type.file.importPath, typeOnly);
}

function shapeRef(type: EsType): EsSymbol {
  return esSymbol(type.shapeName, type.file.importPath, true);
}

function jsonRef(type: EsType): EsSymbol {
  return esSymbol(type.jsonName, type.file.importPath, true);
}

function call(fn: EsSymbol, args: readonly EsPrintable[]): EsPrintable[] {
  const out: EsPrintable[] = [fn, "("];
  args.forEach((arg, i) => {
    out.push(arg);
    if (i < args.length - 1) out.push(", ");
  });
  out.push(")");
  return out;
}

function resolve(context: Context, typeName: string): EsType {
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

/** One member of a message: a field outside any real oneof, or a oneof (at its first field). */
type Member =
  | { readonly kind: "field"; readonly field: FieldDescriptorProto; readonly index: number }
  | {
      readonly kind: "oneof";
      readonly oneofIndex: number;
      readonly fields: { readonly field: FieldDescriptorProto; readonly index: number }[];
    };

function membersOf(message: DescriptorProto): Member[] {
  const members: Member[] = [];
  const oneofs = new Map<number, Extract<Member, { kind: "oneof" }>>();
  message.field.forEach((field, index) => {
    // `oneof_index` is a proto2 optional: 0 when unset, so ask whether it is set.
    const oneofIndex = field.oneofIndex;
    if (!isFieldSet(field, FieldDescriptorProtoSchema.field.oneofIndex) || field.proto3Optional) {
      members.push({ kind: "field", field, index });
      return;
    }
    let oneof = oneofs.get(oneofIndex);
    if (oneof === undefined) {
      oneof = { kind: "oneof", oneofIndex, fields: [] };
      oneofs.set(oneofIndex, oneof);
      members.push(oneof);
    }
    oneof.fields.push({ field, index });
  });
  return members;
}

/**
 * Prints a member's lines: its doc block, with a blank line before it unless it is the
 * first member (an undocumented member follows the previous one directly).
 */
function memberDoc(f: EsPrinter, doc: string, first: boolean): void {
  if (doc === "") return;
  if (!first) f.print();
  f.print(doc.slice(0, -1));
}

function printMessageShape(
  f: EsPrinter,
  context: Context,
  type: EsType,
  message: DescriptorProto,
  path: readonly number[],
  deprecated: boolean,
): void {
  const { docs } = context;
  f.print(
    docs.block(path, deprecated),
    esExport("declare type", type.shapeName),
    " = ",
    esSymbol("Message", PROTOBUF, true),
    "<",
    esString(type.typeName),
    "> & {",
  );
  membersOf(message).forEach((member, i) => {
    if (member.kind === "field") {
      const { field, index } = member;
      const fieldPath = [...path, PATH.field, index];
      memberDoc(f, docs.block(fieldPath, field.options?.deprecated === true, "  "), i === 0);
      const { typing, optional } = fieldType(context, field);
      const name = safeObjectProperty(protoCamelCase(field.name));
      f.print("  ", name, optional ? "?: " : ": ", typing, optional ? " | undefined;" : ";");
      return;
    }
    const oneof = message.oneofDecl[member.oneofIndex];
    const oneofPath = [...path, PATH.oneof, member.oneofIndex];
    memberDoc(f, docs.block(oneofPath, deprecated, "  "), i === 0);
    f.print("  ", safeObjectProperty(protoCamelCase(oneof?.name ?? "")), ": {");
    member.fields.forEach(({ field, index }, j) => {
      if (j > 0) f.print("  } | {");
      const doc = docs.block(
        [...path, PATH.field, index],
        field.options?.deprecated === true,
        "    ",
      );
      if (doc !== "") f.print(doc.slice(0, -1));
      f.print("    value: ", fieldType(context, field).typing, ";");
      f.print('    case: "', protoCamelCase(field.name), '";');
    });
    f.print("  } | { case: undefined; value?: undefined };");
  });
  f.print("};");
  f.print();
}

/** The TypeScript type of a field's value, and whether the property is optional. */
function fieldType(
  context: Context,
  field: FieldDescriptorProto,
): { typing: EsPrintable[]; optional: boolean } {
  const repeated = field.label === FieldDescriptorProto_Label.REPEATED;
  let typing: EsPrintable;
  let optional: boolean;
  switch (field.type) {
    case FieldDescriptorProto_Type.MESSAGE:
    case FieldDescriptorProto_Type.GROUP: {
      const message = resolve(context, field.typeName);
      // The runtime gives google.protobuf.Struct fields as plain JSON objects.
      typing =
        message.typeName === "google.protobuf.Struct"
          ? esSymbol("JsonObject", PROTOBUF, true)
          : shapeRef(message);
      optional = !repeated;
      break;
    }
    case FieldDescriptorProto_Type.ENUM:
      typing = shapeRef(resolve(context, field.typeName));
      optional = !repeated && field.proto3Optional === true;
      break;
    default:
      typing = scalarType(field);
      optional = !repeated && field.proto3Optional === true;
  }
  return { typing: repeated ? [typing, "[]"] : [typing], optional };
}

function scalarType(field: FieldDescriptorProto): string {
  switch (field.type) {
    case FieldDescriptorProto_Type.STRING:
      return "string";
    case FieldDescriptorProto_Type.BOOL:
      return "boolean";
    case FieldDescriptorProto_Type.INT64:
    case FieldDescriptorProto_Type.UINT64:
    case FieldDescriptorProto_Type.SINT64:
    case FieldDescriptorProto_Type.FIXED64:
    case FieldDescriptorProto_Type.SFIXED64:
      return field.options?.jstype === FieldOptions_JSType.JS_STRING ? "string" : "bigint";
    case FieldDescriptorProto_Type.BYTES:
      return "Uint8Array";
    default:
      return "number";
  }
}

function scalarJsonType(field: FieldDescriptorProto): string {
  switch (field.type) {
    case FieldDescriptorProto_Type.DOUBLE:
    case FieldDescriptorProto_Type.FLOAT:
      return `number | "NaN" | "Infinity" | "-Infinity"`;
    case FieldDescriptorProto_Type.INT64:
    case FieldDescriptorProto_Type.UINT64:
    case FieldDescriptorProto_Type.SINT64:
    case FieldDescriptorProto_Type.FIXED64:
    case FieldDescriptorProto_Type.SFIXED64:
    case FieldDescriptorProto_Type.STRING:
    case FieldDescriptorProto_Type.BYTES:
      return "string";
    case FieldDescriptorProto_Type.BOOL:
      return "boolean";
    default:
      return "number";
  }
}

function printMessageJsonShape(
  f: EsPrinter,
  context: Context,
  type: EsType,
  message: DescriptorProto,
  path: readonly number[],
  deprecated: boolean,
): void {
  const { docs } = context;
  f.print(docs.block(path, deprecated), esExport("declare type", type.jsonName), " = {");
  message.field.forEach((field, i) => {
    const doc = docs.block([...path, PATH.field, i], field.options?.deprecated === true, "  ");
    memberDoc(f, doc, i === 0);
    const repeated = field.label === FieldDescriptorProto_Label.REPEATED;
    let typing: EsPrintable[];
    if (
      field.type === FieldDescriptorProto_Type.MESSAGE ||
      field.type === FieldDescriptorProto_Type.ENUM
    ) {
      typing = [jsonRef(resolve(context, field.typeName))];
      if (repeated) typing.push("[]");
    } else {
      const t = scalarJsonType(field);
      typing = repeated ? (t.includes("|") ? ["(", t, ")[]"] : [t, "[]"]) : [t];
    }
    const jsonName = field.jsonName ?? "";
    const key =
      jsonName === "" || /^[0-9]/.test(jsonName) || /[^a-zA-Z0-9_$]/.test(jsonName)
        ? esString(jsonName)
        : jsonName;
    f.print("  ", key, "?: ", typing, ";");
  });
  f.print("};");
  f.print();
}

function printEnumShape(
  f: EsPrinter,
  context: Context,
  type: EsType,
  enumeration: EnumDescriptorProto,
  path: readonly number[],
  doc: string,
): void {
  const prefix = sharedPrefix(enumeration);
  f.print(doc, esExport("declare const", type.shapeName), ": {");
  enumeration.value.forEach((value, i) => {
    const valueDoc = context.docs.block(
      [...path, PATH.value, i],
      value.options?.deprecated === true,
      "  ",
    );
    memberDoc(f, valueDoc, i === 0);
    const name = safeObjectProperty(
      prefix === undefined ? value.name : value.name.slice(prefix.length),
    );
    f.print("  readonly ", name, ": ", value.number, ",");
  });
  f.print("};");
  f.print();
  const name = type.shapeName;
  f.print(
    doc,
    esExport("declare type", name),
    ` = (typeof ${name})[keyof typeof ${name}] | `,
    esSymbol("UnknownEnum", PROTOBUF, true),
    ";",
  );
  f.print();
}

/**
 * The prefix the runtime drops from enum value names (`TASK_STATUS_` of `TaskStatus`),
 * if every value has it and keeps a name that does not start with a digit.
 */
function sharedPrefix(enumeration: EnumDescriptorProto): string | undefined {
  const name = enumeration.name;
  const prefix = `${(name.slice(0, 1) + name.slice(1).replace(/[A-Z]/g, (c) => `_${c}`)).toLowerCase()}_`;
  for (const value of enumeration.value) {
    if (!value.name.toLowerCase().startsWith(prefix)) return undefined;
    const short = value.name.slice(prefix.length);
    if (short.length === 0 || /^\d/.test(short)) return undefined;
  }
  return prefix;
}

function enumJsonType(enumeration: EnumDescriptorProto): EsPrintable[] {
  const names = [...new Set(enumeration.value.map((v) => v.name))];
  const out: EsPrintable[] = [];
  names.forEach((name, i) => {
    if (i > 0) out.push(" | ");
    out.push(esString(name));
  });
  return out;
}

function serviceShape(
  context: Context,
  service: EsService,
  path: readonly number[],
): EsPrintable[] {
  const out: EsPrintable[] = ["{\n"];
  service.proto.method.forEach((method, i) => {
    const doc = context.docs.block(
      [...path, PATH.method, i],
      method.options?.deprecated === true,
      "  ",
    );
    out.push(doc);
    out.push("  ", methodLocalName(method), ": {\n");
    out.push("    methodKind: ", esString(methodKind(method)), ";\n");
    out.push("    input: typeof ", typeDesc(resolve(context, method.inputType), true), ";\n");
    out.push("    output: typeof ", typeDesc(resolve(context, method.outputType), true), ";\n");
    out.push("  },\n");
  });
  out.push("}");
  return out;
}

function methodLocalName(method: MethodDescriptorProto): string {
  const name = method.name;
  return safeObjectProperty(name.length > 0 ? name[0]?.toLowerCase() + name.slice(1) : name);
}

function methodKind(method: MethodDescriptorProto): string {
  if (method.clientStreaming === true && method.serverStreaming === true) return "bidi_streaming";
  if (method.clientStreaming === true) return "client_streaming";
  if (method.serverStreaming === true) return "server_streaming";
  return "unary";
}
