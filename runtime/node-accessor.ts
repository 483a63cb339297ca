/**
 * `db.task`: the typed operations on one node type, implemented once over the
 * schema metadata. Generated code supplies only the types (`Task`, `TaskCreate`, …);
 * the metadata and the types come from the same schema, which is what makes the
 * single cast from decoded records to `TNode` sound.
 */

import type {
  ConditionalWriteOptions,
  CreateOptions,
  CreateResult,
  EdgeListFn,
  NodeChange,
  Page,
  QueryOptions,
  WatchOptions,
  WriteOptions,
  WriteResult,
} from "./accessor-types.ts";
import type { EntDbClientCore } from "./client-core.ts";
import type { ReadOptions, WriteReceipt } from "./client-core-types.ts";
import { type IdOf, type NodeId, type TypeOfNode, typedId } from "./node-id.ts";
import { PlanBuilder, type PreconditionInit, type ValueInit } from "./plan-builder.ts";
import { encodeOrderBy, encodeWhere, type OrderBy } from "./query-filter.ts";
import {
  decodeNode,
  encodeCreate,
  encodeExpected,
  encodePatch,
  type FieldValues,
  fieldOf,
} from "./record-codec.ts";
import type { NodeTypeMeta } from "./schema-meta.ts";
import {
  createNodeSearch,
  type SearchHit,
  type SearchOptions,
  type SearchPage,
} from "./search-api.ts";
import { encodeValue, idsOnly, type RefResolver, toInt64 } from "./wire-value-codec.ts";

/**
 * Operations on one node type. Ids are typed by the node's `id` (e.g. `Id<"Task">`): an
 * id of another node type does not compile, a plain string does.
 */
export interface NodeAccessor<TNode, TCreate, TPatch, TWhere, TOrderBy> {
  /** Creates a node; fields left out get their defaults. */
  create(input: TCreate, options?: WriteOptions): Promise<CreateResult<TypeOfNode<TNode>>>;
  /** The node, or `undefined` when it does not exist or the caller may not see it. */
  get(id: IdOf<TypeOfNode<TNode>>, options?: ReadOptions): Promise<TNode | undefined>;
  /** The nodes, in the order of `ids`; `undefined` for each one that does not exist. */
  getMany(
    ids: readonly IdOf<TypeOfNode<TNode>>[],
    options?: ReadOptions,
  ): Promise<(TNode | undefined)[]>;
  /** Changes the given fields: `undefined` keeps a field, `null` clears an optional one. */
  update(
    id: NodeId<TypeOfNode<TNode>>,
    patch: TPatch,
    options?: ConditionalWriteOptions<TNode>,
  ): Promise<WriteResult<TypeOfNode<TNode>>>;
  /** Deletes the node and every edge from or to it. */
  delete(
    id: NodeId<TypeOfNode<TNode>>,
    options?: ConditionalWriteOptions<TNode>,
  ): Promise<WriteReceipt>;
  /** A page of nodes matching `where`. */
  query(options?: QueryOptions<TWhere, TOrderBy>): Promise<Page<TNode>>;
  /**
   * Changes of this type's nodes (or of `ids` only) as they are applied, as an async
   * iterator that resumes by itself after a disconnect; `break` or abort `signal` to stop.
   */
  watch(
    options?: WatchOptions<TypeOfNode<TNode>>,
  ): AsyncGenerator<NodeChange<TNode>, void, undefined>;
}

/**
 * `search` on the accessor of a node type with searchable fields (the generated client
 * adds it to exactly those types).
 */
export interface SearchableAccessor<TNode, TWhere, TOrderBy> {
  /** A page of full-text search hits, most relevant first (docs/search.md). */
  search(
    query: string,
    options?: SearchOptions<TWhere, TOrderBy>,
  ): Promise<SearchPage<SearchHit<TNode>>>;
}

/** Operations on a node type with unique fields: adds `getBy` and create-if-absent. */
export interface KeyedNodeAccessor<TNode, TCreate, TPatch, TWhere, TOrderBy, TKey>
  extends NodeAccessor<TNode, TCreate, TPatch, TWhere, TOrderBy> {
  /**
   * Creates a node; fields left out get their defaults. With `ifAbsentOn`, resolves to
   * the existing node with the same unique values instead (`created: false`).
   */
  create(input: TCreate, options?: CreateOptions<TKey>): Promise<CreateResult<TypeOfNode<TNode>>>;
  /** The node with these unique values (one unique field, or all fields of a composite unique). */
  getBy(key: TKey, options?: ReadOptions): Promise<TNode | undefined>;
}

/**
 * Implements the accessor of `meta` on `core`. `inverses` adds one method per edge
 * type that declares an inverse name and ends at this type.
 */
