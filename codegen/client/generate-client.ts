/**
 * The typed TypeScript client of a schema: one `client.ts` with the types of every
 * node, edge and enum, the metadata the runtime encodes by, and `createClient`. The
 * heavy lifting lives in the runtime (`entdb/runtime/v1`), so the file stays small:
 * mostly types, one line of metadata per field.
 *
 * Every declaration is printed straight from the model, in model order, through a
 * `GeneratedFile` (generated-file.ts), so the output is deterministic; the file tracks
 * the runtime symbols printed and imports the runtime as one namespace (`entdb`), so no
 * schema name can shadow a runtime name.
 */

import type { Schema } from "../../schema/index.ts";
import {
  printClientInterface,
  printCreateClient,
  printInverseInterfaces,
  printNodeTypeMaps,
  printPlanInterface,
  printSchemaConst,
} from "./client-declarations.ts";
import { CLIENT_NAMES, checkClientNames } from "./client-names.ts";
import { GeneratedFile } from "./generated-file.ts";
import { printEdge, printEnum, printNode } from "./type-declarations.ts";

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
  const file = new GeneratedFile(summary, {
    namespace: CLIENT_NAMES.runtimeNamespace,
    from: options.runtimeImport ?? DEFAULT_RUNTIME_IMPORT,
  });
  for (const e of schema.enums) printEnum(file, e);
  for (const node of schema.nodes) printNode(file, node, schema);
  for (const edge of schema.edges) printEdge(file, edge, schema);
  printInverseInterfaces(file, schema);
  printNodeTypeMaps(file, schema);
  printSchemaConst(file, schema);
  printClientInterface(file, schema);
  printPlanInterface(file, schema);
  printCreateClient(file, schema);
  return { path: "client.ts", content: file.toString() };
}
