/**
 * Decoded edges, shared by edge listings as `node-cache.ts` shares nodes, kept per node:
 * one entry per (tenant, edge type, direction, node) holds that node's decoded edges by
 * the id at their other end, and the order of its first other ends as its index returned
 * them. A listing finds its node's entry once (no key per edge), takes its page's ids
 * from the entry's order when it may read every edge there (no statement at all), or
 * reads them from the index; then takes the edges the entry holds as they are (the
 * API's encoder copies their kept wire bytes), reading and decoding only the rows it
 * lacks. The first page last answered from the order is kept whole, a frozen array
 * whose encoded bytes the API's encoder keeps too ({@link sharePage}), so an answer
 * that repeats it copies one run of bytes (or is the answer it last gave, with the same
 * cursor and count); it goes whenever the order goes.
 *
 * What it guarantees: a cached edge is the current committed state of its row in the
 * open tenant file it was read from, decoded by the schema model it was decoded with,
 * and a cached order is the current committed order of the node's first other ends
 * (all of them when it says so), as `node-cache.ts` guarantees for nodes and for the
 * same reasons: a tenant's entries are trusted only while its handle's count of
 * committed transactions (`TenantDb.commits`) is the count the cache was last told
 * about ({@link committed}, wired by `server.ts` to the applier's commits). A commit
 * drops, for each edge a plan created or deleted, that edge and the order of both its
 * ends; a node's deletion, which deletes its edges without naming them, drops the
 * node's entries and every order of the tenant (its neighbours' orders held it); a
 * schema change or a plan that may name nodes by a minted id it resolved elsewhere
 * (`namesNodesTouched`) drops every entry of the tenant, and so does a commit the cache
 * was not told about. An edge left behind in a neighbour's entry by a node's deletion is
 * never answered: only an order or a statement names the edges a listing returns, and an
 * edge created again with the same ends is named by its own step. Only
 * `server/apply/edge-ops.ts` and `node-ops.ts` write `edges` rows, in the applier's
 * transaction.
 *
 * Access control stays with the listing: an order is a page's ids only for a reader
 * whose visibility term hides no edge of it (`edge-reads.ts` reads the statement, with
 * the term, otherwise), and an `Edge` holds nothing that depends on the reader.
 *
 * Bounded by a count of edges and ordered ids held; the least recently used entries are
 * evicted first (an entry moves to the recent end only when it is in the older half and
 * the cache fills more than half its bound, which keeps hits cheap, as in `node-cache.ts`).
 */

import type { Edge, Node } from "../../generated/entdb/v1/entdb_pb.js";
import type { WalEvent } from "../../generated/entdb/v1/wal_pb.js";
import type { Schema } from "../../schema/index.ts";
import { freezeMessage, namesNodesTouched, WIRE } from "./node-cache.ts";
import { type EdgeRow, edgeFromRow } from "./row-codec.ts";
import type { TenantDb } from "./tenant-db.ts";

/** The default bound of a server's edge cache, in edges and ordered ids held. */
export const DEFAULT_EDGE_CACHE_ENTRIES = 50_000;

/** The entries of one tenant, all read from one open file handle. */
export interface TenantEdges {
  readonly db: TenantDb;
  /** The handle's {@link TenantDb.commits} the entries are current as of. */
  commits: number;
  /** Moved by a node's deletion: an order taken before it may hold the deleted node. */
  orders: number;
  /** By `edgeTypeId * 2 + (inbound ? 1 : 0)`, then by node id. */
  readonly lists: Map<number, Map<string, NodeEdges>>;
}

/**
 * One node's edges of one type in one direction, as far as they are cached. A handle a
 * listing gets from {@link EdgeCache.list} and passes back; its fields are the cache's.
 */
