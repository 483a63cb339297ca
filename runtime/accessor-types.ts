/**
 * Shapes shared by the typed accessors that generated clients expose: write results,
 * pages, and the options of writes, queries and edge lists. The options of
 * create-if-absent and field preconditions are derived from the generated types: the
 * unique keys (`TKey`) and the node's fields (`TNode`).
 */

import type { ReadOptions, WriteReceipt } from "./client-core-types.ts";
import type { IdOf, NodeId, TypeOfNode } from "./node-id.ts";
import type { LogPosition } from "./position-tracker.ts";
import type { Int64Input } from "./wire-value-codec.ts";

/** What a node write returns. */
export interface WriteResult<TType extends string = string> {
  /** The node's id (minted by the server for a create). */
  readonly id: IdOf<TType>;
  /** The node's version after the write; pass it as `expectedVersion` to update safely. */
  readonly version: bigint;
  readonly receipt: WriteReceipt;
}

/** What a create returns. */
export interface CreateResult<TType extends string = string> extends WriteResult<TType> {
  /**
   * `false` when `ifAbsentOn` found an existing node: then `id` and `version` are that
   * node's, and nothing was written. Always `true` without `ifAbsentOn`.
   */
  readonly created: boolean;
}

/** Options of a single write. */
export interface WriteOptions {
  /** Defaults to a fresh random key per call (kept across the client's own retries). */
  readonly idempotencyKey?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

/**
 * The field sets of `TKey` (a union of unique-key objects, like `UserKey`) in any
 * order: `readonly ["email"] | readonly ["handle"]`, or both orders of a composite.
 */
export type IfAbsentOn<TKey> = string extends keyof TKey
  ? readonly string[]
  : TKey extends unknown
    ? Readonly<Permutation<keyof TKey & string>>
    : never;

/** Every order of the names in `T`, as tuples (unique keys have a few fields). */
type Permutation<T extends string, U extends string = T> = [T] extends [never]
  ? []
  : T extends unknown
    ? [T, ...Permutation<Exclude<U, T>>]
    : never;

/** Options of a create on a type with unique keys. */
export interface CreateOptions<TKey> extends WriteOptions {
  /**
   * Create-if-absent: the fields of one unique key (one unique field, or all fields of
   * a composite unique), all set in the input. When a node with the same values exists,
   * the create resolves to it and writes nothing (`created: false`).
   */
  readonly ifAbsentOn?: IfAbsentOn<TKey> | undefined;
}

/** The members every node shape has besides its fields. */
type SystemProperty = "id" | "version" | "createdAt" | "updatedAt";

/** The value a field precondition takes: what a read returns, ints also as numbers. */
type ExpectedValue<V> = undefined extends V ? InputOf<Exclude<V, undefined>> | null : InputOf<V>;
type InputOf<V> = V extends bigint ? Int64Input : V;

/**
 * Field preconditions on a node of shape `TNode` (e.g. `Task`): each given field must
 * currently have exactly this value; `null` expects an optional field to be unset.
 */
export type ExpectedFields<TNode> = {
  readonly [K in Exclude<keyof TNode, SystemProperty>]?: ExpectedValue<TNode[K]> | undefined;
};

/** Options of an update or delete of a node of shape `TNode`. */
export interface ConditionalWriteOptions<TNode = object> extends WriteOptions {
  /** Fail with `PreconditionFailedError` unless the node is at exactly this version. */
  readonly expectedVersion?: Int64Input | undefined;
  /**
   * Fail with `PreconditionFailedError` unless each of these fields has exactly this
   * value (checked with the write, atomically).
   */
  readonly expectedFields?: ExpectedFields<TNode> | undefined;
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

/** Lists edges of one type at a node of type `TType`: from it (`list`), or to it (`inverse`). */
export type EdgeListFn<TEdge, TType extends string = string> = (
  node: NodeId<TType>,
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

/** Options of a typed `watch`. */
export interface WatchOptions<TType extends string = string> {
  /** Only these nodes; default every node of the type. */
  readonly ids?: readonly IdOf<TType>[];
  /** Start after this position (a change's `position`); default: from now on. */
  readonly after?: LogPosition;
  /** Start with the type's whole history (ignored with `after`). */
  readonly fromStart?: boolean;
  /** Stops the iterator (it then ends without an error). */
  readonly signal?: AbortSignal;
}

/** One change of a node, as a typed `watch` yields it. */
export interface NodeChange<TNode> {
  readonly kind: "created" | "updated" | "deleted";
  readonly id: IdOf<TypeOfNode<TNode>>;
  /** The node as it read when the server sent the change; undefined for a deletion. */
  readonly node: TNode | undefined;
  /** The log position of the plan that made the change. */
  readonly position: LogPosition;
}
