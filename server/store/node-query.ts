/**
 * Compiles a node query (filters, order, cursor, limit) to one SQL statement over
 * `nodes`. Field expressions and the `type_id = <literal>` term are spelled exactly
 * as in the partial expression indexes (`codegen/store-layout`), so SQLite uses those indexes.
 * Ids in the SQL text come from the schema model; every request value is bound, as `+?`:
 * SQLite (built with STAT4) plans with the value of a bare `?` in `LIMIT` or compared with
 * an indexed column and then compiles the statement again every time it is bound, while
 * `col = +?` (or `<`, `IN (+?, ...)`) seeks the same index with the plan kept.
 *
 * Comparisons are typed by the field's kind because values are bound as the SQL type
 * `json_extract` returns for that kind: ints, timestamps (microseconds) and enums
 * (numbers) compare as integers, floats as numbers, strings by code point (UTF-8
 * bytes). Which operators each kind takes:
 *
 * - string: EQ NE LT LTE GT GTE IN, CONTAINS (substring), PREFIX
 * - int, float, timestamp, enum: EQ NE LT LTE GT GTE IN
 * - bool, bytes, ref: EQ NE IN
 * - list<T> (T not json): CONTAINS (an element equals the value)
 * - json: none
 *
 * EQ / NE with a `null_value` test whether the field is unset / set. NE otherwise
 * also matches nodes where the field is unset. Field id 0 is the node id (a string).
 */

import { fieldJsonPath, nodeFieldExpr, nodeIndexName } from "../../codegen/store-layout/index.ts";
import { type Filter, FilterOp, type OrderBy } from "../../generated/entdb/v1/entdb_pb.js";
import type { Value } from "../../generated/entdb/v1/values_pb.js";
import type { ElementType, FieldType, NodeType, Schema } from "../../schema/index.ts";
import { decodeNodeCursor, filtersDigest } from "./page-cursor.ts";
import { NODE_CACHE_KEY_COLUMNS, NODE_COLUMNS } from "./row-codec.ts";
import { StoreError } from "./store-error.ts";
import { encodeValue, type SqlScalar, sqlValueOf } from "./stored-value-codec.ts";

/** What a node query asks for. */
export interface NodeQuery {
  readonly filters: readonly Filter[];
  readonly orderBy?: OrderBy;
  /** Page size; already clamped by the caller. */
  readonly limit: number;
  readonly cursor: string;
  /** Rows the reader may not see (`visibility-sql.ts`); excluded inside the query. */
  readonly hidden?: { readonly sql: string; readonly params: readonly SqlScalar[] };
  /** Further terms every row must meet (`private-query.ts` bounds its ranges with them). */
  readonly also?: readonly { readonly sql: string; readonly params: readonly SqlScalar[] }[];
  /**
   * Compile one arm of a compound statement: no ORDER BY, no LIMIT and no limit
   * parameter; the caller orders and limits the whole (`private-query.ts`). Id order only.
   */
  readonly arm?: true;
  /**
   * "keys": select only {@link NODE_CACHE_KEY_COLUMNS} (the reader takes the nodes from the
   * node cache), and `sort_key` only when the statement names the order's index, whose
   * entries hold the key: computed for every row otherwise, it cost more than the rest of
   * the statement, so the reader reads the last row's key for the cursor alone.
   * "ids": select `id` alone, which every index of `nodes` holds (the reader plucks the
   * ids, takes the nodes from the node cache by id and reads the last row's sort key for
   * the cursor alone: a row object and a second and third column cost more a row than
   * the index search).
   * Default "rows": {@link NODE_COLUMNS} and, when ordered by a field, `sort_key`.
   */
  readonly columns?: "rows" | "keys" | "ids";
}

/** A compiled query: run `sql` with `params`; it returns up to `limit + 1` rows. */
export interface CompiledNodeQuery {
  readonly sql: string;
  readonly params: readonly SqlScalar[];
  /** The ordering field (0 = node id). */
  readonly orderField: number;
  readonly descending: boolean;
  /** Digest of the filters, which a cursor of this query carries (page-cursor.ts). */
  readonly filters: string;
}

/** Most values an IN filter may list. */
export const MAX_IN_VALUES = 1_000;

const ORDERABLE = new Set(["string", "int", "float", "bool", "timestamp", "enum", "ref"]);
const RANGE_KINDS = new Set(["string", "int", "float", "timestamp", "enum"]);

/**
 * Compiles `query` over nodes of `type`; throws `invalid-argument` naming the field on
 * misuse. `hasIndex` says which indexes the tenant's file has: when the results are
 * ordered by a field with its own index and no other field is filtered, the query
 * names that index (`INDEXED BY`), because SQLite's planner would otherwise read all
 * nodes of the type through `nodes_by_type` and sort them, even for a page of ten.
 */
