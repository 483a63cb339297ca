/**
 * Query pages kept whole: the nodes and the cursor a node type's query answered, by the
 * query (type, filters, order, limit, cursor), so the same query asked again is answered
 * without its statement, its cache lookups or its cursor's encoding; a kept page is a
 * shared array (`sharePage`) whose encoded answer the API's encoder keeps, so the same
 * query's answers after the first are that one array of bytes.
 *
 * What it guarantees: a kept page is the page the query's statement returns on the
 * current committed state of the open tenant file it was read from, decoded by the
 * schema model it was decoded with, for a reader whose visibility term hides no node of
 * the type. What a page depends on: the `nodes` rows of its one type and nothing else.
 * The statement (`node-query.ts`) reads only `nodes`, restricted to the type's
 * `type_id`; its filters and order are terms over that row's own payload (a ref field
 * is an id stored in the row, never followed; no filter goes through edges); the
 * visibility term is absent (a page is kept only for a reader it hides nothing from);
 * and the nodes are decoded by the model. Only `server/apply/node-ops.ts` writes `nodes`
 * rows, inside the applier's transaction, and only for the type its step names: a
 * create inserts a row of `type_id`; an update and a delete refuse a node whose stored
 * type is not the step's `type_id` (`nodeRowOfType`) and never change a row's type; a
 * delete removes the row (its tombstone and its edges are other tables) and
 * `if_absent_on` resolves only to a node of the step's type. Edges, grants, tombstones,
 * full-text rows and mailbox rows are in other tables.
 *
 * Why it is current: a tenant's pages belong to one file handle and are trusted only
 * while that handle's count of committed transactions (`TenantDb.commits`) is the count
 * the cache was last told about. The applier's commits tell it ({@link committed},
 * wired by `server.ts`, right after `TenantDb.commitState`) what they applied: a commit
 * of plans drops the pages of every node type a create, update or delete step of theirs
 * names (the step's `type_id`, whether the step wrote or failed) and keeps the others;
 * a commit holding any other event (a schema change, an access change, a mailbox
 * change) drops every page of the tenant. A commit the cache was not told about drops
 * every page at the next read: another applier, and a serving thread's read-only handle
 * moving to the writer's later commit (`TenantDb.refresh` counts a commit, and
 * `server/threads/` tells its caches nothing of what it wrote, so on a serving thread
 * any commit of the tenant drops all its pages). A rebuilt or reopened tenant is a new
 * handle, and a newer model drops the tenant's pages too.
 *
 * Access control stays with the query: a page is kept and answered only for a reader
 * whose term hides nothing of the type (`node-reads.ts` decides that on every call,
 * from the reader's scope and the tenant's access facts as of now); every other reader
 * runs the statement with its term in it. Readers whose term hides nothing all read the
 * same rows, so one kept page serves them all.
 *
 * What it assumes: callers never mutate a returned page (it is frozen). Bounded by the
 * nodes its pages hold; the pages kept first are dropped first.
 */

import type { Filter, Node, OrderBy } from "../../generated/entdb/v1/entdb_pb.js";
import type { WalEvent } from "../../generated/entdb/v1/wal_pb.js";
import type { Schema } from "../../schema/index.ts";
import type { Page } from "../engine.ts";
import { sharePage } from "./edge-cache.ts";
import { filtersKey } from "./filters-key.ts";
import type { TenantDb } from "./tenant-db.ts";

/** The default bound of a reader's kept query pages, in the nodes they hold. */
export const DEFAULT_QUERY_PAGE_NODES = 262_144;

/** The pages of one tenant, all read from one open file handle by one model. */
interface TenantPages {
  readonly db: TenantDb;
  readonly model: Schema;
  /** The handle's {@link TenantDb.commits} the pages are current as of. */
  commits: number;
  /** By node type, then by key. */
  readonly byType: Map<number, Map<string, KeptPage>>;
}

interface KeptPage extends Page<Node> {
  readonly tenant: TenantPages;
  readonly typeId: number;
  readonly key: string;
}

/** The query a page answers, as `queryNodePage` takes it. */
export interface PageQuery {
  readonly filters: readonly Filter[];
  readonly orderBy?: OrderBy;
  readonly limit: number;
  readonly cursor: string;
}

/**
 * The key of `query` on `typeId`, or undefined when it is not kept (filters the key of
 * `filters-key.ts` does not cover, an order with unknown fields, a long cursor). Every
 * part is delimited or length-prefixed, so two queries share a key only if they ask the
 * same thing.
 */
export function pageKey(typeId: number, query: PageQuery): string | undefined {
  const order = query.orderBy;
  if (order?.$unknown !== undefined && order.$unknown.length > 0) return undefined;
  if (query.cursor.length > MAX_CURSOR_LENGTH) return undefined;
  const filters = filtersKey(query.filters);
  if (filters === undefined) return undefined;
  const orderKey = order === undefined ? "-" : `${order.fieldId},${order.descending ? 1 : 0}`;
  return `${typeId};${orderKey};${query.limit};${query.cursor.length}:${query.cursor}${filters}`;
}

/** Longest cursor a kept page's key holds. */
const MAX_CURSOR_LENGTH = 512;

