/**
 * The per-tenant SQLite store: tenant ids and files, the open-handle LRU, the
 * `TenantReader` implementation, value and payload codecs, and the canonical dump.
 * The applier (`server/apply`) is the only writer.
 */

export {
  ACCESS_TABLE_DDL,
  listTenantIds,
  readTenantAccess,
  roleInDb,
  type TenantAccess,
} from "./access-tables.ts";
export { canonicalDump } from "./canonical-dump.ts";
export {
  type CheckedStore,
  type CheckedStoreOptions,
  type DerivedSource,
  holdWhileFileExists,
  openCheckedStore,
} from "./derived-check.ts";
export {
  DEFAULT_EDGE_CACHE_ENTRIES,
  EdgeCache,
  type PageWireBox,
  pageWireBoxOf,
} from "./edge-cache.ts";
export {
  isRawNumber,
  type JsonValue,
  type Payload,
  parseLossless,
  parsePayload,
  type RawNumber,
  rawNumber,
  serializePayload,
  stringifyJson,
} from "./lossless-json.ts";
export {
  type BadEvent,
  MetaDb,
  quickCheck,
  type RecordedSchema,
  type TenantPosition,
} from "./meta-db.ts";
export {
  DEFAULT_NODE_CACHE_BYTES,
  NodeCache,
  type WireBox,
  wireBoxOf,
} from "./node-cache.ts";
export {
  type CompiledNodeQuery,
  compileNodeQuery,
  MAX_IN_VALUES,
  type NodeQuery,
  nextPrefix,
} from "./node-query.ts";
export { decodeOutcome, encodeOutcome } from "./outcome-codec.ts";
export { DEFAULT_QUERY_PAGE_NODES, QueryPageCache } from "./query-page-cache.ts";
export { RebuildGate, type RebuildGateOptions } from "./rebuild-gate.ts";
export { edgeFromRow, NODE_COLUMNS, type NodeRow, nodeFromRow } from "./row-codec.ts";
export {
  DEFAULT_MAX_OPEN_TENANTS,
  openStore,
  type SchemaLookup,
  Store,
  type StoreOptions,
} from "./store.ts";
export { StoreError, type StoreErrorCode } from "./store-error.ts";
export {
  createTenantReader,
  READ_LIMITS,
  type ReaderStore,
  type ReadLimits,
} from "./store-reader.ts";
export {
  decodeValue,
  encodeValue,
  type FieldPlace,
  microsToTimestamp,
  type SqlScalar,
  sqlValueOf,
  timestampToMicros,
} from "./stored-value-codec.ts";
export { TenantDb, type TenantOrigin, type TenantState } from "./tenant-db.ts";
export {
  isTenantId,
  MAX_TENANT_ID_LENGTH,
  tenantFileName,
  tenantIdFromFileName,
  validateTenantId,
} from "./tenant-id.ts";
export { removeTenantTemplate, writeTenantTemplate } from "./tenant-template.ts";
