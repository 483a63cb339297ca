/**
 * Prints a file descriptor as `.proto` text and records where each declaration landed,
 * so the descriptor's SourceCodeInfo points into the file users read (spans and leading
 * comments as protoc would record them when compiling that text). Output is a pure
 * function of the descriptor and the comments: same input, same bytes.
 */

import { isFieldSet } from "@bufbuild/protobuf";
import type {
  DescriptorProto,
  EnumDescriptorProto,
  FieldDescriptorProto,
  FileDescriptorProto,
  ServiceDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FieldDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import type { CommentMap } from "./spec-to-descriptor.ts";
import { pathKey, SOURCE_PATH } from "./spec-to-descriptor.ts";

/** Where one declaration sits in the text: protoc's `SourceCodeInfo.Location` fields. */
export interface ProtoLocation {
  readonly path: readonly number[];
  /** `[startLine, startCol, endCol]` or `[startLine, startCol, endLine, endCol]`, zero-based. */
  readonly span: readonly number[];
  readonly leadingComments?: string;
}

/** The text and the locations of its declarations, in pre-order. */
export interface RenderedProto {
  readonly text: string;
  readonly locations: readonly ProtoLocation[];
}

/** Options of `renderProto`. */
export interface RenderOptions {
  /**
   * The zero-based line the text will start at in the written file, so spans stay right
   * when a header is put in front of it (the writer adds one line).
   */
  readonly firstLine?: number;
}

const INDENT = "  ";

const SCALAR_NAMES: Partial<Record<FieldDescriptorProto_Type, string>> = {
  [FieldDescriptorProto_Type.DOUBLE]: "double",
  [FieldDescriptorProto_Type.FLOAT]: "float",
  [FieldDescriptorProto_Type.INT64]: "int64",
  [FieldDescriptorProto_Type.UINT64]: "uint64",
  [FieldDescriptorProto_Type.INT32]: "int32",
  [FieldDescriptorProto_Type.FIXED64]: "fixed64",
  [FieldDescriptorProto_Type.FIXED32]: "fixed32",
  [FieldDescriptorProto_Type.BOOL]: "bool",
  [FieldDescriptorProto_Type.STRING]: "string",
  [FieldDescriptorProto_Type.BYTES]: "bytes",
  [FieldDescriptorProto_Type.UINT32]: "uint32",
  [FieldDescriptorProto_Type.SFIXED32]: "sfixed32",
  [FieldDescriptorProto_Type.SFIXED64]: "sfixed64",
  [FieldDescriptorProto_Type.SINT32]: "sint32",
  [FieldDescriptorProto_Type.SINT64]: "sint64",
};

/** Prints `file` with the given leading comments. */
export function renderProto(
  file: FileDescriptorProto,
  comments: CommentMap,
  options: RenderOptions = {},
): RenderedProto {
  const firstLine = options.firstLine ?? 0;
  const lines: string[] = [];
  const locations: { path: number[]; span: number[]; leadingComments?: string }[] = [];
  const lineNo = (): number => firstLine + lines.length;

  /** Prints the comment of `path`, then opens its location at the next line. */
  const open = (path: number[], indent: string): { path: number[]; span: number[] } => {
    const comment = comments.get(pathKey(path));
    if (comment !== undefined) {
      for (const line of comment.replace(/\n$/, "").split("\n")) lines.push(`${indent}//${line}`);
    }
    const location = {
      path,
      span: [lineNo(), indent.length],
      ...(comment === undefined ? {} : { leadingComments: comment }),
    };
    locations.push(location);
    return location;
  };
  /** Closes a location at the end of the last printed line. */
  const close = (location: { span: number[] }): void => {
    const endLine = lineNo() - 1;
    const endCol = lines[lines.length - 1]!.length;
    const [startLine, startCol] = location.span as [number, number];
    location.span =
      endLine === startLine
        ? [startLine, startCol, endCol]
        : [startLine, startCol, endLine, endCol];
  };
  const typeName = (name: string): string => relativeTypeName(file.package, name);

  lines.push(`syntax = "${file.syntax || "proto2"}";`, "");
  if (file.package !== "") lines.push(`package ${file.package};`, "");
  if (file.dependency.length > 0) {
    for (const dep of file.dependency) lines.push(`import "${dep}";`);
    lines.push("");
  }

  const printEnum = (e: EnumDescriptorProto, path: number[]): void => {
    const location = open(path, "");
    lines.push(`enum ${e.name} {`);
    e.value.forEach((v, i) => {
      const valueLocation = open([...path, SOURCE_PATH.enumValue, i], INDENT);
      const opts = v.options?.deprecated === true ? " [deprecated = true]" : "";
      lines.push(`${INDENT}${v.name} = ${v.number}${opts};`);
      close(valueLocation);
    });
    printReserved(
      lines,
      e.reservedRange.map((r) => [r.start, r.end]),
      e.reservedName,
    );
    lines.push("}");
    close(location);
  };

  const printField = (f: FieldDescriptorProto, path: number[], indent: string): void => {
    const location = open(path, indent);
    const label =
      f.label === FieldDescriptorProto_Label.REPEATED
        ? "repeated "
        : f.proto3Optional
          ? "optional "
          : "";
    const type =
      f.type === FieldDescriptorProto_Type.MESSAGE || f.type === FieldDescriptorProto_Type.ENUM
        ? typeName(f.typeName)
        : (SCALAR_NAMES[f.type] ?? "bytes");
    const opts = f.options?.deprecated === true ? " [deprecated = true]" : "";
    lines.push(`${indent}${label}${type} ${f.name} = ${f.number}${opts};`);
    close(location);
  };

  const printMessage = (m: DescriptorProto, path: number[]): void => {
    const location = open(path, "");
    const hasBody =
      m.field.length > 0 ||
      m.reservedRange.length > 0 ||
      m.reservedName.length > 0 ||
      m.options?.deprecated === true;
    if (!hasBody) {
      lines.push(`message ${m.name} {}`);
      close(location);
      return;
    }
    lines.push(`message ${m.name} {`);
    if (m.options?.deprecated === true) {
      lines.push(`${INDENT}option deprecated = true;`);
      if (m.field.length > 0) lines.push("");
    }
    const printedOneofs = new Set<number>();
    m.field.forEach((f, i) => {
      const fieldPath = [...path, SOURCE_PATH.messageField, i];
      if (!inRealOneof(f)) {
        printField(f, fieldPath, INDENT);
        return;
      }
      const oneofIndex = f.oneofIndex;
      if (printedOneofs.has(oneofIndex)) return;
      printedOneofs.add(oneofIndex);
      const oneofLocation = open([...path, SOURCE_PATH.messageOneof, oneofIndex], INDENT);
      lines.push(`${INDENT}oneof ${m.oneofDecl[oneofIndex]!.name} {`);
      m.field.forEach((member, j) => {
        if (inRealOneof(member) && member.oneofIndex === oneofIndex) {
          printField(member, [...path, SOURCE_PATH.messageField, j], INDENT + INDENT);
        }
      });
      lines.push(`${INDENT}}`);
      close(oneofLocation);
    });
    printReserved(
      lines,
      m.reservedRange.map((r) => [r.start, r.end - 1]),
      m.reservedName,
    );
    lines.push("}");
    close(location);
  };

  const printService = (s: ServiceDescriptorProto, path: number[]): void => {
    const location = open(path, "");
    lines.push(`service ${s.name} {`);
    if (s.options?.deprecated === true) {
      lines.push(`${INDENT}option deprecated = true;`);
      if (s.method.length > 0) lines.push("");
    }
    s.method.forEach((rpc, i) => {
      const methodLocation = open([...path, SOURCE_PATH.serviceMethod, i], INDENT);
      lines.push(
        `${INDENT}rpc ${rpc.name}(${typeName(rpc.inputType)}) returns (${rpc.serverStreaming ? "stream " : ""}${typeName(rpc.outputType)});`,
      );
      close(methodLocation);
    });
    lines.push("}");
    close(location);
  };

  const blocks: (() => void)[] = [
    ...file.enumType.map((e, i) => () => printEnum(e, [SOURCE_PATH.fileEnum, i])),
    ...file.messageType.map((m, i) => () => printMessage(m, [SOURCE_PATH.fileMessage, i])),
    ...file.service.map((s, i) => () => printService(s, [SOURCE_PATH.fileService, i])),
  ];
  blocks.forEach((print, i) => {
    if (i > 0) lines.push("");
    print();
  });

  return { text: `${lines.join("\n")}\n`, locations };
}

/** Whether a field belongs to a declared `oneof` (not the synthetic one of `optional`). */
function inRealOneof(f: FieldDescriptorProto): boolean {
  return isFieldSet(f, FieldDescriptorProtoSchema.field.oneofIndex) && !f.proto3Optional;
}

/**
 * Prints reserved ranges (inclusive `[first, last]`) and names, set off by a blank line.
 * Ranges and names go in separate statements, as proto3 requires.
 */
function printReserved(
  lines: string[],
  ranges: readonly (readonly [number, number])[],
  names: readonly string[],
): void {
  if (ranges.length === 0 && names.length === 0) return;
  if (!lines[lines.length - 1]!.endsWith("{")) lines.push("");
  if (ranges.length > 0) {
    const items = ranges.map(([first, last]) =>
      first === last ? `${first}` : `${first} to ${last}`,
    );
    lines.push(`${INDENT}reserved ${items.join(", ")};`);
  }
  if (names.length > 0) {
    lines.push(`${INDENT}reserved ${names.map((n) => `"${n}"`).join(", ")};`);
  }
}

/**
 * How to spell a fully qualified type name inside `pkg`: own types by simple name,
 * others by full name, with a leading dot when the first part could be mistaken for a
 * package part of our own (protoc resolves `google.x` against `acme.google` first).
 */
function relativeTypeName(pkg: string, qualified: string): string {
  const name = qualified.startsWith(".") ? qualified.slice(1) : qualified;
  if (pkg !== "" && name.startsWith(`${pkg}.`) && !name.slice(pkg.length + 1).includes(".")) {
    return name.slice(pkg.length + 1);
  }
  const head = name.split(".")[0] ?? "";
  return pkg.split(".").includes(head) ? `.${name}` : name;
}
