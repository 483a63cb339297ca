/**
 * Decoded nodes of committed rows, shared by every read: a read that finds a row the
 * cache already decoded returns that `Node` instead of parsing the payload again, and
 * because the cached message is frozen, the API's encoder keeps its wire bytes beside
 * it (`server/api/node-wire.ts`) and copies them into the next answer that holds it.
 *
 * What it guarantees: a cached node is the current committed state of its row in the
 * open tenant file it was read from, decoded by the schema model it was decoded with,
 * so a read may answer it without reading the row again: a point read by an
 * unrestricted reader ({@link peek}) runs no statement, and query pages and edge
 * listings read only the ids from their index. Why it is current: the entries of a
 * tenant belong to one file handle, and are trusted only while that handle's count of
 * committed transactions ({@link TenantDb.commits}, moved by `TenantDb.commitState`, the
 * one place the applier's transactions end) is the count the cache was last told
 * about. The applier's commits tell it ({@link committed}, wired by `server.ts`) which
 * nodes they created, updated or deleted, and it drops those entries; a plan that may
 * have written nodes it does not name (an `if_absent_on` create resolves to an existing
 * id the event does not hold) and a schema change drop the tenant's entries. A commit
 * the cache was not told about (another applier, a test harness without the hook) drops
 * them on the next read. A rebuilt or reopened tenant is a new handle: its first read
 * drops the old handle's entries; so is a tenant whose applier failed after its COMMIT
 * but before `commitState` (it parks the tenant, which closes the handle). Nothing else writes `nodes` rows: only
 * `server/apply/node-ops.ts` does, inside the applier's transaction
 * (`tests/store/read-cache-writes.test.ts` holds the source to that). Writes run in
 * synchronous transactions, so a read never sees (or caches) uncommitted state.
 *
 * Access control stays per row: the cache answers only for rows the reader's own
 * visibility decision let through (a restricted point read still reads the row's
 * owner, type and grants; a query page's statement still applies the hidden term),
 * and a `Node` holds nothing that depends on who reads it.
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
  readonly node: Node;
  readonly bytes: number;
  /** The clock when it was last moved to the recent end. */
  used: number;
}

/** The entries of one tenant, all read from one open file handle. */
interface TenantNodes {
  readonly db: TenantDb;
  readonly byId: Map<string, Entry>;
  /** The handle's {@link TenantDb.commits} the entries are current as of. */
  commits: number;
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
   * The entries of `db`'s tenant if they are current for `db`; otherwise drops them
   * (an earlier handle's, or a commit the cache was not told about) and returns undefined.
   */
  #current(db: TenantDb): TenantNodes | undefined {
    const tenant = this.#tenants.get(db.tenant);
    if (tenant === undefined) return undefined;
    if (tenant.db === db && tenant.commits === db.commits) return tenant;
    this.dropTenant(db.tenant);
    return undefined;
  }

  /**
   * The cached node of the row `key` names (a row of `db` a read just found), decoded
   * by `model`; undefined if the cache does not hold it.
   */
  cached(db: TenantDb, model: Schema | undefined, key: NodeCacheKey): Node | undefined {
    const hit = this.#current(db)?.byId.get(key.id);
    if (hit === undefined || hit.seq !== key.seq || hit.model !== model) return undefined;
    this.#touch(hit);
    return hit.node;
  }

  /**
   * The cached node with `id` in `db`, decoded by `model`, without reading its row: the
   * current committed state of a row that exists (see the module comment). Undefined
   * when the cache does not hold it, which says nothing about whether the row exists.
   * Only for a reader that may read every row: nothing here decides visibility.
   */
  peek(db: TenantDb, model: Schema | undefined, id: string): Node | undefined {
    const hit = this.#current(db)?.byId.get(id);
    if (hit === undefined || hit.model !== model) return undefined;
    this.#touch(hit);
    return hit.node;
  }

