/**
 * Small factories for hand-built schema models, so codegen tests can pin exact inputs
 * (every option, doc and reserved range) without going through the DSL compiler.
 */

import type {
  EdgeType,
  EnumType,
  Field,
  FieldType,
  IdRange,
  NodeType,
  Schema,
} from "../../schema/model.ts";

/** A field with every flag off unless given. */
export function fieldOf(
  id: number,
  name: string,
  type: FieldType,
  extra: Partial<Omit<Field, "id" | "name" | "type">> = {},
): Field {
  return {
    id,
    name,
    type,
    required: false,
    unique: false,
    index: false,
    searchable: false,
    deprecated: false,
    ...extra,
  };
}

/** A node type with no constraints or reservations unless given. */
export function nodeOf(
  id: number,
  name: string,
  fields: readonly Field[],
  extra: Partial<Omit<NodeType, "id" | "name" | "fields">> = {},
): NodeType {
  return {
    id,
    name,
    fields,
    uniques: [],
    indexes: [],
    visibility: "tenant",
    deprecated: false,
    reservedIds: [],
    reservedNames: [],
    ...extra,
  };
}

/** An edge type with no properties unless given. */
export function edgeOf(
  id: number,
  name: string,
  fromId: number,
  toId: number,
  extra: Partial<Omit<EdgeType, "id" | "name" | "fromId" | "toId">> = {},
): EdgeType {
  return {
    id,
    name,
    fromId,
    toId,
    uniquePerFrom: false,
    fields: [],
    deprecated: false,
    reservedIds: [],
    reservedNames: [],
    ...extra,
  };
}

/** An enum whose values are numbered 1, 2, … in order. */
export function enumOf(
  name: string,
  values: readonly string[],
  extra: Partial<Omit<EnumType, "name">> = {},
): EnumType {
  return {
    name,
    values: values.map((v, i) => ({ number: i + 1, name: v, deprecated: false })),
    reservedNumbers: [],
    reservedNames: [],
    ...extra,
  };
}

/** A schema; nodes, edges and enums are sorted the way the model promises. */
export function schemaOf(
  pkg: string,
  parts: {
    nodes?: readonly NodeType[];
    edges?: readonly EdgeType[];
    enums?: readonly EnumType[];
    reservedIds?: readonly IdRange[];
  },
): Schema {
  return {
    package: pkg,
    nodes: [...(parts.nodes ?? [])].sort((a, b) => a.id - b.id),
    edges: [...(parts.edges ?? [])].sort((a, b) => a.id - b.id),
    enums: [...(parts.enums ?? [])].sort((a, b) => (a.name < b.name ? -1 : 1)),
    reservedIds: parts.reservedIds ?? [],
    reservedNames: [],
  };
}