export interface NodeEdges {
  readonly tenant: TenantEdges | undefined;
  readonly model: Schema | undefined;
  readonly node: string;
  /** Which map of `tenant.lists` it is in. */
  readonly slot: number;
  /** Decoded edges by the id at their other end. */
  readonly edges: Map<string, Edge>;
  /** The node's first other ends in index order, taken at `orders`; undefined when not known. */
  order: readonly string[] | undefined;
  /** Whether `order` holds every other end of the node. */
  complete: boolean;
  /** The tenant's `orders` when `order` was taken. */
  orders: number;
  /** The first page last answered from `order`, shared by the answers that repeat it; cleared with `order`. */
  first: FirstPage | undefined;
  /** The clock when it was last moved to the recent end. */
  used: number;
  /** Whether the cache holds it (an entry evicted during its own read is not). */
  held: boolean;
}

/**
 * A first page of a node's edges answered from its order: its limit, its edges (a frozen
 * array with a {@link PageWireBox}, so the API's encoder keeps the page's bytes) and its
 * cursor.
 */
export interface FirstPage {
  readonly limit: number;
  readonly items: readonly Edge[];
  readonly nextCursor: string;
}

/**
 * Where a shared page's array keeps the bytes of its edges (or nodes) as the repeated
 * field `fieldNo` of an answer (each message's tag, length and bytes), once encoded: the
 * one mutable part of a frozen array, a non-enumerable property under the messages'
 * `WIRE`. Also the whole answer last written from them (`answer`), with the values of
 * the answer's other fields it was written with (`answerTail`), so an answer with the
 * same values is that one array.
 */
export interface PageWireBox {
  fieldNo: number;
  bytes: Uint8Array | undefined;
  answer: Uint8Array | undefined;
  answerTail: readonly unknown[];
}

/** The wire box of a page array {@link EdgeCache.keepFirst} shared, or undefined. */
export function pageWireBoxOf(items: readonly object[]): PageWireBox | undefined {
  return (items as { [WIRE]?: PageWireBox })[WIRE];
}

/**
 * Freezes `items`, a page of frozen edges or nodes, and gives it a {@link PageWireBox}:
 * the array is then shared by the answers that repeat the page, which copy its kept bytes.
 */
export function sharePage<T extends Edge | Node>(items: T[]): readonly T[] {
  Object.defineProperty(items, WIRE, {
    value: {
      fieldNo: 0,
      bytes: undefined,
      answer: undefined,
      answerTail: [],
    } satisfies PageWireBox,
  });
  return Object.freeze(items);
}

/** An LRU of decoded, frozen edges by node; see the module comment. */
export class EdgeCache {
  readonly #maxEntries: number;
  /** Edges and ordered ids held by the entries. */
  #count = 0;
  /** Counts insertions and moves, to tell how far from the recent end an entry is. */
  #clock = 0;
  /** Every entry, least recently used first. */
  readonly #order = new Set<NodeEdges>();
  /** By tenant: the entries of its file handle (those of an earlier handle are gone). */
  readonly #tenants = new Map<string, TenantEdges>();

  constructor(maxEntries: number = DEFAULT_EDGE_CACHE_ENTRIES) {
    this.#maxEntries = maxEntries;
  }

  /** Edges held, counted once in each node's entry that holds it. */
  get size(): number {
    let n = 0;
    for (const entry of this.#order) n += entry.edges.size;
    return n;
  }

  /**
   * The entries of `db`'s tenant if they are current for `db`; otherwise drops them
   * (an earlier handle's, or a commit the cache was not told about) and returns undefined.
   */
  #current(db: TenantDb): TenantEdges | undefined {
    const tenant = this.#tenants.get(db.tenant);
    if (tenant === undefined) return undefined;
    if (tenant.db === db && tenant.commits === db.commits) return tenant;
    this.dropTenant(db.tenant);
    return undefined;
  }

