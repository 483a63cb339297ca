/**
 * The options, requests and results of the untyped core client: what callers pass to
 * `EntDbClientCore` and get back from it, without the protobuf message wrappers.
 */

import type { MessageInitShape } from "@bufbuild/protobuf";
import type { Transport } from "@connectrpc/connect";
import type { Direction, FilterSchema, OrderBySchema } from "../generated/entdb/v1/entdb_pb.js";
import type { TokenSource } from "./bearer-auth-interceptor.ts";
import type { EntDbError } from "./entdb-error.ts";
import type { LogPosition, PositionTracker } from "./position-tracker.ts";
import type { RetryOptions } from "./retry-policy.ts";
import type { SchemaMeta } from "./schema-meta.ts";

/** How to reach the server and as whom. */
export interface ClientOptions {
  /** A Connect, gRPC or gRPC-Web transport (see `entdb/runtime/node` and `entdb/runtime/web`). */
  readonly transport: Transport;
  /** The tenant every call addresses. */
  readonly tenant: string;
  /** Sent as `Authorization: Bearer <token>`; a function is asked before every call. */
  readonly token?: TokenSource;
  /**
   * Whether reads wait until the tenant applied this client's latest write (default
   * true). Per-read `readYourWrites` overrides it.
   */
  readonly readYourWrites?: boolean;
  /** Retries on UNAVAILABLE; `false` disables them. */
  readonly retry?: RetryOptions | false;
  /** Shares read-your-writes positions between clients (default: one per client). */
  readonly positions?: PositionTracker;
}

/** Options of the core: the client options plus the schema that names fields in errors. */
export interface ClientCoreOptions extends ClientOptions {
  readonly schema?: SchemaMeta;
}

/** Options of one plan. */
export interface PlanOptions {
  /** Defaults to a fresh UUIDv7 (`idempotency-key.ts`); pass your own to make a retry across restarts safe. */
  readonly idempotencyKey?: string;
  /** Return once the plan is durable, before it is applied (results are then empty). */
  readonly noWait?: boolean;
  readonly signal?: AbortSignal;
}

/** Options of one read. */
export interface ReadOptions {
  /** Overrides the client's `readYourWrites` for this read. */
  readonly readYourWrites?: boolean;
  readonly signal?: AbortSignal;
}

/** Proof that a write is durable (and, unless `noWait`, applied). */
export interface WriteReceipt {
  readonly tenant: string;
  /** Where the write's event sits in the log. */
  readonly position: LogPosition | undefined;
  /** True when the outcome is final (the plan was applied). */
  readonly applied: boolean;
  readonly idempotencyKey: string;
  /** True when the server answered a retry with the first outcome. */
  readonly replayed: boolean;
  /** The schema version the write was validated against. */
  readonly schemaVersion: number;
}

/** The outcome of one step of a plan. */
export interface StepResult {
  /** The node the step created, updated or deleted ("" for edge steps). */
  readonly id: string;
  /** For create-if-absent: false when an existing node was found. */
  readonly created: boolean;
  /** The node's version after the step. */
  readonly version: bigint;
}

/** What `executePlan` returns. */
export interface PlanResult {
  readonly receipt: WriteReceipt;
  /** One per operation, in plan order (empty with `noWait`). */
  readonly results: readonly StepResult[];
}

/** What `getReceipt` returns for a known key. */
export interface ReceiptLookup extends PlanResult {
  /** Set when the applier rejected the plan: the error the original call threw. */
  readonly failure: EntDbError | undefined;
}

/** A `GetNodes` request without the tenant and position. */
export interface GetNodesInit {
  readonly typeId: number;
  readonly ids: readonly string[];
}
/** A `QueryNodes` request without the tenant and position, which the core fills in. */
export interface QueryInit {
  readonly typeId: number;
  readonly filters?: readonly MessageInitShape<typeof FilterSchema>[];
  readonly orderBy?: MessageInitShape<typeof OrderBySchema>;
  readonly limit?: number;
  readonly cursor?: string;
}

/** A `Search` request without the tenant and position. */
export interface SearchInit {
  readonly query: string;
  /** Empty: every type with searchable fields. */
  readonly typeIds?: readonly number[];
  readonly filters?: readonly MessageInitShape<typeof FilterSchema>[];
  readonly orderBy?: MessageInitShape<typeof OrderBySchema>;
  readonly limit?: number;
  readonly cursor?: string;
  readonly highlightStart?: string;
  readonly highlightEnd?: string;
  readonly snippetTokens?: number;
  /** `html`: the stored text of snippets is HTML-escaped, the markers are not. */
  readonly escape?: "html";
}

/** A `ListEdges` request without the tenant and position. */
export interface ListEdgesInit {
  readonly edgeTypeId: number;
  readonly nodeId: string;
  readonly direction: Direction;
  readonly limit?: number;
  readonly cursor?: string;
  readonly includeCount?: boolean;
}

/** A `Traverse` request without the tenant and position. */
export interface TraverseInit {
  readonly startId: string;
  readonly edgeTypeIds?: readonly number[];
  readonly direction?: Direction;
  readonly maxDepth?: number;
  readonly maxNodes?: number;
  /**
   * A rule per depth instead of one for all: depth i follows `hops[i - 1]`, so
   * Agent -Follows-> Ticket <-Replied- Message is one call. Leave `edgeTypeIds`,
   * `direction` and `maxDepth` out when you set it.
   */
  readonly hops?: readonly {
    readonly edgeTypeIds?: readonly number[];
    readonly direction?: Direction;
  }[];
}
