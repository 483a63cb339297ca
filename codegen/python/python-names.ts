/**
 * Every name the Python generator derives from the model, and the check that refuses
 * schemas whose derived Python names clash (a node `TaskCreate` next to `Task`, a node
 * `Plan` whose accessor would shadow `db.plan`, a field `created_at` next to the
 * built-in one). Field names that are Python keywords get a trailing underscore
 * (`from` → `from_`), as PEP 8 suggests. Renaming is always the fix: names are labels.
 */

import type { Schema } from "../../schema/index.ts";
import { CodegenError, type CodegenProblem } from "../codegen-error.ts";

const KEYWORDS = new Set([
  "False",
  "None",
  "True",
  "and",
  "as",
  "assert",
  "async",
  "await",
  "break",
  "class",
  "continue",
  "def",
  "del",
  "elif",
  "else",
  "except",
  "finally",
  "for",
  "from",
  "global",
  "if",
  "import",
  "in",
  "is",
  "lambda",
  "nonlocal",
  "not",
  "or",
  "pass",
  "raise",
  "return",
  "try",
  "while",
  "with",
  "yield",
  "match",
  "case",
  "type",
]);

/** Client members besides accessors, and what each is for. */
const CLIENT_MEMBERS: ReadonlyMap<string, string> = new Map([
  ["core", "the untyped client underneath"],
  ["plan", "atomic plans"],
  ["close", "closing the client"],
  ["aclose", "closing the client"],
  ["receipt", "the last write's receipt"],
  ["search", "search across types"],
  ["mailbox", "the caller's mailbox"],
  ["traverse", "traversals"],
]);
/** The methods of a node type's accessor, which an inverse edge name must not shadow. */
const ACCESSOR_METHODS = [
  "create",
  "update",
  "delete",
  "get",
  "get_many",
  "query",
  "query_all",
  "search",
  "watch",
];
/** Attributes every node class has. */
const NODE_BUILTINS = ["id", "version", "created_at", "updated_at"];
/** Attributes every edge class has. */
const EDGE_BUILTINS = ["from_id", "to_id", "created_at"];
/** Names the generated module defines besides the schema's. */
const MODULE_NAMES = [
  "Client",
  "AsyncClient",
  "Plan",
  "SCHEMA",
  "AnyNode",
  "SearchableType",
  "NodeTypeName",
  "_NODE_TYPES",
  "_SEARCHABLE",
  "_EDGE_NAMES",
];
/** The module's import aliases, which a type's `_snake` factory name must not shadow. */
const IMPORT_ALIASES = ["_rt", "_dc", "_enum", "_datetime", "_cast"];

/** The Python package a schema's package becomes: `acme.tracker` → `acme_tracker`. */
export function pythonPackageName(pkg: string): string {
  return pkg.replaceAll(".", "_");
}

/** `AssignedTo` → `assigned_to`, `URLLink` → `url_link`: accessor attribute names. */
export function snakeCase(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .toLowerCase();
}

/** A field's attribute name: its schema name, with `_` after a Python keyword. */
export function attributeName(fieldName: string): string {
  return KEYWORDS.has(fieldName) ? `${fieldName}_` : fieldName;
}

/** An enum member's name: `in_progress` → `IN_PROGRESS`. */
export function enumMemberName(value: string): string {
  return value.toUpperCase();
}

/** The classes generated for node type `T`. */
export function pythonNodeNames(name: string) {
  return {
    node: name,
    id: `${name}Id`,
    create: `${name}Create`,
    patch: `${name}Patch`,
    where: `${name}Where`,
    orderField: `${name}OrderField`,
    keyName: `${name}KeyName`,
    accessor: `${name}Nodes`,
    asyncAccessor: `Async${name}Nodes`,
    meta: `_${snakeCase(name).toUpperCase()}`,
  } as const;
}

/** The classes generated for edge type `E`. */
export function pythonEdgeNames(name: string) {
  return { edge: name, props: `${name}Props`, meta: `_${snakeCase(name).toUpperCase()}` } as const;
}

/** Throws a `CodegenError` (`name-collision`) listing every clash the Python client would have. */
export function checkPythonNames(schema: Schema): void {
  const problems: CodegenProblem[] = [];
  const owners = new Map<string, string>();
  const claim = (name: string, owner: string) => {
    const other = owners.get(name);
    if (other !== undefined && other !== owner) {
      problems.push(`'${name}' is generated for ${other} and for ${owner}`);
    } else {
      owners.set(name, owner);
    }
  };
  for (const name of MODULE_NAMES) claim(name, "the client module");
  for (const e of schema.enums) claim(e.name, `enum '${e.name}'`);
  for (const node of schema.nodes) {
    const names = pythonNodeNames(node.name);
    for (const n of Object.values(names)) claim(n, `node '${node.name}'`);
    for (const f of node.fields) {
      if (NODE_BUILTINS.includes(attributeName(f.name))) {
        problems.push(
          `field '${node.name}.${f.name}' clashes with the built-in attribute '${attributeName(f.name)}'`,
        );
      }
    }
  }
  for (const edge of schema.edges) {
    for (const n of Object.values(pythonEdgeNames(edge.name))) claim(n, `edge '${edge.name}'`);
    for (const f of edge.fields) {
      if (EDGE_BUILTINS.includes(attributeName(f.name))) {
        problems.push(
          `field '${edge.name}.${f.name}' clashes with the built-in attribute '${attributeName(f.name)}'`,
        );
      }
    }
  }
  for (const t of [...schema.nodes, ...schema.edges]) {
    const factory = `_${snakeCase(t.name)}`;
    if (IMPORT_ALIASES.includes(factory)) {
      problems.push(
        `type '${t.name}' would define '${factory}', which the module imports under that name`,
      );
    }
  }
  const accessors = new Map<string, string>();
  for (const t of [...schema.nodes, ...schema.edges]) {
    const attr = snakeCase(t.name);
    const use = CLIENT_MEMBERS.get(attr);
    if (use !== undefined) {
      problems.push({
        message: `type '${t.name}' would be 'db.${attr}', which the client already has for ${use}; rename the type (for example to '${t.name}Item')`,
        span: t.span,
      });
    }
    const other = accessors.get(attr);
    if (other !== undefined)
      problems.push({
        message: `types '${other}' and '${t.name}' would both be 'db.${attr}'`,
        span: t.span,
      });
    accessors.set(attr, t.name);
  }
  for (const edge of schema.edges) {
    if (edge.inverseName === undefined) continue;
    const method = snakeCase(edge.inverseName);
    const to = schema.nodes.find((n) => n.id === edge.toId);
    if (
      ACCESSOR_METHODS.includes(method) ||
      method.startsWith("get_by_") ||
      method.startsWith("_")
    ) {
      problems.push({
        message: `edge '${edge.name}' has inverse name '${edge.inverseName}', which would shadow 'db.${snakeCase(to?.name ?? "")}.${method}'`,
        span: edge.span,
      });
    }
  }
  if (problems.length > 0) {
    throw new CodegenError(
      "name-collision",
      `The Python client cannot be generated: ${problems.length} name clash${problems.length === 1 ? "" : "es"}; rename one side (names are labels, ids stay).`,
      { details: problems },
    );
  }
}
