/**
 * `TenantReader` over the store: reads of committed state, fields decoded by the
 * newest schema model known. A tenant without a database yet reads as empty; a tenant
 * marked unavailable throws `tenant-unavailable`. Bounds: {@link READ_LIMITS}; page
 * sizes and traversal bounds are clamped, a too-long `getNodes` list is rejected.
 */

import { create } from "@bufbuild/protobuf";
import { nodeFieldExpr } from "../../codegen/index.ts";
import type {
  Edge,
  Filter,
  Node,
  OrderBy,
  TraversedNode,
} from "../../generated/entdb/v1/entdb_pb.js";
import { Direction, TraversedNodeSchema } from "../../generated/entdb/v1/entdb_pb.js";
import type { Value } from "../../generated/entdb/v1/values_pb.js";
import { type NodeType, nodeById, type Schema } from "../../schema/index.ts";
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
import { edgeCountSql, edgeEnds, edgePageSql, neighborsSql } from "./edge-sql.ts";
import { isGranted, loadedGrantsWithoutDenies, tenantHasDenies } from "./granted-ids.ts";
import {
  listMailbox,
  type MailboxPage,
  type MailboxQuery,
  type MailboxUnreadCounts,
  mailboxUnreadCounts,
} from "./mailbox-query.ts";
import { NodeCache } from "./node-cache.ts";
import { compileNodeQuery } from "./node-query.ts";
import { decodeOutcome } from "./outcome-codec.ts";
import { decodeEdgeCursor, encodeEdgeCursor, encodeNodeCursor } from "./page-cursor.ts";
import { queryPrivateById, walksGrants } from "./private-query.ts";
import {
  EDGE_COLUMNS,
  type EdgeRow,
  NODE_COLUMNS,
  NODE_KEY_COLUMNS,
  type NodeKeyRow,
  type NodeRow,
} from "./row-codec.ts";
import type { Store } from "./store.ts";
import { StoreError } from "./store-error.ts";
import { encodeValue, type SqlScalar, sqlValueOf } from "./stored-value-codec.ts";
import type { TenantDb } from "./tenant-db.ts";
import {
  hiddenNodeTerm,
  hiddenRefTerm,
  inheritedFrom,
  type VisibilityFacts,
} from "./visibility-sql.ts";

/** Bounds of reads. */
export interface ReadLimits {
  /** Page size when the request says 0. */
  readonly defaultPageSize: number;
  /** Largest page; larger requests are clamped. */
  readonly maxPageSize: number;
  /** Most ids one `getNodes` takes; more is a `too-many` error. */
  readonly maxGetNodes: number;
  /** Deepest traversal; deeper requests are clamped. */
  readonly maxTraverseDepth: number;
  /** Most nodes one traversal returns; larger requests are clamped. */
  readonly maxTraverseNodes: number;
}

/** The default bounds. */
export const READ_LIMITS: ReadLimits = {
  defaultPageSize: 100,
  maxPageSize: 1_000,
  maxGetNodes: 1_000,
  maxTraverseDepth: 16,
  maxTraverseNodes: 10_000,
};

/**
 * Creates the reader of a store. Nodes and edges it returns are frozen and may be shared
 * between reads through `cache` (a server passes the one its applier's commits
 * invalidate) and its own edge cache.
 */
export function createTenantReader(
  store: Store,
  limits: ReadLimits = READ_LIMITS,
  cache: NodeCache = new NodeCache(),
): TenantReader {
  return new StoreReader(store, limits, cache, new EdgeCache());
}

class StoreReader implements TenantReader {
  readonly #store: Store;
  readonly #limits: ReadLimits;
  /** Ranked hits of relevance searches, for their later pages (search-snapshots.ts). */
  readonly #snapshots = new SearchSnapshots();
  readonly #cache: NodeCache;
  readonly #edges: EdgeCache;

