/**
 * Decoded edges, shared by edge listings as `node-cache.ts` shares nodes: a listing that
 * reads an edge row the cache decoded before returns that frozen `Edge` (and the API's
 * encoder copies its kept wire bytes) instead of parsing its props again.
 *
 * What it guarantees: a cached edge is returned only for a row whose every column
 * (`props` text and `created_at`, beside the key) equals the one it was decoded from,
 * read from the same open tenant file with the same schema model, so it needs no word
 * from the applier: what a listing returns is always what its own statement read.
 * Access control stays in the SQL, and an `Edge` holds nothing that depends on the
 * reader. Bounded by a count of entries, least recently used evicted first.
 */

import type { Edge } from "../../generated/entdb/v1/entdb_pb.js";
import type { Schema } from "../../schema/index.ts";
import { freezeMessage } from "./node-cache.ts";
import { type EdgeRow, edgeFromRow } from "./row-codec.ts";
import type { TenantDb } from "./tenant-db.ts";

/** The default bound of a server's edge cache, in edges. */
export const DEFAULT_EDGE_CACHE_ENTRIES = 50_000;

interface Entry {
  readonly db: TenantDb;
  readonly model: Schema | undefined;
  readonly props: string;
  readonly createdAt: bigint;
  readonly edge: Edge;
}

/** An LRU of decoded, frozen edges; see the module comment. */
export class EdgeCache {
  readonly #maxEntries: number;
  /** By `tenant \0 edge type \0 from \0 to`, least recently used first. */
  readonly #entries = new Map<string, Entry>();

  constructor(maxEntries: number = DEFAULT_EDGE_CACHE_ENTRIES) {
    this.#maxEntries = maxEntries;
  }

  /** Entries held. */
  get size(): number {
    return this.#entries.size;
  }

  /** The edge of `row` (just read from `db`), decoded by `model`. */
  edge(db: TenantDb, model: Schema | undefined, row: EdgeRow): Edge {
    const key = `${db.tenant}\0${row.edge_type_id}\0${row.from_id}\0${row.to_id}`;
    const hit = this.#entries.get(key);
    if (
      hit !== undefined &&
      hit.props === row.props &&
      hit.createdAt === row.created_at &&
      hit.model === model &&
      hit.db === db
    ) {
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit.edge;
    }
    const edge = edgeFromRow(model, row);
    if (hit !== undefined) this.#entries.delete(key);
    if (this.#maxEntries === 0 || !freezeMessage(edge)) return edge;
    this.#entries.set(key, { db, model, props: row.props, createdAt: row.created_at, edge });
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    return edge;
  }
}
