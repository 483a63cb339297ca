/**
 * Conversion between typed messages (dynamic, read and written by descriptor) and the
 * generic `Value`s keyed by field id, and between typed and generic filters. Values
 * are converted by the model's field kinds.
 */

import { create, fromJson, toJson } from "@bufbuild/protobuf";
import {
  type Value as JsonValueMessage,
  ValueSchema as JsonValueSchema,
} from "@bufbuild/protobuf/wkt";
import { type Filter, FilterOp } from "../../generated/entdb/v1/entdb_pb.js";
import { type Value, ValueSchema } from "../../generated/entdb/v1/values_pb.js";
import type {
  EdgeType,
  ElementType,
  Field,
  FieldType,
  NodeType,
  Schema,
} from "../../schema/index.ts";
import { invalidArgument } from "./ingress/ingress-error.ts";

/** A typed message's fields (or init object), keyed by local field name. */
export type Fields = Record<string, unknown>;

/** The field of `type` named `name`; otherwise an invalid-argument error listing the names. */
export function fieldByName(type: NodeType | EdgeType, name: string): Field {
  const field = type.fields.find((f) => f.name === name);
  if (!field) {
    const known = type.fields.map((f) => f.name).join(", ");
    throw invalidArgument(
      `${type.name} has no field '${name.slice(0, 80)}'; its fields are: ${known}.`,
      { typeId: type.id },
    );
  }
  return field;
}

/** Reads the set fields of a typed message into values keyed by field id. */
export function fieldsToValues(
  message: unknown,
  type: NodeType | EdgeType,
  schema: Schema,
  mode: "create" | "update",
): Record<number, Value> {
  const out: Record<number, Value> = {};
  if (message === undefined || message === null) return out;
  const msg = message as Fields;
  for (const field of type.fields) {
    const raw = msg[camel(field.name)];
    if (raw === undefined) continue;
    if (field.type.kind === "list" && Array.isArray(raw) && raw.length === 0 && mode === "create")
      continue;
    out[field.id] = toValue(
      raw,
      field.type,
      schema,
      `${type.name}.${field.name}`,
      type.id,
      field.id,
    );
  }
  return out;
}

function toValue(
  raw: unknown,
  type: FieldType,
  schema: Schema,
  label: string,
  typeId: number,
  fieldId: number,
): Value {
  if (type.kind === "list") {
    const items = (raw as unknown[]).map((item) =>
      toElement(item, type.element, schema, label, typeId, fieldId),
    );
    return create(ValueSchema, { kind: { case: "listValue", value: { values: items } } });
  }
  return toElement(raw, type, schema, label, typeId, fieldId);
}

function toElement(
  raw: unknown,
  type: ElementType,
  _schema: Schema,
  label: string,
  typeId: number,
  fieldId: number,
): Value {
  switch (type.kind) {
    case "string":
      return create(ValueSchema, { kind: { case: "stringValue", value: String(raw) } });
    case "int":
      return create(ValueSchema, { kind: { case: "intValue", value: BigInt(raw as bigint) } });
    case "float":
      return create(ValueSchema, { kind: { case: "floatValue", value: Number(raw) } });
    case "bool":
      return create(ValueSchema, { kind: { case: "boolValue", value: raw === true } });
    case "bytes":
      return create(ValueSchema, { kind: { case: "bytesValue", value: raw as Uint8Array } });
    case "timestamp": {
      const t = raw as { seconds: bigint; nanos: number };
      return create(ValueSchema, {
        kind: { case: "timestampValue", value: { seconds: t.seconds, nanos: t.nanos } },
      });
    }
    case "json": {
      let text: string;
      try {
        text = JSON.stringify(toJson(JsonValueSchema, raw as JsonValueMessage));
      } catch (e) {
        // A google.protobuf.Value JSON cannot hold: NaN or an infinite number.
        throw invalidArgument(
          `Field ${label} is not a JSON value (${e instanceof Error ? e.message : String(e)}); use finite numbers.`,
          { typeId, fieldId },
        );
      }
      return create(ValueSchema, { kind: { case: "jsonValue", value: text } });
    }
    case "enum":
      if (raw === 0)
        throw invalidArgument(
          `Field ${label} is set to the UNSPECIFIED enum value; pick a value or leave it out.`,
          { typeId, fieldId },
        );
      return create(ValueSchema, { kind: { case: "enumValue", value: Number(raw) } });
    case "ref":
      return create(ValueSchema, { kind: { case: "refValue", value: String(raw) } });
  }
}

