/**
 * The typed per-schema services (`acme.tracker.TaskService/Create`, …) generated
 * from the loaded schema's descriptor. Each call is translated into the generic
 * `EntDbService` call it stands for and answered from its result, so both APIs share
 * one path through ingress, the WAL and the applier — and one set of errors.
 *
 * Messages are dynamic (the server has no generated code for a user's schema): field
 * values are read and written by descriptor, and converted by the model's kinds.
 * The tenant comes from the `entdb-tenant` request header.
 */

import {
  create,
  type DescFile,
  type DescMessage,
  type DescMethod,
  type DescService,
  fromJson,
  type Message,
  type MessageInitShape,
  toJson,
} from "@bufbuild/protobuf";
import {
  type Value as JsonValueMessage,
  ValueSchema as JsonValueSchema,
} from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { edgeTypeNames, nodeTypeNames } from "../../codegen/proto/index.ts";
import {
  Direction,
  type Edge,
  type EntDbService,
  ExecutePlanRequestSchema,
  ExecutePlanResponseSchema,
  type Filter,
  FilterOp,
  GetNodeRequestSchema,
  GetNodeResponseSchema,
  ListEdgesRequestSchema,
  ListEdgesResponseSchema,
  type Node,
  QueryNodesRequestSchema,
  QueryNodesResponseSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import type { OperationResult, OperationSchema } from "../../generated/entdb/v1/plan_pb.js";
import { type Value, ValueSchema } from "../../generated/entdb/v1/values_pb.js";
import type {
  EdgeType,
  ElementType,
  Field,
  FieldType,
  NodeType,
  Schema,
} from "../../schema/model.ts";
import { type ApiDeps, createEntDbService } from "./entdb-service.ts";
import { invalidArgument } from "./ingress/ingress-error.ts";
import type { ServiceRoute } from "./routes.ts";

/** Header naming the tenant of a typed-service call. */
export const TENANT_HEADER = "entdb-tenant";

type Fields = Record<string, unknown>;
type Generic = ServiceImpl<typeof EntDbService>;
type OpInit = MessageInitShape<typeof OperationSchema>;

/** Builds a route per node and edge type of the schema file. */
export function createTypedServices(file: DescFile, deps: ApiDeps): ServiceRoute[] {
  const generic = createEntDbService(deps);
  const schema = deps.served().model;
  const services = new Map(file.services.map((s) => [s.name, s]));
  const messages = new Map(file.messages.map((m) => [m.name, m]));
  const msg = (name: string): DescMessage => {
    const m = messages.get(name);
    if (!m) throw new Error(`generated descriptor lacks message ${name}`);
    return m;
  };
  const routes: ServiceRoute[] = [];
  for (const type of schema.nodes) {
    const names = nodeTypeNames(type.name);
    const service = services.get(names.service);
    if (!service) continue;
    routes.push(
      nodeRoute(service, type, msg(names.fields), msg(names.node), schema, generic, deps),
    );
  }
  for (const type of schema.edges) {
    const names = edgeTypeNames(type.name);
    const service = services.get(names.service);
    if (!service) continue;
    routes.push(edgeRoute(service, type, msg(names.props), msg(names.edge), schema, generic, deps));
  }
  return routes;
}

/** A handler map keyed by method name, as a DescService's methods see it. */
type DynamicImpl = Record<string, (req: Fields, ctx: HandlerContext) => Promise<Message>>;

function dynamicRoute(service: DescService, handlers: DynamicImpl): ServiceRoute {
  // Implementations are keyed by each method's local name ("create" for `Create`).
  const impl: DynamicImpl = {};
  for (const method of service.methods) {
    const handler = handlers[method.name];
    if (handler) impl[method.localName] = handler;
  }
  return {
    typeName: service.typeName,
    register: (router) =>
      router.service(service, impl as unknown as Partial<ServiceImpl<DescService>>),
  };
}

/** The method `name` of a typed service; its absence is a codegen bug, not bad input. */
function methodOf(service: DescService, name: string): DescMethod {
  const m = service.methods.find((x) => x.name === name);
  if (!m) throw new Error(`${service.typeName} lacks ${name}`);
  return m;
}

/** What one typed write returns: the op's result, where it was logged, and its receipt. */
interface OneOpOutcome {
  readonly result: OperationResult | undefined;
  readonly position: { partition: number; offset: bigint };
  readonly receipt: { position: bigint; partition: number; applied: boolean };
}

/**
 * Executes one operation as a generic `ExecutePlan` call (so typed writes share its
 * ingress, idempotency and errors) and builds the typed receipt. A non-string
 * `idempotencyKey` counts as none.
 */
async function executeOne(
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

function nodeRoute(
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
  return dynamicRoute(service, {
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
  });
}

function edgeRoute(
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
  return dynamicRoute(service, {
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
  });
}

function tenantOf(ctx: HandlerContext): string {
  const tenant = ctx.requestHeader.get(TENANT_HEADER);
  if (!tenant)
    throw invalidArgument(
      `Typed services take the tenant from the '${TENANT_HEADER}' header; set it.`,
    );
  return tenant;
}

function positionOf(
  offset: unknown,
  tenant: string,
  deps: ApiDeps,
): { partition: number; offset: bigint } | undefined {
  if (typeof offset !== "bigint" || offset <= 0n) return undefined;
  return { partition: deps.wal.partitionFor(tenant), offset };
}

function fieldByName(type: NodeType | EdgeType, name: string): Field {
  const field = type.fields.find((f) => f.name === name);
  if (!field) {
    const known = type.fields.map((f) => f.name).join(", ");
    throw invalidArgument(
      `${type.name} has no field '${name.slice(0, 80)}'; its fields are: ${known}.`,
      { typeId: type.id },
    );
  }
  return field;
}

/** Reads the set fields of a typed message into values keyed by field id. */
function fieldsToValues(
  message: unknown,
  type: NodeType | EdgeType,
  schema: Schema,
  mode: "create" | "update",
): Record<number, Value> {
  const out: Record<number, Value> = {};
  if (message === undefined || message === null) return out;
  const msg = message as Fields;
  for (const field of type.fields) {
    const raw = msg[camel(field.name)];
    if (raw === undefined) continue;
    if (field.type.kind === "list" && Array.isArray(raw) && raw.length === 0 && mode === "create")
      continue;
    out[field.id] = toValue(
      raw,
      field.type,
      schema,
      `${type.name}.${field.name}`,
      type.id,
      field.id,
    );
  }
  return out;
}

function toValue(
  raw: unknown,
  type: FieldType,
  schema: Schema,
  label: string,
  typeId: number,
  fieldId: number,
): Value {
  if (type.kind === "list") {
    const items = (raw as unknown[]).map((item) =>
      toElement(item, type.element, schema, label, typeId, fieldId),
    );
    return create(ValueSchema, { kind: { case: "listValue", value: { values: items } } });
  }
  return toElement(raw, type, schema, label, typeId, fieldId);
}

function toElement(
  raw: unknown,
  type: ElementType,
  _schema: Schema,
  label: string,
  typeId: number,
  fieldId: number,
): Value {
  switch (type.kind) {
    case "string":
      return create(ValueSchema, { kind: { case: "stringValue", value: String(raw) } });
    case "int":
      return create(ValueSchema, { kind: { case: "intValue", value: BigInt(raw as bigint) } });
    case "float":
      return create(ValueSchema, { kind: { case: "floatValue", value: Number(raw) } });
    case "bool":
      return create(ValueSchema, { kind: { case: "boolValue", value: raw === true } });
    case "bytes":
      return create(ValueSchema, { kind: { case: "bytesValue", value: raw as Uint8Array } });
    case "timestamp": {
      const t = raw as { seconds: bigint; nanos: number };
      return create(ValueSchema, {
        kind: { case: "timestampValue", value: { seconds: t.seconds, nanos: t.nanos } },
      });
    }
    case "json":
      return create(ValueSchema, {
        kind: {
          case: "jsonValue",
          value: JSON.stringify(toJson(JsonValueSchema, raw as JsonValueMessage)),
        },
      });
    case "enum":
      if (raw === 0)
        throw invalidArgument(
          `Field ${label} is set to the UNSPECIFIED enum value; pick a value or leave it out.`,
          { typeId, fieldId },
        );
      return create(ValueSchema, { kind: { case: "enumValue", value: Number(raw) } });
    case "ref":
      return create(ValueSchema, { kind: { case: "refValue", value: String(raw) } });
  }
}

/** Writes values keyed by field id into the init object of the typed message. */
function valuesToFields(
  values: { readonly [id: number]: Value },
  type: NodeType | EdgeType,
  schema: Schema,
): Fields {
  const out: Fields = {};
  for (const field of type.fields) {
    const v = values[field.id];
    if (!v) continue;
    out[camel(field.name)] = fromValue(v, field.type, schema);
  }
  return out;
}

function fromValue(v: Value, type: FieldType, schema: Schema): unknown {
  const k = v.kind;
  switch (k.case) {
    case "listValue":
      return k.value.values.map((item) =>
        fromValue(item, type.kind === "list" ? type.element : type, schema),
      );
    case "jsonValue":
      return fromJson(JsonValueSchema, JSON.parse(k.value));
    case "timestampValue":
      return k.value;
    case undefined:
    case "nullValue":
      return undefined;
    default:
      return k.value;
  }
}

/** Converts a typed FieldFilter into the generic Filter (values typed by the field's kind). */
function filterOf(w: Fields, type: NodeType, schema: Schema): Filter {
  const field = fieldByName(type, String(w["field"] ?? ""));
  const op = Number(w["op"] ?? 0) as FilterOp;
  if (op === FilterOp.UNSPECIFIED || FilterOp[op] === undefined) {
    throw invalidArgument(
      `The filter on ${type.name}.${field.name} has no op; set one of EQ NE LT LTE GT GTE IN CONTAINS PREFIX.`,
    );
  }
  const element: FieldType = field.type.kind === "list" ? field.type.element : field.type;
  const values = ((w["values"] as Fields[] | undefined) ?? []).map((fv) => {
    const kind = fv["kind"] as { case?: string; value?: unknown } | undefined;
    if (!kind?.case)
      throw invalidArgument(`A filter value on ${type.name}.${field.name} is empty.`);
    return toElement(
      kind.value,
      element as ElementType,
      schema,
      `${type.name}.${field.name}`,
      type.id,
      field.id,
    );
  });
  return { $typeName: "entdb.v1.Filter", fieldId: field.id, op, values };
}

/** The protobuf-es local name of a field: its json name (snake_case → lowerCamel). */
function camel(name: string): string {
  return name.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
