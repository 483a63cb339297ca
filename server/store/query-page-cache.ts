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
 * the type. Why it is current: a tenant's pages belong to one file handle and are
 * trusted only while that handle's count of committed transactions
 * (`TenantDb.commits`, moved by every applier transaction and by a serving thread's
 * handle when it moves to the writer's later commit) is the count they were kept at;
 * any commit of the tenant drops every page it kept, whatever the commit wrote (a node
 * created, updated or deleted may enter or leave any page of its type, and a schema
 * change may change any of them). A rebuilt or reopened tenant is a new handle.
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
  readonly commits: number;
  readonly pages: Map<string, KeptPage>;
}

interface KeptPage extends Page<Node> {
  readonly tenant: TenantPages;
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

  /** The page kept for `key` in `db`, decoded by `model`, if it is current. */
  page(db: TenantDb, model: Schema, key: string): Page<Node> | undefined {
    const tenant = this.#tenants.get(db.tenant);
    if (tenant === undefined) return undefined;
    if (tenant.db !== db || tenant.commits !== db.commits || tenant.model !== model) {
      this.#dropTenant(tenant);
      return undefined;
    }
    return tenant.pages.get(key);
  }

  /**
   * Keeps `page`, the page the statement just returned for `key` in `db` by `model` in
   * this synchronous turn, for a reader whose term hides nothing; returns the page to
   * answer (the kept one, shared, or `page` itself when it is not kept: a node that is
   * not frozen, or more nodes than the bound).
   */
  keep(db: TenantDb, model: Schema, key: string, page: Page<Node>): Page<Node> {
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
      tenant = { db, model, commits: db.commits, pages: new Map() };
      this.#tenants.set(db.tenant, tenant);
    }
    const old = tenant.pages.get(key);
    if (old !== undefined) this.#remove(old);
    const kept: KeptPage = {
      tenant,
      key,
      items: sharePage([...items]),
      nextCursor: page.nextCursor,
    };
    tenant.pages.set(key, kept);
    this.#order.add(kept);
    this.#nodes += items.length;
    for (const oldest of this.#order) {
      if (this.#nodes <= this.#maxNodes) break;
      this.#remove(oldest);
    }
    return kept;
  }

  #dropTenant(tenant: TenantPages): void {
    for (const kept of tenant.pages.values()) {
      this.#order.delete(kept);
      this.#nodes -= kept.items.length;
    }
    tenant.pages.clear();
    if (this.#tenants.get(tenant.db.tenant) === tenant) this.#tenants.delete(tenant.db.tenant);
  }

  #remove(kept: KeptPage): void {
    this.#order.delete(kept);
    this.#nodes -= kept.items.length;
    const pages = kept.tenant.pages;
    if (pages.get(kept.key) === kept) pages.delete(kept.key);
    if (pages.size === 0 && this.#tenants.get(kept.tenant.db.tenant) === kept.tenant)
      this.#tenants.delete(kept.tenant.db.tenant);
  }
}
