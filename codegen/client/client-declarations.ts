/**
 * The declarations that tie the generated types to the runtime: the `schema` metadata
 * constant, the `Client` and `AtomicPlan` interfaces (one member per node and edge
 * type), and `createClient`, each printed with a blank line before it.
 */

import type { EdgeType, NodeType, Schema } from "../../schema/index.ts";
import {
  accessorName,
  CLIENT_NAMES,
  edgeTypeNames,
  inverseMethodName,
  nodeTypeNames,
  uniqueKeys,
} from "./client-names.ts";
import { targetName } from "./field-types.ts";
import { type GeneratedFile, type Printable, runtimeSymbol as rt } from "./generated-file.ts";
import { printSchemaMeta } from "./schema-meta-writer.ts";
import { printInterface } from "./type-declarations.ts";

/** `export const schema: entdb.SchemaMeta = { … };` */
export function printSchemaConst(file: GeneratedFile, schema: Schema): void {
  file.print();
  file.doc(
    `Type ids, field ids and kinds of package \`${schema.package}\`: what the runtime encodes and decodes by.`,
  );
  printSchemaMeta(
    file,
    ["export const ", CLIENT_NAMES.schemaConst, ": ", rt("SchemaMeta"), " = "],
    schema,
  );
}

/**
 * `export interface TInverses { … }` for each node type some edge's inverse name ends
 * at: the methods that name adds to the type's accessor.
 */
export function printInverseInterfaces(file: GeneratedFile, schema: Schema): void {
  for (const node of schema.nodes) {
    const inverses = inversesOf(node, schema);
    if (inverses.length === 0) continue;
    printInterface(file, {
      name: nodeTypeNames(node.name).inverses,
      doc: `The inverse traversals of \`db.${accessorName(node.name)}\`: edges that end at a ${node.name}.`,
      properties: inverses.map((edge) => ({
        name: inverseMethodName(edge) ?? "",
        type: [rt("EdgeListFn"), "<", edge.name, ", ", JSON.stringify(node.name), ">"],
        doc: `\`${edge.name}\` edges to a ${node.name}: the same as \`db.${accessorName(edge.name)}.inverse\`.`,
      })),
    });
  }
}

function inversesOf(node: NodeType, schema: Schema): EdgeType[] {
  return schema.edges.filter((e) => e.toId === node.id && e.inverseName !== undefined);
}

/**
 * `export interface NodeTypes { … }` and `export interface SearchableNodeTypes { … }`:
 * the node types by accessor name, which make `db.mailbox` items and `db.search` hits
 * unions discriminated by `type`.
 */
export function printNodeTypeMaps(file: GeneratedFile, schema: Schema): void {
  const member = (node: NodeType) => ({ name: accessorName(node.name), type: node.name });
  printInterface(file, {
    name: CLIENT_NAMES.nodeTypes,
    doc: `The node types of package \`${schema.package}\` by accessor name: what \`db.mailbox\` items carry, told apart by \`item.type\`.`,
    properties: schema.nodes.map(member),
  });
  printInterface(file, {
    name: CLIENT_NAMES.searchableNodeTypes,
    doc: "The node types with searchable fields by accessor name: what `db.search` and `db.mailbox.search` hits carry, told apart by `hit.type`.",
    properties: schema.nodes.filter(isSearchable).map(member),
  });
}

function isSearchable(node: NodeType): boolean {
  return node.fields.some((f) => f.searchable);
}

/** `export interface Client extends entdb.ClientBase<AtomicPlan, NodeTypes, SearchableNodeTypes> { … }` */
export function printClientInterface(file: GeneratedFile, schema: Schema): void {
  const { plan, nodeTypes, searchableNodeTypes } = CLIENT_NAMES;
  printInterface(file, {
    name: CLIENT_NAMES.client,
    extends: [rt("ClientBase"), `<${plan}, ${nodeTypes}, ${searchableNodeTypes}>`],
    doc: `The client of package \`${schema.package}\`: one accessor per node and edge type, and \`atomic\` for plans.`,
    properties: [
      ...schema.nodes.map((node) => ({
        name: accessorName(node.name),
        type: nodeAccessorType(node, schema),
        doc: node.doc,
        deprecated: node.deprecated,
      })),
      ...schema.edges.map((edge) => ({
        name: accessorName(edge.name),
        type: [rt("EdgeAccessor"), "<", edge.name, ", ", edgeTypeNames(edge.name).props, ">"],
        doc: edge.doc,
        deprecated: edge.deprecated,
      })),
    ],
  });
}

function nodeAccessorType(node: NodeType, schema: Schema): Printable {
  const names = nodeTypeNames(node.name);
  const keyed = uniqueKeys(node).length > 0;
  const args = [names.node, names.create, names.patch, names.where, names.orderBy];
  const base: Printable = keyed
    ? [rt("KeyedNodeAccessor"), "<", [...args, names.key].join(", "), ">"]
    : [rt("NodeAccessor"), "<", args.join(", "), ">"];
  const searchable: Printable = isSearchable(node)
    ? [" & ", rt("SearchableAccessor"), `<${names.node}, ${names.where}, ${names.orderBy}>`]
    : "";
  const inverses = inversesOf(node, schema).length === 0 ? "" : ` & ${names.inverses}`;
  return [base, searchable, inverses];
}

/** `export interface AtomicPlan { … }`: the writes `db.atomic` collects. */
export function printPlanInterface(file: GeneratedFile, schema: Schema): void {
  printInterface(file, {
    name: CLIENT_NAMES.plan,
    doc: "The writes `db.atomic` collects into one plan; a create returns a handle later steps accept as a ref.",
    properties: [
      ...schema.nodes.map((node) => {
        const names = nodeTypeNames(node.name);
        const args = [JSON.stringify(node.name), names.create, names.patch, names.node];
        if (uniqueKeys(node).length > 0) args.push(names.key);
        return {
          name: accessorName(node.name),
          type: [rt("NodePlanAccessor"), "<", args.join(", "), ">"],
        };
      }),
      ...schema.edges.map((edge) => {
        const args = [
          JSON.stringify(targetName(edge.fromId, schema)),
          JSON.stringify(targetName(edge.toId, schema)),
          edgeTypeNames(edge.name).props,
        ];
        return {
          name: accessorName(edge.name),
          type: [rt("EdgePlanAccessor"), "<", args.join(", "), ">"],
        };
      }),
    ],
  });
}

/** `export function createClient(options: entdb.ClientOptions): Client { … }` */
export function printCreateClient(file: GeneratedFile, schema: Schema): void {
  const { client, createClient, schemaConst } = CLIENT_NAMES;
  file.print();
  file.doc(
    `Creates a client of package \`${schema.package}\` for one tenant. Pass a transport from \`entdb/runtime/node\` (Node.js) or \`entdb/runtime/web\` (browsers).`,
  );
  file.block(
    ["export function ", createClient, "(options: ", rt("ClientOptions"), "): ", client, " "],
    () => {
      file.print("return ", rt("createTypedClient"), "<", client, ">(", schemaConst, ", options);");
    },
  );
}
