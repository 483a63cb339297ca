/**
 * Prints the generated `schema` constant: the type ids, field ids and kinds the runtime
 * encodes and decodes by (see runtime/schema-meta.ts). One line per field keeps the
 * constant readable in diffs and small for large schemas.
 */

import {
  type EdgeType,
  type ElementType,
  type Field,
  type NodeType,
  type Schema,
  schemaFingerprint,
} from "../../schema/index.ts";
import { accessorName, inverseMethodName, propertyName, uniqueKeys } from "./client-names.ts";
import type { GeneratedFile, Printable } from "./generated-file.ts";

/** Prints `head{ package, fingerprint, nodes: { … }, edges: { … } };`. */
export function printSchemaMeta(
  file: GeneratedFile,
  head: readonly Printable[],
  schema: Schema,
): void {
  file.block(
    head,
    () => {
      file.print("package: ", JSON.stringify(schema.package), ",");
      file.print("fingerprint: ", JSON.stringify(schemaFingerprint(schema)), ",");
      file.block(
        ["nodes: "],
        () => {
          for (const node of schema.nodes) printNode(file, node);
        },
        ",",
      );
      file.block(
        ["edges: "],
        () => {
          for (const edge of schema.edges) printEdge(file, edge);
        },
        ",",
      );
    },
    ";",
  );
}

function printNode(file: GeneratedFile, node: NodeType): void {
  file.block(
    [accessorName(node.name), ": "],
    () => {
      file.print("id: ", node.id, ",");
      file.print("name: ", JSON.stringify(node.name), ",");
      printFields(file, node.fields);
      const keys = uniqueKeys(node);
      if (keys.length > 0) {
        const text = keys
          .map((key) => `[${key.map((f) => JSON.stringify(propertyName(f.name))).join(", ")}]`)
          .join(", ");
        file.print("keys: [", text, "],");
      }
    },
    ",",
  );
}

function printEdge(file: GeneratedFile, edge: EdgeType): void {
  file.block(
    [accessorName(edge.name), ": "],
    () => {
      file.print("id: ", edge.id, ",");
      file.print("name: ", JSON.stringify(edge.name), ",");
      file.print("from: ", edge.fromId, ",");
      file.print("to: ", edge.toId, ",");
      printFields(file, edge.fields);
      const inverse = inverseMethodName(edge);
      if (inverse !== undefined) file.print("inverse: ", JSON.stringify(inverse), ",");
    },
    ",",
  );
}

function printFields(file: GeneratedFile, fields: readonly Field[]): void {
  if (fields.length === 0) {
    file.print("fields: {},");
    return;
  }
  file.block(
    ["fields: "],
    () => {
      for (const field of fields) file.print(propertyName(field.name), ": ", fieldMeta(field), ",");
    },
    ",",
  );
}

function fieldMeta(field: Field): string {
  const type = field.type;
  if (type.kind === "list") {
    return `{ id: ${field.id}, kind: "list", element: { ${elementMeta(type.element)} } }`;
  }
  return `{ id: ${field.id}, ${elementMeta(type)} }`;
}

function elementMeta(type: ElementType): string {
  switch (type.kind) {
    case "enum":
      return `kind: "enum", enum: ${type.enumName}`;
    case "ref":
      return `kind: "ref", target: ${type.targetId}`;
    default:
      return `kind: ${JSON.stringify(type.kind)}`;
  }
}
