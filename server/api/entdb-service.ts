/**
 * Handlers of `entdb.v1.EntDbService`. They authenticate, check the request against
 * the served schema, append to the WAL and wait for the applier; they never write a
 * tenant database (DESIGN.md contract 4). Reads go to the store, after waiting for
 * `after_position` when the caller asks to read its own writes.
 */

import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  Direction,
  type Edge,
  type EntDbService,
  type GetNodeResponse,
  type ListEdgesRequest,
  type ListEdgesResponse,
  type Node,
  type QueryNodesRequest,
  type QueryNodesResponse,
} from "../../generated/entdb/v1/entdb_pb.js";
import type { LogPosition } from "../../generated/entdb/v1/values_pb.js";
import { edgeById, nodeById, type Schema } from "../../schema/index.ts";
import type { ApplyProgress, ServedSchema, TenantReader } from "../engine.ts";
import type { Wal, WalPosition } from "../wal/wal.ts";
import { createAccessHandlers } from "./access-service.ts";
import { handlerGuard, handlerGuardNow, toConnectError } from "./api-errors.ts";
import { requireActor } from "./auth.ts";
import { createPlanHandlers } from "./execute-plan.ts";
import type { BuiltEventRegistry } from "./ingress/built-events.ts";
import { invalidArgument } from "./ingress/ingress-error.ts";
import { checkPosition, checkPositionLogged } from "./log-position.ts";
import { createMailboxHandlers } from "./mailbox-service.ts";
import { outcomeFor } from "./outcome-access.ts";
import { pageSize } from "./page-size.ts";
import { hasPublicTypes, readerOf } from "./public-reads.ts";
import { createSearchHandler } from "./search-service.ts";
import { createSubscribeHandler, type SubscribeDeps } from "./subscribe-service.ts";
import {
  createTenantGuard,
  readScopeFor,
  type TenantAccessView,
  type TenantNeed,
} from "./tenant-guard.ts";
import { requestHeaderValue } from "./unary-call.ts";

/** Bounds the API enforces; requests beyond them are clamped or rejected as documented. */
export interface ApiLimits {
  readonly maxOperations: number;
  readonly maxGetMany: number;
  readonly defaultPageSize: number;
  readonly maxPageSize: number;
  readonly maxTraverseDepth: number;
  readonly maxTraverseNodes: number;
  /** How long a write waits for the applier, and a read for `after_position`. */
  readonly applyWaitMs: number;
  readonly maxWaitMs: number;
}

export const DEFAULT_API_LIMITS: ApiLimits = {
  maxOperations: 1_000,
  maxGetMany: 1_000,
  defaultPageSize: 100,
  maxPageSize: 1_000,
  maxTraverseDepth: 6,
  maxTraverseNodes: 10_000,
  applyWaitMs: 10_000,
  maxWaitMs: 30_000,
};

/** What the handlers need. */
export interface ApiDeps {
  served(): ServedSchema;
  readonly wal: Wal;
  readonly reader: TenantReader;
  readonly progress: ApplyProgress;
  /** Validates and normalizes a tenant id; throws a StoreError("invalid-tenant") otherwise. */
  checkTenant(tenant: string): string;
  /** The serialized FileDescriptorSet of the schema's generated .proto (for GetSchema). */
  readonly descriptorSet: Uint8Array;
  readonly limits: ApiLimits;
  logError(err: unknown): void;
  /** Starts timing one WAL append; the returned function ends it (metrics). */
  startAppendTimer?(): () => void;
  /** Where plans this process logs are handed to its applier (built-events.ts). */
  readonly builtEvents?: BuiltEventRegistry;
  /** Tenants' committed membership (acl/access-cache.ts). */
  readonly access: TenantAccessView;
  /** Dev mode: no access checks (the dev actor is an admin and a member of everything). */
  readonly openAccess: boolean;
  /** `--public-reads`: a read without a token sees the nodes of public types. */
  readonly publicReads?: boolean;
  /** The ids of every tenant that has a database, sorted. */
  listTenantIds(): readonly string[];
  /** Live subscriptions (`Subscribe`); without them it answers UNIMPLEMENTED. */
  readonly subscriptions?: SubscribeDeps;
}

/**
 * The EntDbService methods served from {@link ApiDeps}; the schema registration methods
 * are served by schema-push-service.ts.
 */
export type EntDbHandlers = Omit<
  ServiceImpl<typeof EntDbService>,
  "pushSchema" | "listSchemaVersions"
>;