export function compileNodeQuery(
  schema: Schema,
  type: NodeType,
  query: NodeQuery,
  hasIndex: (name: string) => boolean = () => false,
): CompiledNodeQuery {
  const bound: BoundFilter[] = [];
  for (const filter of query.filters) bound.push(bindFilter(schema, type, filter));

  const orderField = query.orderBy?.fieldId ?? 0;
  const descending = query.orderBy?.descending ?? false;
  if (orderField !== 0) {
    const field = type.fields.find((f) => f.id === orderField);
    if (!field) throw noField(type, orderField);
    if (!ORDERABLE.has(field.type.kind)) {
      throw invalid(
        orderField,
        `${fieldName(type, orderField)} is ${article(field.type.kind)} ${field.type.kind} field; results cannot be ordered by it.`,
      );
    }
  }

  const filters = filtersDigest(query.filters);
  let after: CursorForm = "none";
  let cursorParams: SqlScalar[] = [];
  if (query.cursor !== "") {
    const c = decodeNodeCursor(query.cursor, {
      typeId: type.id,
      orderField,
      descending,
      filters,
    });
    if (orderField === 0 || c.key === null) {
      after = orderField === 0 ? "id" : "null-key";
      cursorParams = [c.lastId];
    } else {
      after = "key";
      cursorParams = [c.key, c.key, c.lastId];
    }
  }

  const orderIndex = orderField === 0 ? undefined : nodeIndexName(type.id, [orderField]);
  const useOrderIndex =
    orderIndex !== undefined &&
    hasIndex(orderIndex) &&
    query.filters.every((f) => f.fieldId === orderField);

  const params: SqlScalar[] = [];
  if (query.hidden) params.push(...query.hidden.params);
  for (const term of query.also ?? []) params.push(...term.params);
  for (const b of bound) params.push(...b.params);
  params.push(...cursorParams);
  if (!query.arm) params.push(BigInt(query.limit + 1));

  // The statement's text depends on the query's shape alone, not on its values: built
  // once per shape, it is also the same string object every call, whose hash the
  // statement cache does not compute again.
  let key = `${type.id}/${orderField}/${descending ? 1 : 0}/${query.columns ?? "rows"}/${query.arm ? 1 : 0}/${useOrderIndex ? 1 : 0}/${after}/`;
  for (let i = 0; i < bound.length; i++) {
    const b = bound[i] as BoundFilter;
    key += `${(query.filters[i] as Filter).fieldId}${b.form}${b.form === "in" ? b.params.length : ""},`;
  }
  if (query.hidden) key += `/h${query.hidden.sql.length}:${query.hidden.sql}`;
  for (const term of query.also ?? []) key += `/a${term.sql.length}:${term.sql}`;
  let shapes = SHAPES.get(schema);
  if (shapes === undefined) {
    shapes = new Map();
    SHAPES.set(schema, shapes);
  }
  let sql = shapes.get(key);
  if (sql === undefined) {
    sql = buildSql(
      type,
      query,
      bound,
      orderField,
      descending,
      after,
      useOrderIndex ? orderIndex : undefined,
    );
    if (shapes.size >= MAX_SHAPES) shapes.delete(shapes.keys().next().value as string);
    shapes.set(key, sql);
  }
  return { sql, params, orderField, descending, filters };
}

/** Most statement texts kept per schema model (a shape is a query's form without its values). */
const MAX_SHAPES = 256;

/**
 * Statement texts by schema model and shape: a new model (a schema change) starts empty,
 * and a dropped one is collected with its texts.
 */
const SHAPES = new WeakMap<Schema, Map<string, string>>();

/** Where a cursor resumes: by id, after a row whose sort key is null, or after a key. */
type CursorForm = "none" | "id" | "null-key" | "key";