  constructor(store: Store, limits: ReadLimits, cache: NodeCache, edges: EdgeCache) {
    this.#store = store;
    this.#limits = limits;
    this.#cache = cache;
    this.#edges = edges;
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
    const row = visibleNode(db, model, scope, id);
    if (!row || (typeId !== 0 && Number(row.type_id) !== typeId)) return undefined;
    return this.#nodeOf(db, model, row);
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
    const seen = new Set<string>();
    // Unrestricted, one statement finds every row; a restricted read decides each row
    // as a point read does.
    const found = scope.unrestricted
      ? new Map(
          (db.stmt(NODES_BY_IDS_SQL).all(JSON.stringify(ids)) as NodeKeyRow[]).map((r) => [
            r.id,
            r,
          ]),
        )
      : undefined;
    const rows: NodeKeyRow[] = [];
    for (const id of ids) {
      if (seen.has(id)) continue;
      seen.add(id);
      const row = found ? found.get(id) : visibleNode(db, model, scope, id);
      if (row && (typeId === 0 || Number(row.type_id) === typeId)) rows.push(row);
    }
    return this.#nodesOf(db, model, rows);
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
    const type = requireType(model, typeId);
    const ids = [...key.keys()].sort((a, b) => a - b);
    const isKey =
      (ids.length === 1 && type.fields.some((f) => f.id === ids[0] && f.unique)) ||
      type.uniques.some((u) => sameSet(u.fieldIds, ids));
    if (!isKey) {
      throw new StoreError(
        "invalid-argument",
        `Fields [${ids.join(", ")}] of type ${typeId} are not one unique field or all fields of one composite unique.`,
        ids.length > 0 ? { fieldId: ids[0]! } : undefined,
      );
    }
    const where: string[] = [`type_id = ${typeId}`];
    const params: SqlScalar[] = [];
    for (const fieldId of ids) {
      const field = type.fields.find((f) => f.id === fieldId)!;
      const json = encodeValue(model, field.type, key.get(fieldId)!, {
        owner: `type ${typeId}`,
        fieldId,
      });
      if (json === null) return undefined;
      where.push(`${nodeFieldExpr(fieldId)} = ?`);
      params.push(sqlValueOf(json));
    }
    const hidden = hiddenNodeTerm(model, scope, "nodes", factsOf(db, scope), typeId);
    if (hidden) {
      where.push(`NOT ${hidden.sql}`);
      params.push(...hidden.params);
    }
    const row = db
      .stmt(`SELECT ${NODE_COLUMNS} FROM nodes WHERE ${where.join(" AND ")}`)
      .get(...params) as NodeRow | undefined;
    return row && this.#cache.node(db, model, row);
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
    const type = requireType(model, typeId);
    const limit = this.#pageSize(query.limit);
    const facts = factsOf(db, scope);
    const hasIndex = (name: string) => db.hasObject(name);
    let compiled: { orderField: number; descending: boolean; filters: string };
    let rows: (NodeKeyRow & { sort_key?: SqlScalar })[];
    if (walksGrants(type, scope, query.orderBy)) {
      // A private type in id order: the reader's own and granted rows, merged.
      const found = queryPrivateById(
        db,
        model,
        type,
        { ...query, limit, columns: "keys" },
        scope,
        facts,
        hasIndex,
      );
      compiled = { orderField: 0, descending: false, filters: found.filters };
      rows = found.rows;
    } else {
      const hidden = hiddenNodeTerm(model, scope, "nodes", facts, typeId);
      const c = compileNodeQuery(
        model,
        type,
        { ...query, limit, ...(hidden ? { hidden } : {}), columns: "keys" },
        hasIndex,
      );
      compiled = c;
      rows = db.stmt(c.sql).all(...c.params) as NodeKeyRow[];
    }
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    let nextCursor = "";
    if (rows.length > limit && last) {
      // Only the last row's sort key is needed: reading it for every row cost more than
      // the rest of the statement.
      const key =
        "sort_key" in last
          ? (last.sort_key ?? null)
          : compiled.orderField === 0
            ? null
            : (db
                .stmt(`SELECT ${nodeFieldExpr(compiled.orderField)} FROM nodes WHERE seq = ?`)
                .pluck()
                .get(last.seq) as SqlScalar);
      nextCursor = encodeNodeCursor({
        typeId,
        orderField: compiled.orderField,
        descending: compiled.descending,
        filters: compiled.filters,
        key,
        lastId: last.id,
      });
    }
    return { items: this.#nodesOf(db, model, page), nextCursor };
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
    const direction = query.direction === Direction.IN ? Direction.IN : Direction.OUT;
    const ends = edgeEnds(direction === Direction.IN);
    const [, other] = ends;
    const limit = this.#pageSize(query.limit);
    // A hidden node has no edges to list, and an edge whose other end is hidden is not
    // listed or counted: both read as if the hidden node did not exist.
    const empty = query.includeCount
      ? { items: [], nextCursor: "", totalCount: 0 }
      : { items: [], nextCursor: "" };
    const facts = factsOf(db, scope);
    const anchor = hiddenRefTerm(model, scope, "?", facts);
    if (
      anchor &&
      db
        .stmt(`SELECT ${anchor.sql}`)
        .pluck()
        .get(nodeId, ...anchor.params) === 1n
    )
      return empty;
    const otherHidden = hiddenRefTerm(model, scope, `edges.${other}`, facts);
    const visible = otherHidden ? ` AND NOT ${otherHidden.sql}` : "";
    const params: SqlScalar[] = [BigInt(edgeTypeId), nodeId];
    let after = "";
    if (query.cursor !== "") {
      const c = decodeEdgeCursor(query.cursor, { edgeTypeId, nodeId, direction });
      after = ` AND ${other} > +?`;
      params.push(c.lastOtherId);
    }
    params.push(...(otherHidden?.params ?? []), BigInt(limit + 1));
    const rows = db
      .stmt(edgePageSql(ends, EDGE_COLUMNS, after, visible))
      .all(...params) as EdgeRow[];
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    const nextCursor =
      rows.length > limit && last
        ? encodeEdgeCursor({
            edgeTypeId,
            nodeId,
            direction,
            lastOtherId: direction === Direction.IN ? last.from_id : last.to_id,
          })
        : "";
    const items = page.map((r) => this.#edges.edge(db, model, r));
    if (!query.includeCount) return { items, nextCursor };
    const count = db
      .stmt(edgeCountSql(ends, visible))
      .get(BigInt(edgeTypeId), nodeId, ...(otherHidden?.params ?? [])) as { n: bigint };
    return { items, nextCursor, totalCount: Number(count.n) };
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
    // Hidden nodes are neither returned nor walked through, and do not count toward
    // `maxNodes`: the walk is the one the caller would see if they did not exist.
    const nodeRow = (id: string) => visibleNode(db, model, scope, id);
    if (!nodeRow(startId)) return { nodes: [], truncated: false };
    const maxNodes = clamp(
      query.maxNodes === 0 ? this.#limits.defaultPageSize : query.maxNodes,
      1,
      this.#limits.maxTraverseNodes,
    );
    const steps: readonly TraverseStep[] =
      query.hops !== undefined && query.hops.length > 0
        ? query.hops.slice(0, this.#limits.maxTraverseDepth)
        : Array.from({ length: clamp(query.maxDepth, 1, this.#limits.maxTraverseDepth) }, () => ({
            edgeTypeIds: query.edgeTypeIds,
            direction: query.direction,
          }));
    const maxDepth = steps.length;
    /** What depth `depth` follows: its edge types, sorted, and its neighbour query. */
    const stepAt = (depth: number) => {
      const step = steps[depth - 1]!;
      return {
        edgeTypes:
          step.edgeTypeIds.length > 0
            ? [...new Set(step.edgeTypeIds)].sort((a, b) => a - b)
            : db.edgeTypeIds(),
        neighbors: db.stmt(neighborsSql(edgeEnds(step.direction === Direction.IN))),
      };
    };

    const visited = new Set<string>([startId]);
    const out: TraversedNode[] = [];
    let frontier = [startId];
    for (let depth = 1; depth <= maxDepth && frontier.length > 0; depth++) {
      const next: string[] = [];
      const { edgeTypes, neighbors } = stepAt(depth);
      for (const from of frontier) {
        for (const edgeTypeId of edgeTypes) {
          for (const { id } of neighbors.iterate(BigInt(edgeTypeId), from) as Iterable<{
            id: string;
          }>) {
            if (visited.has(id)) continue;
            const row = nodeRow(id);
            if (!row) continue;
            if (out.length >= maxNodes) return { nodes: out, truncated: true };
            visited.add(id);
            out.push(create(TraversedNodeSchema, { node: this.#nodeOf(db, model, row), depth }));
            next.push(id);
          }
        }
      }
      frontier = next;
    }
    return { nodes: out, truncated: false };
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
    return searchTenantDb(db, model, { ...request, limit: this.#pageSize(request.limit) }, scope, {
      tenant,
      snapshots: this.#snapshots,
    });
  }

  mailbox(tenant: string, query: MailboxQuery, scope: ReadScope = UNRESTRICTED): MailboxPage {
    const db = this.#db(tenant);
    if (!db) return { items: [], nextCursor: "" };
    const limit = this.#pageSize(query.limit);
    return listMailbox(db, this.#store.readModel(db), { ...query, limit }, scope);
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
   * The node of a row this turn's statement found: from the cache, or decoded from its
   * full row (read by `seq` in the same synchronous turn, so it is the same state).
   */
  #nodeOf(db: TenantDb, model: Schema | undefined, key: NodeKeyRow): Node {
    const cached = this.#cache.cached(db, model, key);
    if (cached !== undefined) return cached;
    const row = db.stmt(NODE_BY_SEQ_SQL).get(key.seq) as NodeRow | undefined;
    if (row === undefined) throw new Error(`node row ${key.seq} vanished within a read`);
    return this.#cache.node(db, model, row);
  }

  /**
   * The nodes of rows this turn's statement found, in their order: from the cache, the
   * rows it does not hold read in one statement by `seq`.
   */
  #nodesOf(db: TenantDb, model: Schema | undefined, keys: readonly NodeKeyRow[]): Node[] {
    const out: Node[] = new Array(keys.length);
    let missing: number[] | undefined;
    for (let i = 0; i < keys.length; i++) {
      const cached = this.#cache.cached(db, model, keys[i] as NodeKeyRow);
      if (cached !== undefined) out[i] = cached;
      else {
        missing ??= [];
        missing.push(i);
      }
    }
    if (missing === undefined) return out;
    if (missing.length === 1) {
      const i = missing[0] as number;
      out[i] = this.#nodeOf(db, model, keys[i] as NodeKeyRow);
      return out;
    }
    const seqs = missing.map((i) => String((keys[i] as NodeKeyRow).seq));
    const rows = new Map(
      (db.stmt(NODES_BY_SEQS_SQL).all(`[${seqs.join(",")}]`) as NodeRow[]).map((r) => [r.seq, r]),
    );
    for (const i of missing) {
      const key = keys[i] as NodeKeyRow;
      const row = rows.get(key.seq);
      if (row === undefined) throw new Error(`node row ${key.seq} vanished within a read`);
      out[i] = this.#cache.node(db, model, row);
    }
    return out;
  }

  #db(tenant: string): TenantDb | undefined {
    return this.#store.readTenant(tenant);
  }

  #pageSize(requested: number): number {
    if (requested <= 0) return this.#limits.defaultPageSize;
    return Math.min(requested, this.#limits.maxPageSize);
  }
}

const NODE_BY_SEQ_SQL = `SELECT ${NODE_COLUMNS} FROM nodes WHERE seq = ?`;

/** The full rows of the seqs in a JSON array. */
const NODES_BY_SEQS_SQL = `SELECT ${NODE_COLUMNS.split(", ")
  .map((c) => `nodes.${c}`)
  .join(", ")} FROM json_each(?) AS wanted JOIN nodes ON nodes.seq = wanted.value`;

/**
 * The rows of the ids in a JSON array: one statement, the `id` index per element (a
 * join over `json_each` cost less than `IN (SELECT …)` or one statement per id).
 */
const NODES_BY_IDS_SQL = `SELECT ${NODE_KEY_COLUMNS.split(", ")
  .map((c) => `nodes.${c}`)
  .join(", ")} FROM json_each(?) AS wanted JOIN nodes ON nodes.id = wanted.value`;

/**
 * The node with `id` if `scope` may read it: the rule of `visibility-sql.ts`, decided
 * for one row from its few grant rows, because a point read should not pay for building
 * and binding the query term. A restricted read fetches the row and its unexpired grant
 * rows in one statement (a correlated subquery on the grants' primary key), so it costs
 * one statement like an unrestricted one. When the reader's granted ids are already
 * loaded (`granted-ids.ts`) and the tenant has no deny, those decide, and the read costs
 * the unrestricted one's statement. The randomized model test and
 * `private-query.test.ts` hold every form to the same answers.
 */
function visibleNode(
  db: TenantDb,
  model: Schema | undefined,
  scope: ReadScope,
  id: string,
): NodeKeyRow | undefined {
  if (scope.unrestricted) return db.stmt(NODE_SQL).get(id) as NodeKeyRow | undefined;
  const loaded =
    model !== undefined && scope.publicOnly !== true
      ? loadedGrantsWithoutDenies(db, scope.principals)
      : undefined;
  if (model !== undefined && loaded !== undefined) {
    const row = db.stmt(NODE_SQL).get(id) as NodeKeyRow | undefined;
    if (!row || row.owner === scope.actor) return row;
    const type = nodeById(model, Number(row.type_id));
    if (type !== undefined && inheritedFrom(type).length > 0)
      return readAsParents(db, model, scope, type, row);
    return type?.visibility !== "private" || isGranted(loaded, id, scope.atMicros)
      ? row
      : undefined;
  }
  // The row keeps its `grants` column: the node cache reads the key columns by name, and
  // copying the row without it costs more than the rest of the check.
  const row = db.stmt(GUARDED_NODE_SQL).get(scope.actor, scope.atMicros, id) as
    | (NodeKeyRow & { readonly grants: string | null })
    | undefined;
  if (!row) return undefined;
  const grants = row.grants;
  const type = model && nodeById(model, Number(row.type_id));
  if (scope.publicOnly && type?.visibility !== "public") return undefined;
  if (row.owner === scope.actor || model === undefined) return row;
  if (type !== undefined && inheritedFrom(type).length > 0)
    return readAsParents(db, model, scope, type, row);
  const isPrivate = type?.visibility === "private";
  let granted = false;
  if (grants !== null) {
    // Each entry is the deny flag (0 or 1) followed by the principal.
    for (const g of grants.split("\n")) {
      if (!scope.principals.includes(g.slice(1))) continue;
      if (g[0] === "1") return undefined;
      granted = true;
    }
  }
  return granted || !isPrivate ? row : undefined;
}

/** `row`, of a type with `inherit_access` refs, if `scope` may read it: the query term decides. */
function readAsParents<R extends NodeKeyRow>(
  db: TenantDb,
  model: Schema,
  scope: ReadScope,
  type: NodeType,
  row: R,
): R | undefined {
  const hidden = hiddenNodeTerm(model, scope, "nodes", factsOf(db, scope), type.id);
  if (!hidden) return row;
  const seen = db
    .stmt(`SELECT 1 FROM nodes WHERE id = ? AND NOT ${hidden.sql}`)
    .get(row.id, ...hidden.params);
  return seen === undefined ? undefined : row;
}

const NODE_SQL = `SELECT ${NODE_KEY_COLUMNS} FROM nodes WHERE id = ?`;

/**
 * A node row with its unexpired grant rows as `deny || principal` lines (principals have
 * no line breaks: acl/principal.ts), or no lines when the reader owns it (the owner reads
 * it whatever was granted or denied). Binds the reader, the read time, then the id.
 */
const GUARDED_NODE_SQL = `SELECT ${NODE_KEY_COLUMNS}, CASE WHEN nodes.owner = ? THEN NULL ELSE (SELECT group_concat(g.deny || g.principal, char(10)) FROM access_grants g WHERE g.node_id = nodes.id AND (g.expires_at IS NULL OR g.expires_at > ?)) END AS grants FROM nodes WHERE id = ?`;

function factsOf(db: TenantDb, scope: ReadScope): VisibilityFacts {
  return { denies: !scope.unrestricted && tenantHasDenies(db) };
}

function requireType(model: Schema, typeId: number): NodeType {
  const type = nodeById(model, typeId);
  if (!type)
    throw new StoreError("invalid-argument", `The schema has no node type with id ${typeId}.`);
  return type;
}

function sameSet(a: readonly number[], sortedB: readonly number[]): boolean {
  if (a.length !== sortedB.length) return false;
  const sortedA = [...a].sort((x, y) => x - y);
  return sortedA.every((v, i) => v === sortedB[i]);
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(Math.max(n, min), max);
}
