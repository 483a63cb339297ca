/**
 * The typed service of one edge type (`Link`, `Unlink`, `List`, `ListInverse`), each
 * call answered through the generic service.
 */

import { create, type DescMessage, type DescService } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  Direction,
  type Edge,
  ListEdgesRequestSchema,
  ListEdgesResponseSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import type { EdgeType, Schema } from "../../schema/index.ts";
import type { ApiDeps } from "./entdb-service.ts";
import type { ServiceRoute } from "./routes.ts";
import {
  type DynamicImpl,
  dynamicRoute,
  executeOne,
  type Generic,
  methodOf,
  type OpInit,
  positionOf,
  tenantOf,
} from "./typed-call.ts";
import { type Fields, fieldsToValues, valuesToFields } from "./typed-values.ts";

/** The route of edge type `type`'s typed service. */
export function edgeRoute(
  service: DescService,
  type: EdgeType,
  propsDesc: DescMessage,
  edgeDesc: DescMessage,
  schema: Schema,
  generic: Generic,
  deps: ApiDeps,
): ServiceRoute {
  const output = (name: string) => methodOf(service, name).output;
  const toEdge = (edge: Edge) =>
    create(edgeDesc, {
      fromId: edge.fromId,
      toId: edge.toId,
      props: create(propsDesc, valuesToFields(edge.props, type, schema)),
      ...(edge.createdAt ? { createdAt: edge.createdAt } : {}),
    } as Fields);
  const write = async (tenant: string, op: OpInit, key: unknown, ctx: HandlerContext) =>
    (await executeOne(generic, tenant, op, key, ctx)).receipt;
  const list =
    (direction: Direction, idField: "fromId" | "toId", method: string) =>
    async (req: Fields, ctx: HandlerContext) => {
      const tenant = tenantOf(ctx);
      const after = positionOf(req["afterPosition"], tenant, deps);
      const res = create(
        ListEdgesResponseSchema,
        await generic.listEdges(
          create(ListEdgesRequestSchema, {
            tenant,
            edgeTypeId: type.id,
            nodeId: String(req[idField] ?? ""),
            direction,
            limit: Number(req["limit"] ?? 0),
            cursor: String(req["after"] ?? ""),
            includeCount: true,
            ...(after ? { afterPosition: after } : {}),
          }),
          ctx,
        ),
      );
      return create(output(method), {
        edges: res.edges.map(toEdge),
        nextCursor: res.nextCursor,
        total: res.totalCount ?? 0n,
      } as Fields);
    };
  const handlers: DynamicImpl = {
    Link: async (req, ctx) => {
      const tenant = tenantOf(ctx);
      const props = fieldsToValues(req["props"], type, schema, "create");
      const fromId = String(req["fromId"] ?? "");
      const toId = String(req["toId"] ?? "");
      const receipt = await write(
        tenant,
        { op: { case: "createEdge", value: { edgeTypeId: type.id, fromId, toId, props } } },
        req["idempotencyKey"],
        ctx,
      );
      return create(output("Link"), {
        edge: create(edgeDesc, {
          fromId,
          toId,
          props: create(propsDesc, valuesToFields(props, type, schema)),
        } as Fields),
        receipt,
      } as Fields);
    },
    Unlink: async (req, ctx) => {
      const tenant = tenantOf(ctx);
      const receipt = await write(
        tenant,
        {
          op: {
            case: "deleteEdge",
            value: {
              edgeTypeId: type.id,
              fromId: String(req["fromId"] ?? ""),
              toId: String(req["toId"] ?? ""),
            },
          },
        },
        req["idempotencyKey"],
        ctx,
      );
      return create(output("Unlink"), { receipt } as Fields);
    },
    List: list(Direction.OUT, "fromId", "List"),
    ListInverse: list(Direction.IN, "toId", "ListInverse"),
  };
  return dynamicRoute(service, handlers, deps.logError);
}
