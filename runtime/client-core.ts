/**
 * The untyped client: one tenant, one transport, every `EntDbService` call. It adds
 * what every caller needs and nobody should repeat: the bearer token, an idempotency
 * key on every plan (kept across its own retries, so a retried write is applied once),
 * bounded retries on UNAVAILABLE, read-your-writes positions, and typed errors.
 * Generated clients build on it; field values here are already `entdb.v1.Value`s.
 */

import { type CallOptions, type Client, createClient, type Transport } from "@connectrpc/connect";
import {
  EntDbService,
  type GetNodesResponse,
  type ListEdgesResponse,
  type Node,
  type QueryNodesResponse,
  type SearchResponse,
  SnippetEscape,
  type TraverseResponse,
} from "../generated/entdb/v1/entdb_pb.js";
import type { OperationResult } from "../generated/entdb/v1/plan_pb.js";
import type { Receipt, Value } from "../generated/entdb/v1/values_pb.js";
import { type AccessApi, createAccessApi } from "./access-api.ts";
import { createBearerAuthInterceptor } from "./bearer-auth-interceptor.ts";
import type {
  ClientCoreOptions,
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
import { NotFoundError, UnavailableError } from "./entdb-error.ts";
import { codeFromName, errorFor, failureInfo, toEntDbError } from "./error-mapper.ts";
import { idempotencyKeyFor } from "./idempotency-key.ts";
import { withInterceptors } from "./intercepted-transport.ts";
import { createMailboxApi, type MailboxApi } from "./mailbox-api.ts";
import { pageLimit } from "./page-limit.ts";
import type { OperationInit } from "./plan-builder.ts";
import { type LogPosition, PositionTracker } from "./position-tracker.ts";
import { DEFAULT_RETRY, type RetryOptions, withRetry } from "./retry-policy.ts";
import { createSchemaFingerprintInterceptor } from "./schema-header.ts";
import type { SchemaMeta } from "./schema-meta.ts";
import { type WatchedChange, type WatchInit, watchChanges } from "./watch.ts";
import { checkWellFormed } from "./wire-value-codec.ts";

/** The untyped EntDB client of one tenant. */
export class EntDbClientCore {
  readonly tenant: string;
  /**
   * The transport calls go through (with the token interceptor when there is a token, and
   * the schema fingerprint header when the schema has a fingerprint).
   */
  readonly transport: Transport;
  readonly positions: PositionTracker;
  readonly schema: SchemaMeta | undefined;
  readonly #options: ClientCoreOptions;
  readonly #client: Client<typeof EntDbService>;
  readonly #retry: Required<RetryOptions>;
  readonly #readYourWrites: boolean;

  constructor(options: ClientCoreOptions) {
    if (options.tenant === "")
      throw new TypeError("The client needs a tenant; got an empty string.");
    this.#options = options;
    this.tenant = options.tenant;
    const fingerprint = options.schema?.fingerprint;
    this.transport = withInterceptors(options.transport, [
      ...(options.token === undefined ? [] : [createBearerAuthInterceptor(options.token)]),
      ...(fingerprint === undefined ? [] : [createSchemaFingerprintInterceptor(fingerprint)]),
    ]);
    this.positions = options.positions ?? new PositionTracker();
    this.schema = options.schema;
    this.#client = createClient(EntDbService, this.transport);
    this.#retry =
      options.retry === false
        ? { ...DEFAULT_RETRY, maxAttempts: 1 }
        : { ...DEFAULT_RETRY, ...options.retry };
    this.#readYourWrites = options.readYourWrites ?? true;
  }

  /** Membership and sharing of this client's tenant (docs/access-control.md). */
  get access(): AccessApi {
    return createAccessApi({
      tenant: this.tenant,
      client: this.#client,
      call: (call, signal, key) => this.#call(call, signal, key),
      receipt: (receipt, key) => this.#receipt(receipt, key),
    });
  }

  /** The caller's own mailbox in this client's tenant (docs/mailbox.md). */
  get mailbox(): MailboxApi {
    return createMailboxApi({
      tenant: this.tenant,
      client: this.#client,
      schema: this.schema,
      read: (options, call) => this.#read(options, call),
      call: (call, signal, key) => this.#call(call, signal, key),
      receipt: (receipt, key) => this.#receipt(receipt, key),
    });
  }

  /** A client for another tenant sharing this one's transport, token and positions. */
  withTenant(tenant: string): EntDbClientCore {
    return new EntDbClientCore({ ...this.#options, tenant, positions: this.positions });
  }

  /**
   * Runs an atomic plan. Every attempt carries the same idempotency key, so when a
   * retry follows a lost response the server returns the first outcome instead of
   * applying the plan twice. When the server acknowledged the write as durable but
   * could not wait for it to be applied, this waits for the outcome by the key.
   */
  async executePlan(
    operations: readonly OperationInit[],
    options: PlanOptions = {},
  ): Promise<PlanResult> {
    const idempotencyKey = idempotencyKeyFor(options.idempotencyKey);
    const noWait = options.noWait ?? false;
    const response = await this.#call(
      () =>
        this.#client.executePlan(
          { tenant: this.tenant, operations: [...operations], idempotencyKey, noWait },
          callOptions(options.signal),
        ),
      options.signal,
      idempotencyKey,
    );
    const receipt = this.#receipt(response.receipt, idempotencyKey);
    if (receipt.applied || noWait) {
      return { receipt, results: response.results.map(stepResult) };
    }
    return this.#awaitOutcome(receipt, options.signal);
  }

  /** The outcome of an earlier plan by its key; `undefined` when the server has none (yet). */
  getReceipt(
    idempotencyKey: string,
    options: { readonly signal?: AbortSignal } = {},
  ): Promise<ReceiptLookup | undefined> {
    return this.#lookUp(idempotencyKey, options.signal, undefined);
  }

  /** `getReceipt`; its errors carry `errorKey` (the write's own, while a write waits). */
  async #lookUp(
    idempotencyKey: string,
    signal: AbortSignal | undefined,
    errorKey: string | undefined,
  ): Promise<ReceiptLookup | undefined> {
    try {
      const response = await this.#call(
        () => this.#client.getReceipt({ tenant: this.tenant, idempotencyKey }, callOptions(signal)),
        signal,
        errorKey,
      );
      const failure =
        response.failure === undefined
          ? undefined
          : errorFor(codeFromName(response.failure.code), response.failure.message, {
              failure: failureInfo(response.failure, this.schema),
              idempotencyKey,
            });
      return {
        receipt: this.#receipt(response.receipt, idempotencyKey),
        results: response.results.map(stepResult),
        failure,
      };
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  /** Waits (bounded by the server) until the tenant applied the log up to `position`. */
  waitForPosition(
    position: LogPosition,
    options: { readonly timeoutMs?: number; readonly signal?: AbortSignal } = {},
  ): Promise<{ readonly reached: boolean; readonly applied: LogPosition | undefined }> {
    return this.#waitFor(position, options.timeoutMs ?? 0, options.signal, undefined);
  }

  /** `waitForPosition`; its errors carry `errorKey` (the write's own, while a write waits). */
  async #waitFor(
    position: LogPosition,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    errorKey: string | undefined,
  ): Promise<{ readonly reached: boolean; readonly applied: LogPosition | undefined }> {
    const response = await this.#call(
      () =>
        this.#client.waitForPosition(
          { tenant: this.tenant, position, timeoutMs },
          callOptions(signal),
        ),
      signal,
      errorKey,
    );
    return { reached: response.reached, applied: response.applied };
  }

  /** One node; `undefined` when it does not exist (or the caller may not see it). */
  async getNode(
    request: { readonly typeId: number; readonly id: string },
    options: ReadOptions = {},
  ): Promise<Node | undefined> {
    try {
      const response = await this.#read(options, (afterPosition) =>
        this.#client.getNode(
          { tenant: this.tenant, ...request, ...afterPosition },
          callOptions(options.signal),
        ),
      );
      return response.node;
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  /** Several nodes of one type; found ones in request order, plus the missing ids. */
  getNodes(request: GetNodesInit, options: ReadOptions = {}): Promise<GetNodesResponse> {
    return this.#read(options, (afterPosition) =>
      this.#client.getNodes(
        { tenant: this.tenant, typeId: request.typeId, ids: [...request.ids], ...afterPosition },
        callOptions(options.signal),
      ),
    );
  }

  /** The node with these unique values (field id → value); `undefined` when none has them. */
  async getNodeByKey(
    request: { readonly typeId: number; readonly key: { readonly [fieldId: number]: Value } },
    options: ReadOptions = {},
  ): Promise<Node | undefined> {
    try {
      const response = await this.#read(options, (afterPosition) =>
        this.#client.getNodeByKey(
          { tenant: this.tenant, typeId: request.typeId, key: request.key, ...afterPosition },
          callOptions(options.signal),
        ),
      );
      return response.node;
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  /** A page of nodes matching all filters. */
  queryNodes(request: QueryInit, options: ReadOptions = {}): Promise<QueryNodesResponse> {
    return this.#read(options, (afterPosition) =>
      this.#client.queryNodes(
        {
          tenant: this.tenant,
          typeId: request.typeId,
          filters: [...(request.filters ?? [])],
          ...(request.orderBy === undefined ? {} : { orderBy: request.orderBy }),
          limit: pageLimit(request.limit),
          cursor: request.cursor ?? "",
          ...afterPosition,
        },
        callOptions(options.signal),
      ),
    );
  }

  /** A page of full-text search hits (docs/search.md). */
  async search(request: SearchInit, options: ReadOptions = {}): Promise<SearchResponse> {
    // The encoder would send U+FFFD for a lone surrogate: another query than the caller's.
    checkWellFormed(request.query, "The search query");
    return this.#read(options, (afterPosition) =>
      this.#client.search(
        {
          tenant: this.tenant,
          query: request.query,
          typeIds: [...(request.typeIds ?? [])],
          filters: [...(request.filters ?? [])],
          ...(request.orderBy === undefined ? {} : { orderBy: request.orderBy }),
          limit: pageLimit(request.limit),
          cursor: request.cursor ?? "",
          highlightStart: request.highlightStart ?? "",
          highlightEnd: request.highlightEnd ?? "",
          snippetTokens: request.snippetTokens ?? 0,
          ...(request.escape === "html" ? { snippetEscape: SnippetEscape.HTML } : {}),
          ...afterPosition,
        },
        callOptions(options.signal),
      ),
    );
  }

  /** A page of edges of one type from (`DIRECTION_OUT`) or to (`DIRECTION_IN`) a node. */
  listEdges(request: ListEdgesInit, options: ReadOptions = {}): Promise<ListEdgesResponse> {
    return this.#read(options, (afterPosition) =>
      this.#client.listEdges(
        {
          tenant: this.tenant,
          edgeTypeId: request.edgeTypeId,
          nodeId: request.nodeId,
          direction: request.direction,
          limit: pageLimit(request.limit),
          cursor: request.cursor ?? "",
          includeCount: request.includeCount ?? false,
          ...afterPosition,
        },
        callOptions(options.signal),
      ),
    );
  }

  /** Nodes reachable from a start node, breadth first, bounded by the server. */
  traverse(request: TraverseInit, options: ReadOptions = {}): Promise<TraverseResponse> {
    return this.#read(options, (afterPosition) =>
      this.#client.traverse(
        {
          tenant: this.tenant,
          startId: request.startId,
          edgeTypeIds: [...(request.edgeTypeIds ?? [])],
          ...(request.direction === undefined ? {} : { direction: request.direction }),
          maxDepth: request.maxDepth ?? 0,
          maxNodes: request.maxNodes ?? 0,
          hops: (request.hops ?? []).map((hop) => ({
            edgeTypeIds: [...(hop.edgeTypeIds ?? [])],
            ...(hop.direction === undefined ? {} : { direction: hop.direction }),
          })),
          ...afterPosition,
        },
        callOptions(options.signal),
      ),
    );
  }

  /**
   * The tenant's changes as they are applied, as an async iterator that resumes by
   * itself after a disconnect (runtime/watch.ts); `break` or abort `init.signal` to stop.
   */
  async *watch(init: WatchInit = {}): AsyncGenerator<WatchedChange, void, undefined> {
    try {
      yield* watchChanges(
        this.tenant,
        (request, signal) => this.#client.subscribe(request, { signal }),
        init,
      );
    } catch (err) {
      throw toEntDbError(err, this.schema);
    }
  }

  /** The position reads wait for, per the options: the latest write's, or none. */
  #afterPosition(options: ReadOptions): { afterPosition?: LogPosition } {
    if (!(options.readYourWrites ?? this.#readYourWrites)) return {};
    const position = this.positions.get(this.tenant);
    return position === undefined ? {} : { afterPosition: position };
  }

  #read<T>(
    options: ReadOptions,
    call: (afterPosition: { afterPosition?: LogPosition }) => Promise<T>,
  ): Promise<T> {
    // Read the position per attempt: a write finishing meanwhile should count.
    return this.#call(() => call(this.#afterPosition(options)), options.signal);
  }

  /** A call with retries; a write names its key, which its errors then carry. */
  async #call<T>(
    call: () => Promise<T>,
    signal: AbortSignal | undefined,
    idempotencyKey?: string,
  ): Promise<T> {
    try {
      return await withRetry(this.#retry, call, signal);
    } catch (err) {
      throw toEntDbError(err, this.schema, idempotencyKey);
    }
  }

  #receipt(receipt: Receipt | undefined, idempotencyKey: string): WriteReceipt {
    const position =
      receipt?.position === undefined
        ? undefined
        : { partition: receipt.position.partition, offset: receipt.position.offset };
    if (position !== undefined) this.positions.observe(this.tenant, position);
    return {
      tenant: receipt?.tenant ?? this.tenant,
      position,
      applied: receipt?.applied ?? false,
      idempotencyKey: receipt?.idempotencyKey || idempotencyKey,
      replayed: receipt?.replayed ?? false,
      schemaVersion: receipt?.schemaVersion ?? 0,
    };
  }

  /**
   * The plan is durable but the server stopped waiting for the applier: wait for its
   * position, then fetch the outcome by key. Still pending afterwards is UNAVAILABLE
   * with the key, so the caller can look the outcome up later.
   */
  async #awaitOutcome(receipt: WriteReceipt, signal: AbortSignal | undefined): Promise<PlanResult> {
    const pending = (): UnavailableError =>
      new UnavailableError(
        `The plan is durable but was not applied in time; look its outcome up later with getReceipt("${receipt.idempotencyKey}").`,
        { idempotencyKey: receipt.idempotencyKey },
      );
    if (receipt.position === undefined) throw pending();
    // Errors met here are the write's: they carry its key, so the caller can resend it.
    const key = receipt.idempotencyKey;
    const wait = await this.#waitFor(receipt.position, 0, signal, key);
    if (!wait.reached) throw pending();
    const lookup = await this.#lookUp(key, signal, key);
    if (lookup === undefined) throw pending();
    if (lookup.failure !== undefined) throw lookup.failure;
    return { receipt: { ...lookup.receipt, replayed: false }, results: lookup.results };
  }
}

function callOptions(signal: AbortSignal | undefined): CallOptions {
  return signal === undefined ? {} : { signal };
}

function stepResult(result: OperationResult): StepResult {
  return { id: result.id, created: result.created, version: result.version };
}
