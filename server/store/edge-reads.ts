/**
 * Edge reads for `StoreReader`: a page of one node's edges of a type, and the
 * breadth-first traversal from a node, both reading hidden nodes as if they did not exist.
 */

import { create } from "@bufbuild/protobuf";
import type { Edge, TraversedNode } from "../../generated/entdb/v1/entdb_pb.js";
import { Direction, TraversedNodeSchema } from "../../generated/entdb/v1/entdb_pb.js";
import type { Schema } from "../../schema/index.ts";
import type { ReadScope } from "../acl/read-scope.ts";
import type { Page, TraverseStep } from "../engine.ts";
import type { EdgeCache, NodeEdges } from "./edge-cache.ts";
import {
  type EdgeEnds,
  edgeCountSql,
  edgeEnds,
  edgePageSql,
  edgesByOtherSql,
  neighborsSql,
} from "./edge-sql.ts";
import type { NodeCache } from "./node-cache.ts";
import { factsOf, nodeOf, visibleNode } from "./node-point-reads.ts";
import { decodeEdgeCursor, encodeEdgeCursor } from "./page-cursor.ts";
import type { ReadLimits } from "./read-limits.ts";
import { EDGE_COLUMNS, type EdgeRow } from "./row-codec.ts";
import type { SqlScalar } from "./stored-value-codec.ts";
import type { TenantDb } from "./tenant-db.ts";
import { hiddenRefTerm } from "./visibility-sql.ts";

/** A page of `nodeId`'s edges of `edgeTypeId` that `scope` may read, `limit` already clamped. */
export function listEdgePage(
  edges: EdgeCache,
  db: TenantDb,
  model: Schema | undefined,
  edgeTypeId: number,
  nodeId: string,
  query: {
    readonly direction: Direction;
    readonly limit: number;
    readonly cursor: string;
    readonly includeCount: boolean;
  },
  scope: ReadScope,
): Page<Edge> & { readonly totalCount?: number } {
  const direction = query.direction === Direction.IN ? Direction.IN : Direction.OUT;
  const ends = edgeEnds(direction === Direction.IN);
  const [, other] = ends;
  const limit = query.limit;
  // A hidden node has no edges to list, and an edge whose other end is hidden is not
  // listed or counted: both read as if the hidden node did not exist.
  const facts = factsOf(db, scope);
  const anchor = hiddenRefTerm(model, scope, "?", facts);
  if (
    anchor &&
    db
      .stmt(`SELECT ${anchor.sql}`)
      .pluck()
      .get(nodeId, ...anchor.params) === 1n
  )
    return query.includeCount
      ? { items: [], nextCursor: "", totalCount: 0 }
      : { items: [], nextCursor: "" };
  const otherHidden = hiddenRefTerm(model, scope, `edges.${other}`, facts);
  const visible = otherHidden ? ` AND NOT ${otherHidden.sql}` : "";
  const inbound = direction === Direction.IN;
  const list = edges.list(db, model, edgeTypeId, inbound, nodeId);
  const lastOtherId =
    query.cursor === ""
      ? undefined
      : decodeEdgeCursor(query.cursor, { edgeTypeId, nodeId, direction }).lastOtherId;
  // A reader whose term hides nothing reads the page the index holds: from the node's
  // cached order when it covers the page, else the ids at the page's other ends from the
  // index alone, plucked (the node's own end is `nodeId`).
  const kept =
    visible === "" && lastOtherId === undefined ? edges.firstPage(list, limit) : undefined;
  if (kept !== undefined) {
    const items = kept.items as Edge[];
    if (!query.includeCount) return { items, nextCursor: kept.nextCursor };
    const known = edges.count(list);
    if (known !== undefined) return { items, nextCursor: kept.nextCursor, totalCount: known };
  }
  let others: string[];
  let more: boolean;
  const cached = visible === "" ? edges.page(list, lastOtherId, limit) : undefined;
  if (cached !== undefined) ({ others, more } = cached);
  else {
    const params: SqlScalar[] = [BigInt(edgeTypeId), nodeId];
    if (lastOtherId !== undefined) params.push(lastOtherId);
    params.push(...(otherHidden?.params ?? []), BigInt(limit + 1));
    const after = lastOtherId === undefined ? "" : ` AND ${other} > +?`;
    const sql =
      visible === ""
        ? plainPageSql(ends, lastOtherId !== undefined)
        : edgePageSql(ends, other, after, visible);
    others = db
      .stmt(sql)
      .pluck()
      .all(...params) as string[];
    if (visible === "" && lastOtherId === undefined) edges.remember(list, others, limit + 1);
    more = others.length > limit;
    if (more) others.length = limit;
  }
  let nextCursor = "";
  if (more) {
    const last = others[limit - 1];
    if (last !== undefined)
      nextCursor = encodeEdgeCursor({ edgeTypeId, nodeId, direction, lastOtherId: last });
  }
  const items = edgesOf(edges, list, db, edgeTypeId, ends, nodeId, others);
  // A first page from the order is kept whole for the answers that repeat it.
  if (visible === "" && lastOtherId === undefined) edges.keepFirst(list, limit, items, nextCursor);
  if (!query.includeCount) return { items, nextCursor };
  const known = visible === "" ? edges.count(list) : undefined;
  if (known !== undefined) return { items, nextCursor, totalCount: known };
  const count = db
    .stmt(edgeCountSql(ends, visible))
    .get(BigInt(edgeTypeId), nodeId, ...(otherHidden?.params ?? [])) as { n: bigint };
  return { items, nextCursor, totalCount: Number(count.n) };
}