/** The text of a compiled query whose filters and cursor have the given forms. */
function buildSql(
  type: NodeType,
  query: NodeQuery,
  bound: readonly BoundFilter[],
  orderField: number,
  descending: boolean,
  after: CursorForm,
  orderIndex: string | undefined,
): string {
  const where: string[] = [`type_id = ${type.id}`];
  if (query.hidden) where.push(`NOT ${query.hidden.sql}`);
  for (const term of query.also ?? []) where.push(term.sql);
  for (let i = 0; i < bound.length; i++) {
    where.push(filterSql((query.filters[i] as Filter).fieldId, bound[i] as BoundFilter));
  }
  const keyExpr = orderField === 0 ? undefined : nodeFieldExpr(orderField);
  const cmp = descending ? "<" : ">";
  if (after === "id") {
    where.push(`id ${cmp} +?`);
  } else if (after === "null-key") {
    // NULLs sort first ascending and last descending.
    where.push(
      descending
        ? `(${keyExpr} IS NULL AND id < +?)`
        : `((${keyExpr} IS NULL AND id > +?) OR ${keyExpr} IS NOT NULL)`,
    );
  } else if (after === "key") {
    // Written as a range plus a tiebreak so the index seeks to the cursor.
    const range = `${keyExpr} ${cmp}= +? AND (${keyExpr} ${cmp} +? OR id ${cmp} +?)`;
    where.push(descending ? `((${range}) OR ${keyExpr} IS NULL)` : `(${range})`);
  }

  const dir = descending ? "DESC" : "ASC";
  const order = keyExpr === undefined ? `id ${dir}` : `${keyExpr} ${dir}, id ${dir}`;
  const select =
    query.columns === "ids"
      ? "id"
      : query.columns === "keys"
        ? keyExpr === undefined || orderIndex === undefined
          ? NODE_CACHE_KEY_COLUMNS
          : `${NODE_CACHE_KEY_COLUMNS}, ${keyExpr} AS sort_key`
        : keyExpr === undefined
          ? NODE_COLUMNS
          : `${NODE_COLUMNS}, ${keyExpr} AS sort_key`;
  const from = orderIndex !== undefined ? `nodes INDEXED BY ${orderIndex}` : "nodes";
  if (query.arm) return `SELECT ${select} FROM ${from} WHERE ${where.join(" AND ")}`;
  // `+?`, not `?`: SQLite (built with STAT4) plans with the value of a bare parameter in
  // LIMIT or compared with an indexed column, and then compiles the statement again
  // every time that parameter is bound, which costs more than a page's rows.
  return `SELECT ${select} FROM ${from} WHERE ${where.join(" AND ")} ORDER BY ${order} LIMIT +?`;
}

/** One structured filter of a node query as a SQL term over `nodes` (the rules above). */
export function compileFilter(
  schema: Schema,
  type: NodeType,
  filter: Filter,
): { sql: string; params: SqlScalar[] } {
  const b = bindFilter(schema, type, filter);
  return { sql: filterSql(filter.fieldId, b), params: b.params };
}

/**
 * How a filter's term is written, apart from its values: a comparison `<op> +?`, an
 * `IN` list (as many `+?` as it has values), a null test, a string's substring or
 * prefix range, or a list's element.
 */
type FilterForm =
  | "="
  | "is-not"
  | "<"
  | "<="
  | ">"
  | ">="
  | "in"
  | "is-null"
  | "not-null"
  | "instr"
  | "prefix"
  | "element";

/** A filter checked against its field and its values bound. */
interface BoundFilter {
  readonly form: FilterForm;
  readonly params: SqlScalar[];
}

/** The SQL term of a bound filter on `fieldId` (0: the node id). */
function filterSql(fieldId: number, b: BoundFilter): string {
  const expr = fieldId === 0 ? "id" : nodeFieldExpr(fieldId);
  switch (b.form) {
    case "=":
      return `${expr} = +?`;
    case "is-not":
      return `${expr} IS NOT +?`;
    case "<":
    case "<=":
    case ">":
    case ">=":
      return `${expr} ${b.form} +?`;
    case "in":
      return `${expr} IN (${b.params.map(() => "+?").join(", ")})`;
    case "is-null":
      return `${expr} IS NULL`;
    case "not-null":
      return `${expr} IS NOT NULL`;
    case "instr":
      return `instr(${expr}, +?) > 0`;
    case "prefix":
      return `${expr} >= +? AND ${expr} < +?`;
    case "element":
      return `EXISTS (SELECT 1 FROM json_each(nodes.payload, '${fieldJsonPath(fieldId)}') WHERE json_each.value = +?)`;
  }
}

