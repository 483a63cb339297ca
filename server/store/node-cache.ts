/**
 * Decoded nodes of committed rows, shared by every read: a read that finds a row the
 * cache already decoded returns that `Node` instead of parsing the payload again, and
 * because the cached message is frozen, the API's encoder keeps its wire bytes beside
 * it (`server/api/node-wire.ts`) and copies them into the next answer that holds it.
 *
 * What it guarantees: a cached node is returned only for a row whose `seq`, `version`
 * and `updated_at` are the ones it was decoded from, read from the same open tenant
 * file with the same schema model. Every change to a node row moves its version (an
 * update) or removes the row (a delete), and ingress mints every id once, so a row
 * with the same id, seq, version and updated_at is the same row state: a read never
 * returns a node other than the committed row its own statement found. Access control
 * stays in the SQL: the cache only answers for rows the statement returned to this
 * reader, and a `Node` holds nothing that depends on who reads it. Writes run in
 * synchronous transactions, so a read never sees (or caches) uncommitted state. The
 * applier's commits drop the entries of the nodes they created, updated or deleted
 * ({@link NodeCache.committed}), which frees their memory early and covers an id
 * created twice by a log written around ingress; a schema change drops the tenant's
 * entries. A rebuilt tenant is a new file handle: its first read drops the old
 * handle's entries.
 *
 * What it assumes: callers never mutate a returned node (it is frozen, so an attempt
 * throws). Bounded by an estimate of the bytes its entries hold; eviction takes the
 * least recently used first (an entry is moved to the recent end only when it is in
 * the older half and the entries fill more than half the bound, which keeps hits cheap).
 */

import type { Edge, Node } from "../../generated/entdb/v1/entdb_pb.js";
import type { Value } from "../../generated/entdb/v1/values_pb.js";
import type { WalEvent } from "../../generated/entdb/v1/wal_pb.js";
import type { Schema } from "../../schema/index.ts";
import { type NodeCacheKey, type NodeRow, nodeFromRow } from "./row-codec.ts";
import type { TenantDb } from "./tenant-db.ts";

/** The default bound of a server's node cache. */
export const DEFAULT_NODE_CACHE_BYTES = 64 * 1024 * 1024;

/** What one entry is counted as beyond its strings: the objects of a node and its wire bytes. */
const ENTRY_OVERHEAD = 400;
const PER_FIELD = 120;

interface Entry {
  readonly tenant: TenantNodes;
  readonly id: string;
  readonly model: Schema | undefined;
  readonly seq: bigint;
  readonly version: bigint;
  readonly updatedAt: bigint;
  readonly node: Node;
  readonly bytes: number;
  /** The clock when it was last moved to the recent end. */
  used: number;
}

/** The entries of one tenant, all read from one open file handle. */
interface TenantNodes {
  readonly db: TenantDb;
  readonly byId: Map<string, Entry>;
}

/** An LRU of decoded, frozen nodes keyed by tenant and id; see the module comment. */
export class NodeCache {
  readonly #maxBytes: number;
  #bytes = 0;
  /** Counts insertions and moves, to tell how far from the recent end an entry is. */
  #clock = 0;
  /** Every entry, least recently used first. */
  readonly #order = new Set<Entry>();
  /** By tenant: the entries of its file handle (those of an earlier handle are gone). */
  readonly #tenants = new Map<string, TenantNodes>();

  constructor(maxBytes: number = DEFAULT_NODE_CACHE_BYTES) {
    this.#maxBytes = maxBytes;
  }

  /** Bytes the entries are estimated to hold. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Entries held. */
  get size(): number {
    return this.#order.size;
  }

  /**
   * The cached node of the row `key` names (a committed row of `db`, just read), decoded
   * by `model`; undefined if the cache does not hold that state of the row.
   */
  cached(db: TenantDb, model: Schema | undefined, key: NodeCacheKey): Node | undefined {
    const tenant = this.#tenants.get(db.tenant);
    if (tenant === undefined || tenant.db !== db) return undefined;
    const hit = tenant.byId.get(key.id);
    if (
      hit === undefined ||
      hit.version !== key.version ||
      hit.seq !== key.seq ||
      hit.updatedAt !== key.updated_at ||
      hit.model !== model
    )
      return undefined;
    // Recently used entries stay where they are: moving one costs a delete and an
    // insert, and only the older half is near eviction. Nothing moves while the entries
    // fill less than half the bound: no eviction is near, and under reads spread over
    // many nodes most hits would otherwise move. Past half, every entry hit while the
    // cache fills the other half is moved, so the nodes in use are not evicted first.
    if (this.#bytes > this.#maxBytes / 2 && this.#clock - hit.used > this.#order.size / 2) {
      this.#order.delete(hit);
      this.#order.add(hit);
      hit.used = ++this.#clock;
    }
    return hit.node;
  }

