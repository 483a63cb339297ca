/**
 * The seams between the server's parts. `api/` (handlers and ingress) depends only on
 * these interfaces; `store/` and `apply/` implement them. Handlers append, the
 * applier writes (DESIGN.md contract 4): nothing here lets the API write a tenant
 * database.
 *
 * Read results use the `entdb.v1` message shapes (fields keyed by field id as
 * `Value`s), so handlers return them as they are.
 */

import type {
  Direction,
  Edge,
  Filter,
  Node,
  OrderBy,
  TraversedNode,
  WriteFailure,
} from "../generated/entdb/v1/entdb_pb.js";
import type { OperationResult } from "../generated/entdb/v1/plan_pb.js";
import type { Value } from "../generated/entdb/v1/values_pb.js";
import type { WalEvent } from "../generated/entdb/v1/wal_pb.js";
import type { Schema } from "../schema/index.ts";
import type { ReadScope } from "./acl/read-scope.ts";
import type { SearchPage, SearchRequest } from "./search/search-sql.ts";
import type { MailboxPage, MailboxQuery, MailboxUnreadCounts } from "./store/mailbox-query.ts";
import type { WalPosition } from "./wal/wal.ts";

/** A schema the server serves, with the version number it was registered under. */
export interface ServedSchema {
  readonly version: number;
  readonly fingerprint: string;
  readonly model: Schema;
  /** The canonical lock JSON of the model. */
  readonly lockJson: string;
}

/** The recorded outcome of an applied plan, kept with its idempotency key. */
export interface PlanOutcome {
  readonly position: WalPosition;
  readonly schemaVersion: number;
  /** One per operation when the plan committed; empty when it failed. */
  readonly results: readonly OperationResult[];
  /** Set when the applier rejected the plan (then nothing of it was written). */
  readonly failure?: WriteFailure;
  /**
   * Hex SHA-256 of the plan's operations as the client sent them (`WalEvent.plan_digest`);
   * absent for outcomes recorded before digests were kept.
   */
  readonly planDigest?: string;
  /**
   * The principal that logged the plan (`WalEvent.actor`), the only one answered this
   * outcome; absent for outcomes recorded before it was kept.
   */
  readonly actor?: string;
}

/** A page of results with the cursor of the next page ("" on the last). */
export interface Page<T> {
  readonly items: readonly T[];
  readonly nextCursor: string;
}

/**
 * Reads of one tenant's materialized state. Implementations read committed state
 * only; "read your writes" is the caller's job (wait for the position first).
 * Errors are `StoreError`s with a code the API maps to a Connect code. Each read takes
 * the caller's `scope` (default: unrestricted): a node it may not read is left out inside
 * the query, so it reads exactly like a node that does not exist.
 */
