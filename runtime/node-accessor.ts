/**
 * `db.task`: the typed operations on one node type, implemented once over the
 * schema metadata. Generated code supplies only the types (`Task`, `TaskCreate`, …);
 * the metadata and the types come from the same schema, which is what makes the
 * single cast from decoded records to `TNode` sound.
 */

import type {
  ConditionalWriteOptions,
  EdgeListFn,
  NodeId,
  Page,
  QueryOptions,
  WriteOptions,
  WriteResult,
} from "./accessor-types.ts";
import type { EntdbClientCore } from "./client-core.ts";
import type { ReadOptions, WriteReceipt } from "./client-core-types.ts";
import { PlanBuilder, type PreconditionInit } from "./plan-builder.ts";
import { encodeOrderBy, encodeWhere, type OrderBy } from "./query-filter.ts";
import {
  decodeNode,
  encodeCreate,
  encodePatch,
  type FieldValues,
  fieldOf,
} from "./record-codec.ts";
import type { NodeTypeMeta } from "./schema-meta.ts";
import { encodeValue, type Int64Input, idsOnly, toInt64 } from "./value-codec.ts";

/** Operations on one node type. */
export interface NodeAccessor<TNode, TCreate, TPatch, TWhere, TOrderBy> {
  /** Creates a node; fields left out get their defaults. */
  create(input: TCreate, options?: WriteOptions): Promise<WriteResult>;
  /** The node, or `undefined` when it does not exist or the caller may not see it. */
  get(id: string, options?: ReadOptions): Promise<TNode | undefined>;
  /** The nodes, in the order of `ids`; `undefined` for each one that does not exist. */
  getMany(ids: readonly string[], options?: ReadOptions): Promise<(TNode | undefined)[]>;
  /** Changes the given fields: `undefined` keeps a field, `null` clears an optional one. */
  update(id: NodeId, patch: TPatch, options?: ConditionalWriteOptions): Promise<WriteResult>;
  /** Deletes the node and every edge from or to it. */
  delete(id: NodeId, options?: ConditionalWriteOptions): Promise<WriteReceipt>;
  /** A page of nodes matching `where`. */
  query(options?: QueryOptions<TWhere, TOrderBy>): Promise<Page<TNode>>;
}

/** Operations on a node type with unique fields: adds `getBy`. */
export interface KeyedNodeAccessor<TNode, TCreate, TPatch, TWhere, TOrderBy, TKey>
  extends NodeAccessor<TNode, TCreate, TPatch, TWhere, TOrderBy> {
  /** The node with these unique values (one unique field, or all fields of a composite unique). */
  getBy(key: TKey, options?: ReadOptions): Promise<TNode | undefined>;
}

/**
 * Implements the accessor of `meta` on `core`. `inverses` adds one method per edge
 * type that declares an inverse name and ends at this type.
 */
export function createNodeAccessor<TNode>(
  core: EntdbClientCore,
  meta: NodeTypeMeta,
  inverses: { readonly [name: string]: EdgeListFn<unknown> } = {},
): KeyedNodeAccessor<TNode, object, object, object, OrderBy<string>, object> &
  Record<string, unknown> {
  // Decoded records have exactly the generated type's properties (same schema).
  const decode = (node: Parameters<typeof decodeNode>[1]): TNode => decodeNode(meta, node) as TNode;

  const runSingle = async (
    build: (plan: PlanBuilder) => void,
    options: WriteOptions | undefined,
  ): Promise<WriteResult> => {
    const plan = new PlanBuilder();
    build(plan);
    const result = await core.executePlan(plan.operations, planOptions(options));
    const step = result.results[0];
    return { id: step?.id ?? "", version: step?.version ?? 0n, receipt: result.receipt };
  };

  return {
    ...inverses,
    create: (input, options) =>
      runSingle((plan) => {
        plan.createNode(meta.id, meta.name, encodeCreate(meta, input, idsOnly));
      }, options),

    async get(id, options) {
      const node = await core.getNode(
        { typeId: meta.id, id: idsOnly(id, meta.id, `${meta.name} id`) },
        options,
      );
      return node === undefined ? undefined : decode(node);
    },

    async getMany(ids, options) {
      const response = await core.getNodes({ typeId: meta.id, ids }, options);
      const byId = new Map(response.nodes.map((node) => [node.id, node]));
      return ids.map((id) => {
        const node = byId.get(id);
        return node === undefined ? undefined : decode(node);
      });
    },

    update: (id, patch, options) =>
      runSingle((plan) => {
        const { set, clear } = encodePatch(meta, patch, idsOnly);
        plan.updateNode(meta.id, id, set, clear, precondition(options?.expectedVersion));
      }, options),

    async delete(id, options) {
      const plan = new PlanBuilder();
      plan.deleteNode(meta.id, id, precondition(options?.expectedVersion));
      return (await core.executePlan(plan.operations, planOptions(options))).receipt;
    },

    async query(options = {}) {
      const response = await core.queryNodes(
        {
          typeId: meta.id,
          filters: options.where === undefined ? [] : encodeWhere(meta, options.where),
          ...(options.orderBy === undefined
            ? {}
            : { orderBy: encodeOrderBy(meta, options.orderBy) }),
          limit: options.limit ?? 0,
          cursor: options.after ?? "",
        },
        options,
      );
      return {
        items: response.nodes.map(decode),
        next: response.nextCursor === "" ? undefined : response.nextCursor,
      };
    },

    async getBy(key, options) {
      const node = await core.getNodeByKey({ typeId: meta.id, key: encodeKey(meta, key) }, options);
      return node === undefined ? undefined : decode(node);
    },
  };
}

/** The precondition for `expectedVersion`, if given. */
export function precondition(
  expectedVersion: Int64Input | undefined,
): PreconditionInit | undefined {
  return expectedVersion === undefined
    ? undefined
    : { version: toInt64(expectedVersion, "expectedVersion") };
}

/** Plan options from write options, leaving out what is unset. */
export function planOptions(options: WriteOptions | undefined) {
  return {
    ...(options?.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey }),
    ...(options?.signal === undefined ? {} : { signal: options.signal }),
  };
}

/** Encodes a `getBy` key after checking it names exactly one of the type's unique keys. */
function encodeKey(meta: NodeTypeMeta, key: object): FieldValues {
  const given = Object.entries(key).filter(([, value]) => value !== undefined);
  const names = given.map(([property]) => property).sort();
  const keys = meta.keys ?? [];
  const matches = keys.some(
    (k) => k.length === names.length && [...k].sort().every((p, i) => p === names[i]),
  );
  if (!matches) {
    const options = keys.map((k) => `{ ${k.join(", ")} }`).join(" or ");
    throw new TypeError(
      `${meta.name}.getBy needs ${options === "" ? "a unique key, but the type has none" : options}; got { ${names.join(", ")} }.`,
    );
  }
  const out: FieldValues = {};
  for (const [property, value] of given) {
    const field = fieldOf(meta, property);
    out[field.id] = encodeValue(field, value, `${meta.name}.${property}`, idsOnly);
  }
  return out;
}
