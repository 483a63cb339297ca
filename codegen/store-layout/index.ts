/**
 * The on-disk layout of a tenant database, in one place: its version
 * (`STORE_LAYOUT_VERSION`), the fixed tables every tenant has (`BASE_TABLE_DDL`), the
 * objects a schema adds, and the id-derived names and expressions of all of them.
 * The store (`server/store`) creates and queries databases with it, and the
 * `indexes.sql` printer (`codegen/sql`) prints it, so a query's expression is always
 * the one its index was built on.
 */

export { FTS_SEPARATOR, ftsText, stripFtsSeparators } from "./fts-text.ts";
export {
  edgeIndexName,
  edgePropExpr,
  fieldJsonPath,
  ftsColumnName,
  ftsTableName,
  nodeFieldExpr,
  nodeIndexName,
  nodeUniqueName,
  type ParsedObjectName,
  parseObjectName,
} from "./sql-names.ts";
export {
  BASE_TABLE_DDL,
  buildTenantDdl,
  FTS_TEXT_FUNCTION,
  FTS_TOKENIZER,
  ftsPopulateSql,
  type SchemaObject,
  STORE_LAYOUT_VERSION,
  schemaObjects,
} from "./tenant-ddl.ts";
