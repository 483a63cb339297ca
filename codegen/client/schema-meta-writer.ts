/**
 * Writes the initializer of the generated `schema` constant: the type ids, field ids
 * and kinds the runtime encodes and decodes by (see runtime/schema-meta.ts). One line
 * per field keeps the constant readable in diffs and small for large schemas.
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
import type { CodeWriter } from "./code-writer.ts";

/** Writes `{ package, fingerprint, nodes: { … }, edges: { … } }` (at the writer's current position). */
export function writeSchemaMeta(writer: CodeWriter, schema: Schema): void {
  writer.inlineBlock(() => {
    writer.writeLine(`package: ${JSON.stringify(schema.package)},`);
    writer.writeLine(`fingerprint: ${JSON.stringify(schemaFingerprint(schema))},`);
    writer.write("nodes: ").inlineBlock(() => {
      for (const node of schema.nodes) writeNode(writer, node);
    });
    writer.write(",").newLine();
    writer.write("edges: ").inlineBlock(() => {
      for (const edge of schema.edges) writeEdge(writer, edge);
    });
    writer.write(",").newLine();
  });
}

function writeNode(writer: CodeWriter, node: NodeType): void {
  writer.write(`${accessorName(node.name)}: `).inlineBlock(() => {
    writer.writeLine(`id: ${node.id},`);
    writer.writeLine(`name: ${JSON.stringify(node.name)},`);
    writeFields(writer, node.fields);
    const keys = uniqueKeys(node);
    if (keys.length > 0) {
      const text = keys
        .map((key) => `[${key.map((f) => JSON.stringify(propertyName(f.name))).join(", ")}]`)
        .join(", ");
      writer.writeLine(`keys: [${text}],`);
    }
  });
  writer.write(",").newLine();
}

function writeEdge(writer: CodeWriter, edge: EdgeType): void {
  writer.write(`${accessorName(edge.name)}: `).inlineBlock(() => {
    writer.writeLine(`id: ${edge.id},`);
    writer.writeLine(`name: ${JSON.stringify(edge.name)},`);
    writer.writeLine(`from: ${edge.fromId},`);
    writer.writeLine(`to: ${edge.toId},`);
    writeFields(writer, edge.fields);
    const inverse = inverseMethodName(edge);
    if (inverse !== undefined) writer.writeLine(`inverse: ${JSON.stringify(inverse)},`);
  });
  writer.write(",").newLine();
}

function writeFields(writer: CodeWriter, fields: readonly Field[]): void {
  if (fields.length === 0) {
    writer.writeLine("fields: {},");
    return;
  }
  writer.write("fields: ").inlineBlock(() => {
    for (const field of fields) {
      writer.writeLine(`${propertyName(field.name)}: ${fieldMeta(field)},`);
    }
  });
  writer.write(",").newLine();
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
