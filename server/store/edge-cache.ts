/**
 * Decoded edges, shared by edge listings as `node-cache.ts` shares nodes: a listing
 * reads only the keys of its page from the index and takes the edges the cache holds as
 * they are (the API's encoder copies their kept wire bytes), reading and decoding only
 * the rows it lacks.
 *
 * What it guarantees: a cached edge is the current committed state of its row in the
 * open tenant file it was read from, decoded by the schema model it was decoded with,
 * as `node-cache.ts` guarantees for nodes and for the same reasons: a tenant's entries
 * are trusted only while its handle's count of committed transactions
 * (`TenantDb.commits`) is the count the cache was last told about ({@link committed},
 * wired by `server.ts` to the applier's commits), which drops the edges a plan created
 * or deleted, and every entry of the tenant on a schema change or a plan that may name
 * nodes by a minted id it resolved elsewhere (`namesNodesTouched`). A node's deletion
 * deletes its edges without naming them: their entries stay, but no listing finds their
 * keys, and an edge created again with the same key is named by its own step. Only
 * `server/apply/edge-ops.ts` and `node-ops.ts` write `edges` rows, in the applier's
 * transaction. Access control stays in the listing's statement, which decides which
 * keys it returns, and an `Edge` holds nothing that depends on the reader. Bounded by a
 * count of entries, least recently used evicted first.
 */

import type { Edge } from "../../generated/entdb/v1/entdb_pb.js";
import type { WalEvent } from "../../generated/entdb/v1/wal_pb.js";
import type { Schema } from "../../schema/index.ts";
import { freezeMessage, namesNodesTouched } from "./node-cache.ts";
import { type EdgeRow, edgeFromRow } from "./row-codec.ts";
import type { TenantDb } from "./tenant-db.ts";

/** The default bound of a server's edge cache, in edges. */
export const DEFAULT_EDGE_CACHE_ENTRIES = 50_000;

/** The handle a tenant's entries were read from, and the commits they are current as of. */
interface TenantEdges {
  readonly db: TenantDb;
  commits: number;
}

interface Entry {
  /** Its tenant's record when it was cached: a later record makes it stale. */
  readonly tenant: TenantEdges;
  readonly model: Schema | undefined;
  readonly edge: Edge;
}

/** An LRU of decoded, frozen edges; see the module comment. */
export class EdgeCache {
  readonly #maxEntries: number;
  /** By `tenant \0 edge type \0 from \0 to`, least recently used first. */
  readonly #entries = new Map<string, Entry>();
  /** By tenant: the record its current entries hold. */
  readonly #tenants = new Map<string, TenantEdges>();

  constructor(maxEntries: number = DEFAULT_EDGE_CACHE_ENTRIES) {
    this.#maxEntries = maxEntries;
  }

  /** Entries held (stale ones count until they are replaced or evicted). */
  get size(): number {
    return this.#entries.size;
  }

  /** The record of `db`'s tenant if its entries are current for `db`. */
  #current(db: TenantDb): TenantEdges | undefined {
    const tenant = this.#tenants.get(db.tenant);
    return tenant !== undefined && tenant.db === db && tenant.commits === db.commits
      ? tenant
      : undefined;
  }

  /**
   * The cached edge `(edgeTypeId, from, to)` of `db`, decoded by `model`, without reading
   * its row: for a key a read just found in the index. Undefined when not held.
   */
  cached(
    db: TenantDb,
    model: Schema | undefined,
    edgeTypeId: number,
    from: string,
    to: string,
  ): Edge | undefined {
    const tenant = this.#current(db);
    if (tenant === undefined) return undefined;
    const key = `${db.tenant}\0${edgeTypeId}\0${from}\0${to}`;
    const hit = this.#entries.get(key);
    if (hit === undefined || hit.tenant !== tenant || hit.model !== model) return undefined;
    this.#entries.delete(key);
    this.#entries.set(key, hit);
    return hit.edge;
  }

  /** The edge of `row` (a committed row of `db`, just read), decoded by `model`. */
  edge(db: TenantDb, model: Schema | undefined, row: EdgeRow): Edge {
    const cached = this.cached(db, model, Number(row.edge_type_id), row.from_id, row.to_id);
    if (cached !== undefined) return cached;
    const edge = edgeFromRow(model, row);
    const key = `${db.tenant}\0${row.edge_type_id}\0${row.from_id}\0${row.to_id}`;
    this.#entries.delete(key);
    if (this.#maxEntries === 0 || !freezeMessage(edge)) return edge;
    let tenant = this.#current(db);
    if (tenant === undefined) {
      tenant = { db, commits: db.commits };
      this.#tenants.set(db.tenant, tenant);
    }
    this.#entries.set(key, { tenant, model, edge });
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    return edge;
  }

  /**
   * Told by the applier right after a transaction of `tenant` committed, with the events
   * it applied: drops the edges they created or deleted, or every entry of the tenant
   * (see the module comment); the entries left are then current as of this commit.
   */
  committed(tenant: string, events: readonly { readonly event: WalEvent }[]): void {
    const edges = this.#tenants.get(tenant);
    if (edges === undefined) return;
    for (const { event } of events) {
      if (!namesNodesTouched(event)) {
        this.#tenants.delete(tenant);
        return;
      }
      const body = event.body;
      if (body.case !== "plan") continue;
      for (const { op } of body.value.operations) {
        if (op.case === "createEdge" || op.case === "deleteEdge") {
          const { edgeTypeId, fromId, toId } = op.value;
          this.#entries.delete(`${tenant}\0${edgeTypeId}\0${fromId}\0${toId}`);
        }
      }
    }
    // Only a record current before this commit is current after it.
    if (edges.commits === edges.db.commits - 1) edges.commits = edges.db.commits;
  }
}
