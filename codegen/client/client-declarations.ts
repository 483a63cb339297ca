/**
 * The structures that tie the generated types to the runtime: the `schema` metadata
 * constant, the `Client` and `AtomicPlan` interfaces (one member per node and edge
 * type), and `createClient`. They are ts-morph structure types, printed by
 * print-structures.ts.
 */

import type {
  FunctionDeclarationStructure,
  InterfaceDeclarationStructure,
  OptionalKind,
  PropertySignatureStructure,
} from "ts-morph";
import type { EdgeType, NodeType, Schema } from "../../schema/index.ts";
import {
  accessorName,
  CLIENT_NAMES,
  edgeTypeNames,
  inverseMethodName,
  nodeTypeNames,
  uniqueKeys,
} from "./client-names.ts";
import type { StatementWriter } from "./code-writer.ts";
import { targetName } from "./field-types.ts";
import { writeSchemaMeta } from "./schema-meta-writer.ts";
import { STRUCTURE_KIND } from "./structure-kind.ts";
import { docs, writeDoc } from "./type-declarations.ts";

const rt = (name: string): string => `${CLIENT_NAMES.runtimeNamespace}.${name}`;

/** `export const schema: entdb.SchemaMeta = { … };` */
export function schemaConst(schema: Schema): StatementWriter {
  return (writer) => {
    writeDoc(
      writer,
      `Type ids, field ids and kinds of package \`${schema.package}\`: what the runtime encodes and decodes by.`,
    );
    writer.write(`export const ${CLIENT_NAMES.schemaConst}: ${rt("SchemaMeta")} = `);
    writeSchemaMeta(writer, schema);
    writer.write(";").newLine();
  };
}

/**
 * `export interface TInverses { … }` for each node type some edge's inverse name ends
 * at: the methods that name adds to the type's accessor.
 */
export function inverseInterfaces(schema: Schema): InterfaceDeclarationStructure[] {
  return schema.nodes.flatMap((node) => {
    const inverses = inversesOf(node, schema);
    if (inverses.length === 0) return [];
    return [
      {
        kind: STRUCTURE_KIND.Interface,
        name: nodeTypeNames(node.name).inverses,
        isExported: true,
        docs: docs(
          `The inverse traversals of \`db.${accessorName(node.name)}\`: edges that end at a ${node.name}.`,
        ),
        properties: inverses.map(
          (edge): OptionalKind<PropertySignatureStructure> => ({
            name: inverseMethodName(edge) ?? "",
            isReadonly: true,
            type: `${rt("EdgeListFn")}<${edge.name}, ${JSON.stringify(node.name)}>`,
            docs: docs(
              `\`${edge.name}\` edges to a ${node.name}: the same as \`db.${accessorName(edge.name)}.inverse\`.`,
            ),
          }),
        ),
      },
    ];
  });
}

function inversesOf(node: NodeType, schema: Schema): EdgeType[] {
  return schema.edges.filter((e) => e.toId === node.id && e.inverseName !== undefined);
}

/** `export interface Client extends entdb.ClientBase<AtomicPlan> { … }` */
export function clientInterface(schema: Schema): InterfaceDeclarationStructure {
  return {
    kind: STRUCTURE_KIND.Interface,
    name: CLIENT_NAMES.client,
    isExported: true,
    extends: [`${rt("ClientBase")}<${CLIENT_NAMES.plan}>`],
    docs: docs(
      `The client of package \`${schema.package}\`: one accessor per node and edge type, and \`atomic\` for plans.`,
    ),
    properties: [
      ...schema.nodes.map((node) => nodeAccessorProperty(node, schema)),
      ...schema.edges.map(
        (edge): OptionalKind<PropertySignatureStructure> => ({
          name: accessorName(edge.name),
          isReadonly: true,
          type: `${rt("EdgeAccessor")}<${edge.name}, ${edgeTypeNames(edge.name).props}>`,
          docs: docs(edge.doc, edge.deprecated),
        }),
      ),
    ],
  };
}

function nodeAccessorProperty(
  node: NodeType,
  schema: Schema,
): OptionalKind<PropertySignatureStructure> {
  const names = nodeTypeNames(node.name);
  const keyed = uniqueKeys(node).length > 0;
  const args = [names.node, names.create, names.patch, names.where, names.orderBy];
  const base = keyed
    ? `${rt("KeyedNodeAccessor")}<${[...args, names.key].join(", ")}>`
    : `${rt("NodeAccessor")}<${args.join(", ")}>`;
  const accessor = node.fields.some((f) => f.searchable)
    ? `${base} & ${rt("SearchableAccessor")}<${names.node}, ${names.where}, ${names.orderBy}>`
    : base;
  return {
    name: accessorName(node.name),
    isReadonly: true,
    type: inversesOf(node, schema).length === 0 ? accessor : `${accessor} & ${names.inverses}`,
    docs: docs(node.doc, node.deprecated),
  };
}

/** `export interface AtomicPlan { … }`: the writes `db.atomic` collects. */
export function planInterface(schema: Schema): InterfaceDeclarationStructure {
  return {
    kind: STRUCTURE_KIND.Interface,
    name: CLIENT_NAMES.plan,
    isExported: true,
    docs: docs(
      "The writes `db.atomic` collects into one plan; a create returns a handle later steps accept as a ref.",
    ),
    properties: [
      ...schema.nodes.map((node): OptionalKind<PropertySignatureStructure> => {
        const names = nodeTypeNames(node.name);
        const args = [JSON.stringify(node.name), names.create, names.patch, names.node];
        if (uniqueKeys(node).length > 0) args.push(names.key);
        return {
          name: accessorName(node.name),
          isReadonly: true,
          type: `${rt("NodePlanAccessor")}<${args.join(", ")}>`,
        };
      }),
      ...schema.edges.map(
        (edge): OptionalKind<PropertySignatureStructure> => ({
          name: accessorName(edge.name),
          isReadonly: true,
          type: `${rt("EdgePlanAccessor")}<${[
            JSON.stringify(targetName(edge.fromId, schema)),
            JSON.stringify(targetName(edge.toId, schema)),
            edgeTypeNames(edge.name).props,
          ].join(", ")}>`,
        }),
      ),
    ],
  };
}

/** `export function createClient(options: entdb.ClientOptions): Client { … }` */
export function createClientFunction(schema: Schema): FunctionDeclarationStructure {
  return {
    kind: STRUCTURE_KIND.Function,
    name: CLIENT_NAMES.createClient,
    isExported: true,
    docs: docs(
      `Creates a client of package \`${schema.package}\` for one tenant. Pass a transport from \`entdb/runtime/node\` (Node.js) or \`entdb/runtime/web\` (browsers).`,
    ),
    parameters: [{ name: "options", type: rt("ClientOptions") }],
    returnType: CLIENT_NAMES.client,
    statements: [
      `return ${rt("createTypedClient")}<${CLIENT_NAMES.client}>(${CLIENT_NAMES.schemaConst}, options);`,
    ],
  };
}
