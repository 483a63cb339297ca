/**
 * A small, readable description of the generated `.proto` (messages, enums, services
 * with their doc comments) that sits between the model and the descriptor. Builders
 * produce specs; `spec-to-descriptor.ts` turns them into a `FileDescriptorProto` and
 * computes the source paths the doc comments attach to.
 */

import type { IdRange } from "../../schema/index.ts";

/** Proto scalar types the generator uses. */
export type ProtoScalar = "string" | "int64" | "int32" | "double" | "bool" | "bytes";

/** A field's type: a scalar, or a message or enum by fully qualified name (`.pkg.Name`). */
export type ProtoFieldType =
  | { readonly scalar: ProtoScalar }
  | { readonly message: string }
  | { readonly enum: string };

/**
 * One field. `presence` is `"explicit"` for proto3 `optional` (a patch must tell unset
 * from zero), `"repeated"` for lists, `"implicit"` for plain proto3 fields and for
 * message fields, which always have presence.
 */
export interface FieldSpec {
  readonly name: string;
  readonly number: number;
  readonly type: ProtoFieldType;
  readonly presence: "implicit" | "explicit" | "repeated";
  readonly deprecated?: boolean;
  readonly doc?: string;
}

/** A real (non-synthetic) oneof: its fields follow the message's plain fields. */
export interface OneofSpec {
  readonly name: string;
  readonly fields: readonly FieldSpec[];
  readonly doc?: string;
}

/** One message. */
export interface MessageSpec {
  readonly name: string;
  readonly fields: readonly FieldSpec[];
  readonly oneofs?: readonly OneofSpec[];
  readonly reservedRanges?: readonly IdRange[];
  readonly reservedNames?: readonly string[];
  readonly deprecated?: boolean;
  readonly doc?: string;
}

/** One enum value, with its full proto name (`TASK_STATUS_TODO`). */
export interface EnumValueSpec {
  readonly name: string;
  readonly number: number;
  readonly deprecated?: boolean;
  readonly doc?: string;
}

/** One enum; `values` starts with the zero value. */
export interface EnumSpec {
  readonly name: string;
  readonly values: readonly EnumValueSpec[];
  readonly reservedRanges?: readonly IdRange[];
  readonly reservedNames?: readonly string[];
  readonly doc?: string;
}

/** One rpc; input and output are fully qualified message names. */
export interface MethodSpec {
  readonly name: string;
  readonly input: string;
  readonly output: string;
  /** The server answers with a stream of `output` messages. */
  readonly serverStreaming?: boolean;
  readonly doc?: string;
}

/** One service. */
export interface ServiceSpec {
  readonly name: string;
  readonly methods: readonly MethodSpec[];
  readonly deprecated?: boolean;
  readonly doc?: string;
}

/** The whole file, in the order the declarations are printed. */
export interface FileSpec {
  readonly path: string;
  readonly package: string;
  /** Imported files, sorted. */
  readonly imports: readonly string[];
  readonly enums: readonly EnumSpec[];
  readonly messages: readonly MessageSpec[];
  readonly services: readonly ServiceSpec[];
}

/** A field spec; leaves out `doc`/`deprecated` when not given (`exactOptionalPropertyTypes`). */
export function field(
  name: string,
  number: number,
  type: ProtoFieldType,
  presence: FieldSpec["presence"] = "implicit",
  extra: { readonly doc?: string | undefined; readonly deprecated?: boolean } = {},
): FieldSpec {
  return {
    name,
    number,
    type,
    presence,
    ...(extra.deprecated === true ? { deprecated: true } : {}),
    ...(extra.doc === undefined ? {} : { doc: extra.doc }),
  };
}

/** Shorthand for scalar field types. */
export function scalar(type: ProtoScalar): ProtoFieldType {
  return { scalar: type };
}

/** Shorthand for message field types. */
export function messageType(typeName: string): ProtoFieldType {
  return { message: typeName };
}
