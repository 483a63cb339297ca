/**
 * Every name the TypeScript client generator derives from the model, in one place,
 * and the check that refuses schemas whose derived names clash. The schema compiler
 * cannot know these names (a node `TaskCreate` next to a node `Task`, a field
 * `created_at` next to the built-in `createdAt`), so the check lives here and runs
 * before anything is printed. Renaming is always the fix: names are labels.
 */

import type { EdgeType, Field, NodeType, Schema, Span } from "../../schema/index.ts";
import { CodegenError, type CodegenProblem } from "../codegen-error.ts";

/** The type names generated for node type `T`. */
export interface NodeTypeNames {
  /** `T`: a stored node (output). */
  readonly node: string;
  /** `TCreate`: what `create` takes. */
  readonly create: string;
  /** `TPatch`: what `update` takes. */
  readonly patch: string;
  /** `TWhere`: query conditions. */
  readonly where: string;
  /** `TOrderBy`: query orders. */
  readonly orderBy: string;
  /** `TKey`: the unique keys `getBy` takes (only for types with unique fields). */
  readonly key: string;
  /** `TInverses`: the inverse-name methods of the accessor (only when an edge names one). */
  readonly inverses: string;
}

/** The type names generated for edge type `E`. */
export interface EdgeTypeNames {
  /** `E`: a stored edge (output). */
  readonly edge: string;
  /** `EProps`: the properties `link` takes. */
  readonly props: string;
}

/** The client interface, the plan interface and their members every client has. */
export const CLIENT_NAMES = {
  client: "Client",
  plan: "AtomicPlan",
  nodeTypes: "NodeTypes",
  searchableNodeTypes: "SearchableNodeTypes",
  createClient: "createClient",
  schemaConst: "schema",
  runtimeNamespace: "entdb",
} as const;

/**
 * Global types the generated file refers to by name; a schema type of the same name
 * would shadow them (a node `Date` would turn every timestamp into that node).
 */
const GLOBAL_TYPES = ["Date", "Uint8Array", "Record"];

/**
 * Members of the client besides accessors, and what each is for; no accessor may take
 * these names (`then` would make the client look like a promise to `await`).
 */
const CLIENT_MEMBERS: ReadonlyMap<string, string> = new Map([
  ["core", "the untyped client underneath"],
  ["atomic", "atomic plans"],
  ["search", "search across types"],
  ["mailbox", "the caller's mailbox"],
  ["then", "what `await` looks for"],
]);
/** Members of a node accessor; no inverse name may take these. */
const NODE_ACCESSOR_MEMBERS = [
  "create",
  "get",
  "getMany",
  "update",
  "delete",
  "query",
  "getBy",
  "watch",
  "search",
  "then",
];
/** Properties every decoded node has besides its fields. */
export const NODE_BUILTINS = ["id", "version", "createdAt", "updatedAt"] as const;
/** Properties every decoded edge has besides its properties. */
export const EDGE_BUILTINS = ["from", "to", "createdAt"] as const;

/** Names derived from node type `name`. */
export function nodeTypeNames(name: string): NodeTypeNames {
  return {
    node: name,
    create: `${name}Create`,
    patch: `${name}Patch`,
    where: `${name}Where`,
    orderBy: `${name}OrderBy`,
    key: `${name}Key`,
    inverses: `${name}Inverses`,
  };
}

/** Names derived from edge type `name`. */
export function edgeTypeNames(name: string): EdgeTypeNames {
  return { edge: name, props: `${name}Props` };
}

/**
 * The accessor name of a type: lowerCamelCase, with a leading acronym lowered as a
 * word (`AssignedTo` → `assignedTo`, `URL` → `url`, `HTTPServer` → `httpServer`).
 */
export function accessorName(typeName: string): string {
  const run = /^[A-Z]+/.exec(typeName)?.[0].length ?? 0;
  if (run <= 1) return typeName.charAt(0).toLowerCase() + typeName.slice(1);
  const next = typeName.charAt(run);
  const lowered = /[a-z]/.test(next) ? run - 1 : run;
  return typeName.slice(0, lowered).toLowerCase() + typeName.slice(lowered);
}

/**
 * The TypeScript property name of a field: underscores dropped and the letter after
 * one upper-cased (`display_name` → `displayName`), the same as the field's protobuf
 * JSON name, so both generated APIs spell a field alike.
 */
export function propertyName(fieldName: string): string {
  // Called several times per field: slices between underscores, no per-character concatenation.
  let at = fieldName.indexOf("_");
  if (at === -1) return fieldName;
  let out = fieldName.slice(0, at);
  while (at !== -1) {
    let start = at + 1;
    while (fieldName.charCodeAt(start) === 0x5f) start++;
    if (start >= fieldName.length) break;
    at = fieldName.indexOf("_", start);
    const end = at === -1 ? fieldName.length : at;
    const first = fieldName.codePointAt(start) ?? 0;
    const width = first > 0xffff ? 2 : 1;
    out += String.fromCodePoint(first).toUpperCase() + fieldName.slice(start + width, end);
  }
  return out;
}

/**
 * The method an edge's inverse name adds to its target's accessor, spelled like a
 * property (`known_by` → `knownBy`); `undefined` without an inverse name.
 */
export function inverseMethodName(edge: EdgeType): string | undefined {
  return edge.inverseName === undefined ? undefined : propertyName(edge.inverseName);
}

/**
 * The keys `getBy` accepts: each unique field alone, then each composite unique, in
 * declared order. Empty when the type has none; then its accessor has no `getBy`.
 */
