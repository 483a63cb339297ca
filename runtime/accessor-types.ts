/**
 * Shapes shared by the typed accessors that generated clients expose: write results,
 * pages, and the options of writes, queries and edge lists.
 */

import type { ReadOptions, WriteReceipt } from "./client-core-types.ts";
import type { Int64Input } from "./value-codec.ts";

/** A node id, or anything that carries one (a node you read, a write result). */
export type NodeId = string | { readonly id: string };

/** What a node write returns. */
export interface WriteResult {
  /** The node's id (minted by the server for a create). */
  readonly id: string;
  /** The node's version after the write; pass it as `expectedVersion` to update safely. */
  readonly version: bigint;
  readonly receipt: WriteReceipt;
}

/** Options of a single write. */
export interface WriteOptions {
  /** Defaults to a fresh random key per call (kept across the client's own retries). */
  readonly idempotencyKey?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** Options of an update or delete. */
export interface ConditionalWriteOptions extends WriteOptions {
  /** Fail with `PreconditionFailedError` unless the node is at exactly this version. */
  readonly expectedVersion?: Int64Input | undefined;
}

/** A page of results; pass `next` as `after` to get the following page. */
export interface Page<T> {
  readonly items: T[];
  /** Absent on the last page. */
  readonly next: string | undefined;
}

/** A page of edges. */
export interface EdgePage<T> extends Page<T> {
  /** The number of edges in total, when asked for with `withCount`. */
  readonly totalCount: bigint | undefined;
}

/** Options of a query. */
export interface QueryOptions<TWhere, TOrderBy> extends ReadOptions {
  /** Every condition must hold. */
  readonly where?: TWhere | undefined;
  /** Default: by id. */
  readonly orderBy?: TOrderBy | undefined;
  /** Page size; the server clamps it to its maximum (default: the server's default). */
  readonly limit?: number | undefined;
  /** The `next` of the previous page. */
  readonly after?: string | undefined;
}

/** Options of an edge list. */
export interface ListEdgesOptions extends ReadOptions {
  readonly limit?: number | undefined;
  readonly after?: string | undefined;
  /** Also count all edges (costs a count query). */
  readonly withCount?: boolean | undefined;
}

/** Lists edges of one type at a node: from it (`list`), or to it (`inverse`). */
export type EdgeListFn<TEdge> = (
  node: NodeId,
  options?: ListEdgesOptions,
) => Promise<EdgePage<TEdge>>;

/**
 * The trailing arguments of `link`: the properties are optional exactly when an empty
 * object is valid properties (then `link(a, b)` is enough).
 */
export type LinkArgs<TProps> =
  Record<never, never> extends TProps
    ? [props?: TProps, options?: WriteOptions]
    : [props: TProps, options?: WriteOptions];