  /**
   * The entry of `nodeId`'s edges of `edgeTypeId` in `db` (its edges `inbound` or
   * outbound), for a read decoding by `model`: the one held, or a new one (held unless
   * the cache holds nothing).
   */
  list(
    db: TenantDb,
    model: Schema | undefined,
    edgeTypeId: number,
    inbound: boolean,
    nodeId: string,
  ): NodeEdges {
    const slot = edgeTypeId * 2 + (inbound ? 1 : 0);
    let tenant = this.#current(db);
    const hit = tenant?.lists.get(slot)?.get(nodeId);
    if (hit !== undefined && hit.model === model) {
      if (this.#count > this.#maxEntries / 2 && this.#clock - hit.used > this.#order.size / 2) {
        this.#order.delete(hit);
        this.#order.add(hit);
        hit.used = ++this.#clock;
      }
      return hit;
    }
    if (hit !== undefined) this.#remove(hit);
    if (this.#maxEntries === 0) return detached(model, nodeId, slot);
    if (tenant === undefined) {
      tenant = { db, commits: db.commits, orders: 0, lists: new Map() };
      this.#tenants.set(db.tenant, tenant);
    }
    let nodes = tenant.lists.get(slot);
    if (nodes === undefined) {
      nodes = new Map();
      tenant.lists.set(slot, nodes);
    }
    const entry: NodeEdges = {
      tenant,
      model,
      node: nodeId,
      slot,
      edges: new Map(),
      order: undefined,
      complete: false,
      orders: tenant.orders,
      first: undefined,
      used: ++this.#clock,
      held: true,
    };
    nodes.set(nodeId, entry);
    this.#order.add(entry);
    this.#count += 1;
    this.#evict();
    return entry;
  }

  /**
   * The other ends of the page of `list` after `afterOther` (from the start when
   * undefined) of at most `limit` edges, and whether more follow, from its order: only
   * when the order is current and reaches past the page or holds every edge. Undefined
   * otherwise (and when the order does not hold `afterOther`).
   */
  page(
    list: NodeEdges,
    afterOther: string | undefined,
    limit: number,
  ): { readonly others: string[]; readonly more: boolean } | undefined {
    const order = list.order;
    if (order === undefined || list.orders !== list.tenant?.orders) return undefined;
    const start = afterOther === undefined ? 0 : order.indexOf(afterOther) + 1;
    if (start === 0 && afterOther !== undefined) return undefined;
    const end = start + limit;
    if (end < order.length) return { others: order.slice(start, end), more: true };
    if (!list.complete) return undefined;
    return { others: order.slice(start), more: false };
  }

  /** How many edges `list`'s node has, when its current order holds them all. */
  count(list: NodeEdges): number | undefined {
    return list.order !== undefined && list.complete && list.orders === list.tenant?.orders
      ? list.order.length
      : undefined;
  }

  /** The first page of `limit` edges kept for `list`, while its order is current. */
  firstPage(list: NodeEdges, limit: number): FirstPage | undefined {
    const first = list.first;
    return first !== undefined && first.limit === limit && list.orders === list.tenant?.orders
      ? first
      : undefined;
  }

  /**
   * Keeps `items` (its array is then frozen) and `nextCursor` as `list`'s first page of
   * `limit` edges, just answered from its current order, when every edge is shared.
   */
  keepFirst(list: NodeEdges, limit: number, items: Edge[], nextCursor: string): void {
    if (!list.held || list.order === undefined || list.orders !== list.tenant?.orders) return;
    for (const edge of items) if (!Object.isFrozen(edge)) return;
    list.first = { limit, items: sharePage(items), nextCursor };
  }

  /**
   * Keeps `others`, the first other ends of `list`'s node in index order as a statement
   * just read them when asked for `asked` of them (all of them when fewer came back).
   */
  remember(list: NodeEdges, others: readonly string[], asked: number): void {
    const tenant = list.tenant;
    if (tenant === undefined) return;
    const before = list.order?.length ?? 0;
    list.order = others.slice();
    list.first = undefined;
    list.complete = others.length < asked;
    list.orders = tenant.orders;
    if (!list.held) return;
    this.#count += others.length - before;
    this.#evict();
  }

  /**
   * The edge of `row` (a committed row of `list`'s node, just read), decoded by the
   * entry's model, kept in `list`: the one the node's entry at the other end holds if it
   * holds it, else decoded here.
   */
  edge(list: NodeEdges, row: EdgeRow): Edge {
    const inbound = (list.slot & 1) === 1;
    const other = inbound ? row.from_id : row.to_id;
    const opposite = list.tenant?.lists.get(list.slot ^ 1)?.get(other);
    let edge = opposite?.model === list.model ? opposite?.edges.get(list.node) : undefined;
    if (edge === undefined) {
      edge = edgeFromRow(list.model, row);
      if (list.tenant === undefined || !freezeMessage(edge)) return edge;
    }
    const had = list.edges.has(other);
    list.edges.set(other, edge);
    if (list.held && !had) {
      this.#count += 1;
      this.#evict();
    }
    return edge;
  }

  /**
   * Told by the applier right after a transaction of `tenant` committed, with the events
   * it applied: drops what they made stale (see the module comment); the entries left
   * are then current as of this commit.
   */
  committed(tenant: string, events: readonly { readonly event: WalEvent }[]): void {
    const edges = this.#tenants.get(tenant);
    if (edges === undefined) return;
    for (const { event } of events) {
      if (!namesNodesTouched(event)) {
        this.dropTenant(tenant);
        return;
      }
      const body = event.body;
      if (body.case !== "plan") continue;
      for (const { op } of body.value.operations) {
        if (op.case === "createEdge" || op.case === "deleteEdge") {
          const { edgeTypeId, fromId, toId } = op.value;
          this.#forget(edges.lists.get(edgeTypeId * 2)?.get(fromId), toId);
          this.#forget(edges.lists.get(edgeTypeId * 2 + 1)?.get(toId), fromId);
        } else if (op.case === "deleteNode") {
          edges.orders++;
          for (const nodes of edges.lists.values()) {
            const entry = nodes.get(op.value.id);
            if (entry !== undefined) this.#remove(entry);
          }
        }
      }
    }
    // Only a record current before this commit is current after it: one that missed an
    // earlier commit stays behind, and its next read drops it.
    if (this.#tenants.get(tenant) === edges && edges.commits === edges.db.commits - 1)
      edges.commits = edges.db.commits;
  }

  /** Drops every entry of `tenant` (a rebuild, a dropped tenant). */
  dropTenant(tenant: string): void {
    const edges = this.#tenants.get(tenant);
    if (edges === undefined) return;
    for (const nodes of edges.lists.values())
      for (const entry of nodes.values()) this.#unhold(entry);
    this.#tenants.delete(tenant);
  }

  /** Drops the edge to `other` and the order of `entry`, if there is one. */
  #forget(entry: NodeEdges | undefined, other: string): void {
    if (entry === undefined) return;
    if (entry.edges.delete(other) && entry.held) this.#count -= 1;
    if (entry.held) this.#count -= entry.order?.length ?? 0;
    entry.order = undefined;
    entry.first = undefined;
    entry.complete = false;
  }

  #evict(): void {
    for (const oldest of this.#order) {
      if (this.#count <= this.#maxEntries) break;
      this.#remove(oldest);
    }
  }

  #remove(entry: NodeEdges): void {
    this.#unhold(entry);
    const tenant = entry.tenant;
    if (tenant === undefined) return;
    const nodes = tenant.lists.get(entry.slot);
    if (nodes?.get(entry.node) !== entry) return;
    nodes.delete(entry.node);
    if (nodes.size === 0) tenant.lists.delete(entry.slot);
  }

  /** Takes `entry` out of the order and the count; it stays usable by the read holding it. */
  #unhold(entry: NodeEdges): void {
    if (!entry.held) return;
    entry.held = false;
    this.#order.delete(entry);
    this.#count -= 1 + entry.edges.size + (entry.order?.length ?? 0);
  }
}

/** An entry the cache does not hold (it holds nothing): a read decodes every edge. */
function detached(model: Schema | undefined, node: string, slot: number): NodeEdges {
  return {
    tenant: undefined,
    model,
    node,
    slot,
    edges: new Map(),
    order: undefined,
    complete: false,
    orders: 0,
    first: undefined,
    used: 0,
    held: false,
  };
}
