/**
 * What every typed-service call shares: the tenant header, the route built from a
 * descriptor's methods, and one write executed as a generic `ExecutePlan` call.
 */

import {
  create,
  type DescMethod,
  type DescService,
  type Message,
  type MessageInitShape,
} from "@bufbuild/protobuf";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  ExecutePlanRequestSchema,
  ExecutePlanResponseSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import type { OperationResult, OperationSchema } from "../../generated/entdb/v1/plan_pb.js";
import { InternalError } from "../internal-error.ts";
import { toConnectError } from "./api-errors.ts";
import type { ApiDeps, EntDbHandlers } from "./entdb-service.ts";
import { invalidArgument } from "./ingress/ingress-error.ts";
import { TENANT_HEADER } from "./request-headers.ts";
import { type ServiceRoute, unaryMethods } from "./routes.ts";
import type { Fields } from "./typed-values.ts";
import { requestHeaderValue } from "./unary-call.ts";

/** The generic service a typed call is translated into. */
export type Generic = EntDbHandlers;
/** The init shape of one plan operation. */
export type OpInit = MessageInitShape<typeof OperationSchema>;

/** A handler map keyed by method name, as a DescService's methods see it. */
export type DynamicImpl = Record<string, (req: Fields, ctx: HandlerContext) => Promise<Message>>;
/** The server-streaming handlers of a typed service, keyed by method name. */
export type DynamicStreams = Record<
  string,
  (req: Fields, ctx: HandlerContext) => AsyncGenerator<Message>
>;

/**
 * The route serving `service` with `handlers`, keyed by method name. Every error a
 * handler throws goes through `toConnectError`: bad input keeps its code and message,
 * anything else is INTERNAL and reaches `logError` with its stack. `streams` are the
 * server-streaming methods, whose errors end the stream the same way.
 */
export function dynamicRoute(
  service: DescService,
  handlers: DynamicImpl,
  logError: (err: unknown) => void,
  streams: DynamicStreams = {},
): ServiceRoute {
  // Implementations are keyed by each method's local name ("create" for `Create`).
  const impl: Record<string, DynamicImpl[string] | DynamicStreams[string]> = {};
  for (const method of service.methods) {
    const handler = handlers[method.name];
    const stream = streams[method.name];
    if (handler)
      impl[method.localName] = async (req, ctx) => {
        try {
          return await handler(req, ctx);
        } catch (err) {
          throw toConnectError(err, logError);
        }
      };
    else if (stream)
      impl[method.localName] = async function* (req, ctx) {
        try {
          yield* stream(req, ctx);
        } catch (err) {
          throw toConnectError(err, logError);
        }
      };
  }
  return {
    typeName: service.typeName,
    register: (router) =>
      router.service(service, impl as unknown as Partial<ServiceImpl<DescService>>),
    unary: unaryMethods(service, impl),
  };
}

/** The method `name` of a typed service; its absence is a codegen bug, not bad input. */
export function methodOf(service: DescService, name: string): DescMethod {
  const m = service.methods.find((x) => x.name === name);
  if (!m) throw new InternalError("descriptor", `${service.typeName} lacks ${name}`);
  return m;
}

/** What one typed write returns: the op's result, where it was logged, and its receipt. */
export interface OneOpOutcome {
  readonly result: OperationResult | undefined;
  readonly position: { partition: number; offset: bigint };
  readonly receipt: { position: bigint; partition: number; applied: boolean };
}

/**
 * Executes one operation as a generic `ExecutePlan` call (so typed writes share its
 * ingress, idempotency and errors) and builds the typed receipt. A non-string
 * `idempotencyKey` counts as none.
 */
export async function executeOne(
  generic: Generic,
  tenant: string,
  op: OpInit,
  key: unknown,
  ctx: HandlerContext,
): Promise<OneOpOutcome> {
  const res = create(
    ExecutePlanResponseSchema,
    await generic.executePlan(
      create(ExecutePlanRequestSchema, {
        tenant,
        operations: [op],
        idempotencyKey: typeof key === "string" ? key : "",
      }),
      ctx,
    ),
  );
  const receipt = res.receipt;
  return {
    result: res.results[0],
    position: receipt?.position ?? { partition: 0, offset: 0n },
    receipt: {
      position: receipt?.position?.offset ?? 0n,
      partition: receipt?.position?.partition ?? 0,
      applied: receipt?.applied ?? false,
    },
  };
}

/** The tenant of a typed call, from the {@link TENANT_HEADER} header. */
export function tenantOf(ctx: HandlerContext): string {
  const tenant = requestHeaderValue(ctx, TENANT_HEADER);
  if (!tenant)
    throw invalidArgument(
      `Typed services take the tenant from the '${TENANT_HEADER}' header; set it.`,
    );
  return tenant;
}

/** The WAL position to read after, or undefined when the request sets none. */
export function positionOf(
  offset: unknown,
  tenant: string,
  deps: ApiDeps,
): { partition: number; offset: bigint } | undefined {
  if (typeof offset !== "bigint" || offset === 0n) return undefined;
  if (offset < 0n)
    throw invalidArgument(
      `\`after_position\` is ${offset}; pass the position of a WriteReceipt, or 0 to read at once.`,
    );
  return { partition: deps.wal.partitionFor(tenant), offset };
}
