/**
 * The schema's own declarations as proto specs: each enum, and for each node or edge
 * type one message holding exactly its fields, numbered by field id. Field kinds map
 * to proto types here and nowhere else.
 */

import type { EdgeType, ElementType, EnumType, Field, NodeType } from "../../schema/index.ts";
import { enumValueName, enumZeroValueName, qualifiedName, WKT } from "./proto-names.ts";
import type { EnumSpec, FieldSpec, MessageSpec, ProtoFieldType } from "./proto-spec.ts";
import { field } from "./proto-spec.ts";

/** Maps a scalar, enum or ref to its proto type. `ref<X>` is a node id: a string. */
export function protoTypeOf(pkg: string, type: ElementType): ProtoFieldType {
  switch (type.kind) {
    case "string":
      return { scalar: "string" };
    case "int":
      return { scalar: "int64" };
    case "float":
      return { scalar: "double" };
    case "bool":
      return { scalar: "bool" };
    case "bytes":
      return { scalar: "bytes" };
    case "timestamp":
      return { message: WKT.timestamp.typeName };
    case "json":
      return { message: WKT.value.typeName };
    case "enum":
      return { enum: qualifiedName(pkg, type.enumName) };
    case "ref":
      return { scalar: "string" };
  }
}

/**
 * One schema field. Lists are `repeated`; every other non-message field is proto3
 * `optional`, because a patch has to tell "leave as is" from "set to zero".
 */
export function fieldSpecOf(pkg: string, f: Field): FieldSpec {
  const extra = { doc: f.doc, deprecated: f.deprecated };
  if (f.type.kind === "list") {
    return field(f.name, f.id, protoTypeOf(pkg, f.type.element), "repeated", extra);
  }
  const type = protoTypeOf(pkg, f.type);
  return field(f.name, f.id, type, "message" in type ? "implicit" : "explicit", extra);
}

/**
 * The message holding exactly a node type's fields (`Task`) or an edge type's
 * properties (`AssignedTo`, empty when it has none), with its reserved ids and names.
 */
export function typeFieldsMessage(pkg: string, type: NodeType | EdgeType): MessageSpec {
  return {
    name: type.name,
    fields: type.fields.map((f) => fieldSpecOf(pkg, f)),
    reservedRanges: type.reservedIds,
    reservedNames: type.reservedNames,
    ...(type.deprecated ? { deprecated: true } : {}),
    ...(type.doc === undefined ? {} : { doc: type.doc }),
  };
}

/**
 * A schema enum, with the zero value proto3 requires first. Reserved names are mapped
 * to their prefixed proto spelling, since that is what a reused name would collide with.
 */
export function enumSpecOf(e: EnumType): EnumSpec {
  return {
    name: e.name,
    values: [
      { name: enumZeroValueName(e.name), number: 0 },
      ...e.values.map((v) => ({
        name: enumValueName(e.name, v.name),
        number: v.number,
        ...(v.deprecated ? { deprecated: true } : {}),
        ...(v.doc === undefined ? {} : { doc: v.doc }),
      })),
    ],
    reservedRanges: e.reservedNumbers,
    reservedNames: e.reservedNames.map((n) => enumValueName(e.name, n)),
    ...(e.doc === undefined ? {} : { doc: e.doc }),
  };
}