/** Kept query pages by tenant and query; see the module comment. */
export class QueryPageCache {
  readonly #maxNodes: number;
  /** Nodes held by the kept pages. */
  #nodes = 0;
  /** Every kept page, the first kept first. */
  readonly #order = new Set<KeptPage>();
  readonly #tenants = new Map<string, TenantPages>();

  constructor(maxNodes: number = DEFAULT_QUERY_PAGE_NODES) {
    this.#maxNodes = maxNodes;
  }

  /** Pages kept. */
  get size(): number {
    return this.#order.size;
  }

  /**
   * The page kept for `key` (a query on `typeId`, {@link pageKey}) in `db`, decoded by
   * `model`, if it is current.
   */
  page(db: TenantDb, model: Schema, typeId: number, key: string): Page<Node> | undefined {
    const tenant = this.#tenants.get(db.tenant);
    if (tenant === undefined) return undefined;
    if (tenant.db !== db || tenant.commits !== db.commits || tenant.model !== model) {
      this.#dropTenant(tenant);
      return undefined;
    }
    return tenant.byType.get(typeId)?.get(key);
  }

  /**
   * Keeps `page`, the page the statement just returned for `key` in `db` by `model` in
   * this synchronous turn, for a reader whose term hides nothing; returns the page to
   * answer (the kept one, shared, or `page` itself when it is not kept: a node that is
   * not frozen, or more nodes than the bound).
   */
  keep(db: TenantDb, model: Schema, typeId: number, key: string, page: Page<Node>): Page<Node> {
    const items = page.items;
    if (items.length > this.#maxNodes) return page;
    for (const node of items) if (!Object.isFrozen(node)) return page;
    let tenant = this.#tenants.get(db.tenant);
    if (
      tenant !== undefined &&
      (tenant.db !== db || tenant.commits !== db.commits || tenant.model !== model)
    ) {
      this.#dropTenant(tenant);
      tenant = undefined;
    }
    if (tenant === undefined) {
      tenant = { db, model, commits: db.commits, byType: new Map() };
      this.#tenants.set(db.tenant, tenant);
    }
    let pages = tenant.byType.get(typeId);
    if (pages === undefined) {
      pages = new Map();
      tenant.byType.set(typeId, pages);
    }
    const old = pages.get(key);
    if (old !== undefined) this.#remove(old);
    const kept: KeptPage = {
      tenant,
      typeId,
      key,
      items: sharePage([...items]),
      nextCursor: page.nextCursor,
    };
    pages.set(key, kept);
    this.#order.add(kept);
    this.#nodes += items.length;
    for (const oldest of this.#order) {
      if (this.#nodes <= this.#maxNodes) break;
      this.#remove(oldest);
    }
    return kept;
  }

  /**
   * Told by the applier right after a transaction of `tenant` committed (its handle's
   * {@link TenantDb.commits} moved by one) with the events it applied: drops the pages
   * of the node types their plans' node steps name, or every page of the tenant when an
   * event is not a plan or the pages missed an earlier commit. The pages left are then
   * current as of this commit.
   */
  committed(tenant: string, events: readonly { readonly event: WalEvent }[]): void {
    const pages = this.#tenants.get(tenant);
    if (pages === undefined) return;
    // Only pages current before this commit are current after it.
    const types = pages.commits === pages.db.commits - 1 ? nodeTypesWritten(events) : undefined;
    if (types === undefined) {
      this.#dropTenant(pages);
      return;
    }
    for (const typeId of types) {
      const ofType = pages.byType.get(typeId);
      if (ofType === undefined) continue;
      for (const kept of ofType.values()) {
        this.#order.delete(kept);
        this.#nodes -= kept.items.length;
      }
      pages.byType.delete(typeId);
    }
    pages.commits = pages.db.commits;
  }

  #dropTenant(tenant: TenantPages): void {
    for (const ofType of tenant.byType.values()) {
      for (const kept of ofType.values()) {
        this.#order.delete(kept);
        this.#nodes -= kept.items.length;
      }
    }
    tenant.byType.clear();
    if (this.#tenants.get(tenant.db.tenant) === tenant) this.#tenants.delete(tenant.db.tenant);
  }

  #remove(kept: KeptPage): void {
    this.#order.delete(kept);
    this.#nodes -= kept.items.length;
    const byType = kept.tenant.byType;
    const pages = byType.get(kept.typeId);
    if (pages === undefined || pages.get(kept.key) !== kept) return;
    pages.delete(kept.key);
    if (pages.size > 0) return;
    byType.delete(kept.typeId);
    if (byType.size === 0 && this.#tenants.get(kept.tenant.db.tenant) === kept.tenant)
      this.#tenants.delete(kept.tenant.db.tenant);
  }
}

/**
 * The node types whose `nodes` rows `events` may have written: the `type_id` of every
 * create, update and delete step of their plans (see the module comment); undefined
 * when an event is not a plan (a schema change, an access or a mailbox change), after
 * which every page of the tenant goes.
 */
function nodeTypesWritten(
  events: readonly { readonly event: WalEvent }[],
): ReadonlySet<number> | undefined {
  const types = new Set<number>();
  for (const { event } of events) {
    const body = event.body;
    if (body.case !== "plan") return undefined;
    for (const { op } of body.value.operations) {
      if (op.case === "createNode" || op.case === "updateNode" || op.case === "deleteNode")
        types.add(op.value.typeId);
    }
  }
  return types;
}