/** Checks `filter` against its field (the rules above) and binds its values. */
function bindFilter(schema: Schema, type: NodeType, filter: Filter): BoundFilter {
  const fieldId = filter.fieldId;
  let fieldType: FieldType;
  if (fieldId === 0) {
    fieldType = { kind: "string" };
  } else {
    const field = type.fields.find((f) => f.id === fieldId);
    if (!field) throw noField(type, fieldId);
    fieldType = field.type;
  }
  const kind = fieldType.kind;
  const opName = FilterOp[filter.op] ?? String(filter.op);
  // Named only for an error: a query's filters are bound on every read.
  const name = () => fieldName(type, fieldId);
  const refuse = () =>
    invalid(
      fieldId,
      `Filter ${opName} does not apply to ${name()}, ${article(kind)} ${kind} field.`,
    );
  const place = {
    owner: `type ${type.id}`,
    fieldId,
    label: () => `The value of filter ${opName} on ${name()}`,
  };
  const one = (): Value => {
    if (filter.values.length !== 1) {
      throw invalid(
        fieldId,
        `Filter ${opName} on ${name()} takes exactly one value, got ${filter.values.length}.`,
      );
    }
    return filter.values[0]!;
  };
  const bind = (t: FieldType | ElementType, v: Value): SqlScalar => {
    const json = encodeValue(schema, t as FieldType, v, place);
    if (json === null)
      throw invalid(fieldId, `Filter ${opName} on ${name()} cannot take a null value.`);
    return sqlValueOf(json);
  };

  if (kind === "list") {
    const element = (fieldType as { element: ElementType }).element;
    if (filter.op !== FilterOp.CONTAINS || element.kind === "json") throw refuse();
    return { form: "element", params: [bind(element, one())] };
  }
  if (kind === "json") throw refuse();

  switch (filter.op) {
    case FilterOp.EQ:
    case FilterOp.NE: {
      const v = one();
      const eq = filter.op === FilterOp.EQ;
      if (v.kind.case === "nullValue") return { form: eq ? "is-null" : "not-null", params: [] };
      return { form: eq ? "=" : "is-not", params: [bind(fieldType, v)] };
    }
    case FilterOp.LT:
    case FilterOp.LTE:
    case FilterOp.GT:
    case FilterOp.GTE: {
      if (!RANGE_KINDS.has(kind)) throw refuse();
      const form = (
        {
          [FilterOp.LT]: "<",
          [FilterOp.LTE]: "<=",
          [FilterOp.GT]: ">",
          [FilterOp.GTE]: ">=",
        } as const
      )[filter.op];
      return { form, params: [bind(fieldType, one())] };
    }
    case FilterOp.IN: {
      if (filter.values.length === 0)
        throw invalid(fieldId, `Filter IN on ${name()} needs at least one value.`);
      if (filter.values.length > MAX_IN_VALUES) {
        throw invalid(
          fieldId,
          `Filter IN on ${name()} lists ${filter.values.length} values; the limit is ${MAX_IN_VALUES}.`,
        );
      }
      return { form: "in", params: filter.values.map((v) => bind(fieldType, v)) };
    }
    case FilterOp.CONTAINS:
      if (kind !== "string") throw refuse();
      return { form: "instr", params: [bind(fieldType, one())] };
    case FilterOp.PREFIX: {
      if (kind !== "string") throw refuse();
      const prefix = bind(fieldType, one()) as string;
      if (prefix === "") return { form: "not-null", params: [] };
      // A range on the code point order, so the index is used: [prefix, next(prefix)).
      const upper = nextPrefix(prefix);
      if (upper === undefined) return { form: ">=", params: [prefix] };
      return { form: "prefix", params: [prefix, upper] };
    }
    default:
      throw invalid(
        fieldId,
        `Filter on ${name()} has no operator (op ${filter.op}); set one of EQ, NE, LT, LTE, GT, GTE, IN, CONTAINS, PREFIX.`,
      );
  }
}

/**
 * The smallest string greater than every string starting with `prefix` in code point
 * order (which is SQLite's BINARY order of UTF-8): the prefix with its last code point
 * incremented, skipping surrogates; `undefined` if every code point is the maximum.
 */
export function nextPrefix(prefix: string): string | undefined {
  const cps = [...prefix].map((c) => c.codePointAt(0)!);
  while (cps.length > 0) {
    const last = cps.pop()!;
    if (last < 0x10ffff) {
      const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
      return String.fromCodePoint(...cps, next);
    }
  }
  return undefined;
}

/**
 * How a message names field `fieldId` of `type`: as the schema does, with the id the
 * request used ("Team.slug (field 2)"; field 0 is the node id, "Team.id (field 0)").
 */
export function fieldName(type: NodeType, fieldId: number): string {
  if (fieldId === 0) return `${type.name}.id (field 0)`;
  const field = type.fields.find((f) => f.id === fieldId);
  return field ? `${type.name}.${field.name} (field ${fieldId})` : noFieldText(type, fieldId);
}

/** "Team has no field with id 99", without the closing full stop (as ingress says it). */
export function noFieldText(type: NodeType, fieldId: number): string {
  return `${type.name} has no field with id ${fieldId}`;
}

/** "an" before a kind that starts with a vowel ("an int field"), "a" otherwise. */
function article(kind: string): string {
  return /^[aeiou]/.test(kind) ? "an" : "a";
}

function noField(type: NodeType, fieldId: number): StoreError {
  return invalid(fieldId, `${noFieldText(type, fieldId)}.`);
}

function invalid(fieldId: number, message: string): StoreError {
  return new StoreError("invalid-argument", message, { fieldId });
}
