/**
 * The generated types: per enum a union and a mapping constant, per node type `T`,
 * `TCreate`, `TPatch`, `TWhere`, `TOrderBy` (and `TKey` when it has unique keys), per
 * edge type `E` and `EProps`. Doc comments of the schema are carried over; deprecated
 * declarations get `@deprecated`. Each declaration is printed straight from the model,
 * with a blank line before it.
 */

import type { EdgeType, EnumType, Field, NodeType, Schema } from "../../schema/index.ts";
import {
  accessorName,
  edgeTypeNames,
  nodeTypeNames,
  propertyName,
  uniqueKeys,
} from "./client-names.ts";
import { idType, inputType, isOrderable, keyType, outputType, whereType } from "./field-types.ts";
import { type GeneratedFile, type Printable, runtimeSymbol as rt } from "./generated-file.ts";

/** A property of a generated interface: `readonly name?: type;` under its doc. */
export interface PropertySignature {
  readonly name: string;
  readonly type: Printable;
  readonly optional?: boolean;
  readonly doc?: string | undefined;
  readonly deprecated?: boolean;
}

/** A blank line, then the JSDoc, then `export type name = type;`. */
export function printTypeAlias(
  file: GeneratedFile,
  name: string,
  doc: string,
  type: Printable,
  deprecated = false,
): void {
  file.print();
  file.doc(doc, deprecated);
  file.print("export type ", name, " = ", type, ";");
}

/** A blank line, then the JSDoc, then `export interface name extends … { … }`. */
export function printInterface(
  file: GeneratedFile,
  declaration: {
    readonly name: string;
    readonly doc: string;
    readonly deprecated?: boolean;
    readonly extends?: Printable;
    readonly properties: readonly PropertySignature[];
  },
): void {
  file.print();
  file.doc(declaration.doc, declaration.deprecated);
  const heritage = declaration.extends === undefined ? "" : [" extends ", declaration.extends];
  file.block(["export interface ", declaration.name, heritage, " "], () => {
    for (const p of declaration.properties) {
      file.doc(p.doc, p.deprecated);
      file.print("readonly ", p.name, p.optional === true ? "?" : "", ": ", p.type, ";");
    }
  });
}

/** `export type E = "a" | "b";` and `export const E = entdb.defineEnum<E>({ a: 1, b: 2 });`. */
export function printEnum(file: GeneratedFile, e: EnumType): void {
  const union = e.values.map((v) => JSON.stringify(v.name)).join(" | ");
  printTypeAlias(file, e.name, e.doc ?? `A \`${e.name}\` value.`, union);
  file.print();
  file.doc(`The numbers of \`${e.name}\` values (\`numbers\`), and back (\`names\`).`);
  file.block(
    ["export const ", e.name, " = ", rt("defineEnum"), "<", e.name, ">("],
    () => {
      for (const value of e.values) {
        file.doc(value.doc, value.deprecated);
        file.print(value.name, ": ", value.number, ",");
      }
    },
    ");",
  );
}

/** The types of node type `node`. */
export function printNode(file: GeneratedFile, node: NodeType, schema: Schema): void {
  const names = nodeTypeNames(node.name);
  const accessor = `db.${accessorName(node.name)}`;
  printObjectType(
    file,
    names.node,
    node.doc ?? `A \`${node.name}\` node (type id ${node.id}).`,
    [
      { name: "id", type: idType(node.id, schema) },
      { name: "version", type: "bigint" },
      { name: "createdAt", type: "Date" },
      { name: "updatedAt", type: "Date" },
      ...node.fields.map((f) => outputProperty(f, schema)),
    ],
    node.deprecated,
  );
  printObjectType(
    file,
    names.create,
    `What \`${accessor}.create\` takes: required fields without a default must be set.`,
    node.fields.map((f) => inputProperty(f, schema, !f.required || f.default !== undefined)),
  );
  printObjectType(
    file,
    names.patch,
    `What \`${accessor}.update\` takes: a left-out field keeps its value, \`null\` clears an optional one.`,
    node.fields.map((f) => patchProperty(f, schema)),
  );
  printObjectType(
    file,
    names.where,
    `Conditions of \`${accessor}.query\`; all must hold. A bare value means \`eq\`.`,
    node.fields.flatMap((f): PropertySignature[] => {
      const type = whereType(f, schema);
      if (type === undefined) return [];
      const name = propertyName(f.name);
      return [{ name, type: [type, " | undefined"], optional: true, deprecated: f.deprecated }];
    }),
  );
  const orderable = ["id", ...node.fields.filter(isOrderable).map((f) => propertyName(f.name))];
  printTypeAlias(
    file,
    names.orderBy,
    `Orders of \`${accessor}.query\`: by id (the default) or by a field.`,
    [rt("OrderBy"), "<", orderable.map((p) => JSON.stringify(p)).join(" | "), ">"],
  );
  const keys = uniqueKeys(node);
  if (keys.length > 0) {
    printTypeAlias(
      file,
      names.key,
      `What \`${accessor}.getBy\` takes: the value of one unique field, or of all fields of one composite unique.`,
      keys.map((key, i): Printable => {
        const members = key.map(
          (f, j): Printable => [
            j === 0 ? "" : "; ",
            "readonly ",
            propertyName(f.name),
            ": ",
            keyType(f, schema),
          ],
        );
        return [i === 0 ? "" : " | ", "{ ", members, " }"];
      }),
    );
  }
}

/** The types of edge type `edge`. */
export function printEdge(file: GeneratedFile, edge: EdgeType, schema: Schema): void {
  const names = edgeTypeNames(edge.name);
  printObjectType(
    file,
    names.edge,
    edge.doc ?? `A \`${edge.name}\` edge (type id ${edge.id}).`,
    [
      { name: "from", type: idType(edge.fromId, schema) },
      { name: "to", type: idType(edge.toId, schema) },
      { name: "createdAt", type: "Date" },
      ...edge.fields.map((f) => outputProperty(f, schema)),
    ],
    edge.deprecated,
  );
  printObjectType(
    file,
    names.props,
    `The properties \`db.${accessorName(edge.name)}.link\` takes.`,
    edge.fields.map((f) => inputProperty(f, schema, !f.required || f.default !== undefined)),
  );
}

function outputProperty(field: Field, schema: Schema): PropertySignature {
  const type = outputType(field, schema);
  return fieldProperty(field, field.required ? type : [type, " | undefined"], false);
}

function inputProperty(field: Field, schema: Schema, optional: boolean): PropertySignature {
  const type = inputType(field, schema);
  return fieldProperty(field, optional ? [type, " | undefined"] : type, optional);
}

function patchProperty(field: Field, schema: Schema): PropertySignature {
  const type = inputType(field, schema);
  // A required field cannot be cleared, so `null` is not in its type.
  const patch: Printable = [type, field.required ? " | undefined" : " | null | undefined"];
  return fieldProperty(field, patch, true);
}

function fieldProperty(field: Field, type: Printable, optional: boolean): PropertySignature {
  return {
    name: propertyName(field.name),
    type,
    optional,
    doc: field.doc,
    deprecated: field.deprecated,
  };
}

/**
 * An interface, or `Record<string, never>` when there are no properties: an empty
 * interface would accept any value, an empty record accepts only `{}`.
 */
function printObjectType(
  file: GeneratedFile,
  name: string,
  doc: string,
  properties: readonly PropertySignature[],
  deprecated = false,
): void {
  if (properties.length === 0) {
    printTypeAlias(file, name, doc, "Record<string, never>", deprecated);
  } else {
    printInterface(file, { name, doc, deprecated, properties });
  }
}
