/**
 * The structures of the generated types: per enum a union and a mapping constant, per
 * node type `T`, `TCreate`, `TPatch`, `TWhere`, `TOrderBy` (and `TKey` when it has
 * unique keys), per edge type `E` and `EProps`. Doc comments of the schema are carried
 * over; deprecated declarations get `@deprecated`. They are ts-morph structure types,
 * printed by print-structures.ts.
 */

import type {
  FunctionDeclarationStructure,
  InterfaceDeclarationStructure,
  OptionalKind,
  PropertySignatureStructure,
  TypeAliasDeclarationStructure,
} from "ts-morph";
import type { EdgeType, EnumType, Field, NodeType, Schema } from "../../schema/index.ts";
import {
  accessorName,
  CLIENT_NAMES,
  edgeTypeNames,
  nodeTypeNames,
  propertyName,
  uniqueKeys,
} from "./client-names.ts";
import type { CodeWriter, StatementWriter } from "./code-writer.ts";
import { idType, inputType, isOrderable, keyType, outputType, whereType } from "./field-types.ts";
import { STRUCTURE_KIND } from "./structure-kind.ts";

/**
 * One statement the generator prints: a structure, or a writer for statements with
 * multi-line initializers (ts-morph's printer indents a nested writer's lines one level
 * too deep, while a top-level writer's `inlineBlock`s indent exactly; the output keeps
 * ts-morph's formatting, so the same holds for print-structures.ts).
 */
export type DeclarationStructure =
  | FunctionDeclarationStructure
  | InterfaceDeclarationStructure
  | TypeAliasDeclarationStructure
  | StatementWriter;

const rt = (name: string): string => `${CLIENT_NAMES.runtimeNamespace}.${name}`;

/**
 * A JSDoc from schema doc text, with `@deprecated` when asked; none when both are empty.
 * The text goes in as a string, not a JSDoc structure: the printed comment is the same,
 * it is cheaper to build (four docs per field), and print-structures.ts prints only
 * text docs.
 */
export function docs(text: string | undefined, deprecated = false): string[] {
  if (text === undefined && !deprecated) return [];
  // A `*/` in a doc comment would end the generated comment early.
  const description = (text ?? "").replaceAll("*/", "*\\/");
  if (!deprecated) return [description];
  return [description === "" ? "@deprecated" : `${description}\n@deprecated`];
}

/**
 * Writes a JSDoc comment from doc text (and `@deprecated`), on one line when it fits
 * on one; nothing when both are empty. For statements printed by writers.
 */
export function writeDoc(writer: CodeWriter, text: string | undefined, deprecated = false): void {
  const lines = [
    ...(text === undefined ? [] : text.replaceAll("*/", "*\\/").split("\n")),
    ...(deprecated ? ["@deprecated"] : []),
  ];
  if (lines.length === 0) return;
  if (lines.length === 1) {
    writer.writeLine(`/** ${lines[0]} */`);
    return;
  }
  writer.writeLine("/**");
  for (const line of lines) writer.writeLine(line === "" ? " *" : ` * ${line}`);
  writer.writeLine(" */");
}

/** `export type E = "a" | "b";` and `export const E = entdb.defineEnum<E>({ a: 1, b: 2 });`. */
export function enumDeclarations(e: EnumType): DeclarationStructure[] {
  const union = e.values.map((v) => JSON.stringify(v.name)).join(" | ");
  return [
    {
      kind: STRUCTURE_KIND.TypeAlias,
      name: e.name,
      isExported: true,
      type: union,
      docs: docs(e.doc ?? `A \`${e.name}\` value.`),
    },
    (writer) => {
      writeDoc(writer, `The numbers of \`${e.name}\` values (\`numbers\`), and back (\`names\`).`);
      writer
        .write(`export const ${e.name} = ${rt("defineEnum")}<${e.name}>(`)
        .inlineBlock(() => {
          for (const value of e.values) {
            writeDoc(writer, value.doc, value.deprecated);
            writer.writeLine(`${value.name}: ${value.number},`);
          }
        })
        .write(");")
        .newLine();
    },
  ];
}

