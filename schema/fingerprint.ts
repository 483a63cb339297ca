/**
 * The schema's canonical form and its fingerprint. The canonical form is what the
 * lock file stores: the contract of a schema and nothing else. It keeps ids, names,
 * kinds, options and reservations; it drops spans, docs and source paths (a doc
 * edit does not change the contract), and it orders everything by identity (types
 * and fields by id, enums by name, values by number), so the same schema gives the
 * same bytes however its source is laid out.
 */

import { createHash } from "node:crypto";
import type {
  CompositeConstraint,
  DefaultValue,
  EdgeType,
  ElementType,
  EnumType,
  Field,
  FieldType,
  IdRange,
  NodeType,
  Schema,
  Visibility,
} from "./model.ts";

/** Version of the canonical form; bumped when its shape changes. */
export const LOCK_VERSION = 1;

/** A default value as stored: `int` values are decimal strings so 64-bit values stay exact. */
export type CanonicalDefault =
  | { readonly kind: "string" | "int" | "timestamp" | "enum"; readonly value: string }
  | { readonly kind: "float"; readonly value: number }
  | { readonly kind: "bool"; readonly value: boolean };

/** A field (or edge property) in canonical form. */
export interface CanonicalField {
  readonly id: number;
  readonly name: string;
  readonly type: FieldType;
  readonly required: boolean;
  readonly unique: boolean;
  readonly index: boolean;
  readonly searchable: boolean;
  readonly searchWeight?: number;
  readonly inheritAccess?: true;
  readonly deprecated: boolean;
  readonly default?: CanonicalDefault;
}

/** A node type in canonical form; composites are lists of field ids. */
export interface CanonicalNode {
  readonly id: number;
  readonly name: string;
  readonly visibility: Visibility;
  readonly deprecated: boolean;
  readonly fields: readonly CanonicalField[];
  readonly uniques: readonly (readonly number[])[];
  readonly indexes: readonly (readonly number[])[];
  readonly reservedIds: readonly IdRange[];
  readonly reservedNames: readonly string[];
  /** Tombstones (see `Schema.retiredIds`); the key is left out when there are none. */
  readonly retiredIds?: readonly IdRange[];
}

/** An edge type in canonical form. */
export interface CanonicalEdge {
  readonly id: number;
  readonly name: string;
  readonly fromId: number;
  readonly toId: number;
  readonly uniquePerFrom: boolean;
  readonly inverseName?: string;
  readonly mailboxFieldId?: number;
  readonly deprecated: boolean;
  readonly fields: readonly CanonicalField[];
  readonly reservedIds: readonly IdRange[];
  readonly reservedNames: readonly string[];
  readonly retiredIds?: readonly IdRange[];
}

/** An enum in canonical form. */
export interface CanonicalEnum {
  readonly name: string;
  readonly values: readonly {
    readonly number: number;
    readonly name: string;
    readonly deprecated: boolean;
  }[];
  readonly reservedNumbers: readonly IdRange[];
  readonly reservedNames: readonly string[];
  readonly retiredNumbers?: readonly IdRange[];
}

/** The whole canonical form, without the fingerprint (which is computed over it). */
export interface CanonicalSchema {
  readonly lockVersion: number;
  readonly package: string;
  readonly reservedIds: readonly IdRange[];
  readonly reservedNames: readonly string[];
  readonly retiredIds?: readonly IdRange[];
  readonly nodes: readonly CanonicalNode[];
  readonly edges: readonly CanonicalEdge[];
  readonly enums: readonly CanonicalEnum[];
}

/** Builds the canonical form of a schema. Key order is fixed by construction. */
export function canonicalSchema(schema: Schema): CanonicalSchema {
  return {
    lockVersion: LOCK_VERSION,
    package: schema.package,
    reservedIds: normalizeRanges(schema.reservedIds),
    reservedNames: sortedStrings(schema.reservedNames),
    ...retired("retiredIds", schema.retiredIds),
    nodes: [...schema.nodes].sort(byId).map(canonicalNode),
    edges: [...schema.edges].sort(byId).map(canonicalEdge),
    enums: [...schema.enums].sort((a, b) => compareStrings(a.name, b.name)).map(canonicalEnum),
  };
}

/** Canonical JSON text: 2-space indent and a trailing newline. */
export function canonicalJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** `sha256:<hex>` of the canonical JSON text of a canonical form. */
export function fingerprintOfCanonical(canonical: CanonicalSchema): string {
  return fingerprintOfJson(canonicalJson(canonical));
}

/** The canonical JSON text of a schema and its fingerprint. */
export interface CanonicalText {
  /** `canonicalJson(canonicalSchema(schema))`. */
  readonly json: string;
  /** `sha256:<hex>` of `json`. */
  readonly fingerprint: string;
}

/**
 * Fingerprints remembered per schema object (the model is immutable): `entdb generate`
 * and `entdb lock` render the lock text and then print its fingerprint, and on a large
 * schema the canonical JSON is megabytes.
 */
const fingerprints = new WeakMap<Schema, string>();

/** The canonical JSON text of `schema` and its fingerprint. */
export function canonicalText(schema: Schema): CanonicalText {
  const json = canonicalJson(canonicalSchema(schema));
  const fingerprint = fingerprintOfJson(json);
  fingerprints.set(schema, fingerprint);
  return { json, fingerprint };
}

