/**
 * The schema facts the runtime needs to encode and decode values: type ids, field ids
 * and kinds, enum numbers. Generated clients declare them as one `schema` constant; the
 * runtime never sees field names other than the TypeScript property names, and never
 * needs the schema compiler.
 */

/** Kinds of a single value. */
export type ScalarKind = "string" | "int" | "float" | "bool" | "timestamp" | "bytes" | "json";

/**
 * An enum as the client sees it: value names to numbers, and back. Created by
 * `defineEnum` in generated code.
 */
export interface EnumMapping<TName extends string> {
  /** Value name → number, e.g. `TaskStatus.numbers.todo === 1`. */
  readonly numbers: { readonly [K in TName]: number };
  /** Number → value name, e.g. `TaskStatus.names.get(1) === "todo"`. */
  readonly names: ReadonlyMap<number, TName>;
}

/**
 * Builds an enum mapping from value names to numbers. Numbers must be distinct
 * positive integers (the schema compiler guarantees it for generated code).
 */
export function defineEnum<TName extends string>(
  numbers: {
    readonly [K in TName]: number;
  },
): EnumMapping<TName> {
  const names = new Map<number, TName>();
  // The keys of `numbers` are exactly `TName` by the parameter's type.
  for (const name of Object.keys(numbers) as TName[]) {
    names.set(numbers[name], name);
  }
  return { numbers, names };
}

/** What one list element, or a non-list field, holds. */
export type ElementMeta =
  | { readonly kind: ScalarKind }
  | { readonly kind: "enum"; readonly enum: EnumMapping<string> }
  | { readonly kind: "ref"; readonly target: number };

/** A field of a node type or a property of an edge type. `id` is its identity. */
export type FieldMeta = ElementMeta & { readonly id: number };

/** A list field: `kind: "list"` with the element's kind. */
export interface ListFieldMeta {
  readonly id: number;
  readonly kind: "list";
  readonly element: ElementMeta;
}

/** Any field. */
export type AnyFieldMeta = FieldMeta | ListFieldMeta;

/** Fields keyed by their TypeScript property name (`estimateMinutes`). */
export interface FieldsMeta {
  readonly [property: string]: AnyFieldMeta;
}

/** A node type. */
export interface NodeTypeMeta {
  readonly id: number;
  /** The schema's type name, e.g. `Task`; used in messages. */
  readonly name: string;
  readonly fields: FieldsMeta;
  /**
   * The unique keys `getBy` accepts: each is the property names of one unique field,
   * or of all fields of one composite unique.
   */
  readonly keys?: readonly (readonly string[])[];
}

/** An edge type. */
export interface EdgeTypeMeta {
  readonly id: number;
  readonly name: string;
  /** Type id of the `from` node type. */
  readonly from: number;
  /** Type id of the `to` node type. */
  readonly to: number;
  readonly fields: FieldsMeta;
  /** The inverse traversal's name, added as a method to the `to` type's accessor. */
  readonly inverse?: string;
}

/** A whole schema, keyed by accessor name (`task`, `assignedTo`). */
export interface SchemaMeta {
  /** The schema's package, e.g. `acme.tracker`. */
  readonly package: string;
  /**
   * The schema's fingerprint (`sha256:…`, as `GetSchema` reports it); sent with every call
   * so the server can tell a client newer than its schema (runtime/schema-header.ts).
   */
  readonly fingerprint?: string;
  readonly nodes: { readonly [accessor: string]: NodeTypeMeta };
  readonly edges: { readonly [accessor: string]: EdgeTypeMeta };
}

/** A type (node or edge) with its fields indexed by id, built once per type. */
export interface IndexedType {
  readonly id: number;
  readonly name: string;
  readonly fields: FieldsMeta;
  /** Field id → property name. */
  readonly propertyById: ReadonlyMap<number, string>;
}

const indexCache = new WeakMap<NodeTypeMeta | EdgeTypeMeta, IndexedType>();

/** Indexes a type's fields by id; cached per metadata object. */
export function indexType(meta: NodeTypeMeta | EdgeTypeMeta): IndexedType {
  const cached = indexCache.get(meta);
  if (cached !== undefined) return cached;
  const propertyById = new Map<number, string>();
  for (const [property, field] of Object.entries(meta.fields)) {
    propertyById.set(field.id, property);
  }
  const indexed: IndexedType = { id: meta.id, name: meta.name, fields: meta.fields, propertyById };
  indexCache.set(meta, indexed);
  return indexed;
}

/** Finds a node or edge type by id (they share one id space). */
export function typeById(
  schema: SchemaMeta,
  typeId: number,
): NodeTypeMeta | EdgeTypeMeta | undefined {
  for (const node of Object.values(schema.nodes)) if (node.id === typeId) return node;
  for (const edge of Object.values(schema.edges)) if (edge.id === typeId) return edge;
  return undefined;
}