/**
 * The edges of one node's edges of one type (`self` being `nodeId`, `list` its cache
 * entry) whose other ends are `others`, in their order: from the entry, the rest read
 * whole in one statement by their primary key.
 */
function edgesOf(
  edges: EdgeCache,
  list: NodeEdges,
  db: TenantDb,
  edgeTypeId: number,
  ends: EdgeEnds,
  nodeId: string,
  others: readonly string[],
): Edge[] {
  const [self, other] = ends;
  const held = list.edges;
  const out = new Array<Edge>(others.length);
  let missing: string[] | undefined;
  for (let i = 0; i < others.length; i++) {
    const o = others[i] as string;
    const hit = held.get(o);
    if (hit !== undefined) out[i] = hit;
    else {
      missing ??= [];
      missing.push(o);
    }
  }
  if (missing === undefined) return out;
  const byOther = new Map<string, Edge>();
  for (const row of db
    .stmt(edgesByOtherSql(ends, EDGE_COLUMNS))
    .all(JSON.stringify(missing), BigInt(edgeTypeId), nodeId) as EdgeRow[])
    byOther.set(row[other], edges.edge(list, row));
  for (let i = 0; i < others.length; i++) {
    if (out[i] !== undefined) continue;
    const o = others[i] as string;
    const edge = byOther.get(o);
    if (edge === undefined)
      throw new Error(
        `edge ${JSON.stringify({ [self]: nodeId, [other]: o })} vanished within a read`,
      );
    out[i] = edge;
  }
  return out;
}

/**
 * The page statement of a listing with no hidden ends, by direction and cursor: each
 * text built once, so the statement cache finds it without hashing a new string.
 */
function plainPageSql(ends: EdgeEnds, afterCursor: boolean): string {
  const inbound = ends[0] === "to_id";
  return PLAIN_PAGE_SQL[(inbound ? 2 : 0) + (afterCursor ? 1 : 0)] as string;
}

const PLAIN_PAGE_SQL = [false, true].flatMap((inbound) => {
  const ends = edgeEnds(inbound);
  return [
    edgePageSql(ends, ends[1], "", ""),
    edgePageSql(ends, ends[1], ` AND ${ends[1]} > +?`, ""),
  ];
});

/** The nodes `scope` may read reached from `startId`, breadth first, within `limits`. */
export function traverseFrom(
  cache: NodeCache,
  db: TenantDb,
  model: Schema | undefined,
  limits: ReadLimits,
  startId: string,
  query: {
    readonly edgeTypeIds: readonly number[];
    readonly direction: Direction;
    readonly maxDepth: number;
    readonly maxNodes: number;
    readonly hops?: readonly TraverseStep[];
  },
  scope: ReadScope,
): { readonly nodes: readonly TraversedNode[]; readonly truncated: boolean } {
  // Hidden nodes are neither returned nor walked through, and do not count toward
  // `maxNodes`: the walk is the one the caller would see if they did not exist.
  const nodeRow = (id: string) => visibleNode(db, model, scope, id);
  if (!nodeRow(startId)) return { nodes: [], truncated: false };
  const maxNodes = clamp(
    query.maxNodes === 0 ? limits.defaultPageSize : query.maxNodes,
    1,
    limits.maxTraverseNodes,
  );
  const steps: readonly TraverseStep[] =
    query.hops !== undefined && query.hops.length > 0
      ? query.hops.slice(0, limits.maxTraverseDepth)
      : Array.from({ length: clamp(query.maxDepth, 1, limits.maxTraverseDepth) }, () => ({
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
          out.push(create(TraversedNodeSchema, { node: nodeOf(cache, db, model, row), depth }));
          next.push(id);
        }
      }
    }
    frontier = next;
  }
  return { nodes: out, truncated: false };
}

function clamp(n: number, min: number, max: number): number {
  return Math.min(Math.max(n, min), max);
}
