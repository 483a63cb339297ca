/**
 * The typed TypeScript client of a schema: one `client.ts` with the types of every
 * node, edge and enum, the metadata the runtime encodes by, and `createClient`. The
 * heavy lifting lives in the runtime (`entdb/runtime/v1`), so the file stays small:
 * mostly types, one line of metadata per field.
 *
 * The file is described as ts-morph structures (imports included), in model order, so
 * the output is deterministic, and printed by print-structures.ts exactly as ts-morph
 * prints them. ts-morph is imported for its types only: loading it (and the TypeScript
 * compiler it brings) cost more than generating. The file imports the runtime as one
 * namespace (`entdb`), so no schema name can shadow a runtime name.
 */

import type { ImportDeclarationStructure } from "ts-morph";
import type { Schema } from "../../schema/index.ts";
import {
  clientInterface,
  createClientFunction,
  inverseInterfaces,
  planInterface,
  schemaConst,
} from "./client-declarations.ts";
import { CLIENT_NAMES, checkClientNames } from "./client-names.ts";
import type { StatementWriter } from "./code-writer.ts";
import { type PrintableStatement, printStatements } from "./print-structures.ts";
import { STRUCTURE_KIND } from "./structure-kind.ts";
import {
  type DeclarationStructure,
  edgeDeclarations,
  enumDeclarations,
  nodeDeclarations,
} from "./type-declarations.ts";

const blankLine: StatementWriter = (writer) => {
  writer.blankLineIfLastNot();
};

/** Options of `generateClient`. */
export interface GenerateClientOptions {
  /** The module generated code imports the runtime from (default `entdb/runtime/v1`). */
  readonly runtimeImport?: string;
}

/** The generated client file. */
export interface GeneratedClient {
  readonly path: "client.ts";
  /** Without the `@generated` header (the writer adds it). */
  readonly content: string;
}

/** The default runtime import: the package's versioned runtime entry point. */
export const DEFAULT_RUNTIME_IMPORT = "entdb/runtime/v1";

/**
 * Generates `client.ts` for `schema`. Throws a `CodegenError` (`name-collision`) when
 * derived names clash (see client-names.ts).
 */
export function generateClient(
  schema: Schema,
  options: GenerateClientOptions = {},
): GeneratedClient {
  checkClientNames(schema);
  // The source path stays out: it may be absolute, and the output must not depend on
  // where the schema was compiled.
  const summary = `/**\n * The typed client of package \`${schema.package}\`.\n */\n\n`;
  return {
    path: "client.ts",
    content: summary + printStatements(clientStatements(schema, options)),
  };
}

/**
 * The statements of `client.ts` below its summary comment: the runtime import, then the
 * declarations, with a blank line between statements. Made one type at a time as the
 * printer asks for them, so each type's structures are garbage before the next is
 * made (a test spreads them into an array to print them with ts-morph too).
 */
export function* clientStatements(
  schema: Schema,
  options: GenerateClientOptions = {},
): Generator<PrintableStatement, void, undefined> {
  const runtimeImport: ImportDeclarationStructure = {
    kind: STRUCTURE_KIND.ImportDeclaration,
    namespaceImport: CLIENT_NAMES.runtimeNamespace,
    moduleSpecifier: options.runtimeImport ?? DEFAULT_RUNTIME_IMPORT,
  };
  yield runtimeImport;
  for (const e of schema.enums) yield* separated(enumDeclarations(e));
  for (const node of schema.nodes) yield* separated(nodeDeclarations(node, schema));
  for (const edge of schema.edges) yield* separated(edgeDeclarations(edge, schema));
  yield* separated(inverseInterfaces(schema));
  yield* separated([
    schemaConst(schema),
    clientInterface(schema),
    planInterface(schema),
    createClientFunction(schema),
  ]);
}

/** Each statement after a blank line. */
function* separated(
  statements: readonly DeclarationStructure[],
): Generator<PrintableStatement, void, undefined> {
  for (const statement of statements) {
    yield blankLine;
    yield statement;
  }
}
