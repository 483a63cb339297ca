/**
 * Code generation: model → artifacts. Generators return files in memory; the writer
 * stamps them and writes them all or none.
 */

export {
  checkClientNames,
  DEFAULT_RUNTIME_IMPORT,
  type GenerateClientOptions,
  type GeneratedClient,
  generateClient,
} from "./client/index.ts";
export type { CodegenErrorCode } from "./codegen-error.ts";
export { CodegenError } from "./codegen-error.ts";
export { buildFileDescriptors } from "./proto/build-descriptor.ts";
export { checkProtoNames } from "./proto/check-names.ts";
export type { GenerateEsOptions } from "./proto/generate-es.ts";
export { generateEs } from "./proto/generate-es.ts";
export type { ProtoOutput } from "./proto/generate-proto.ts";
export { generateProto } from "./proto/generate-proto.ts";
export type { PrintedProto } from "./proto/print-proto.ts";
export { printProto, printProtoFiles } from "./proto/print-proto.ts";
export type { EdgeTypeNames, NodeTypeNames } from "./proto/proto-names.ts";
export {
  edgeTypeNames,
  enumValueName,
  enumZeroValueName,
  nodeTypeNames,
  protoFilePath,
  protoTypeFilePath,
  SHARED_NAMES,
} from "./proto/proto-names.ts";
export { printSqlFile } from "./sql/index.ts";
export {
  BASE_TABLE_DDL,
  buildTenantDdl,
  FTS_SEPARATOR,
  FTS_TEXT_FUNCTION,
  FTS_TOKENIZER,
  fieldJsonPath,
  ftsColumnName,
  ftsPopulateSql,
  ftsTableName,
  ftsText,
  nodeFieldExpr,
  nodeIndexName,
  nodeUniqueName,
  type ParsedObjectName,
  parseObjectName,
  type SchemaObject,
  STORE_LAYOUT_VERSION,
  schemaObjects,
  stripFtsSeparators,
} from "./store-layout/index.ts";
export type { GeneratedFile } from "./writer/generated-file.ts";
export { assertSafePath, createGeneratedFile } from "./writer/generated-file.ts";
export {
  ENTDB_VERSION,
  generatedHeaderSource,
  hasGeneratedHeader,
  headerText,
  stampHeader,
} from "./writer/header.ts";
export type {
  FileChange,
  FileChangeKind,
  WriteGeneratedOptions,
  WriteGeneratedResult,
} from "./writer/write-generated.ts";
export { headerSource, writeGenerated } from "./writer/write-generated.ts";
