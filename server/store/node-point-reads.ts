/**
 * Point reads of nodes and their visibility decision: the node `scope` may read by id,
 * and the nodes of the rows a read's statement found, from the node cache or their full
 * rows.
 */

import type { Node } from "../../generated/entdb/v1/entdb_pb.js";
import { type NodeType, nodeById, type Schema } from "../../schema/index.ts";
import type { ReadScope } from "../acl/read-scope.ts";
import { isGranted, loadedGrantsWithoutDenies, tenantHasDenies } from "./granted-ids.ts";
import type { NodeCache } from "./node-cache.ts";
import {
  NODE_COLUMNS,
  NODE_KEY_COLUMNS,
  type NodeCacheKey,
  type NodeKeyRow,
  type NodeRow,
} from "./row-codec.ts";
import type { TenantDb } from "./tenant-db.ts";
import { hiddenNodeTerm, inheritedFrom, type VisibilityFacts } from "./visibility-sql.ts";

/** A node row's cache key and its type: what a read of nodes by id needs of each row. */
export type NodeIdRow = NodeCacheKey & Pick<NodeKeyRow, "type_id">;

/**
 * The node with `id` for a reader who may read every node, of `typeId` (0: any type):
 * the cached node when the cache holds it (no statement: its entries are current),
 * otherwise its row, read whole by id.
 */
export function unrestrictedNode(
  cache: NodeCache,
  db: TenantDb,
  model: Schema | undefined,
  typeId: number,
  id: string,
): Node | undefined {
  let node = cache.peek(db, model, id);
  if (node === undefined) {
    const row = db.stmt(NODE_ROW_SQL).get(id) as NodeRow | undefined;
    if (row === undefined) return undefined;
    node = cache.node(db, model, row);
  }
  return typeId === 0 || node.typeId === typeId ? node : undefined;
}

/**
 * The nodes of `ids` that `scope` may read and are of `typeId` (0: any type), each id
 * once, in the order first asked.
 */
export function visibleNodesByIds(
  cache: NodeCache,
  db: TenantDb,
  model: Schema | undefined,
  scope: ReadScope,
  typeId: number,
  ids: readonly string[],
): Node[] {
  const wanted: string[] = [];
  const seen = new Set<string>();
  for (const id of ids) {
    if (seen.has(id)) continue;
    seen.add(id);
    wanted.push(id);
  }
  // When the reader may read every node of the type (unrestricted, or a member of a
  // tenant with no deny and no private or inheriting type: no hidden term), the cache
  // answers the ids it holds and one statement reads the rest; otherwise each row is
  // decided as a point read does.
  const everyRow =
    scope.unrestricted ||
    (model !== undefined &&
      hiddenNodeTerm(model, scope, "nodes", factsOf(db, scope), typeId) === undefined);
  if (!everyRow) {
    const rows: NodeIdRow[] = [];
    for (const id of wanted) {
      const row = visibleNode(db, model, scope, id);
      if (row && (typeId === 0 || Number(row.type_id) === typeId)) rows.push(row);
    }
    return nodesOf(cache, db, model, rows);
  }
  const found = nodesByIds(cache, db, model, wanted);
  const out: Node[] = [];
  for (const node of found) {
    if (node && (typeId === 0 || node.typeId === typeId)) out.push(node);
  }
  return out;
}

/**
 * The nodes of the ids this turn's statement found (distinct), in their order: those
 * the node cache holds without a statement, the rest read whole by id in one statement.
 */
export function foundNodesByIds(
  cache: NodeCache,
  db: TenantDb,
  model: Schema | undefined,
  ids: readonly string[],
): Node[] {
  const nodes = nodesByIds(cache, db, model, ids);
  for (let i = 0; i < nodes.length; i++) {
    if (nodes[i] === undefined) throw new Error(`node ${ids[i]} vanished within a read`);
  }
  return nodes as Node[];
}

/**
 * The nodes of `ids` (distinct), by position, undefined where there is none: those the
 * node cache holds without a statement, the rest read whole by id in one statement.
 */