export interface TenantReader {
  /** The node with `id` if it is of type `typeId` (0 matches any type). */
  getNode(tenant: string, typeId: number, id: string, scope?: ReadScope): Node | undefined;
  /**
   * The nodes found among `ids` (of type `typeId`, 0 = any), in request order, each
   * once; a `StoreError` "too-many" above the store's maximum (1,000).
   */
  getNodes(tenant: string, typeId: number, ids: readonly string[], scope?: ReadScope): Node[];
  /**
   * `key` holds one unique field's value, or all fields of one composite unique
   * (otherwise a `StoreError` "invalid-argument").
   */
  getNodeByKey(
    tenant: string,
    typeId: number,
    key: ReadonlyMap<number, Value>,
    scope?: ReadScope,
  ): Node | undefined;
  /**
   * Nodes of a type matching every filter, ordered by a field (or the node id), then the
   * node id; keyset pages (a cursor is only valid for the same type and order). `limit`
   * 0 means the default page size (100); larger than the maximum (1,000) is clamped.
   */
  queryNodes(
    tenant: string,
    typeId: number,
    query: {
      readonly filters: readonly Filter[];
      readonly orderBy?: OrderBy;
      readonly limit: number;
      readonly cursor: string;
    },
    scope?: ReadScope,
  ): Page<Node>;
  /**
   * Edges of a type from (DIRECTION_OUT or UNSPECIFIED) or to (DIRECTION_IN) a node,
   * ordered by the other end's id, in keyset pages; `totalCount` only when asked.
   */
  listEdges(
    tenant: string,
    edgeTypeId: number,
    nodeId: string,
    query: {
      readonly direction: Direction;
      readonly limit: number;
      readonly cursor: string;
      readonly includeCount: boolean;
    },
    scope?: ReadScope,
  ): Page<Edge> & { readonly totalCount?: number };
  /**
   * Breadth-first walk from `startId` (not itself returned): depth 1 are its neighbours.
   * Within a depth, nodes come in frontier order, then edge type id, then neighbour id;
   * each node once. An empty `edgeTypeIds` follows every edge type. `maxDepth` and
   * `maxNodes` are clamped to the store's bounds; `truncated` says more nodes were in reach.
   */
  traverse(
    tenant: string,
    startId: string,
    query: {
      readonly edgeTypeIds: readonly number[];
      readonly direction: Direction;
      readonly maxDepth: number;
      readonly maxNodes: number;
      /** A rule per depth instead (depth i follows `hops[i - 1]`); then as deep as it is long. */
      readonly hops?: readonly TraverseStep[];
    },
    scope?: ReadScope,
  ): { readonly nodes: readonly TraversedNode[]; readonly truncated: boolean };
  /** The outcome recorded for an idempotency key, if the plan was applied. */
  outcomeByKey(tenant: string, idempotencyKey: string): PlanOutcome | undefined;
  /** The offset up to which (exclusive) the tenant has applied its partition; 0 if none. */
  appliedOffset(tenant: string): number;
  /**
   * Full-text search (docs/search.md): hits ranked by bm25 with the schema's weights, or
   * ordered by a field of the one type searched; filtered for `scope` inside the query;
   * keyset pages. `request.limit` 0 means the default page size; larger than the maximum
   * is clamped.
   */
  search(tenant: string, request: SearchRequest, scope?: ReadScope): SearchPage;
  /** A page of one recipient's mailbox (docs/mailbox.md), filtered for `scope` inside the query. */
  mailbox(tenant: string, query: MailboxQuery, scope?: ReadScope): MailboxPage;
  /** One recipient's unread, unarchived items visible to `scope`: in all and per type. */
  mailboxUnreadCounts(tenant: string, recipient: string, scope?: ReadScope): MailboxUnreadCounts;
  /** Whether `nodeId` is in `recipient`'s mailbox now. */
  inMailbox(tenant: string, recipient: string, nodeId: string): boolean;
}

/** What one depth of a traversal follows: these edge types (empty: all) in this direction. */
export interface TraverseStep {
  readonly edgeTypeIds: readonly number[];
  readonly direction: Direction;
}

/** Tracks applied positions and lets callers wait for them. */
export interface ApplyProgress {
  /**
   * Resolves true once `tenant` has applied the event at `position` (its offset is
   * below the tenant's applied offset), false if `timeoutMs` passed first; rejects with
   * `signal`'s reason if it aborts first (the call's deadline passed, its client left).
   */
  waitFor(
    tenant: string,
    position: WalPosition,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<boolean>;
  /** Whether the applier has caught up with the log end of every partition it owns. */
  caughtUp(): Promise<boolean>;
  /**
   * The outcome of `idempotencyKey` if it was applied recently, as `outcomeByKey` would
   * read it; `undefined` means "read the database".
   */
  recentOutcome(tenant: string, idempotencyKey: string): PlanOutcome | undefined;
}

/**
 * The events this process built at ingress, by the bytes it logged them as: the applier
 * takes the event instead of decoding an entry's payload again. `take` answers only for
 * a payload that is byte for byte the encoding of the event it returns (and hands each
 * out once); otherwise `undefined`, and the applier decodes the payload.
 */
export interface BuiltEvents {
  take(tenant: string, payload: Uint8Array): WalEvent | undefined;
}
