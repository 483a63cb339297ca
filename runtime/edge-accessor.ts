/**
 * `db.assignedTo`: the typed operations on one edge type, implemented once over the
 * schema metadata (see node-accessor.ts for why one cast suffices).
 */

import { Direction } from "../generated/entdb/v1/entdb_pb.js";
import type {
  EdgeListFn,
  EdgePage,
  LinkArgs,
  ListEdgesOptions,
  WriteOptions,
} from "./accessor-types.ts";
import type { EntDbClientCore } from "./client-core.ts";
import type { WriteReceipt } from "./client-core-types.ts";
import { planOptions } from "./node-accessor.ts";
import type { NodeId, TypeOfId } from "./node-id.ts";
import { PlanBuilder } from "./plan-builder.ts";
import { decodeEdge, encodeCreate } from "./record-codec.ts";
import type { EdgeTypeMeta } from "./schema-meta.ts";
import { idsOnly } from "./wire-value-codec.ts";

/** The node type name at the `from` end of edge shape `TEdge` (from its `from` id). */
export type FromTypeOf<TEdge> = TEdge extends { readonly from: infer TId } ? TypeOfId<TId> : string;
/** The node type name at the `to` end of edge shape `TEdge` (from its `to` id). */
export type ToTypeOf<TEdge> = TEdge extends { readonly to: infer TId } ? TypeOfId<TId> : string;

/**
 * Operations on one edge type. The ends are typed by the edge's `from` and `to` ids
 * (e.g. `Id<"Task">`, `Id<"User">`): a node or id of another type does not compile.
 */
export interface EdgeAccessor<TEdge, TProps> {
  /** Links `from` to `to`; linking an existing pair replaces its properties. */
  link(
    from: NodeId<FromTypeOf<TEdge>>,
    to: NodeId<ToTypeOf<TEdge>>,
    ...args: LinkArgs<TProps>
  ): Promise<WriteReceipt>;
  /** Removes the edge from `from` to `to`, if present. */
  unlink(
    from: NodeId<FromTypeOf<TEdge>>,
    to: NodeId<ToTypeOf<TEdge>>,
    options?: WriteOptions,
  ): Promise<WriteReceipt>;
  /** A page of the edges from `from`. */
  list: EdgeListFn<TEdge, FromTypeOf<TEdge>>;
  /** A page of the edges to `to` (the inverse direction). */
  inverse: EdgeListFn<TEdge, ToTypeOf<TEdge>>;
}

/** Implements the accessor of `meta` on `core`. */
export function createEdgeAccessor<TEdge>(
  core: EntDbClientCore,
  meta: EdgeTypeMeta,
): EdgeAccessor<TEdge, object> {
  const run = async (build: (plan: PlanBuilder) => void, options: WriteOptions | undefined) => {
    const plan = new PlanBuilder();
    build(plan);
    return (await core.executePlan(plan.operations, planOptions(options))).receipt;
  };
  return {
    link: (from, to, props, options) =>
      run((plan) => {
        plan.createEdge(
          meta.id,
          { from: idOf(from, meta, "from"), fromType: meta.from },
          { to: idOf(to, meta, "to"), toType: meta.to },
          encodeCreate(meta, props ?? {}, idsOnly),
        );
      }, options),
    unlink: (from, to, options) =>
      run((plan) => {
        plan.deleteEdge(
          meta.id,
          { from: idOf(from, meta, "from"), fromType: meta.from },
          { to: idOf(to, meta, "to"), toType: meta.to },
        );
      }, options),
    list: createEdgeLister<TEdge, FromTypeOf<TEdge>>(core, meta, Direction.OUT),
    inverse: createEdgeLister<TEdge, ToTypeOf<TEdge>>(core, meta, Direction.IN),
  };
}

/** Lists edges of `meta` at a node in one direction. */
export function createEdgeLister<TEdge, TType extends string = string>(
  core: EntDbClientCore,
  meta: EdgeTypeMeta,
  direction: Direction,
): EdgeListFn<TEdge, TType> {
  const end = direction === Direction.OUT ? "from" : "to";
  return async (node: NodeId<TType>, options: ListEdgesOptions = {}): Promise<EdgePage<TEdge>> => {
    const response = await core.listEdges(
      {
        edgeTypeId: meta.id,
        nodeId: idOf(node, meta, end),
        direction,
        limit: options.limit ?? 0,
        cursor: options.after ?? "",
        includeCount: options.withCount ?? false,
      },
      options,
    );
    return {
      // Decoded records have exactly the generated edge type's properties (same schema).
      items: response.edges.map((edge) => decodeEdge(meta, edge) as TEdge),
      next: response.nextCursor === "" ? undefined : response.nextCursor,
      totalCount: response.totalCount,
    };
  };
}

function idOf(node: NodeId, meta: EdgeTypeMeta, end: "from" | "to"): string {
  return idsOnly(node, end === "from" ? meta.from : meta.to, `${meta.name}.${end}`);
}
