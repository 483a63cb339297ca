/**
 * `TenantReader` over the store: reads of committed state, fields decoded by the
 * newest schema model known. A tenant without a database yet reads as empty; a tenant
 * marked unavailable throws `tenant-unavailable`. Bounds: {@link READ_LIMITS}; page
 * sizes and traversal bounds are clamped, a too-long `getNodes` list is rejected. Node
 * point reads and their visibility decision are in `node-point-reads.ts`, key reads and
 * query pages in `node-reads.ts`, edge pages and traversal in `edge-reads.ts`.
 */

import type {
  Direction,
  Edge,
  Filter,
  Node,
  OrderBy,
  TraversedNode,
} from "../../generated/entdb/v1/entdb_pb.js";
import type { Value } from "../../generated/entdb/v1/values_pb.js";
import type { Schema } from "../../schema/index.ts";
import { type ReadScope, UNRESTRICTED } from "../acl/read-scope.ts";
import type { Page, PlanOutcome, TenantReader, TraverseStep } from "../engine.ts";
import { SearchSnapshots } from "../search/search-snapshots.ts";
import {
  ftsMatchOf,
  type SearchPage,
  type SearchRequest,
  searchTenantDb,
} from "../search/search-sql.ts";
import { EdgeCache } from "./edge-cache.ts";
import { listEdgePage, traverseFrom } from "./edge-reads.ts";
import { explainStoredMismatch } from "./kind-change.ts";
import {
  listMailbox,
  type MailboxPage,
  type MailboxQuery,
  type MailboxUnreadCounts,
  mailboxUnreadCounts,
} from "./mailbox-query.ts";
import { NodeCache } from "./node-cache.ts";
import { nodeOf, unrestrictedNode, visibleNode, visibleNodesByIds } from "./node-point-reads.ts";
import { nodeByKey, queryNodePage } from "./node-reads.ts";
import { decodeOutcome } from "./outcome-codec.ts";
import { QueryPageCache } from "./query-page-cache.ts";
import { READ_LIMITS, type ReadLimits } from "./read-limits.ts";
import type { Store } from "./store.ts";
import { StoreError } from "./store-error.ts";
import type { TenantDb } from "./tenant-db.ts";

export { READ_LIMITS, type ReadLimits } from "./read-limits.ts";

/**
 * Creates the reader of a store. Nodes and edges it returns are frozen and may be shared
 * between reads through `cache` and `edges` (a server passes the ones its applier's
 * commits tell what changed; a cache no commit tells drops a tenant's entries at its
 * first read after a commit). Query pages a reader whose term hides nothing asked for are
 * kept in `pages` until a commit writes a node of their type (`query-page-cache.ts`; a
 * `pages` no commit tells drops them all at the tenant's next commit).
 */
export function createTenantReader(
  store: ReaderStore,
  limits: ReadLimits = READ_LIMITS,
  cache: NodeCache = new NodeCache(),
  edges: EdgeCache = new EdgeCache(),
  pages: QueryPageCache = new QueryPageCache(),
): TenantReader {
  return new StoreReader(store, limits, cache, edges, pages);
}

/**
 * What the reader needs of a store: the tenant's database for a read, the model to
 * decode it by, and every version's model (to explain a value a kind change left behind). A `Store`, or a serving thread's read-only handles (server/threads).
 */
export type ReaderStore = Pick<Store, "readTenant" | "readModel" | "model">;

class StoreReader implements TenantReader {
  readonly #store: ReaderStore;
  readonly #limits: ReadLimits;
  /** Ranked hits of relevance searches, for their later pages (search-snapshots.ts). */
  readonly #snapshots = new SearchSnapshots();
  readonly #cache: NodeCache;
  readonly #edges: EdgeCache;
  readonly #pages: QueryPageCache;

  constructor(
    store: ReaderStore,
    limits: ReadLimits,
    cache: NodeCache,
    edges: EdgeCache,
    pages: QueryPageCache,
  ) {
    this.#store = store;
    this.#limits = limits;
    this.#cache = cache;
    this.#edges = edges;
    this.#pages = pages;
  }

