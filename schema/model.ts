/**
 * The resolved schema model: what every later stage (lock file, compatibility
 * check, code generation, the server) reads. Immutable plain data, identity by id,
 * names as labels. Built from the AST by `compileSchema`, or from a lock file by
 * `modelFromLock` (then without spans or docs).
 *
 * Id spaces:
 * - node and edge type ids share one space per schema (each id names one type);
 * - field ids are per type (node fields, or an edge's properties);
 * - enum value numbers are per enum (0 is never used: proto keeps it for "unset").
 */

import type { Span } from "./span.ts";

/** Largest id a type or field may have: the largest protobuf field number. */
export const MAX_ID = 536_870_911;
/** Field numbers protobuf keeps for itself; field ids may not use them. */
export const PROTO_RESERVED_RANGE = { first: 19_000, last: 19_999 } as const;
/** Largest enum value number (protobuf enums are int32). */
export const MAX_ENUM_NUMBER = 2_147_483_647;
/** Smallest and largest value of an `int` field (64-bit signed). */
export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

/** Scalar kinds: the leaves of every field type. */
export type ScalarKind = "string" | "int" | "float" | "bool" | "timestamp" | "bytes" | "json";

/** All scalar kinds, in documentation order. */
export const SCALAR_KINDS: readonly ScalarKind[] = [
  "string",
  "int",
  "float",
  "bool",
  "timestamp",
  "bytes",
  "json",
];

/** A field's type. Lists hold scalars, enums or refs, never lists. */
export type FieldType =
  | { readonly kind: ScalarKind }
  | { readonly kind: "enum"; readonly enumName: string }
  | { readonly kind: "ref"; readonly targetId: number }
  | { readonly kind: "list"; readonly element: ElementType };

/** What a list may hold. */
export type ElementType =
  | { readonly kind: ScalarKind }
  | { readonly kind: "enum"; readonly enumName: string }
  | { readonly kind: "ref"; readonly targetId: number };

/**
 * A default value, already checked against the field's kind.
 * `int` defaults are bigints so 64-bit values stay exact; `timestamp` defaults
 * are RFC 3339 strings in UTC, normalized (`2024-01-02T03:04:05Z`, or with
 * fractional seconds when the source had them).
 */
export type DefaultValue =
  | { readonly kind: "string"; readonly value: string }
  | { readonly kind: "int"; readonly value: bigint }
  | { readonly kind: "float"; readonly value: number }
  | { readonly kind: "bool"; readonly value: boolean }
  | { readonly kind: "timestamp"; readonly value: string }
  | { readonly kind: "enum"; readonly value: string };

/** An inclusive range of reserved ids (`reserved 5;` is `{first: 5, last: 5}`). */
export interface IdRange {
  readonly first: number;
  readonly last: number;
}

/** Who may read a node by default (ACLs refine it later). */
export type Visibility = "private" | "tenant" | "public";

/** A field of a node type, or a property of an edge type. */
export interface Field {
  readonly id: number;
  readonly name: string;
  readonly type: FieldType;
  readonly required: boolean;
  readonly unique: boolean;
  readonly index: boolean;
  readonly searchable: boolean;
  /**
   * `searchable(weight = w)`: how much a match in this field counts in search ranking
   * (bm25 column weight). Absent means 1, and it is never set on a field that is not
   * searchable, so a schema without weights has the model (and fingerprint) it had before.
   */
  readonly searchWeight?: number;
  /**
   * `inherit_access` (ref fields only): the node is readable by whoever can read the node
   * this field names, instead of by its type's visibility (docs/access-control.md).
   */
  readonly inheritAccess?: true;
  readonly deprecated: boolean;
  readonly default?: DefaultValue;
  /** The `///` doc comment, lines joined with "\n", without the slashes. */
  readonly doc?: string;
  /** The whole declaration; absent when the model came from a lock file. */
  readonly span?: Span;
}

/** A composite unique constraint or index, over field ids in declared order. */
export interface CompositeConstraint {
  readonly fieldIds: readonly number[];
  readonly span?: Span;
}