export function uniqueKeys(node: NodeType): readonly (readonly Field[])[] {
  const keys: Field[][] = node.fields.filter((f) => f.unique).map((f) => [f]);
  for (const unique of node.uniques) {
    keys.push(unique.fieldIds.map((id) => node.fields.find((f) => f.id === id)).filter(isField));
  }
  return keys;
}

function isField(field: Field | undefined): field is Field {
  return field !== undefined;
}

/** Throws a `CodegenError` (`name-collision`) listing every clash the client would have. */
export function checkClientNames(schema: Schema): void {
  const problems: CodegenProblem[] = [];
  const typeNames = new Map<string, string>();
  const addType = (name: string, owner: string): void => {
    const first = typeNames.get(name);
    if (first !== undefined) {
      problems.push(
        `The TypeScript type '${name}' would be generated for both ${first} and ${owner}; rename one of them.`,
      );
    } else {
      typeNames.set(name, owner);
    }
  };
  for (const name of GLOBAL_TYPES) addType(name, `the built-in type '${name}'`);
  addType(CLIENT_NAMES.client, "the client interface");
  addType(CLIENT_NAMES.plan, "the atomic plan interface");
  addType(CLIENT_NAMES.nodeTypes, "the interface of node types by accessor name");
  addType(CLIENT_NAMES.searchableNodeTypes, "the interface of searchable node types");
  for (const e of schema.enums) {
    addType(e.name, `enum '${e.name}'`);
    for (const value of e.values) {
      if (value.name === "__proto__") {
        problems.push(
          `Enum '${e.name}' has a value named '__proto__', which JavaScript objects cannot hold; rename it.`,
        );
      }
    }
  }
  const accessors = new Map<string, string>();
  const addAccessor = (typeName: string, owner: string, span: Span | undefined): void => {
    const name = accessorName(typeName);
    const first = accessors.get(name);
    const use = CLIENT_MEMBERS.get(name);
    if (use !== undefined) {
      problems.push({
        message: `${capitalize(owner)} would get the client accessor 'db.${name}', which the client uses itself for ${use}; rename the type (for example to '${typeName}Item'): a rename is safe because ids, not names, are identity.`,
        span,
      });
    } else if (first !== undefined) {
      problems.push({
        message: `${first} and ${owner} would both get the client accessor 'db.${name}'; rename one of them.`,
        span,
      });
    } else {
      accessors.set(name, owner);
    }
  };
  for (const node of schema.nodes) {
    const owner = `node type '${node.name}'`;
    const names = nodeTypeNames(node.name);
    addType(names.node, owner);
    addType(names.create, owner);
    addType(names.patch, owner);
    addType(names.where, owner);
    addType(names.orderBy, owner);
    if (uniqueKeys(node).length > 0) addType(names.key, owner);
    if (schema.edges.some((e) => e.toId === node.id && e.inverseName !== undefined)) {
      addType(names.inverses, owner);
    }
    addAccessor(node.name, owner, node.span);
    checkFields(node.name, node.fields, NODE_BUILTINS, problems);
  }
  for (const edge of schema.edges) {
    const owner = `edge type '${edge.name}'`;
    const names = edgeTypeNames(edge.name);
    addType(names.edge, owner);
    addType(names.props, owner);
    addAccessor(edge.name, owner, edge.span);
    checkFields(edge.name, edge.fields, EDGE_BUILTINS, problems);
  }
  checkInverses(schema, problems);
  if (problems.length > 0) {
    throw new CodegenError(
      "name-collision",
      `The TypeScript client cannot be generated: ${problems.length} name ${problems.length === 1 ? "clash" : "clashes"}.\n${problems.map((p) => `  - ${typeof p === "string" ? p : p.message}`).join("\n")}`,
      { details: problems },
    );
  }
}

function checkFields(
  typeName: string,
  fields: readonly Field[],
  builtins: readonly string[],
  problems: CodegenProblem[],
): void {
  const seen = new Map<string, string>();
  for (const field of fields) {
    const property = propertyName(field.name);
    const first = seen.get(property);
    if (builtins.includes(property)) {
      problems.push({
        message: `Field '${typeName}.${field.name}' would be the property '${property}', which every ${typeName} already has; rename the field.`,
        span: field.span,
      });
    } else if (first !== undefined) {
      problems.push({
        message: `Fields '${typeName}.${first}' and '${typeName}.${field.name}' would both be the property '${property}'; rename one of them.`,
        span: field.span,
      });
    } else {
      seen.set(property, field.name);
    }
  }
}

function checkInverses(schema: Schema, problems: CodegenProblem[]): void {
  const byTarget = new Map<number, Map<string, EdgeType>>();
  for (const edge of schema.edges) {
    const method = inverseMethodName(edge);
    if (method === undefined) continue;
    const target = schema.nodes.find((n) => n.id === edge.toId);
    const where = `'db.${target === undefined ? "?" : accessorName(target.name)}.${method}'`;
    if (NODE_ACCESSOR_MEMBERS.includes(method)) {
      problems.push({
        message: `The inverse name '${edge.inverseName}' of edge type '${edge.name}' would be ${where}, which node accessors use themselves; pick another inverse name.`,
        span: edge.span,
      });
      continue;
    }
    const names = byTarget.get(edge.toId) ?? new Map<string, EdgeType>();
    const first = names.get(method);
    if (first !== undefined) {
      problems.push({
        message: `Edge types '${first.name}' and '${edge.name}' would both add ${where}; rename one inverse name.`,
        span: edge.span,
      });
    } else {
      names.set(method, edge);
    }
    byTarget.set(edge.toId, names);
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