/** The schema's fingerprint: `sha256:<hex>` over its canonical JSON (see `lockFromSchema`). */
export function schemaFingerprint(schema: Schema): string {
  return fingerprints.get(schema) ?? canonicalText(schema).fingerprint;
}

function fingerprintOfJson(json: string): string {
  return `sha256:${createHash("sha256").update(json).digest("hex")}`;
}

/**
 * Sorts ranges and merges overlapping or adjacent ones, so `reserved 11, 12;` and
 * `reserved 11 to 12;` reserve the same thing and lock the same way.
 */
export function normalizeRanges(ranges: readonly IdRange[]): IdRange[] {
  const sorted = [...ranges].sort((a, b) => a.first - b.first || a.last - b.last);
  const out: IdRange[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && r.first <= last.last + 1) {
      out[out.length - 1] = { first: last.first, last: Math.max(last.last, r.last) };
    } else {
      out.push({ first: r.first, last: r.last });
    }
  }
  return out;
}

/** Orders strings by UTF-16 code units: locale independent, so stable across machines. */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byId(a: { readonly id: number }, b: { readonly id: number }): number {
  return a.id - b.id;
}

function sortedStrings(names: readonly string[]): string[] {
  return [...new Set(names)].sort(compareStrings);
}

function canonicalNode(node: NodeType): CanonicalNode {
  return {
    id: node.id,
    name: node.name,
    visibility: node.visibility,
    deprecated: node.deprecated,
    fields: [...node.fields].sort(byId).map(canonicalField),
    uniques: canonicalComposites(node.uniques),
    indexes: canonicalComposites(node.indexes),
    reservedIds: normalizeRanges(node.reservedIds),
    reservedNames: sortedStrings(node.reservedNames),
    ...retired("retiredIds", node.retiredIds),
  };
}

function canonicalEdge(edge: EdgeType): CanonicalEdge {
  return {
    id: edge.id,
    name: edge.name,
    fromId: edge.fromId,
    toId: edge.toId,
    uniquePerFrom: edge.uniquePerFrom,
    ...(edge.inverseName === undefined ? {} : { inverseName: edge.inverseName }),
    ...(edge.mailboxFieldId === undefined ? {} : { mailboxFieldId: edge.mailboxFieldId }),
    deprecated: edge.deprecated,
    fields: [...edge.fields].sort(byId).map(canonicalField),
    reservedIds: normalizeRanges(edge.reservedIds),
    reservedNames: sortedStrings(edge.reservedNames),
    ...retired("retiredIds", edge.retiredIds),
  };
}

function canonicalField(field: Field): CanonicalField {
  return {
    id: field.id,
    name: field.name,
    type: canonicalType(field.type),
    required: field.required,
    unique: field.unique,
    index: field.index,
    searchable: field.searchable,
    ...(field.searchWeight !== undefined ? { searchWeight: field.searchWeight } : {}),
    ...(field.inheritAccess ? { inheritAccess: true as const } : {}),
    deprecated: field.deprecated,
    ...(field.default === undefined ? {} : { default: canonicalDefault(field.default) }),
  };
}

/** Rebuilds the type so only the model's keys, in a fixed order, reach the JSON. */
function canonicalType(type: FieldType): FieldType {
  if (type.kind === "list") return { kind: "list", element: canonicalElement(type.element) };
  return canonicalElement(type);
}

function canonicalElement(type: ElementType): ElementType {
  switch (type.kind) {
    case "enum":
      return { kind: "enum", enumName: type.enumName };
    case "ref":
      return { kind: "ref", targetId: type.targetId };
    default:
      return { kind: type.kind };
  }
}

function canonicalDefault(value: DefaultValue): CanonicalDefault {
  switch (value.kind) {
    case "int":
      return { kind: "int", value: value.value.toString(10) };
    case "float":
      return { kind: "float", value: value.value };
    case "bool":
      return { kind: "bool", value: value.value };
    default:
      return { kind: value.kind, value: value.value };
  }
}

/** Constraint order within the list carries no meaning; field order within one does. */
function canonicalComposites(list: readonly CompositeConstraint[]): number[][] {
  return list.map((c) => [...c.fieldIds]).sort((a, b) => compareStrings(a.join(","), b.join(",")));
}

function canonicalEnum(e: EnumType): CanonicalEnum {
  return {
    name: e.name,
    values: [...e.values]
      .sort((a, b) => a.number - b.number)
      .map((v) => ({ number: v.number, name: v.name, deprecated: v.deprecated })),
    reservedNumbers: normalizeRanges(e.reservedNumbers),
    reservedNames: sortedStrings(e.reservedNames),
    ...retired("retiredNumbers", e.retiredNumbers),
  };
}

/**
 * `{ [key]: ranges }` when there are tombstones, `{}` otherwise: a schema that never
 * dropped an id without reserving it locks exactly as before tombstones existed.
 */
function retired<K extends string>(
  key: K,
  ranges: readonly IdRange[] | undefined,
): { [P in K]?: IdRange[] } {
  if (ranges === undefined || ranges.length === 0) return {};
  return { [key]: normalizeRanges(ranges) } as { [P in K]?: IdRange[] };
}