/** Creates the EntDbService implementation. */
export function createEntDbService(deps: ApiDeps): EntDbHandlers {
  const { limits, reader } = deps;

  /** Runs a handler body, mapping every error to a Connect error. */
  const guard = handlerGuard(deps.logError);
  /** The same, for the reads that answer at once unless they wait for a position. */
  const guardNow = handlerGuardNow(deps.logError);

  const guardTenant = createTenantGuard(deps);
  const plans = createPlanHandlers(deps, guardTenant);
  /** Authenticates the call and checks its tenant access; returns the tenant id. */
  const tenantOf = (ctx: HandlerContext, tenant: string, need: TenantNeed = "read") =>
    guardTenant(requireActor(ctx.values), tenant, need);
  /** The actor of a read: anonymous when the schema has public types and the flag allows. */
  const readerOfCall = (ctx: HandlerContext) =>
    readerOf(
      ctx.values,
      () => requestHeaderValue(ctx, "authorization"),
      deps.publicReads === true && hasPublicTypes(schema()),
    );
  /** The tenant of a read RPC: any caller reads the public nodes of a schema that has some. */
  const readTenantOf = (ctx: HandlerContext, tenant: string) =>
    guardTenant(readerOfCall(ctx), tenant, hasPublicTypes(schema()) ? "public-read" : "read");
  /** What the caller may read in a tenant it passed the guard for (taken after any wait). */
  const scopeOf = (ctx: HandlerContext, tenant: string) =>
    readScopeFor(deps, readerOfCall(ctx), tenant);

  /**
   * `progress.waitFor` for a call: its `signal` ends the wait (the deadline passed, the
   * client left) with the signal's reason as a ConnectError. The library aborts the call
   * of an HTTP/1.1 client that left without a reason (an AbortError): that is CANCELED.
   */
  const waitInCall = (tenant: string, at: WalPosition, timeoutMs: number, signal: AbortSignal) =>
    deps.progress.waitFor(tenant, at, timeoutMs, signal).catch((err: unknown) => {
      throw signal.aborted && err === signal.reason ? ConnectError.from(err, Code.Canceled) : err;
    });

  /**
   * Waits until `tenant` applied `position` (a read's `after_position`), up to
   * `applyWaitMs`; the call's `signal` ends the wait sooner (its deadline passed, its
   * client left) with the signal's reason, and leaves no waiter behind.
   */
  const awaitPosition = async (
    tenant: string,
    position: LogPosition | undefined,
    signal: AbortSignal,
  ) => {
    if (!position) return;
    const at = checkPosition(deps.wal, tenant, position, "after_position");
    if (await deps.progress.waitFor(tenant, at, 0)) return;
    await checkPositionLogged(deps.wal, at, "after_position");
    const ok = await waitInCall(tenant, at, limits.applyWaitMs, signal);
    if (!ok) {
      throw new ConnectError(
        `Tenant '${tenant}' has not applied position ${position.partition}:${position.offset} within ${limits.applyWaitMs} ms; retry the read.`,
        Code.Unavailable,
      );
    }
  };

  const schema = (): Schema => deps.served().model;

  const checkNodeType = (typeId: number): void => {
    if (!nodeById(schema(), typeId))
      throw invalidArgument(`The schema has no node type with id ${typeId}.`, { typeId });
  };

  /** A query's page of `limit` rows (pageSize), once any position it waits for is applied. */
  const queryPage = (
    req: QueryNodesRequest,
    ctx: HandlerContext,
    tenant: string,
    limit: number,
  ): QueryNodesResponse => {
    const page = reader.queryNodes(
      tenant,
      req.typeId,
      {
        filters: req.filters,
        ...(req.orderBy ? { orderBy: req.orderBy } : {}),
        limit,
        cursor: req.cursor,
      },
      scopeOf(ctx, tenant),
    );
    // The answer as the message `create` would build (so it returns it as it is,
    // instead of checking each node again); the page's array is its own.
    return {
      $typeName: "entdb.v1.QueryNodesResponse",
      nodes: page.items as Node[],
      nextCursor: page.nextCursor,
    };
  };

  /** An edge page of `limit` edges (pageSize), once any position it waits for is applied. */
  const edgePage = (
    req: ListEdgesRequest,
    ctx: HandlerContext,
    tenant: string,
    limit: number,
  ): ListEdgesResponse => {
    const page = reader.listEdges(
      tenant,
      req.edgeTypeId,
      req.nodeId,
      {
        direction: req.direction,
        limit,
        cursor: req.cursor,
        includeCount: req.includeCount,
      },
      scopeOf(ctx, tenant),
    );
    // As `create` would build it (see queryPage).
    const answer: ListEdgesResponse = {
      $typeName: "entdb.v1.ListEdgesResponse",
      edges: page.items as Edge[],
      nextCursor: page.nextCursor,
    };
    if (page.totalCount !== undefined) answer.totalCount = BigInt(page.totalCount);
    return answer;
  };

  return {
    executePlan: plans.executePlan,

    getReceipt: (req, ctx) =>
      guard(() => {
        const tenant = tenantOf(ctx, req.tenant);
        const outcome = outcomeFor(
          reader.outcomeByKey(tenant, req.idempotencyKey),
          requireActor(ctx.values),
          deps.openAccess,
        );
        if (!outcome) {
          throw new ConnectError(
            `No applied plan with idempotency key '${req.idempotencyKey.slice(0, 256)}' in tenant '${tenant}' (it may not be applied yet).`,
            Code.NotFound,
          );
        }
        return {
          receipt: {
            tenant,
            position: fromWalPosition(outcome.position),
            applied: true,
            idempotencyKey: req.idempotencyKey,
            replayed: true,
            schemaVersion: outcome.schemaVersion,
          },
          results: [...outcome.results],
          ...(outcome.failure ? { failure: outcome.failure } : {}),
        };
      }),

    waitForPosition: (req, ctx) =>
      guard(async () => {
        const tenant = tenantOf(ctx, req.tenant);
        if (!req.position)
          throw invalidArgument("Set `position` to the receipt position to wait for.");
        const timeout = Math.min(req.timeoutMs || limits.applyWaitMs, limits.maxWaitMs);
        const at = checkPosition(deps.wal, tenant, req.position, "position");
        const reached = await waitInCall(tenant, at, timeout, ctx.signal);
        return {
          reached,
          applied: {
            partition: req.position.partition,
            offset: BigInt(reader.appliedOffset(tenant)),
          },
        };
      }),

    getNode: (req, ctx) =>
      guardNow(() => {
        const tenant = readTenantOf(ctx, req.tenant);
        checkNodeType(req.typeId);
        const read = () => {
          const node = reader.getNode(tenant, req.typeId, req.id, scopeOf(ctx, tenant));
          if (!node) throw notFound(schema(), req.typeId, req.id);
          // As `create` would build it (see queryPage).
          const answer: GetNodeResponse = { $typeName: "entdb.v1.GetNodeResponse", node };
          return answer;
        };
        return req.afterPosition
          ? awaitPosition(tenant, req.afterPosition, ctx.signal).then(read)
          : read();
      }),

    getNodes: (req, ctx) =>
      guardNow(() => {
        const tenant = readTenantOf(ctx, req.tenant);
        checkNodeType(req.typeId);
        if (req.ids.length > limits.maxGetMany) {
          throw invalidArgument(
            `GetNodes asks for ${req.ids.length} ids; the limit is ${limits.maxGetMany}.`,
          );
        }
        const read = () => {
          const nodes = reader.getNodes(tenant, req.typeId, req.ids, scopeOf(ctx, tenant));
          // Each node answers a different id asked for: as many nodes as ids, none is missing.
          if (nodes.length === req.ids.length) return { nodes, missingIds: [] };
          const found = new Set(nodes.map((n) => n.id));
          return { nodes, missingIds: req.ids.filter((id) => !found.has(id)) };
        };
        return req.afterPosition
          ? awaitPosition(tenant, req.afterPosition, ctx.signal).then(read)
          : read();
      }),

    getNodeByKey: (req, ctx) =>
      guard(async () => {
        const tenant = readTenantOf(ctx, req.tenant);
        checkNodeType(req.typeId);
        if (req.afterPosition) await awaitPosition(tenant, req.afterPosition, ctx.signal);
        const key = new Map(Object.entries(req.key).map(([k, v]) => [Number(k), v]));
        const node = reader.getNodeByKey(tenant, req.typeId, key, scopeOf(ctx, tenant));
        if (!node) {
          throw new ConnectError(
            `No ${typeName(schema(), req.typeId)} has that key.`,
            Code.NotFound,
          );
        }
        return { node };
      }),

    queryNodes: (req, ctx) =>
      guardNow(() => {
        const tenant = readTenantOf(ctx, req.tenant);
        checkNodeType(req.typeId);
        const limit = pageSize(req.limit, limits);
        return req.afterPosition
          ? awaitPosition(tenant, req.afterPosition, ctx.signal).then(() =>
              queryPage(req, ctx, tenant, limit),
            )
          : queryPage(req, ctx, tenant, limit);
      }),

    listEdges: (req, ctx) =>
      guardNow(() => {
        const tenant = readTenantOf(ctx, req.tenant);
        if (!edgeById(schema(), req.edgeTypeId)) {
          throw invalidArgument(`The schema has no edge type with id ${req.edgeTypeId}.`, {
            typeId: req.edgeTypeId,
          });
        }
        if (req.direction === Direction.UNSPECIFIED) {
          throw invalidArgument(
            "Set `direction` to DIRECTION_OUT (edges from the node) or DIRECTION_IN (edges to it).",
          );
        }
        const limit = pageSize(req.limit, limits);
        return req.afterPosition
          ? awaitPosition(tenant, req.afterPosition, ctx.signal).then(() =>
              edgePage(req, ctx, tenant, limit),
            )
          : edgePage(req, ctx, tenant, limit);
      }),

    traverse: (req, ctx) =>
      guard(async () => {
        const tenant = readTenantOf(ctx, req.tenant);
        const checkEdgeTypes = (ids: readonly number[]) => {
          for (const id of ids) {
            if (!edgeById(schema(), id))
              throw invalidArgument(`The schema has no edge type with id ${id}.`, { typeId: id });
          }
        };
        checkEdgeTypes(req.edgeTypeIds);
        for (const hop of req.hops) checkEdgeTypes(hop.edgeTypeIds);
        if (
          req.hops.length > 0 &&
          (req.edgeTypeIds.length > 0 ||
            req.direction !== Direction.UNSPECIFIED ||
            req.maxDepth !== 0)
        ) {
          throw invalidArgument(
            "Set either hops (a rule per depth) or edge_type_ids, direction and max_depth (one rule for every depth), not both.",
          );
        }
        const depth = req.hops.length > 0 ? req.hops.length : req.maxDepth;
        if (depth > limits.maxTraverseDepth) {
          throw invalidArgument(
            `${req.hops.length > 0 ? `${req.hops.length} hops` : `max_depth ${req.maxDepth}`} exceeds the limit of ${limits.maxTraverseDepth}.`,
          );
        }
        await awaitPosition(tenant, req.afterPosition, ctx.signal);
        const result = reader.traverse(
          tenant,
          req.startId,
          {
            edgeTypeIds: req.edgeTypeIds,
            direction: req.direction === Direction.UNSPECIFIED ? Direction.OUT : req.direction,
            maxDepth: req.maxDepth || 1,
            maxNodes: Math.min(req.maxNodes || limits.maxTraverseNodes, limits.maxTraverseNodes),
            hops: req.hops.map((hop) => ({
              edgeTypeIds: hop.edgeTypeIds,
              direction: hop.direction === Direction.UNSPECIFIED ? Direction.OUT : hop.direction,
            })),
          },
          scopeOf(ctx, tenant),
        );
        return { nodes: [...result.nodes], truncated: result.truncated };
      }),

    getSchema: (_req, ctx: HandlerContext) =>
      guard(() => {
        requireActor(ctx.values);
        const served = deps.served();
        return {
          package: served.model.package,
          version: served.version,
          fingerprint: served.fingerprint,
          lockJson: served.lockJson,
          fileDescriptorSet: deps.descriptorSet,
        };
      }),

    ...createAccessHandlers(deps, guardTenant, guard),

    search: createSearchHandler({
      reader,
      limits,
      schema,
      guard,
      readTenantOf,
      awaitPosition,
      scopeOf,
    }),
    ...createMailboxHandlers(deps, { guardTenant, guard, awaitPosition, scopeOf }),
    subscribe: createSubscribeHandler(deps, {
      tenantOf: readTenantOf,
      scopeOf,
      toConnect: (err) => toConnectError(err, deps.logError),
    }),
  };
}

function typeName(schema: Schema, typeId: number): string {
  return nodeById(schema, typeId)?.name ?? `type ${typeId}`;
}

function notFound(schema: Schema, typeId: number, id: string): ConnectError {
  return new ConnectError(
    `${typeName(schema, typeId)} '${id.slice(0, 80)}' does not exist.`,
    Code.NotFound,
  );
}

/** The WAL position a protobuf LogPosition names. */
export function toWalPosition(p: LogPosition): WalPosition {
  return { partition: p.partition, offset: Number(p.offset) };
}

/** The answer to a plan logged at `position` and not (yet) applied. */
/** The protobuf LogPosition of a WAL position. */
export function fromWalPosition(p: WalPosition): { partition: number; offset: bigint } {
  return { partition: p.partition, offset: BigInt(p.offset) };
}
