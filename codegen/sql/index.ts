/**
 * Schema model → SQL for tenant databases: the DDL the store runs, the readable
 * `indexes.sql` that `entdb generate` writes, and the id-derived names and
 * expressions the store's queries must share with the indexes.
 */

export { printSqlFile } from "./print-sql.ts";
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
  ftsPopulateSql,
  type SchemaObject,
  STORE_LAYOUT_VERSION,
  schemaObjects,
} from "./tenant-ddl.ts";
