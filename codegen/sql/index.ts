/**
 * The readable `indexes.sql` that `entdb generate` writes: the DDL of a tenant
 * database for a schema, from the storage layout (`codegen/store-layout`).
 */

export { printSqlFile } from "./print-sql.ts";
