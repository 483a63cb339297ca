/**
 * The typed TypeScript client of a schema: one `client.ts` with the types of every
 * node, edge and enum, the metadata the runtime encodes by, and `createClient`. The
 * heavy lifting lives in the runtime (`entdb/runtime/v1`), so the file stays small:
 * mostly types, one line of metadata per field.
 *
 * Printing goes through ts-morph structures (imports included), in model order, so the
 * output is deterministic. The file imports the runtime as one namespace (`entdb`), so
 * no schema name can shadow a runtime name.
 */

import {
  type ImportDeclarationStructure,
  IndentationText,
  NewLineKind,
  Project,
  QuoteKind,
  StructureKind,
  type WriterFunction,
} from "ts-morph";
import type { Schema } from "../../schema/model.ts";
import {
  clientInterface,
  createClientFunction,
  inverseInterfaces,
  planInterface,
  schemaConst,
} from "./client-declarations.ts";
import { CLIENT_NAMES, checkClientNames } from "./client-names.ts";
import {
  type DeclarationStructure,
  edgeDeclarations,
  enumDeclarations,
  nodeDeclarations,
} from "./type-declarations.ts";

const blankLine: WriterFunction = (writer) => {
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
  const statements: DeclarationStructure[] = [];
  for (const e of schema.enums) statements.push(...enumDeclarations(e));
  for (const node of schema.nodes) statements.push(...nodeDeclarations(node, schema));
  for (const edge of schema.edges) statements.push(...edgeDeclarations(edge, schema));
  statements.push(
    ...inverseInterfaces(schema),
    schemaConst(schema),
    clientInterface(schema),
    planInterface(schema),
    createClientFunction(schema),
  );
  const runtimeImport: ImportDeclarationStructure = {
    kind: StructureKind.ImportDeclaration,
    namespaceImport: CLIENT_NAMES.runtimeNamespace,
    moduleSpecifier: options.runtimeImport ?? DEFAULT_RUNTIME_IMPORT,
  };
  // The whole file is printed from structures in one go (inserting statement by
  // statement re-parses the file each time), with a blank line between statements.
  const project = new Project({
    useInMemoryFileSystem: true,
    manipulationSettings: {
      indentationText: IndentationText.TwoSpaces,
      newLineKind: NewLineKind.LineFeed,
      quoteKind: QuoteKind.Double,
      useTrailingCommas: true,
    },
  });
  const file = project.createSourceFile("client.ts", {
    statements: [runtimeImport, ...statements].flatMap((statement, i) =>
      i === 0 ? [statement] : [blankLine, statement],
    ),
  });
  // The source path stays out: it may be absolute, and the output must not depend on
  // where the schema was compiled.
  const summary = `/**\n * The typed client of package \`${schema.package}\`.\n */\n\n`;
  return { path: "client.ts", content: summary + file.getFullText() };
}
