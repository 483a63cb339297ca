/**
 * Everything `entdb generate` puts in the out dir, built in memory from one model so a
 * failure in any generator leaves the disk untouched. The lock file is not among them:
 * it is written beside the schema (see generate-command.ts).
 */

import type { Schema } from "../../schema/index.ts";
import { DEFAULT_RUNTIME_IMPORT, generateClient } from "../client/index.ts";
import { generateProto } from "../proto/generate-proto.ts";
import { printSqlFile } from "../sql/index.ts";
import { createGeneratedFile, type GeneratedFile } from "../writer/generated-file.ts";

/** Options of {@link generateAllFiles}. */
export interface GenerateAllOptions {
  /** The module `client.ts` imports the runtime from (default `entdb/runtime/v1`). */
  readonly runtimeImport?: string;
}

/** The SQL index file's path in the out dir. */
export const INDEXES_SQL_PATH = "indexes.sql";

/**
 * The out dir's files for `schema`, in a fixed order: the `.proto` files
 * (`<pkg path>/schema.proto`, then one per node and edge type), their `_pb.js` files,
 * their `_pb.d.ts` files, `client.ts`, `indexes.sql`. Throws a `CodegenError`
 * (`name-collision`) when derived names clash.
 */
export function generateAllFiles(
  schema: Schema,
  options: GenerateAllOptions = {},
): GeneratedFile[] {
  const proto = generateProto(schema);
  const client = generateClient(schema, {
    runtimeImport: options.runtimeImport ?? DEFAULT_RUNTIME_IMPORT,
  });
  return [
    ...proto.files,
    createGeneratedFile(client.path, client.content),
    createGeneratedFile(INDEXES_SQL_PATH, printSqlFile(schema)),
  ];
}