/** A node type. */
export interface NodeType {
  readonly id: number;
  readonly name: string;
  /** Fields in ascending id order. */
  readonly fields: readonly Field[];
  readonly uniques: readonly CompositeConstraint[];
  readonly indexes: readonly CompositeConstraint[];
  readonly visibility: Visibility;
  readonly deprecated: boolean;
  /** Reserved field ids, sorted, non-overlapping. */
  readonly reservedIds: readonly IdRange[];
  /** Reserved field names, sorted. */
  readonly reservedNames: readonly string[];
  /** Field ids an earlier version used and dropped without reserving them (see {@link Schema.retiredIds}). */
  readonly retiredIds?: readonly IdRange[];
  readonly doc?: string;
  readonly span?: Span;
}

/** An edge type: a directed link from one node type to another, with properties. */
export interface EdgeType {
  readonly id: number;
  readonly name: string;
  readonly fromId: number;
  readonly toId: number;
  /** Each `from` node has at most one edge of this type. */
  readonly uniquePerFrom: boolean;
  /** The name of the reverse traversal (`to` → `from`), if declared. */
  readonly inverseName?: string;
  /**
   * `mailbox = field`: creating an edge of this type delivers its `from` node to the mailbox
   * of the principal held in this string field (an id) of the `to` node (docs/mailbox.md).
   */
  readonly mailboxFieldId?: number;
  /** Edge properties, in ascending id order. */
  readonly fields: readonly Field[];
  readonly deprecated: boolean;
  readonly reservedIds: readonly IdRange[];
  readonly reservedNames: readonly string[];
  /** Property ids an earlier version used and dropped without reserving them. */
  readonly retiredIds?: readonly IdRange[];
  readonly doc?: string;
  readonly span?: Span;
}

/** One value of an enum. */
export interface EnumValue {
  readonly number: number;
  readonly name: string;
  readonly deprecated: boolean;
  readonly doc?: string;
  readonly span?: Span;
}

/** An enum: named values with stable numbers (>= 1). */
export interface EnumType {
  readonly name: string;
  /** Values in ascending number order. */
  readonly values: readonly EnumValue[];
  readonly reservedNumbers: readonly IdRange[];
  readonly reservedNames: readonly string[];
  /** Numbers an earlier version used and dropped without reserving them. */
  readonly retiredNumbers?: readonly IdRange[];
  readonly doc?: string;
  readonly span?: Span;
}

/** A whole compiled schema. */
export interface Schema {
  /** Dotted package name, e.g. `acme.tracker`; also the proto package. */
  readonly package: string;
  /** Node types in ascending id order. */
  readonly nodes: readonly NodeType[];
  /** Edge types in ascending id order. */
  readonly edges: readonly EdgeType[];
  /** Enums in name order. */
  readonly enums: readonly EnumType[];
  /** Reserved type ids (shared by nodes and edges), sorted. */
  readonly reservedIds: readonly IdRange[];
  /** Reserved type names, sorted. */
  readonly reservedNames: readonly string[];
  /**
   * Tombstones: type ids an earlier version used and dropped without reserving them
   * (a breaking removal someone accepted). Only a lock file carries them: the lock
   * keeps every id ever used, so reusing one is caught even after the removal was let
   * through. A model compiled from source has none. Sorted, non-overlapping.
   */
  readonly retiredIds?: readonly IdRange[];
  /** The source path this model was compiled from, if any. */
  readonly sourcePath?: string;
}

/** Looks up a node type by id. */
export function nodeById(schema: Schema, id: number): NodeType | undefined {
  return schema.nodes.find((n) => n.id === id);
}

/** Looks up an edge type by id. */
export function edgeById(schema: Schema, id: number): EdgeType | undefined {
  return schema.edges.find((e) => e.id === id);
}

/** Looks up an enum by name. */
export function enumByName(schema: Schema, name: string): EnumType | undefined {
  return schema.enums.find((e) => e.name === name);
}

/** Whether `id` falls in one of the ranges. */
export function inRanges(ranges: readonly IdRange[], id: number): boolean {
  return ranges.some((r) => id >= r.first && id <= r.last);
}
