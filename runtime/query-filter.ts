/**
 * Query filters and ordering. Generated `XWhere` types allow, per field, only the
 * operators its kind supports; this module defines those operator sets and encodes a
 * `where` object into the API's `Filter`s (all must hold). A bare value means `eq`.
 *
 * | operators                | kinds                                      |
 * | ------------------------ | ------------------------------------------ |
 * | eq, ne, in               | string, int, float, bool, timestamp, enum, ref |
 * | lt, lte, gt, gte         | string, int, float, timestamp              |
 * | contains                 | string (substring), list (holds the element) |
 * | prefix                   | string                                     |
 *
 * `bytes` and `json` fields cannot be filtered on.
 */

import type { MessageInitShape } from "@bufbuild/protobuf";
import { FilterOp, type FilterSchema, type OrderBySchema } from "../generated/entdb/v1/entdb_pb.js";
import type { Value } from "../generated/entdb/v1/values_pb.js";
import { describe } from "./plan-builder.ts";
import { fieldOf } from "./record-codec.ts";
import type { AnyFieldMeta, FieldMeta, NodeTypeMeta } from "./schema-meta.ts";
import { encodeValue, idsOnly } from "./wire-value-codec.ts";

/** Equality operators, for every filterable kind. */
export interface EqualityFilter<T> {
  readonly eq?: T | undefined;
  readonly ne?: T | undefined;
  /** One of these values. */
  readonly in?: readonly T[] | undefined;
}

/** Equality and order operators, for `int`, `float`, `timestamp` and `string`. */
export interface RangeFilter<T> extends EqualityFilter<T> {
  readonly lt?: T | undefined;
  readonly lte?: T | undefined;
  readonly gt?: T | undefined;
  readonly gte?: T | undefined;
}

/** Operators of `string` fields. */
export interface StringFilter extends RangeFilter<string> {
  /** The value contains this substring. */
  readonly contains?: string | undefined;
  /** The value starts with this text. */
  readonly prefix?: string | undefined;
}

/** Operators of `list<T>` fields. */
export interface ListFilter<T> {
  /** The list holds this element. */
  readonly contains?: T | undefined;
}

/** Order of a query: by a field, or by `id` (the default). */
export interface OrderBy<TField extends string> {
  readonly field: TField;
  /** Default `asc`. */
  readonly direction?: "asc" | "desc" | undefined;
}

type FilterInit = MessageInitShape<typeof FilterSchema>;

const OPS: { readonly [op: string]: FilterOp } = {
  eq: FilterOp.EQ,
  ne: FilterOp.NE,
  lt: FilterOp.LT,
  lte: FilterOp.LTE,
  gt: FilterOp.GT,
  gte: FilterOp.GTE,
  in: FilterOp.IN,
  contains: FilterOp.CONTAINS,
  prefix: FilterOp.PREFIX,
};

const EQUALITY = ["eq", "ne", "in"];
const RANGE = [...EQUALITY, "lt", "lte", "gt", "gte"];
const ALLOWED: { readonly [kind: string]: readonly string[] } = {
  string: [...RANGE, "contains", "prefix"],
  int: RANGE,
  float: RANGE,
  timestamp: RANGE,
  bool: EQUALITY,
  enum: EQUALITY,
  ref: EQUALITY,
  list: ["contains"],
  bytes: [],
  json: [],
};

/** Encodes a `where` object into filters, in property order. */
export function encodeWhere(meta: NodeTypeMeta, where: object): FilterInit[] {
  const filters: FilterInit[] = [];
  for (const [property, condition] of Object.entries(where)) {
    if (condition === undefined) continue;
    const field = fieldOf(meta, property);
    const label = `${meta.name}.${property}`;
    const allowed = ALLOWED[field.kind] ?? [];
    if (allowed.length === 0) {
      throw new TypeError(`${label} is a ${field.kind} field; queries cannot filter on it.`);
    }
    const operand = operandMeta(field);
    if (!isOperatorObject(condition)) {
      if (field.kind === "list") {
        throw new TypeError(`${label} is a list; filter it with { contains: element }.`);
      }
      filters.push(filter(field.id, FilterOp.EQ, [encode(operand, condition, label)]));
      continue;
    }
    for (const [op, operandValue] of Object.entries(condition)) {
      if (operandValue === undefined) continue;
      const filterOp = OPS[op];
      if (filterOp === undefined || !allowed.includes(op)) {
        throw new TypeError(
          `${label} does not support '${op}'; its operators are ${allowed.join(", ")}.`,
        );
      }
      if (op === "in") {
        if (!Array.isArray(operandValue)) {
          throw new TypeError(`${label}: 'in' takes an array; got ${describe(operandValue)}.`);
        }
        const values = operandValue.map((v: unknown, i) => encode(operand, v, `${label}.in[${i}]`));
        filters.push(filter(field.id, filterOp, values));
      } else {
        filters.push(filter(field.id, filterOp, [encode(operand, operandValue, `${label}.${op}`)]));
      }
    }
  }
  return filters;
}

/** Encodes an order: `id` is field 0, which the server reads as "by node id". */
export function encodeOrderBy(
  meta: NodeTypeMeta,
  orderBy: OrderBy<string>,
): MessageInitShape<typeof OrderBySchema> {
  const fieldId = orderBy.field === "id" ? 0 : fieldOf(meta, orderBy.field).id;
  return { fieldId, descending: orderBy.direction === "desc" };
}

/** What an operand of this field is encoded as: the element kind for lists. */
function operandMeta(field: AnyFieldMeta): FieldMeta {
  return field.kind === "list" ? { ...field.element, id: field.id } : field;
}

function encode(field: FieldMeta, value: unknown, label: string): Value {
  return encodeValue(field, value, label, idsOnly);
}

function filter(fieldId: number, op: FilterOp, values: Value[]): FilterInit {
  return { fieldId, op, values };
}

/** A plain object of operators, as opposed to a bare value (string, number, Date, …). */
function isOperatorObject(value: unknown): value is object {
  if (typeof value !== "object" || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