  getNode(
    tenant: string,
    typeId: number,
    id: string,
    scope: ReadScope = UNRESTRICTED,
  ): Node | undefined {
    const db = this.#db(tenant);
    if (!db) return undefined;
    const model = this.#store.readModel(db);
    try {
      if (scope.unrestricted) return unrestrictedNode(this.#cache, db, model, typeId, id);
      const row = visibleNode(db, model, scope, id);
      if (!row || (typeId !== 0 && Number(row.type_id) !== typeId)) return undefined;
      return nodeOf(this.#cache, db, model, row);
    } catch (err) {
      throw this.#explained(err, model);
    }
  }

  getNodes(
    tenant: string,
    typeId: number,
    ids: readonly string[],
    scope: ReadScope = UNRESTRICTED,
  ): Node[] {
    if (ids.length > this.#limits.maxGetNodes) {
      throw new StoreError(
        "too-many",
        `getNodes takes at most ${this.#limits.maxGetNodes} ids per call, got ${ids.length}; split the request.`,
      );
    }
    const db = this.#db(tenant);
    if (!db) return [];
    const model = this.#store.readModel(db);
    try {
      return visibleNodesByIds(this.#cache, db, model, scope, typeId, ids);
    } catch (err) {
      throw this.#explained(err, model);
    }
  }

  getNodeByKey(
    tenant: string,
    typeId: number,
    key: ReadonlyMap<number, Value>,
    scope: ReadScope = UNRESTRICTED,
  ): Node | undefined {
    const db = this.#db(tenant);
    const model = db ? this.#store.readModel(db) : undefined;
    if (!db || !model) return undefined;
    try {
      return nodeByKey(this.#cache, db, model, typeId, key, scope);
    } catch (err) {
      throw this.#explained(err, model);
    }
  }

  queryNodes(
    tenant: string,
    typeId: number,
    query: {
      readonly filters: readonly Filter[];
      readonly orderBy?: OrderBy;
      readonly limit: number;
      readonly cursor: string;
    },
    scope: ReadScope = UNRESTRICTED,
  ): Page<Node> {
    const db = this.#db(tenant);
    const model = db ? this.#store.readModel(db) : undefined;
    if (!db || !model) return { items: [], nextCursor: "" };
    const limit = this.#pageSize(query.limit);
    try {
      return queryNodePage(this.#cache, this.#pages, db, model, typeId, { ...query, limit }, scope);
    } catch (err) {
      throw this.#explained(err, model);
    }
  }

  listEdges(
    tenant: string,
    edgeTypeId: number,
    nodeId: string,
    query: {
      readonly direction: Direction;
      readonly limit: number;
      readonly cursor: string;
      readonly includeCount: boolean;
    },
    scope: ReadScope = UNRESTRICTED,
  ): Page<Edge> & { readonly totalCount?: number } {
    const db = this.#db(tenant);
    if (!db)
      return query.includeCount
        ? { items: [], nextCursor: "", totalCount: 0 }
        : { items: [], nextCursor: "" };
    const model = this.#store.readModel(db);
    const limit = this.#pageSize(query.limit);
    try {
      return listEdgePage(this.#edges, db, model, edgeTypeId, nodeId, { ...query, limit }, scope);
    } catch (err) {
      throw this.#explained(err, model);
    }
  }

  traverse(
    tenant: string,
    startId: string,
    query: {
      readonly edgeTypeIds: readonly number[];
      readonly direction: Direction;
      readonly maxDepth: number;
      readonly maxNodes: number;
      readonly hops?: readonly TraverseStep[];
    },
    scope: ReadScope = UNRESTRICTED,
  ): { readonly nodes: readonly TraversedNode[]; readonly truncated: boolean } {
    const db = this.#db(tenant);
    if (!db) return { nodes: [], truncated: false };
    const model = this.#store.readModel(db);
    try {
      return traverseFrom(this.#cache, db, model, this.#limits, startId, query, scope);
    } catch (err) {
      throw this.#explained(err, model);
    }
  }

  outcomeByKey(tenant: string, idempotencyKey: string): PlanOutcome | undefined {
    const db = this.#db(tenant);
    if (!db) return undefined;
    const row = db
      .stmt(
        "SELECT log_partition, log_offset, schema_version, outcome FROM outcomes WHERE idempotency_key = ?",
      )
      .get(idempotencyKey) as
      | { log_partition: bigint; log_offset: bigint; schema_version: bigint; outcome: string }
      | undefined;
    return row && decodeOutcome(row);
  }

  appliedOffset(tenant: string): number {
    const db = this.#db(tenant);
    return db ? db.state.appliedOffset : 0;
  }

  search(tenant: string, request: SearchRequest, scope: ReadScope = UNRESTRICTED): SearchPage {
    const db = this.#db(tenant);
    const model = db ? this.#store.readModel(db) : undefined;
    if (!db || !model) {
      // No database yet: nothing to find, but a bad query is still a bad query.
      ftsMatchOf(request.query);
      return { hits: [], nextCursor: "" };
    }
    try {
      return searchTenantDb(
        db,
        model,
        { ...request, limit: this.#pageSize(request.limit) },
        scope,
        {
          tenant,
          snapshots: this.#snapshots,
        },
      );
    } catch (err) {
      throw this.#explained(err, model);
    }
  }

  mailbox(tenant: string, query: MailboxQuery, scope: ReadScope = UNRESTRICTED): MailboxPage {
    const db = this.#db(tenant);
    if (!db) return { items: [], nextCursor: "" };
    const limit = this.#pageSize(query.limit);
    const model = this.#store.readModel(db);
    try {
      return listMailbox(db, model, { ...query, limit }, scope);
    } catch (err) {
      throw this.#explained(err, model);
    }
  }

  mailboxUnreadCounts(
    tenant: string,
    recipient: string,
    scope: ReadScope = UNRESTRICTED,
  ): MailboxUnreadCounts {
    const db = this.#db(tenant);
    if (!db) return { total: 0n, byType: [] };
    return mailboxUnreadCounts(db, this.#store.readModel(db), recipient, scope);
  }

  inMailbox(tenant: string, recipient: string, nodeId: string): boolean {
    const db = this.#db(tenant);
    if (!db) return false;
    return (
      db
        .stmt("SELECT 1 FROM mailbox_items WHERE recipient = ? AND node_id = ?")
        .get(recipient, nodeId) !== undefined
    );
  }

  /**
   * What a read throws for `err`: a stored value an allowed kind change left behind
   * becomes `failed-precondition` (kind-change.ts); anything else is `err`.
   */
  #explained(err: unknown, model: Schema | undefined): unknown {
    return explainStoredMismatch(err, model, this.#store);
  }

  #db(tenant: string): TenantDb | undefined {
    return this.#store.readTenant(tenant);
  }

  #pageSize(requested: number): number {
    if (requested <= 0) return this.#limits.defaultPageSize;
    return Math.min(requested, this.#limits.maxPageSize);
  }
}
