/**
 * How reads and deletes name the `edges` table, so that the index serving each direction
 * is fixed in the SQL rather than chosen from planner statistics.
 *
 * `edges` has its primary key `(edge_type_id, from_id, to_id)` for the out direction and
 * `edges_by_to (edge_type_id, to_id, from_id)` for the in direction (`BASE_TABLE_DDL` in
 * `codegen/sql/tenant-ddl.ts`). Without `sqlite_stat1` rows, which a tenant created while
 * the server runs does not have until it is reopened, SQLite prefers the primary key for
 * `edge_type_id = ? AND to_id = ? ORDER BY from_id` (it avoids a sort) and scans every edge
 * of the type. `INDEXED BY` makes the choice exact whatever the statistics say; the index
 * is part of every tenant's fixed layout, so the statement always prepares.
 *
 * Reads bind their values as `+?`, not `?`: SQLite (built with STAT4) plans with the value
 * of a bare parameter in `LIMIT` or compared with an indexed column, and then compiles the
 * statement again every time that parameter is bound, which costs several times a page of
 * ten edges. `col = +?` still seeks the index; only the value-based planning is off.
 */

/** The index that serves `edge_type_id = ? AND to_id = ?`, in `from_id` order. */
export const EDGES_BY_TO = "edges_by_to";

/** `edges` as a FROM target for lookups by `(edge_type_id, to_id)`. */
export const EDGES_FOR_IN = `edges INDEXED BY ${EDGES_BY_TO}`;

/** The column an edge lookup anchors on, and the one it orders by. */
export type EdgeEnds = readonly ["from_id", "to_id"] | readonly ["to_id", "from_id"];

/** `[self, other]` of the out direction (`in` false) or the in direction (`in` true). */
export function edgeEnds(inbound: boolean): EdgeEnds {
  return inbound ? ["to_id", "from_id"] : ["from_id", "to_id"];
}

/** `edges` as a FROM target for lookups by `(edge_type_id, <self>)`: the in direction is pinned. */
function edgesBy(self: EdgeEnds[0]): string {
  return self === "to_id" ? EDGES_FOR_IN : "edges";
}

/**
 * One page of a node's edges in one direction: parameters are the edge type, the node id,
 * then those of `after` (` AND <other> > +?` or empty) and `visible` (empty or starting with
 * ` AND `), then the limit.
 */
export function edgePageSql(
  [self, other]: EdgeEnds,
  columns: string,
  after: string,
  visible: string,
): string {
  return `SELECT ${columns} FROM ${edgesBy(self)} WHERE edge_type_id = +? AND ${self} = +?${after}${visible} ORDER BY ${other} LIMIT +?`;
}

/**
 * Edges of one type at one node by the ids at their other ends, each found by the primary
 * key (`CROSS JOIN` keeps the ids the outer loop: the other order scans the node's edges):
 * parameters are a JSON array of the other ends' ids, the edge type, the node id.
 */
export function edgesByOtherSql([self, other]: EdgeEnds, columns: string): string {
  return `SELECT ${columns
    .split(", ")
    .map((c) => `edges.${c}`)
    .join(
      ", ",
    )} FROM json_each(?) AS wanted CROSS JOIN edges ON edges.edge_type_id = +? AND edges.${self} = +? AND edges.${other} = wanted.value`;
}

/** The number of a node's edges in one direction; parameters as `edgePageSql` without cursor and limit. */
export function edgeCountSql([self]: EdgeEnds, visible: string): string {
  return `SELECT count(*) AS n FROM ${edgesBy(self)} WHERE edge_type_id = +? AND ${self} = +?${visible}`;
}

/** The ids at the other end of a node's edges of one type, in order: edge type, node id. */
export function neighborsSql([self, other]: EdgeEnds): string {
  return `SELECT ${other} AS id FROM ${edgesBy(self)} WHERE edge_type_id = +? AND ${self} = +? ORDER BY ${other}`;
}

/** Deletes every edge of one type into a node: edge type, node id. */
export const DELETE_EDGES_TO = `DELETE FROM ${EDGES_FOR_IN} WHERE edge_type_id = ? AND to_id = ?`;
