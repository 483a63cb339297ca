/**
 * The TypeScript type of a field in each role: what reads return, what writes take,
 * what queries and `getBy` accept. One table per role keyed by kind, so adding a kind
 * to the model fails to compile here until every role says what it is. Types are
 * `Printable`s that name runtime types by symbol, so the file imports what they use.
 */

import type { ElementType, Field, FieldType, ScalarKind, Schema } from "../../schema/index.ts";
import { nodeById } from "../../schema/index.ts";
import { type Printable, runtimeSymbol as rt } from "./generated-file.ts";

/** Types of scalar values read from the server. */
const OUTPUT: { readonly [K in ScalarKind]: Printable } = {
  string: "string",
  int: "bigint",
  float: "number",
  bool: "boolean",
  timestamp: "Date",
  bytes: "Uint8Array",
  json: rt("JsonFieldValue"),
};

/** Types of scalar values written: ints also take safe-integer numbers. */
const INPUT: { readonly [K in ScalarKind]: Printable } = {
  ...OUTPUT,
  int: rt("Int64Input"),
};

/** Filter operator types by kind; `undefined` when the kind cannot be filtered on. */
const FILTER: { readonly [K in ScalarKind]: Printable | undefined } = {
  string: rt("StringFilter"),
  int: [rt("RangeFilter"), "<", rt("Int64Input"), ">"],
  float: [rt("RangeFilter"), "<number>"],
  timestamp: [rt("RangeFilter"), "<Date>"],
  bool: [rt("EqualityFilter"), "<boolean>"],
  bytes: undefined,
  json: undefined,
};

/** Kinds a query can order by. */
const ORDERABLE: { readonly [K in FieldType["kind"]]: boolean } = {
  string: true,
  int: true,
  float: true,
  bool: true,
  timestamp: true,
  enum: true,
  ref: true,
  bytes: false,
  json: false,
  list: false,
};

/** A list element's type in JSON: inside a list, `null` is an element, not "unset". */
function outputElement(element: ElementType, schema: Schema): Printable {
  if (element.kind === "json") return rt("JsonValue");
  return outputScalar(element, schema);
}

function outputScalar(type: ElementType, schema: Schema): Printable {
  switch (type.kind) {
    case "enum":
      return type.enumName;
    case "ref":
      return idType(type.targetId, schema);
    default:
      return OUTPUT[type.kind];
  }
}

/** `entdb.Id<"User">`: the id of a node of the type with id `typeId`. */
export function idType(typeId: number, schema: Schema): Printable {
  return [rt("Id"), "<", JSON.stringify(targetName(typeId, schema)), ">"];
}

function inputScalar(type: ElementType, schema: Schema): Printable {
  switch (type.kind) {
    case "enum":
      return type.enumName;
    case "ref":
      return [rt("Ref"), "<", JSON.stringify(targetName(type.targetId, schema)), ">"];
    case "json":
      return rt("JsonFieldValue");
    default:
      return INPUT[type.kind];
  }
}

/** The type a read returns for the field (without `| undefined`). */
export function outputType(field: Field, schema: Schema): Printable {
  const type = field.type;
  if (type.kind === "list") return ["readonly ", wrap(outputElement(type.element, schema)), "[]"];
  return outputScalar(type, schema);
}

/** The type `create`, `update` and `link` take for the field (without null/undefined). */
export function inputType(field: Field, schema: Schema): Printable {
  const type = field.type;
  if (type.kind === "list") {
    const element =
      type.element.kind === "json" ? rt("JsonValue") : inputScalar(type.element, schema);
    return ["readonly ", wrap(element), "[]"];
  }
  return inputScalar(type, schema);
}

/** The type `getBy` takes for a unique field: like input, but refs are ids only. */
export function keyType(field: Field, schema: Schema): Printable {
  const type = field.type;
  if (type.kind === "ref") return idType(type.targetId, schema);
  return inputType(field, schema);
}

/**
 * The type a `where` condition on the field takes: a bare value (meaning `eq`) or an
 * operator object; lists take `{ contains }` only. `undefined` when the field cannot
 * be filtered on (bytes, json, and lists of those).
 */
export function whereType(field: Field, schema: Schema): Printable | undefined {
  const type = field.type;
  if (type.kind === "list") {
    const element = type.element;
    if (element.kind === "bytes" || element.kind === "json") return undefined;
    return [rt("ListFilter"), "<", whereOperand(element, schema), ">"];
  }
  if (type.kind === "enum") {
    return [type.enumName, " | ", rt("EqualityFilter"), "<", type.enumName, ">"];
  }
  if (type.kind === "ref") {
    const id = idType(type.targetId, schema);
    return [id, " | ", rt("EqualityFilter"), "<", id, ">"];
  }
  const filter = FILTER[type.kind];
  return filter === undefined ? undefined : [INPUT[type.kind], " | ", filter];
}

function whereOperand(element: ElementType, schema: Schema): Printable {
  return element.kind === "ref" ? idType(element.targetId, schema) : inputScalar(element, schema);
}

/** Whether a query can order by the field. */
export function isOrderable(field: Field): boolean {
  return ORDERABLE[field.type.kind];
}

/** The node type name a ref points at. */
export function targetName(targetId: number, schema: Schema): string {
  return nodeById(schema, targetId)?.name ?? `#${targetId}`;
}

/** Parenthesizes a union before `[]`. */
function wrap(type: Printable): Printable {
  return isUnion(type) ? ["(", type, ")"] : type;
}

function isUnion(type: Printable): boolean {
  if (typeof type === "string") return type.includes("|");
  return Array.isArray(type) && type.some(isUnion);
}