  #touch(hit: Entry): void {
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
  }

  /** The node of `row` (a committed row of `db`, just read), decoded by `model`. */
  node(db: TenantDb, model: Schema | undefined, row: NodeRow): Node {
    const cached = this.cached(db, model, row);
    if (cached !== undefined) return cached;
    const node = nodeFromRow(model, row);
    // Stale entries of the tenant are gone (cached() dropped them).
    let tenant = this.#tenants.get(db.tenant);
    const old = tenant?.byId.get(row.id);
    if (old !== undefined) {
      this.#remove(old);
      // Removing a tenant's last entry removes the tenant's record too.
      tenant = this.#tenants.get(db.tenant);
    }
    if (!freezeMessage(node)) return node;
    // Its strings (two bytes a character), and about as many bytes again for a get's
    // answer, which the encoder keeps in its wire box (`server/api/node-wire.ts`).
    const bytes =
      ENTRY_OVERHEAD +
      3 * (row.id.length + row.payload.length + row.owner.length) +
      PER_FIELD * Object.keys(node.fields).length;
    if (bytes > this.#maxBytes) return node;
    if (tenant === undefined) {
      tenant = { db, byId: new Map(), commits: db.commits };
      this.#tenants.set(db.tenant, tenant);
    }
    const entry: Entry = {
      tenant,
      id: row.id,
      model,
      seq: row.seq,
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
   * Told by the applier right after a transaction of `tenant` committed (its handle's
   * {@link TenantDb.commits} moved by one) with the events it applied: drops the entries
   * of the nodes they created, updated or deleted, and every entry of the tenant after
   * a schema change or a plan with an `if_absent_on` create, whose later steps may name
   * the existing node it resolved to by the id it minted. The entries left are then
   * current as of this commit.
   */
  committed(tenant: string, events: readonly { readonly event: WalEvent }[]): void {
    const nodes = this.#tenants.get(tenant);
    if (nodes === undefined) return;
    for (const { event } of events) {
      if (!namesNodesTouched(event)) {
        this.dropTenant(tenant);
        return;
      }
      const body = event.body;
      if (body.case !== "plan") continue;
      for (const { op } of body.value.operations) {
        if (op.case === "createNode" || op.case === "updateNode" || op.case === "deleteNode") {
          const entry = nodes.byId.get(op.value.id);
          if (entry !== undefined) this.#remove(entry);
        }
      }
    }
    // Only a record current before this commit is current after it: one that missed an
    // earlier commit stays behind, and its next read drops it.
    if (this.#tenants.get(tenant) === nodes && nodes.commits === nodes.db.commits - 1)
      nodes.commits = nodes.db.commits;
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
 * Whether the rows `event` wrote are all named by its operations: false for a schema
 * change (the model changes) and for a plan with an `if_absent_on` create (a later
 * step naming its minted id writes the existing node it resolved to).
 */
export function namesNodesTouched(event: WalEvent): boolean {
  const body = event.body;
  if (body.case === "schemaChange") return false;
  if (body.case !== "plan") return true;
  for (const { op } of body.value.operations) {
    if (op.case === "createNode" && op.value.ifAbsentOn.length > 0) return false;
  }
  return true;
}

/**
 * Where a shared (frozen) message keeps its wire bytes: a non-enumerable property the
 * protobuf runtime does not see, holding the one mutable part of a frozen message. The
 * API's encoder (`server/api/node-wire.ts`) fills it on the message's first encoding.
 */
export const WIRE = Symbol("entdb.wire");

/**
 * The bytes of a shared message without its tag and length, once encoded; and, once a
 * call answered it alone, that answer's bytes (the message as field `answerField` of an
 * answer with no other field set, e.g. `GetNodeResponse`), shared by the answers after.
 */
export interface WireBox {
  bytes: Uint8Array | undefined;
  answer: Uint8Array | undefined;
  answerField: number;
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
  Object.defineProperty(message, WIRE, {
    value: { bytes: undefined, answer: undefined, answerField: 0 } satisfies WireBox,
  });
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
