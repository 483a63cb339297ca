/**
 * `plan.task`, `plan.assignedTo` inside `db.atomic(plan => …)`: the same writes as the
 * accessors, but collected into one plan instead of sent one by one. A create returns
 * a handle that later steps of the same plan accept wherever a node id is expected.
 */

import type { ConditionalWriteOptions, CreateOptions } from "./accessor-types.ts";
import { ifAbsentFieldIds, precondition } from "./node-accessor.ts";
import type { IdOf } from "./node-id.ts";
import type { NodeHandle, NodeIdInput, PlanBuilder } from "./plan-builder.ts";
import { encodeCreate, encodePatch } from "./record-codec.ts";
import type { EdgeTypeMeta, NodeTypeMeta, SchemaMeta } from "./schema-meta.ts";
import type { RefResolver } from "./wire-value-codec.ts";

/** A node id, a node read earlier, or a handle of type `TType` from this plan. */
export type PlanNodeRef<TType extends string> =
  | IdOf<TType>
  | NodeHandle<TType>
  | { readonly id: IdOf<TType> };

/** The options an update or delete step on a node of shape `TNode` takes. */
export type StepOptions<TNode = object> = Pick<
  ConditionalWriteOptions<TNode>,
  "expectedVersion" | "expectedFields"
>;

/** The options a create step takes: create-if-absent on one of `TKey`'s unique keys. */
export type CreateStepOptions<TKey> = Pick<CreateOptions<TKey>, "ifAbsentOn">;

/**
 * Writes to one node type within a plan. `TNode` (the read shape) types
 * `expectedFields`; `TKey` (the unique keys) types `ifAbsentOn`, and is `never` for a
 * type without unique keys.
 */
export interface NodePlanAccessor<
  TType extends string,
  TCreate,
  TPatch,
  TNode = object,
  TKey = never,
> {
  /**
   * Adds a create step; the handle stands for the new node in later steps. With
   * `ifAbsentOn`, it stands for the existing node with the same unique values, if any.
   */
  create(
    input: TCreate,
    ...options: [TKey] extends [never] ? [] : [options?: CreateStepOptions<TKey>]
  ): NodeHandle<TType>;
  /** Adds an update step. */
  update(id: PlanNodeRef<TType>, patch: TPatch, options?: StepOptions<TNode>): void;
  /** Adds a delete step. */
  delete(id: PlanNodeRef<TType>, options?: StepOptions<TNode>): void;
}

/** The properties argument of a link step: optional exactly when `{}` is valid properties. */
export type PlanLinkArgs<TProps> =
  Record<never, never> extends TProps ? [props?: TProps] : [props: TProps];

/** Writes to one edge type within a plan. */
export interface EdgePlanAccessor<TFrom extends string, TTo extends string, TProps> {
  /** Adds a link step. */
  link(from: PlanNodeRef<TFrom>, to: PlanNodeRef<TTo>, ...props: PlanLinkArgs<TProps>): void;
  /** Adds an unlink step. */
  unlink(from: PlanNodeRef<TFrom>, to: PlanNodeRef<TTo>): void;
}

/** The plan's view of every node and edge type, keyed like the client's accessors. */
export function createPlanAccessors(
  plan: PlanBuilder,
  schema: SchemaMeta,
): Record<
  string,
  | NodePlanAccessor<string, object, object, object, object>
  | EdgePlanAccessor<string, string, object>
> {
  const refs: RefResolver = (ref, target, label) => plan.resolveId(ref, target, label);
  const out: Record<
    string,
    | NodePlanAccessor<string, object, object, object, object>
    | EdgePlanAccessor<string, string, object>
  > = {};
  for (const [key, meta] of Object.entries(schema.nodes)) {
    out[key] = nodePlanAccessor(plan, meta, refs);
  }
  for (const [key, meta] of Object.entries(schema.edges)) {
    out[key] = edgePlanAccessor(plan, meta, refs);
  }
  return out;
}

function nodePlanAccessor(
  plan: PlanBuilder,
  meta: NodeTypeMeta,
  refs: RefResolver,
): NodePlanAccessor<string, object, object, object, object> {
  return {
    create: (input, options) =>
      plan.createNode(
        meta.id,
        meta.name,
        encodeCreate(meta, input, refs),
        ifAbsentFieldIds(meta, options?.ifAbsentOn),
      ),
    update(id, patch, options) {
      const { set, clear } = encodePatch(meta, patch, refs);
      plan.updateNode(meta.id, id, set, clear, precondition(meta, options, refs));
    },
    delete(id, options) {
      plan.deleteNode(meta.id, id, precondition(meta, options, refs));
    },
  };
}

function edgePlanAccessor(
  plan: PlanBuilder,
  meta: EdgeTypeMeta,
  refs: RefResolver,
): EdgePlanAccessor<string, string, object> {
  const ends = (from: NodeIdInput, to: NodeIdInput) =>
    [
      { from, fromType: meta.from },
      { to, toType: meta.to },
    ] as const;
  return {
    link(from, to, props) {
      const [f, t] = ends(from, to);
      plan.createEdge(meta.id, f, t, encodeCreate(meta, props ?? {}, refs));
    },
    unlink(from, to) {
      const [f, t] = ends(from, to);
      plan.deleteEdge(meta.id, f, t);
    },
  };
}
