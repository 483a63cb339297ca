/**
 * Full-text search in the typed client: `db.ticket.search("printer fire", {...})` over
 * one type, and `db.search("printer", {...})` across every searchable type. Both call
 * `EntDbService/Search` (docs/search.md); hits come decoded like `query` results, with
 * their relevance and the matching fields' snippets keyed by property name.
 */

import type { Node } from "../generated/entdb/v1/entdb_pb.js";
import type { EntDbClientCore } from "./client-core.ts";
import type { ReadOptions } from "./client-core-types.ts";
import type {
  TypeNameOf,
  UnknownNode,
  UnknownTypeName,
  UntypedNode,
  UntypedNodeTypes,
} from "./node-type-map.ts";
import { encodeOrderBy, encodeWhere, type OrderBy } from "./query-filter.ts";
import { decodeNode } from "./record-codec.ts";
import { indexType, type NodeTypeMeta, type SchemaMeta } from "./schema-meta.ts";

/** Options of a search; `where` and `orderBy` as in `query`. */
export interface SearchOptions<TWhere, TOrderBy> extends ReadOptions {
  /** Every condition must hold (a one-type search only). */
  readonly where?: TWhere | undefined;
  /** Orders by a field instead of by relevance (a one-type search only). */
  readonly orderBy?: TOrderBy | undefined;
  /** Page size; the server clamps it to its maximum. */
  readonly limit?: number | undefined;
  /** The `next` of the previous page of the same search. */
  readonly after?: string | undefined;
  /** Markers around each match in snippets; default `[` and `]`. */
  readonly highlight?: { readonly start: string; readonly end: string } | undefined;
  /** Tokens per snippet, 1 to 64; default 16. */
  readonly snippetTokens?: number | undefined;
  /**
   * `html`: the stored text of snippets is HTML-escaped and the markers are put in as
   * given, so `highlight: { start: "<mark>", end: "</mark>" }` gives HTML safe to render.
   */
  readonly escape?: "html" | undefined;
}

/** One hit of a search. */
export interface SearchHit<TNode> {
  readonly node: TNode;
  /** Relevance: higher is more relevant. */
  readonly score: number;
  /** An excerpt of each searchable field that matched, by property name. */
  readonly snippets: { readonly [property: string]: string };
}

/** A hit of a cross-type search whose node is of type `TType` (the accessor name, `ticket`). */
export interface TypedSearchHit<TType extends string, TNode> extends SearchHit<TNode> {
  readonly type: TType;
}

/**
 * A hit of a type the client does not know (a newer schema on the server): kept on the
 * page by type id, so a page is never short without a sign why; the node is not decoded
 * and there are no snippets.
 */
export interface UnknownTypeSearchHit extends SearchHit<UnknownNode> {
  readonly type: UnknownTypeName;
}

/**
 * A hit of a cross-type search (`db.search`, `db.mailbox.search`): a union discriminated
 * by `type`, one member per node type of `TNodes` (a generated client's
 * `SearchableNodeTypes`), plus {@link UnknownTypeSearchHit}. So
 * `if (hit.type === "task") hit.node.title` type-checks. Without a type map, `type` is any
 * string and the node's properties are `unknown`.
 */
export type AnySearchHit<TNodes = UntypedNodeTypes> =
  string extends TypeNameOf<TNodes>
    ? TypedSearchHit<string, UntypedNode>
    :
        | { [K in TypeNameOf<TNodes>]: TypedSearchHit<K, TNodes[K]> }[TypeNameOf<TNodes>]
        | UnknownTypeSearchHit;

/** A page of hits. */
export interface SearchPage<THit> {
  readonly items: THit[];
  /** Absent on the last page. */
  readonly next: string | undefined;
}

/** Options of `db.search`: the accessor names of the types to search (default: all searchable). */
export interface CrossTypeSearchOptions extends SearchOptions<never, never> {
  readonly types?: readonly string[] | undefined;
}

/** The `search` method of one node type's accessor. */
export function createNodeSearch<TNode>(
  core: EntDbClientCore,
  meta: NodeTypeMeta,
): (
  query: string,
  options?: SearchOptions<object, OrderBy<string>>,
) => Promise<SearchPage<SearchHit<TNode>>> {
  return async (query, options = {}) => {
    const response = await core.search(
      {
        query,
        typeIds: [meta.id],
        filters: options.where === undefined ? [] : encodeWhere(meta, options.where),
        ...(options.orderBy === undefined ? {} : { orderBy: encodeOrderBy(meta, options.orderBy) }),
        ...common(options),
      },
      options,
    );
    return {
      // Decoded records have exactly the generated type's properties (same schema).
      items: response.hits.map((hit) => ({
        node: decodeNode(meta, hit.node as Node) as TNode,
        score: hit.score,
        snippets: snippetsOf(meta, hit.snippets),
      })),
      next: response.nextCursor === "" ? undefined : response.nextCursor,
    };
  };
}

/** `db.search`: every searchable type, or those `types` names, ranked together. */
export function createCrossTypeSearch(
  core: EntDbClientCore,
  schema: SchemaMeta,
): (query: string, options?: CrossTypeSearchOptions) => Promise<SearchPage<AnySearchHit>> {
  const byId = new Map(Object.entries(schema.nodes).map(([key, meta]) => [meta.id, { key, meta }]));
  return async (query, options = {}) => {
    const typeIds = (options.types ?? []).map((key) => {
      const meta = schema.nodes[key];
      if (meta === undefined) {
        throw new TypeError(
          `db.search: '${key}' is not a node type of this client; use one of ${Object.keys(schema.nodes).join(", ")}.`,
        );
      }
      return meta.id;
    });
    const response = await core.search({ query, typeIds, ...common(options) }, options);
    const items: AnySearchHit[] = [];
    for (const hit of response.hits) {
      const node = hit.node as Node;
      const type = byId.get(node.typeId);
      // A type this client does not know (a newer schema) cannot be decoded. It stays on
      // the page, by type id, as in a mailbox search: dropping it would leave pages short.
      if (type === undefined) {
        items.push({
          type: `type ${node.typeId}`,
          node: { id: node.id },
          score: hit.score,
          snippets: {},
        });
        continue;
      }
      items.push({
        type: type.key,
        node: decodeNode(type.meta, node) as UntypedNode,
        score: hit.score,
        snippets: snippetsOf(type.meta, hit.snippets),
      });
    }
    return { items, next: response.nextCursor === "" ? undefined : response.nextCursor };
  };
}

function common(options: SearchOptions<unknown, unknown>) {
  return {
    limit: options.limit ?? 0,
    cursor: options.after ?? "",
    ...(options.highlight === undefined
      ? {}
      : { highlightStart: options.highlight.start, highlightEnd: options.highlight.end }),
    snippetTokens: options.snippetTokens ?? 0,
    ...(options.escape === "html" ? { escape: "html" as const } : {}),
  };
}

/** The snippets of a hit, by property name (a field this client does not know is left out). */
export function snippetsOf(
  meta: NodeTypeMeta,
  snippets: readonly { readonly fieldId: number; readonly text: string }[],
): { [property: string]: string } {
  const { propertyById } = indexType(meta);
  const out: { [property: string]: string } = {};
  for (const s of snippets) {
    const property = propertyById.get(s.fieldId);
    if (property !== undefined) out[property] = s.text;
  }
  return out;
}
