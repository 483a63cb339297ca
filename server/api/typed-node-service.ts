/**
 * The typed service of one node type (`Create`, `Get`, `Update`, `Delete`, `Query`,
 * `Search` for a searchable type, and the streaming `Watch`), each call answered
 * through the generic service.
 */

import { create, type DescMessage, type DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import {
  GetNodeRequestSchema,
  GetNodeResponseSchema,
  type Node,
  QueryNodesRequestSchema,
  QueryNodesResponseSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import type { NodeType, Schema } from "../../schema/index.ts";
import type { ApiDeps } from "./entdb-service.ts";
import { invalidArgument } from "./ingress/ingress-error.ts";
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
import { typedSearchHandler } from "./typed-search.ts";
import {
  type Fields,
  fieldByName,
  fieldsToValues,
  filterOf,
  valuesToFields,
} from "./typed-values.ts";
import { typedWatchHandler } from "./typed-watch.ts";

/** The route of node type `type`'s typed service. */
export function nodeRoute(
  service: DescService,
  type: NodeType,
  fieldsDesc: DescMessage,
  nodeDesc: DescMessage,
  schema: Schema,
  generic: Generic,
  deps: ApiDeps,
): ServiceRoute {
  const method = (name: string) => methodOf(service, name);
  const toNode = (node: Node) =>
    create(nodeDesc, {
      id: node.id,
      fields: create(fieldsDesc, valuesToFields(node.fields, type, schema)),
      version: node.version,
      ...(node.createdAt ? { createdAt: node.createdAt } : {}),
      ...(node.updatedAt ? { updatedAt: node.updatedAt } : {}),
    } as Fields);
  const read = async (
    tenant: string,
    id: string,
    ctx: HandlerContext,
    after?: { partition: number; offset: bigint },
  ) => {
    const res = create(
      GetNodeResponseSchema,
      await generic.getNode(
        create(GetNodeRequestSchema, {
          tenant,
          typeId: type.id,
          id,
          ...(after ? { afterPosition: after } : {}),
        }),
        ctx,
      ),
    );
    if (!res.node) throw new ConnectError(`${type.name} '${id}' does not exist.`, Code.NotFound);
    return toNode(res.node);
  };
  const plan = (tenant: string, op: OpInit, key: unknown, ctx: HandlerContext) =>
    executeOne(generic, tenant, op, key, ctx);
  const handlers: DynamicImpl = {
    Create: async (req, ctx) => {
      const tenant = tenantOf(ctx);
      const fields = fieldsToValues(req["fields"], type, schema, "create");
      const done = await plan(
        tenant,
        { op: { case: "createNode", value: { typeId: type.id, fields } } },
        req["idempotencyKey"],
        ctx,
      );
      const id = done.result?.id ?? "";
      return create(method("Create").output, {
        node: await read(tenant, id, ctx, done.position),
        receipt: done.receipt,
      } as Fields);
    },
    Get: async (req, ctx) => {
      const tenant = tenantOf(ctx);
      const after = positionOf(req["afterPosition"], tenant, deps);
      return create(method("Get").output, {
        node: await read(tenant, String(req["id"] ?? ""), ctx, after),
      } as Fields);
    },
    Update: async (req, ctx) => {
      const tenant = tenantOf(ctx);
      const id = String(req["id"] ?? "");
      const set = fieldsToValues(req["patch"], type, schema, "update");
      const clear = ((req["clearFields"] as string[] | undefined) ?? []).map(
        (name) => fieldByName(type, name).id,
      );
      const expected = req["expectedVersion"];
      const done = await plan(
        tenant,
        {
          op: {
            case: "updateNode",
            value: {
              typeId: type.id,
              id,
              set,
              clear,
              ...(typeof expected === "bigint" ? { precondition: { version: expected } } : {}),
            },
          },
        },
        req["idempotencyKey"],
        ctx,
      );
      return create(method("Update").output, {
        node: await read(tenant, id, ctx, done.position),
        receipt: done.receipt,
      } as Fields);
    },
    Delete: async (req, ctx) => {
      const tenant = tenantOf(ctx);
      const expected = req["expectedVersion"];
      const done = await plan(
        tenant,
        {
          op: {
            case: "deleteNode",
            value: {
              typeId: type.id,
              id: String(req["id"] ?? ""),
              ...(typeof expected === "bigint" ? { precondition: { version: expected } } : {}),
            },
          },
        },
        req["idempotencyKey"],
        ctx,
      );
      return create(method("Delete").output, { receipt: done.receipt } as Fields);
    },
    Query: async (req, ctx) => {
      const tenant = tenantOf(ctx);
      const where = (req["where"] as Fields[] | undefined) ?? [];
      const orderBy = (req["orderBy"] as Fields[] | undefined) ?? [];
      if (orderBy.length > 1)
        throw invalidArgument("Query orders by one field; pass at most one order_by.");
      const first = orderBy[0];
      const after = positionOf(req["afterPosition"], tenant, deps);
      const res = create(
        QueryNodesResponseSchema,
        await generic.queryNodes(
          create(QueryNodesRequestSchema, {
            tenant,
            typeId: type.id,
            filters: where.map((w) => filterOf(w, type, schema)),
            ...(first
              ? {
                  orderBy: {
                    fieldId:
                      first["field"] === "id"
                        ? 0
                        : fieldByName(type, String(first["field"] ?? "")).id,
                    descending: first["descending"] === true,
                  },
                }
              : {}),
            limit: Number(req["limit"] ?? 0),
            cursor: String(req["after"] ?? ""),
            ...(after ? { afterPosition: after } : {}),
          }),
          ctx,
        ),
      );
      return create(method("Query").output, {
        nodes: res.nodes.map(toNode),
        nextCursor: res.nextCursor,
      } as Fields);
    },
  };
  if (service.methods.some((m) => m.name === "Search")) {
    handlers["Search"] = typedSearchHandler(
      service,
      type,
      fieldsDesc,
      schema,
      generic,
      deps,
      toNode,
    );
  }
  const streams = service.methods.some((m) => m.name === "Watch")
    ? { Watch: typedWatchHandler(service, type, generic, deps, toNode) }
    : {};
  return dynamicRoute(service, handlers, deps.logError, streams);
}