/** Writes values keyed by field id into the init object of the typed message. */
export function valuesToFields(
  values: { readonly [id: number]: Value },
  type: NodeType | EdgeType,
  schema: Schema,
): Fields {
  const out: Fields = {};
  for (const field of type.fields) {
    const v = values[field.id];
    if (!v) continue;
    out[camel(field.name)] = fromValue(v, field.type, schema);
  }
  return out;
}

function fromValue(v: Value, type: FieldType, schema: Schema): unknown {
  const k = v.kind;
  switch (k.case) {
    case "listValue":
      return k.value.values.map((item) =>
        fromValue(item, type.kind === "list" ? type.element : type, schema),
      );
    case "jsonValue":
      return fromJson(JsonValueSchema, JSON.parse(k.value));
    case "timestampValue":
      return k.value;
    case undefined:
    case "nullValue":
      return undefined;
    default:
      return k.value;
  }
}

/** Converts a typed FieldFilter into the generic Filter (values typed by the field's kind). */
export function filterOf(w: Fields, type: NodeType, schema: Schema): Filter {
  const field = fieldByName(type, String(w["field"] ?? ""));
  const op = Number(w["op"] ?? 0) as FilterOp;
  if (op === FilterOp.UNSPECIFIED || FilterOp[op] === undefined) {
    throw invalidArgument(
      `The filter on ${type.name}.${field.name} has no op; set one of EQ NE LT LTE GT GTE IN CONTAINS PREFIX.`,
    );
  }
  const element: FieldType = field.type.kind === "list" ? field.type.element : field.type;
  const values = ((w["values"] as Fields[] | undefined) ?? []).map((fv) => {
    const kind = fv["kind"] as { case?: string; value?: unknown } | undefined;
    if (!kind?.case)
      throw invalidArgument(`A filter value on ${type.name}.${field.name} is empty.`, {
        typeId: type.id,
        fieldId: field.id,
      });
    const expected = FILTER_VALUE_CASE[element.kind];
    if (kind.case !== expected) {
      throw invalidArgument(
        `The filter on ${type.name}.${field.name} (${withArticle(element.kind)} field) has ${withArticle(kind.case)}; set ${expected ?? "nothing: this field cannot be filtered by value"}.`,
        { typeId: type.id, fieldId: field.id },
      );
    }
    return toElement(
      kind.value,
      element as ElementType,
      schema,
      `${type.name}.${field.name}`,
      type.id,
      field.id,
    );
  });
  return { $typeName: "entdb.v1.Filter", fieldId: field.id, op, values };
}

/** The `FilterValue` case that holds a value of each field kind (json has none). */
const FILTER_VALUE_CASE: Readonly<Record<string, string | undefined>> = {
  string: "stringValue",
  ref: "stringValue",
  int: "intValue",
  float: "floatValue",
  bool: "boolValue",
  timestamp: "timestampValue",
  bytes: "bytesValue",
  enum: "enumValue",
};

/** The protobuf-es local name of a field: its json name (snake_case → lowerCamel). */
function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** `word` after "a", or "an" before a vowel: "an int", "an enumValue", "a string". */
function withArticle(word: string): string {
  return `${/^[aeiou]/i.test(word) ? "an" : "a"} ${word}`;
}
