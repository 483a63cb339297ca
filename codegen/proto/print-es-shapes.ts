/**
 * The `.d.ts` shapes of a file's declarations: the type of each message (its fields and
 * oneofs), its JSON type, each enum as a const object and a union type, each service's
 * methods. Doc blocks of members follow the previous member directly when there is no
 * doc, after a blank line when there is one.
 */

import { isFieldSet } from "@bufbuild/protobuf";
import { protoCamelCase, safeObjectProperty } from "@bufbuild/protobuf/reflect";
import type {
  DescriptorProto,
  EnumDescriptorProto,
  FieldDescriptorProto,
  MethodDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FieldDescriptorProtoSchema,
  FieldOptions_JSType,
} from "@bufbuild/protobuf/wkt";
import type { EsService, EsType } from "./es-names.ts";
import {
  type Context,
  jsonRef,
  PATH,
  PROTOBUF,
  resolve,
  shapeRef,
  typeDesc,
} from "./es-print-context.ts";
import { type EsPrintable, type EsPrinter, esExport, esString, esSymbol } from "./es-printer.ts";

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

/** A message's type: `export declare type Task = Message<"acme.tracker.Task"> & {…}`. */
export function printMessageShape(
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

/** A message's JSON type: `export declare type TaskJson = {…}`, every field optional. */
export function printMessageJsonShape(
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

/** An enum as a const object of its values and the union type of them. */
export function printEnumShape(
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

/** An enum's JSON type: the union of its value names. */
export function enumJsonType(enumeration: EnumDescriptorProto): EsPrintable[] {
  const names = [...new Set(enumeration.value.map((v) => v.name))];
  const out: EsPrintable[] = [];
  names.forEach((name, i) => {
    if (i > 0) out.push(" | ");
    out.push(esString(name));
  });
  return out;
}

/** The type argument of a service's `GenService<…>`: one entry per method. */
export function serviceShape(
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
