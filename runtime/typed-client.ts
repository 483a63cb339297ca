/**
 * Assembles a generated client: one accessor per node and edge type (keyed by the
 * lowerCamelCase type name, as in the metadata), inverse-name methods on the target
 * node types, and `atomic` for multi-step plans. Generated code declares the client's
 * type and calls `createTypedClient<Client>(schema, options)` — like protobuf-es's
 * `messageDesc<T>()`, the generated declaration is what ties metadata to types.
 */

import { Direction } from "../generated/entdb/v1/entdb_pb.js";
import type { EdgeListFn, WriteOptions } from "./accessor-types.ts";
import { EntDbClientCore } from "./client-core.ts";
import type { ClientOptions, WriteReceipt } from "./client-core-types.ts";
import { createEdgeAccessor, createEdgeLister } from "./edge-accessor.ts";
import type { MailboxApi } from "./mailbox-api.ts";
import { createNodeAccessor, planOptions } from "./node-accessor.ts";
import type { IdOf } from "./node-id.ts";
import type { UntypedNodeTypes } from "./node-type-map.ts";
import { createPlanAccessors } from "./plan-accessor.ts";
import { NodeHandle, PlanBuilder } from "./plan-builder.ts";
import type { SchemaMeta } from "./schema-meta.ts";
import {
  type AnySearchHit,
  type CrossTypeSearchOptions,
  createCrossTypeSearch,
  type SearchPage,
} from "./search-api.ts";

/** What `db.atomic`'s callback may return: handles (or arrays of them) by name, or nothing. */
export type AtomicShape =
  // biome-ignore lint/suspicious/noConfusingVoidType: a callback that returns nothing is inferred as `void`, which `undefined` does not accept.
  | void
  | ({ readonly [key: string]: NodeHandle<string> | readonly NodeHandle<string>[] } & {
      /** Reserved for the receipt in the result. */
      readonly receipt?: never;
    });

/** What `db.atomic` resolves to: the created ids under the callback's keys, plus the receipt. */
export type AtomicResult<R> = ([R] extends [object]
  ? {
      readonly [K in keyof R]: R[K] extends readonly NodeHandle<infer T>[]
        ? IdOf<T>[]
        : R[K] extends NodeHandle<infer T>
          ? IdOf<T>
          : string;
    }
  : unknown) & { readonly receipt: WriteReceipt };

/**
 * The members every generated client has besides its accessors. `TNodes` are the node
 * types by accessor name (what mailbox items carry) and `TSearchable` those with
 * searchable fields (what search hits carry): a generated client passes its `NodeTypes`
 * and `SearchableNodeTypes`, so results across types are unions discriminated by `type`.
 */
export interface ClientBase<TPlan, TNodes = UntypedNodeTypes, TSearchable = TNodes> {
  /** The untyped client underneath: receipts, positions, raw reads, traversal. */
  readonly core: EntDbClientCore;
  /**
   * Runs the steps `build` adds as one atomic plan: all commit or none. Handles that
   * `build` returns resolve to the created nodes' ids.
   */
  atomic<R extends AtomicShape>(
    build: (plan: TPlan) => R,
    options?: WriteOptions,
  ): Promise<AtomicResult<R>>;
  /**
   * Full-text search across every type with searchable fields (or `types`), ranked
   * together, most relevant first (docs/search.md).
   */
  search(
    query: string,
    options?: CrossTypeSearchOptions,
  ): Promise<SearchPage<AnySearchHit<TSearchable>>>;
  /** The caller's own mailbox (docs/mailbox.md): list, unread counts, mark read, archive, star. */
  readonly mailbox: MailboxApi<TNodes, TSearchable>;
}

/**
 * Builds a client over `schema`. `TClient` must be the client type generated from the
 * same schema; generated `createClient` functions are the intended callers.
 */
export function createTypedClient<TClient>(schema: SchemaMeta, options: ClientOptions): TClient {
  const core = new EntDbClientCore({ ...options, schema });
  const client: Record<string, unknown> = {};

  const inverses = new Map<number, Record<string, EdgeListFn<unknown>>>();
  for (const edge of Object.values(schema.edges)) {
    if (edge.inverse === undefined) continue;
    const methods = inverses.get(edge.to) ?? {};
    methods[edge.inverse] = createEdgeLister(core, edge, Direction.IN);
    inverses.set(edge.to, methods);
  }
  for (const [key, meta] of Object.entries(schema.nodes)) {
    client[key] = createNodeAccessor(core, meta, inverses.get(meta.id));
  }
  for (const [key, meta] of Object.entries(schema.edges)) {
    client[key] = createEdgeAccessor(core, meta);
  }

  const base: ClientBase<unknown> = {
    core,
    search: createCrossTypeSearch(core, schema),
    mailbox: core.mailbox,
    async atomic<R extends AtomicShape>(
      build: (plan: unknown) => R,
      writeOptions?: WriteOptions,
    ): Promise<AtomicResult<R>> {
      const plan = new PlanBuilder();
      const returned = build(createPlanAccessors(plan, schema));
      if (plan.operations.length === 0) {
        throw new TypeError("The atomic plan has no steps; add at least one write.");
      }
      const result = await core.executePlan(plan.operations, planOptions(writeOptions));
      const idOf = (handle: unknown, key: string): string => {
        if (!(handle instanceof NodeHandle) || !handle.belongsTo(plan)) {
          throw new TypeError(`db.atomic: '${key}' must be a handle created by this plan.`);
        }
        return result.results[handle.operationIndex]?.id ?? "";
      };
      const ids: Record<string, string | string[]> = {};
      if (returned !== undefined) {
        for (const [key, value] of Object.entries(returned)) {
          ids[key] = Array.isArray(value)
            ? value.map((h: unknown, i) => idOf(h, `${key}[${i}]`))
            : idOf(value, key);
        }
      }
      // `ids` holds exactly the keys of `returned`, each mapped as AtomicResult says.
      return { ...ids, receipt: result.receipt } as AtomicResult<R>;
    },
  };
  Object.assign(client, base);
  // The client's members are built from the same schema the generated `TClient` describes.
  return client as TClient;
}