/** The structures of node type `node`. */
export function nodeDeclarations(node: NodeType, schema: Schema): DeclarationStructure[] {
  const names = nodeTypeNames(node.name);
  const accessor = `db.${accessorName(node.name)}`;
  const out: DeclarationStructure[] = [
    objectType(
      names.node,
      docs(node.doc ?? `A \`${node.name}\` node (type id ${node.id}).`, node.deprecated),
      [
        { name: "id", isReadonly: true, type: idType(node.id, schema) },
        { name: "version", isReadonly: true, type: "bigint" },
        { name: "createdAt", isReadonly: true, type: "Date" },
        { name: "updatedAt", isReadonly: true, type: "Date" },
        ...node.fields.map((f) => outputProperty(f, schema)),
      ],
    ),
    objectType(
      names.create,
      docs(`What \`${accessor}.create\` takes: required fields without a default must be set.`),
      node.fields.map((f) => inputProperty(f, schema, !f.required || f.default !== undefined)),
    ),
    objectType(
      names.patch,
      docs(
        `What \`${accessor}.update\` takes: a left-out field keeps its value, \`null\` clears an optional one.`,
      ),
      node.fields.map((f) => patchProperty(f, schema)),
    ),
    objectType(
      names.where,
      docs(`Conditions of \`${accessor}.query\`; all must hold. A bare value means \`eq\`.`),
      node.fields.flatMap((f) => {
        const type = whereType(f, schema);
        return type === undefined
          ? []
          : [property(f, `${type} | undefined`, { optional: true, doc: false })];
      }),
    ),
    {
      kind: STRUCTURE_KIND.TypeAlias,
      name: names.orderBy,
      isExported: true,
      docs: docs(`Orders of \`${accessor}.query\`: by id (the default) or by a field.`),
      type: `${rt("OrderBy")}<${[
        "id",
        ...node.fields.filter(isOrderable).map((f) => propertyName(f.name)),
      ]
        .map((p) => JSON.stringify(p))
        .join(" | ")}>`,
    },
  ];
  const keys = uniqueKeys(node);
  if (keys.length > 0) {
    out.push({
      kind: STRUCTURE_KIND.TypeAlias,
      name: names.key,
      isExported: true,
      docs: docs(
        `What \`${accessor}.getBy\` takes: the value of one unique field, or of all fields of one composite unique.`,
      ),
      type: keys
        .map(
          (key) =>
            `{ ${key.map((f) => `readonly ${propertyName(f.name)}: ${keyType(f, schema)}`).join("; ")} }`,
        )
        .join(" | "),
    });
  }
  return out;
}

/** The structures of edge type `edge`. */
export function edgeDeclarations(edge: EdgeType, schema: Schema): DeclarationStructure[] {
  const names = edgeTypeNames(edge.name);
  return [
    objectType(
      names.edge,
      docs(edge.doc ?? `A \`${edge.name}\` edge (type id ${edge.id}).`, edge.deprecated),
      [
        { name: "from", isReadonly: true, type: idType(edge.fromId, schema) },
        { name: "to", isReadonly: true, type: idType(edge.toId, schema) },
        { name: "createdAt", isReadonly: true, type: "Date" },
        ...edge.fields.map((f) => outputProperty(f, schema)),
      ],
    ),
    objectType(
      names.props,
      docs(`The properties \`db.${accessorName(edge.name)}.link\` takes.`),
      edge.fields.map((f) => inputProperty(f, schema, !f.required || f.default !== undefined)),
    ),
  ];
}

function outputProperty(field: Field, schema: Schema): OptionalKind<PropertySignatureStructure> {
  const type = outputType(field, schema);
  return property(field, field.required ? type : `${type} | undefined`, {
    optional: false,
    doc: true,
  });
}

function inputProperty(
  field: Field,
  schema: Schema,
  optional: boolean,
): OptionalKind<PropertySignatureStructure> {
  const type = inputType(field, schema);
  return property(field, optional ? `${type} | undefined` : type, { optional, doc: true });
}

function patchProperty(field: Field, schema: Schema): OptionalKind<PropertySignatureStructure> {
  const type = inputType(field, schema);
  // A required field cannot be cleared, so `null` is not in its type.
  return property(field, field.required ? `${type} | undefined` : `${type} | null | undefined`, {
    optional: true,
    doc: true,
  });
}

function property(
  field: Field,
  type: string,
  options: { readonly optional: boolean; readonly doc: boolean },
): OptionalKind<PropertySignatureStructure> {
  return {
    name: propertyName(field.name),
    isReadonly: true,
    hasQuestionToken: options.optional,
    type,
    docs: docs(options.doc ? field.doc : undefined, field.deprecated),
  };
}

/**
 * An interface, or `Record<string, never>` when there are no properties: an empty
 * interface would accept any value, an empty record accepts only `{}`.
 */
function objectType(
  name: string,
  jsDocs: string[],
  properties: OptionalKind<PropertySignatureStructure>[],
): DeclarationStructure {
  if (properties.length === 0) {
    return {
      kind: STRUCTURE_KIND.TypeAlias,
      name,
      isExported: true,
      docs: jsDocs,
      type: "Record<string, never>",
    };
  }
  return { kind: STRUCTURE_KIND.Interface, name, isExported: true, docs: jsDocs, properties };
}