  /**
   * For each of `ids`, the `seq` of the row its cached node (of `db`, decoded by `model`)
   * was read from, or undefined. A hint for finding the rows by `seq` instead of by id:
   * a read must still find that `seq` holding that id, and take the node through
   * {@link cached}, which checks the row's state.
   */
  seqsOf(db: TenantDb, model: Schema | undefined, ids: readonly string[]): (bigint | undefined)[] {
    const out = new Array<bigint | undefined>(ids.length);
    const tenant = this.#tenants.get(db.tenant);
    if (tenant === undefined || tenant.db !== db) return out;
    for (let i = 0; i < ids.length; i++) {
      const hit = tenant.byId.get(ids[i] as string);
      if (hit !== undefined && hit.model === model) out[i] = hit.seq;
    }
    return out;
  }

  /** The node of `row` (a committed row of `db`, just read), decoded by `model`. */
  node(db: TenantDb, model: Schema | undefined, row: NodeRow): Node {
    const cached = this.cached(db, model, row);
    if (cached !== undefined) return cached;
    const node = nodeFromRow(model, row);
    let tenant = this.#tenants.get(db.tenant);
    if (tenant !== undefined && tenant.db !== db) {
      this.dropTenant(db.tenant);
      tenant = undefined;
    }
    const old = tenant?.byId.get(row.id);
    if (old !== undefined) {
      this.#remove(old);
      // Removing a tenant's last entry removes the tenant's record too.
      tenant = this.#tenants.get(db.tenant);
    }
    if (!freezeMessage(node)) return node;
    const bytes =
      ENTRY_OVERHEAD +
      2 * (row.id.length + row.payload.length + row.owner.length) +
      PER_FIELD * Object.keys(node.fields).length;
    if (bytes > this.#maxBytes) return node;
    if (tenant === undefined) {
      tenant = { db, byId: new Map() };
      this.#tenants.set(db.tenant, tenant);
    }
    const entry: Entry = {
      tenant,
      id: row.id,
      model,
      seq: row.seq,
      version: row.version,
      updatedAt: row.updated_at,
      node,
      bytes,
      used: ++this.#clock,
    };
    tenant.byId.set(row.id, entry);
    this.#order.add(entry);
    this.#bytes += bytes;
    for (const oldest of this.#order) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#remove(oldest);
    }
    return node;
  }

  /**
   * Drops the entries of the nodes `events` (committed for `tenant`) created, updated
   * or deleted, and every entry of the tenant after a schema change.
   */
  committed(tenant: string, events: readonly { readonly event: WalEvent }[]): void {
    const nodes = this.#tenants.get(tenant);
    if (nodes === undefined) return;
    for (const { event } of events) {
      const body = event.body;
      if (body.case === "schemaChange") {
        this.dropTenant(tenant);
        return;
      }
      if (body.case !== "plan") continue;
      for (const { op } of body.value.operations) {
        if (op.case === "createNode" || op.case === "updateNode" || op.case === "deleteNode") {
          const entry = nodes.byId.get(op.value.id);
          if (entry !== undefined) this.#remove(entry);
        }
      }
    }
  }

  /** Drops every entry of `tenant` (a rebuild, a dropped tenant). */
  dropTenant(tenant: string): void {
    const nodes = this.#tenants.get(tenant);
    if (nodes === undefined) return;
    for (const entry of nodes.byId.values()) {
      this.#order.delete(entry);
      this.#bytes -= entry.bytes;
    }
    this.#tenants.delete(tenant);
  }

  #remove(entry: Entry): void {
    this.#order.delete(entry);
    const byId = entry.tenant.byId;
    byId.delete(entry.id);
    this.#bytes -= entry.bytes;
    if (byId.size === 0 && this.#tenants.get(entry.tenant.db.tenant) === entry.tenant)
      this.#tenants.delete(entry.tenant.db.tenant);
  }
}

/**
 * Where a shared (frozen) message keeps its wire bytes: a non-enumerable property the
 * protobuf runtime does not see, holding the one mutable part of a frozen message. The
 * API's encoder (`server/api/node-wire.ts`) fills it on the message's first encoding.
 */
export const WIRE = Symbol("entdb.wire");

/** The bytes of a shared message without its tag and length, once encoded. */
export interface WireBox {
  bytes: Uint8Array | undefined;
}

/** The wire box of a message {@link freezeMessage} shared, or undefined. */
export function wireBoxOf(message: object): WireBox | undefined {
  return (message as { [WIRE]?: WireBox })[WIRE];
}

/**
 * Freezes a decoded node or edge and everything in it, and gives it a {@link WireBox};
 * false (nothing frozen) when it holds bytes, which a typed array cannot be frozen over:
 * such a message is not shared.
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
  Object.defineProperty(message, WIRE, { value: { bytes: undefined } satisfies WireBox });
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
