/**
 * Converts whole records between the generated TypeScript shapes (`Task`,
 * `TaskCreate`, `TaskPatch`, `AssignedTo`) and the API's field maps keyed by field id.
 * Property names come from the schema metadata; an unknown property is a `TypeError`
 * before anything is sent (the generated types already reject it at compile time).
 */

import { create } from "@bufbuild/protobuf";
import type { Edge, Node } from "../generated/entdb/v1/entdb_pb.js";
import { type Value, ValueSchema } from "../generated/entdb/v1/values_pb.js";
import type { EdgeTypeMeta, NodeTypeMeta } from "./schema-meta.ts";
import { decodeValue, encodeValue, type RefResolver, timestampToDate } from "./wire-value-codec.ts";

/** Field values keyed by field id, as the API takes them. */
export interface FieldValues {
  [fieldId: number]: Value;
}

/**
 * Encodes the fields of a create (or an edge's properties). `undefined` properties
 * are left out, so the server applies the field's default.
 */
export function encodeCreate(
  meta: NodeTypeMeta | EdgeTypeMeta,
  input: object,
  refs: RefResolver,
): FieldValues {
  const out: FieldValues = {};
  for (const [property, value] of Object.entries(input)) {
    if (value === undefined) continue;
    const field = fieldOf(meta, property);
    out[field.id] = encodeValue(field, value, `${meta.name}.${property}`, refs);
  }
  return out;
}

/** Encodes a patch: `undefined` keeps a field, `null` clears it, anything else sets it. */
export function encodePatch(
  meta: NodeTypeMeta,
  patch: object,
  refs: RefResolver,
): { readonly set: FieldValues; readonly clear: readonly number[] } {
  const set: FieldValues = {};
  const clear: number[] = [];
  for (const [property, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    const field = fieldOf(meta, property);
    if (value === null) {
      clear.push(field.id);
    } else {
      set[field.id] = encodeValue(field, value, `${meta.name}.${property}`, refs);
    }
  }
  return { set, clear };
}

/**
 * Encodes field preconditions (`expectedFields`): `undefined` properties are left out,
 * `null` expects the field to be unset, anything else is the value it must have.
 */
export function encodeExpected(
  meta: NodeTypeMeta,
  expected: object,
  refs: RefResolver,
): FieldValues {
  const out: FieldValues = {};
  for (const [property, value] of Object.entries(expected)) {
    if (value === undefined) continue;
    const field = fieldOf(meta, property);
    out[field.id] =
      value === null
        ? create(ValueSchema, { kind: { case: "nullValue", value: true } })
        : encodeValue(field, value, `${meta.name}.${property}`, refs);
  }
  return out;
}

/**
 * Decodes a node: `id`, `version`, `createdAt`, `updatedAt`, then every field of the
 * type in id order, `undefined` when unset. Field ids this client does not know (added
 * to the schema after it was generated) are skipped.
 */
export function decodeNode(meta: NodeTypeMeta, node: Node): Record<string, unknown> {
  const out: Record<string, unknown> = {
    id: node.id,
    version: node.version,
    createdAt: timestampToDate(node.createdAt),
    updatedAt: timestampToDate(node.updatedAt),
  };
  decodeFields(meta, node.fields, out);
  return out;
}

/** Decodes an edge: `from`, `to`, `createdAt`, then its properties. */
export function decodeEdge(meta: EdgeTypeMeta, edge: Edge): Record<string, unknown> {
  const out: Record<string, unknown> = {
    from: edge.fromId,
    to: edge.toId,
    createdAt: timestampToDate(edge.createdAt),
  };
  decodeFields(meta, edge.props, out);
  return out;
}

function decodeFields(
  meta: NodeTypeMeta | EdgeTypeMeta,
  values: { readonly [fieldId: number]: Value },
  out: Record<string, unknown>,
): void {
  for (const [property, field] of Object.entries(meta.fields)) {
    const value = values[field.id];
    out[property] =
      value === undefined ? undefined : decodeValue(field, value, `${meta.name}.${property}`);
  }
}

/** The field behind a property name; a `TypeError` naming the type when there is none. */
export function fieldOf(meta: NodeTypeMeta | EdgeTypeMeta, property: string) {
  const field = Object.hasOwn(meta.fields, property) ? meta.fields[property] : undefined;
  if (field === undefined) {
    const known = Object.keys(meta.fields).join(", ");
    throw new TypeError(
      `${meta.name} has no field '${property}'${known === "" ? "" : `; its fields are ${known}`}.`,
    );
  }
  return field;
}
