/**
 * `Watch` on the typed service of a node type (`acme.tracker.TaskService/Watch`): the
 * type's node changes, as the type's own node message, from a resume position. It is
 * `EntDbService/Subscribe` underneath (one stream per call, with its access checks per
 * response, its bounded queue and its gap-free resume), asked for the type or for the
 * listed nodes; each response keeps its event's position. Edge changes are not part of
 * a node type's stream: an event that selected only those becomes a checkpoint, so a
 * client still resumes past it.
 */

import { create, type DescService, type Message } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  type Change,
  ChangeKind,
  type Node,
  SubscribeRequestSchema,
  SubscribeResponseSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import type { NodeType } from "../../schema/index.ts";
import { MAX_CHANGE_FILTERS } from "./change-events.ts";
import type { ApiDeps } from "./entdb-service.ts";
import { invalidArgument } from "./ingress/ingress-error.ts";
import { type Generic, methodOf, tenantOf } from "./typed-call.ts";
import type { Fields } from "./typed-values.ts";

/** The `Watch` handler of `type`'s typed service. */
export function typedWatchHandler(
  service: DescService,
  type: NodeType,
  generic: Generic,
  deps: ApiDeps,
  toNode: (node: Node) => Message,
): (req: Fields, ctx: HandlerContext) => AsyncGenerator<Message> {
  const output = methodOf(service, "Watch").output;
  const typedChange = (c: Change): Fields | undefined => {
    if (c.typeId !== type.id) return undefined;
    const base = { id: c.nodeId, operationIndex: c.operationIndex };
    switch (c.kind) {
      case ChangeKind.NODE_CREATED:
        return c.node ? { ...base, kind: { case: "created", value: toNode(c.node) } } : undefined;
      case ChangeKind.NODE_UPDATED:
        return c.node ? { ...base, kind: { case: "updated", value: toNode(c.node) } } : undefined;
      case ChangeKind.NODE_DELETED:
        return { ...base, kind: { case: "deleted", value: true } };
      default:
        return undefined;
    }
  };
  return async function* watch(req, ctx) {
    const tenant = tenantOf(ctx);
    const ids = (req["ids"] as string[] | undefined) ?? [];
    if (ids.length > MAX_CHANGE_FILTERS)
      throw invalidArgument(
        `Watch takes at most ${MAX_CHANGE_FILTERS} ids, got ${ids.length}; watch the whole type instead (no ids).`,
      );
    const empty = ids.indexOf("");
    if (empty >= 0) throw invalidArgument(`\`ids[${empty}]\` is empty; name a node id.`);
    const after = req["after"];
    if (typeof after === "bigint" && after < 0n)
      throw invalidArgument(
        `\`after\` is ${after}; pass the \`position\` of a response you received, or leave it unset.`,
      );
    const partition = deps.wal.partitionFor(tenant);
    const request = create(SubscribeRequestSchema, {
      tenant,
      filters:
        ids.length === 0
          ? [{ kind: { case: "nodeTypeId", value: type.id } }]
          : ids.map((id) => ({ kind: { case: "nodeId" as const, value: id } })),
      ...(typeof after === "bigint" ? { after: { partition, offset: after } } : {}),
      fromStart: req["fromStart"] === true,
    });
    for await (const init of generic.subscribe(request, ctx)) {
      // The generic handler yields messages; `create` returns one as it is.
      const res = create(SubscribeResponseSchema, init);
      const changes: Fields[] = [];
      for (const c of res.changes) {
        const typed = typedChange(c);
        if (typed) changes.push(typed);
      }
      yield create(output, {
        ...(res.position
          ? { position: res.position.offset, partition: res.position.partition }
          : { partition }),
        changes,
      } as Fields);
    }
  };
}
