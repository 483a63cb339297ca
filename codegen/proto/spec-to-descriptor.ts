/**
 * Turns a file spec into a `FileDescriptorProto` exactly as protoc would build it from
 * the printed text (json names filled in, proto3 `optional` as synthetic oneofs placed
 * after the real ones), and collects each doc comment under its descriptor source path.
 */

import { create } from "@bufbuild/protobuf";
import type {
  DescriptorProto,
  EnumDescriptorProto,
  FieldDescriptorProto,
  FileDescriptorProto,
  ServiceDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import {
  DescriptorProto_ReservedRangeSchema,
  DescriptorProtoSchema,
  EnumDescriptorProto_EnumReservedRangeSchema,
  EnumDescriptorProtoSchema,
  EnumValueDescriptorProtoSchema,
  EnumValueOptionsSchema,
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FieldDescriptorProtoSchema,
  FieldOptionsSchema,
  FileDescriptorProtoSchema,
  MessageOptionsSchema,
  MethodDescriptorProtoSchema,
  OneofDescriptorProtoSchema,
  ServiceDescriptorProtoSchema,
  ServiceOptionsSchema,
} from "@bufbuild/protobuf/wkt";
import { protoJsonName } from "./proto-names.ts";
import type {
  EnumSpec,
  FieldSpec,
  FileSpec,
  MessageSpec,
  ProtoScalar,
  ServiceSpec,
} from "./proto-spec.ts";

/** Descriptor field numbers that make up source paths (see descriptor.proto). */
export const SOURCE_PATH = {
  fileMessage: 4,
  fileEnum: 5,
  fileService: 6,
  messageField: 2,
  messageOneof: 8,
  enumValue: 2,
  serviceMethod: 2,
} as const;

/** Leading comments keyed by source path (`"4,0,2,1"`), in protoc's form (`" text\n"`). */
export type CommentMap = ReadonlyMap<string, string>;

/** The key of a source path in a `CommentMap`. */
export function pathKey(path: readonly number[]): string {
  return path.join(",");
}

/**
 * A doc comment as protoc reports the `//` lines that carry it: we print each line
 * after `// ` (a bare `//` for an empty line), and protoc keeps what follows the
 * slashes, ending each line with a newline.
 */
export function leadingCommentOf(doc: string): string {
  return doc
    .split("\n")
    .map((line) => (line === "" ? "\n" : ` ${line}\n`))
    .join("");
}

/** The descriptor of `spec`, without source info, and the comments to attach. */
export function specToDescriptor(spec: FileSpec): {
  descriptor: FileDescriptorProto;
  comments: CommentMap;
} {
  const comments = new Map<string, string>();
  const doc = (path: readonly number[], text: string | undefined): void => {
    if (text !== undefined) comments.set(pathKey(path), leadingCommentOf(text));
  };
  const descriptor = create(FileDescriptorProtoSchema, {
    name: spec.path,
    package: spec.package,
    dependency: [...spec.imports],
    syntax: "proto3",
    enumType: spec.enums.map((e, i) => enumDescriptor(e, [SOURCE_PATH.fileEnum, i], doc)),
    messageType: spec.messages.map((m, i) =>
      messageDescriptor(m, [SOURCE_PATH.fileMessage, i], doc),
    ),
    service: spec.services.map((s, i) => serviceDescriptor(s, [SOURCE_PATH.fileService, i], doc)),
  });
  return { descriptor, comments };
}

type DocSink = (path: readonly number[], text: string | undefined) => void;

function enumDescriptor(spec: EnumSpec, path: number[], doc: DocSink): EnumDescriptorProto {
  doc(path, spec.doc);
  return create(EnumDescriptorProtoSchema, {
    name: spec.name,
    value: spec.values.map((v, i) => {
      doc([...path, SOURCE_PATH.enumValue, i], v.doc);
      return create(EnumValueDescriptorProtoSchema, {
        name: v.name,
        number: v.number,
        ...(v.deprecated === true
          ? { options: create(EnumValueOptionsSchema, { deprecated: true }) }
          : {}),
      });
    }),
    // Enum reserved ranges are inclusive at both ends, unlike message ones.
    reservedRange: (spec.reservedRanges ?? []).map((r) =>
      create(EnumDescriptorProto_EnumReservedRangeSchema, { start: r.first, end: r.last }),
    ),
    reservedName: [...(spec.reservedNames ?? [])],
  });
}

function messageDescriptor(spec: MessageSpec, path: number[], doc: DocSink): DescriptorProto {
  doc(path, spec.doc);
  const oneofs = spec.oneofs ?? [];
  const fields: FieldDescriptorProto[] = [];
  const fieldPath = (): number[] => [...path, SOURCE_PATH.messageField, fields.length];

  for (const f of spec.fields) {
    doc(fieldPath(), f.doc);
    fields.push(fieldDescriptor(f));
  }
  oneofs.forEach((o, oneofIndex) => {
    doc([...path, SOURCE_PATH.messageOneof, oneofIndex], o.doc);
    for (const f of o.fields) {
      doc(fieldPath(), f.doc);
      fields.push(fieldDescriptor(f, oneofIndex));
    }
  });

  // protoc gives each proto3 `optional` field a synthetic oneof `_name`, after the real ones.
  const synthetic: string[] = [];
  for (const fd of fields) {
    if (fd.proto3Optional) {
      fd.oneofIndex = oneofs.length + synthetic.length;
      synthetic.push(`_${fd.name}`);
    }
  }

  return create(DescriptorProtoSchema, {
    name: spec.name,
    field: fields,
    oneofDecl: [...oneofs.map((o) => o.name), ...synthetic].map((name) =>
      create(OneofDescriptorProtoSchema, { name }),
    ),
    // Message reserved ranges are end-exclusive.
    reservedRange: (spec.reservedRanges ?? []).map((r) =>
      create(DescriptorProto_ReservedRangeSchema, { start: r.first, end: r.last + 1 }),
    ),
    reservedName: [...(spec.reservedNames ?? [])],
    ...(spec.deprecated === true
      ? { options: create(MessageOptionsSchema, { deprecated: true }) }
      : {}),
  });
}

const SCALAR_TYPES: Record<ProtoScalar, FieldDescriptorProto_Type> = {
  string: FieldDescriptorProto_Type.STRING,
  int64: FieldDescriptorProto_Type.INT64,
  int32: FieldDescriptorProto_Type.INT32,
  double: FieldDescriptorProto_Type.DOUBLE,
  bool: FieldDescriptorProto_Type.BOOL,
  bytes: FieldDescriptorProto_Type.BYTES,
};

function fieldDescriptor(spec: FieldSpec, oneofIndex?: number): FieldDescriptorProto {
  const t = spec.type;
  const typed =
    "scalar" in t
      ? { type: SCALAR_TYPES[t.scalar] }
      : "message" in t
        ? { type: FieldDescriptorProto_Type.MESSAGE, typeName: t.message }
        : { type: FieldDescriptorProto_Type.ENUM, typeName: t.enum };
  return create(FieldDescriptorProtoSchema, {
    name: spec.name,
    number: spec.number,
    label:
      spec.presence === "repeated"
        ? FieldDescriptorProto_Label.REPEATED
        : FieldDescriptorProto_Label.OPTIONAL,
    ...typed,
    jsonName: protoJsonName(spec.name),
    ...(oneofIndex === undefined ? {} : { oneofIndex }),
    ...(spec.presence === "explicit" ? { proto3Optional: true } : {}),
    ...(spec.deprecated === true
      ? { options: create(FieldOptionsSchema, { deprecated: true }) }
      : {}),
  });
}

function serviceDescriptor(
  spec: ServiceSpec,
  path: number[],
  doc: DocSink,
): ServiceDescriptorProto {
  doc(path, spec.doc);
  return create(ServiceDescriptorProtoSchema, {
    name: spec.name,
    method: spec.methods.map((m, i) => {
      doc([...path, SOURCE_PATH.serviceMethod, i], m.doc);
      return create(MethodDescriptorProtoSchema, {
        name: m.name,
        inputType: m.input,
        outputType: m.output,
        ...(m.serverStreaming === true ? { serverStreaming: true } : {}),
      });
    }),
    ...(spec.deprecated === true
      ? { options: create(ServiceOptionsSchema, { deprecated: true }) }
      : {}),
  });
}
