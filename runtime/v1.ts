/**
 * `entdb/runtime/v1`: the one entry point generated clients import, versioned so a
 * breaking runtime change ships as `v2` beside it instead of breaking generated code.
 * Browser-safe: nothing reachable from here imports a Node built-in (a test checks).
 * Transports come from `entdb/runtime/node` or `entdb/runtime/web`.
 */

export { Direction } from "../generated/entdb/v1/entdb_pb.js";
export type {
  AccessApi,
  AccessChangeOptions,
  Capability,
  ShareOptions,
  TenantRole,
} from "./access-api.ts";
export type {
  ConditionalWriteOptions,
  CreateOptions,
  CreateResult,
  EdgeListFn,
  EdgePage,
  ExpectedFields,
  IfAbsentOn,
  LinkArgs,
  ListEdgesOptions,
  NodeChange,
  Page,
  QueryOptions,
  WatchOptions,
  WriteOptions,
  WriteResult,
} from "./accessor-types.ts";
export { createBearerAuthInterceptor, type TokenSource } from "./bearer-auth-interceptor.ts";
export { EntDbClientCore } from "./client-core.ts";
export type {
  ClientCoreOptions,
  ClientOptions,
  GetNodesInit,
  ListEdgesInit,
  PlanOptions,
  PlanResult,
  QueryInit,
  ReadOptions,
  ReceiptLookup,
  SearchInit,
  StepResult,
  TraverseInit,
  WriteReceipt,
} from "./client-core-types.ts";
export {
  EntdbClientCore,
  EntdbError,
  type EntdbErrorCode,
  type EntdbErrorOptions,
  toEntdbError,
} from "./deprecated-names.ts";
export {
  createEdgeAccessor,
  type EdgeAccessor,
  type FromTypeOf,
  type ToTypeOf,
} from "./edge-accessor.ts";
export {
  EntDbError,
  type EntDbErrorCode,
  type EntDbErrorOptions,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  PreconditionFailedError,
  UnavailableError,
  UniqueViolationError,
  type WriteFailureInfo,
} from "./entdb-error.ts";
export { toEntDbError } from "./error-mapper.ts";
export { withInterceptors } from "./intercepted-transport.ts";
export type {
  MailboxApi,
  MailboxChangeOptions,
  MailboxEntry,
  MailboxEntryBase,
  MailboxListOptions,
  MailboxPage,
  MailboxSearchOptions,
  MailboxUnreadCounts,
  TypedMailboxEntry,
  UnknownTypeMailboxEntry,
} from "./mailbox-api.ts";
export {
  createNodeAccessor,
  type KeyedNodeAccessor,
  type NodeAccessor,
  type SearchableAccessor,
} from "./node-accessor.ts";
export type { Id, IdOf, NodeId, TypeOfId, TypeOfNode } from "./node-id.ts";
export type {
  TypeNameOf,
  UnknownNode,
  UnknownTypeName,
  UntypedNode,
  UntypedNodeTypes,
} from "./node-type-map.ts";
export type {
  CreateStepOptions,
  EdgePlanAccessor,
  NodePlanAccessor,
  PlanLinkArgs,
  PlanNodeRef,
  StepOptions,
} from "./plan-accessor.ts";
export { NodeHandle, type NodeIdInput, PlanBuilder, type Ref } from "./plan-builder.ts";
export { type LogPosition, PositionTracker } from "./position-tracker.ts";
export type {
  EqualityFilter,
  ListFilter,
  OrderBy,
  RangeFilter,
  StringFilter,
} from "./query-filter.ts";
export { decodeEdge, decodeNode, encodeCreate, encodePatch } from "./record-codec.ts";
export {
  DEFAULT_MAX_HOPS,
  followRedirects,
  type Redirect,
  type RedirectOptions,
  redirectOf,
  TENANT_OWNER_HEADER,
} from "./redirect-transport.ts";
export type { RetryOptions } from "./retry-policy.ts";
export {
  createSchemaFingerprintInterceptor,
  SCHEMA_FINGERPRINT_HEADER,
} from "./schema-header.ts";
export {
  type AnyFieldMeta,
  defineEnum,
  type EdgeTypeMeta,
  type ElementMeta,
  type EnumMapping,
  type FieldMeta,
  type ListFieldMeta,
  type NodeTypeMeta,
  type ScalarKind,
  type SchemaMeta,
} from "./schema-meta.ts";
export type {
  AnySearchHit,
  CrossTypeSearchOptions,
  SearchHit,
  SearchOptions,
  SearchPage,
  TypedSearchHit,
  UnknownTypeSearchHit,
} from "./search-api.ts";
export {
  type AtomicResult,
  type AtomicShape,
  type ClientBase,
  createTypedClient,
} from "./typed-client.ts";
export {
  type ChangeKindName,
  isResumable,
  type SubscribeCall,
  type WatchedChange,
  type WatchInit,
  watchChanges,
} from "./watch.ts";
export {
  decodeValue,
  encodeValue,
  INT64_MAX,
  INT64_MIN,
  type Int64Input,
  type JsonFieldValue,
  type JsonValue,
} from "./wire-value-codec.ts";
