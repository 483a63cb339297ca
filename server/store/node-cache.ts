/**
 * Decoded nodes of committed rows, shared by every read: a read that finds a row the
 * cache already decoded returns that `Node` instead of parsing the payload again, and
 * because the cached message is frozen, the API's encoder keeps its wire bytes beside
 * it (`server/api/node-wire.ts`) and copies them into the next answer that holds it.
 *
 * What it guarantees: a cached node is returned only for a row whose `seq`, `version`
 * and `updated_at` are the ones it was decoded from, read from the same open tenant
 * file with the same schema model. Every change to a node row moves its version (an
 * update) or removes the row (a delete), so a row the SQL statement returned with the
 * same version is the same row: a read never sees a node other than the committed row
 * its own statement found. Access control stays in the SQL: the cache only answers
 * for rows the statement returned to this reader, and a `Node` holds nothing that
 * depends on who reads it. Writes happen in synchronous transactions, so a read never
 * sees (or caches) uncommitted state; the applier's commits drop the entries of the
 * nodes they touched ({@link NodeCache.committed}), which frees their memory early
 * and covers an id deleted and created again. A rebuilt tenant opens a new file
 * handle, and a schema change a new model: entries of the old ones never match.
 *
 * What it assumes: callers never mutate a returned node (it is frozen, so an attempt
 * throws). Bounded by an estimate of the bytes its entries hold, least recently used
 * evicted first.
 */

import type { Edge, Node } from "../../generated/entdb/v1/entdb_pb.js";
import type { Value } from "../../generated/entdb/v1/values_pb.js";
import type { WalEvent } from "../../generated/entdb/v1/wal_pb.js";
import type { Schema } from "../../schema/index.ts";
import { type NodeRow, nodeFromRow } from "./row-codec.ts";
import type { TenantDb } from "./tenant-db.ts";

/** The default bound of a server's node cache. */
export const DEFAULT_NODE_CACHE_BYTES = 64 * 1024 * 1024;

/** What one entry is counted as beyond its strings: the objects of a node and its wire bytes. */
const ENTRY_OVERHEAD = 400;
const PER_FIELD = 120;

interface Entry {
  readonly db: WeakRef<TenantDb>;
  readonly model: Schema | undefined;
  readonly seq: bigint;
  readonly version: bigint;
  readonly updatedAt: bigint;
  readonly node: Node;
  readonly bytes: number;
}

/** An LRU of decoded, frozen nodes keyed by tenant and id; see the module comment. */
export class NodeCache {
  readonly #maxBytes: number;
  #bytes = 0;
  /** By `tenant \0 id`, least recently used first. */
  readonly #entries = new Map<string, Entry>();

  constructor(maxBytes: number = DEFAULT_NODE_CACHE_BYTES) {
    this.#maxBytes = maxBytes;
  }

  /** Bytes the entries are estimated to hold. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Entries held. */
  get size(): number {
    return this.#entries.size;
  }

  /** The node of `row` (a committed row of `db`, tenant `db.tenant`), decoded by `model`. */
  node(db: TenantDb, model: Schema | undefined, row: NodeRow): Node {
    const key = `${db.tenant}\0${row.id}`;
    const hit = this.#entries.get(key);
    if (
      hit !== undefined &&
      hit.version === row.version &&
      hit.seq === row.seq &&
      hit.updatedAt === row.updated_at &&
      hit.model === model &&
      hit.db.deref() === db
    ) {
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit.node;
    }
    const node = nodeFromRow(model, row);
    if (hit !== undefined) this.#remove(key, hit);
    if (!freezeMessage(node)) return node;
    const bytes =
      ENTRY_OVERHEAD +
      2 * (key.length + row.payload.length + row.owner.length) +
      PER_FIELD * Object.keys(node.fields).length;
    if (bytes > this.#maxBytes) return node;
    this.#entries.set(key, {
      db: new WeakRef(db),
      model,
      seq: row.seq,
      version: row.version,
      updatedAt: row.updated_at,
      node,
      bytes,
    });
    this.#bytes += bytes;
    for (const [oldest, entry] of this.#entries) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#remove(oldest, entry);
    }
    return node;
  }

  /**
   * Drops the entries of the nodes `events` (committed for `tenant`) created, updated
   * or deleted, and every entry of the tenant after a schema change.
   */
  committed(tenant: string, events: readonly { readonly event: WalEvent }[]): void {
    if (this.#entries.size === 0) return;
    for (const { event } of events) {
      const body = event.body;
      if (body.case === "schemaChange") {
        this.dropTenant(tenant);
        continue;
      }
      if (body.case !== "plan") continue;
      for (const { op } of body.value.operations) {
        if (op.case === "createNode" || op.case === "updateNode" || op.case === "deleteNode")
          this.#drop(`${tenant}\0${op.value.id}`);
      }
    }
  }

  /** Drops every entry of `tenant` (a rebuild, a dropped tenant). */
  dropTenant(tenant: string): void {
    const prefix = `${tenant}\0`;
    for (const [key, entry] of this.#entries) {
      if (key.startsWith(prefix)) this.#remove(key, entry);
    }
  }

  #drop(key: string): void {
    const entry = this.#entries.get(key);
    if (entry !== undefined) this.#remove(key, entry);
  }

  #remove(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
  }
}

/**
 * Freezes a decoded node or edge and everything in it; false (nothing frozen) when it
 * holds bytes, which a typed array cannot be frozen over: such a message is not shared.
 */
export function freezeMessage(message: Node | Edge): boolean {
  const fields = "fields" in message ? message.fields : message.props;
  for (const key in fields) {
    if (!freezable(fields[Number(key)] as Value)) return false;
  }
  for (const key in fields) freezeValue(fields[Number(key)] as Value);
  Object.freeze(fields);
  if (message.createdAt) Object.freeze(message.createdAt);
  if ("updatedAt" in message && message.updatedAt) Object.freeze(message.updatedAt);
  Object.freeze(message);
  return true;
}

function freezable(v: Value): boolean {
  const kind = v.kind;
  if (kind.case === "bytesValue") return false;
  if (kind.case === "listValue") return kind.value.values.every(freezable);
  return true;
}

function freezeValue(v: Value): void {
  const kind = v.kind;
  if (kind.case === "timestampValue") Object.freeze(kind.value);
  if (kind.case === "listValue") {
    for (const item of kind.value.values) freezeValue(item);
    Object.freeze(kind.value.values);
    Object.freeze(kind.value);
  }
  Object.freeze(kind);
  Object.freeze(v);
}