export function createNodeAccessor<TNode>(
  core: EntDbClientCore,
  meta: NodeTypeMeta,
  inverses: { readonly [name: string]: EdgeListFn<unknown> } = {},
): KeyedNodeAccessor<TNode, object, object, object, OrderBy<string>, object> &
  SearchableAccessor<TNode, object, OrderBy<string>> &
  Record<string, unknown> {
  type TType = TypeOfNode<TNode>;
  // Decoded records have exactly the generated type's properties (same schema).
  const decode = (node: Parameters<typeof decodeNode>[1]): TNode => decodeNode(meta, node) as TNode;

  const runSingle = async (
    build: (plan: PlanBuilder) => void,
    options: WriteOptions | undefined,
  ): Promise<CreateResult<TType>> => {
    const plan = new PlanBuilder();
    build(plan);
    const result = await core.executePlan(plan.operations, planOptions(options));
    const step = result.results[0];
    return {
      id: typedId<TType>(step?.id ?? ""),
      version: step?.version ?? 0n,
      created: step?.created ?? false,
      receipt: result.receipt,
    };
  };

  return {
    ...inverses,
    create: (input, options?: CreateOptions<object>) =>
      runSingle((plan) => {
        plan.createNode(
          meta.id,
          meta.name,
          encodeCreate(meta, input, idsOnly),
          ifAbsentFieldIds(meta, options?.ifAbsentOn),
        );
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

    async update(id, patch, options) {
      const result = await runSingle((plan) => {
        const { set, clear } = encodePatch(meta, patch, idsOnly);
        plan.updateNode(meta.id, id, set, clear, precondition(meta, options, idsOnly));
      }, options);
      // `created` means nothing for an update.
      return { id: result.id, version: result.version, receipt: result.receipt };
    },

    async delete(id, options) {
      const plan = new PlanBuilder();
      plan.deleteNode(meta.id, id, precondition(meta, options, idsOnly));
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

    // On every type at run time; the generated types offer it where the schema has
    // searchable fields, and the server refuses it elsewhere.
    search: createNodeSearch<TNode>(core, meta),
    async *watch(options = {}) {
      const ids = options.ids?.map((id) => idsOnly(id, meta.id, `${meta.name} id`));
      const changes = core.watch({
        ...(ids === undefined ? { nodeTypeIds: [meta.id] } : { nodeIds: ids }),
        ...(options.after === undefined ? {} : { after: options.after }),
        ...(options.fromStart === undefined ? {} : { fromStart: options.fromStart }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      for await (const change of changes) {
        if (change.typeId !== meta.id || change.edge !== undefined) continue;
        const kind =
          change.kind === "nodeCreated"
            ? "created"
            : change.kind === "nodeUpdated"
              ? "updated"
              : "deleted";
        yield {
          kind,
          id: typedId<TType>(change.nodeId),
          node: change.node === undefined ? undefined : decode(change.node),
          position: change.position,
        } as const;
      }
    },

    async getBy(key, options) {
      const node = await core.getNodeByKey({ typeId: meta.id, key: encodeKey(meta, key) }, options);
      return node === undefined ? undefined : decode(node);
    },
  };
}

/** The precondition for `expectedVersion` and `expectedFields`, if either is given. */
export function precondition(
  meta: NodeTypeMeta,
  options: Pick<ConditionalWriteOptions, "expectedVersion" | "expectedFields"> | undefined,
  refs: RefResolver,
): PreconditionInit | undefined {
  const version = options?.expectedVersion;
  const fields = options?.expectedFields;
  if (version === undefined && fields === undefined) return undefined;
  // A type literal, not the `FieldValues` interface: the init type wants an index signature.
  const fieldsEqual: { readonly [fieldId: number]: ValueInit } =
    fields === undefined ? {} : encodeExpected(meta, fields, refs);
  return {
    ...(version === undefined ? {} : { version: toInt64(version, "expectedVersion") }),
    ...(fields === undefined ? {} : { fieldsEqual }),
  };
}

/**
 * The field ids of `ifAbsentOn`, after checking they are exactly one of the type's
 * unique keys (the generated types already say so; this catches untyped callers
 * before anything is sent). An empty list when not given.
 */
export function ifAbsentFieldIds(
  meta: NodeTypeMeta,
  ifAbsentOn: readonly string[] | undefined,
): number[] {
  if (ifAbsentOn === undefined) return [];
  checkUniqueKey(meta, ifAbsentOn, "create with ifAbsentOn");
  return ifAbsentOn.map((property) => fieldOf(meta, property).id);
}

/** Plan options from write options, leaving out what is unset. */
export function planOptions(options: WriteOptions | undefined) {
  return {
    ...(options?.idempotencyKey === undefined ? {} : { idempotencyKey: options.idempotencyKey }),
    ...(options?.signal === undefined ? {} : { signal: options.signal }),
  };
}

/** Throws a `TypeError` unless `properties` are exactly the fields of one unique key. */
function checkUniqueKey(meta: NodeTypeMeta, properties: readonly string[], what: string): void {
  const names = [...properties].sort();
  const keys = meta.keys ?? [];
  const matches = keys.some(
    (k) => k.length === names.length && [...k].sort().every((p, i) => p === names[i]),
  );
  if (!matches) {
    const options = keys.map((k) => `{ ${k.join(", ")} }`).join(" or ");
    throw new TypeError(
      `${meta.name}.${what} needs ${options === "" ? "a unique key, but the type has none" : options}; got { ${names.join(", ")} }.`,
    );
  }
}

/** Encodes a `getBy` key after checking it names exactly one of the type's unique keys. */
function encodeKey(meta: NodeTypeMeta, key: object): FieldValues {
  const given = Object.entries(key).filter(([, value]) => value !== undefined);
  checkUniqueKey(
    meta,
    given.map(([property]) => property),
    "getBy",
  );
  const out: FieldValues = {};
  for (const [property, value] of given) {
    const field = fieldOf(meta, property);
    out[field.id] = encodeValue(field, value, `${meta.name}.${property}`, idsOnly);
  }
  return out;
}