function nodesByIds(
  cache: NodeCache,
  db: TenantDb,
  model: Schema | undefined,
  ids: readonly string[],
): (Node | undefined)[] {
  const out = new Array<Node | undefined>(ids.length);
  let missing: string[] | undefined;
  for (let i = 0; i < ids.length; i++) {
    const node = cache.peek(db, model, ids[i] as string);
    if (node !== undefined) out[i] = node;
    else {
      missing ??= [];
      missing.push(ids[i] as string);
    }
  }
  if (missing === undefined) return out;
  const byId = new Map<string, Node>();
  for (const row of db.stmt(NODES_BY_IDS_SQL).all(JSON.stringify(missing)) as NodeRow[])
    byId.set(row.id, cache.node(db, model, row));
  for (let i = 0; i < ids.length; i++) out[i] ??= byId.get(ids[i] as string);
  return out;
}

/**
 * The node of a row this turn's statement found: from the cache, or decoded from its
 * full row (read by `seq` in the same synchronous turn, so it is the same state).
 */
export function nodeOf(
  cache: NodeCache,
  db: TenantDb,
  model: Schema | undefined,
  key: NodeCacheKey,
): Node {
  const cached = cache.cached(db, model, key);
  if (cached !== undefined) return cached;
  const row = db.stmt(NODE_BY_SEQ_SQL).get(key.seq) as NodeRow | undefined;
  if (row === undefined) throw new Error(`node row ${key.seq} vanished within a read`);
  return cache.node(db, model, row);
}

/**
 * The nodes of rows this turn's statement found, in their order: from the cache, the
 * rows it does not hold read in one statement by `seq`.
 */
export function nodesOf(
  cache: NodeCache,
  db: TenantDb,
  model: Schema | undefined,
  keys: readonly NodeCacheKey[],
): Node[] {
  const out: Node[] = new Array(keys.length);
  let missing: number[] | undefined;
  for (let i = 0; i < keys.length; i++) {
    const cached = cache.cached(db, model, keys[i] as NodeCacheKey);
    if (cached !== undefined) out[i] = cached;
    else {
      missing ??= [];
      missing.push(i);
    }
  }
  if (missing === undefined) return out;
  if (missing.length === 1) {
    const i = missing[0] as number;
    out[i] = nodeOf(cache, db, model, keys[i] as NodeCacheKey);
    return out;
  }
  const seqs = missing.map((i) => String((keys[i] as NodeCacheKey).seq));
  const rows = new Map(
    (db.stmt(NODES_BY_SEQS_SQL).all(`[${seqs.join(",")}]`) as NodeRow[]).map((r) => [r.seq, r]),
  );
  for (const i of missing) {
    const key = keys[i] as NodeCacheKey;
    const row = rows.get(key.seq);
    if (row === undefined) throw new Error(`node row ${key.seq} vanished within a read`);
    out[i] = cache.node(db, model, row);
  }
  return out;
}

const NODE_BY_SEQ_SQL = `SELECT ${NODE_COLUMNS} FROM nodes WHERE seq = ?`;

/** The full rows of the seqs in a JSON array. */
const NODES_BY_SEQS_SQL = `SELECT ${NODE_COLUMNS.split(", ")
  .map((c) => `nodes.${c}`)
  .join(", ")} FROM json_each(?) AS wanted JOIN nodes ON nodes.seq = wanted.value`;

/** A whole node row by id. */
const NODE_ROW_SQL = `SELECT ${NODE_COLUMNS} FROM nodes WHERE id = ?`;

/**
 * The whole rows of the ids in a JSON array: one statement, the `id` index per element
 * (a join over `json_each` cost less than `IN (SELECT …)` or one statement per id).
 */
const NODES_BY_IDS_SQL = `SELECT ${NODE_COLUMNS.split(", ")
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
export function visibleNode(
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

/** What the visibility terms of `scope` need to know of the tenant. */
export function factsOf(db: TenantDb, scope: ReadScope): VisibilityFacts {
  return { denies: !scope.unrestricted && tenantHasDenies(db) };
}
