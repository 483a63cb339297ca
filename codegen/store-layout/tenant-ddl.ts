/**
 * The DDL of a tenant database: the fixed tables every tenant has, and the objects a
 * schema adds (expression indexes, unique indexes, full-text tables). Everything is
 * keyed by ids (DESIGN.md contract 2); names appear only in the comments of
 * `indexes.sql` (`codegen/sql/print-sql.ts`).
 *
 * Why expression indexes rather than generated columns: a node's fields live in one
 * JSON payload shared by every node type, so a generated column per indexed field
 * would add a column to `nodes` for every (type, field) pair of every schema version,
 * and SQLite can neither drop a column that an index uses nor add a STORED one. A
 * partial expression index (`… WHERE type_id = 4`) costs nothing for other types,
 * is created and dropped without touching the table, and is matched by SQLite's
 * planner whenever a query uses the same `json_extract` expression and the same
 * `type_id = <literal>` term — which the store's query builder always emits.
 *
 * Non-unique indexes end with `id`: the store pages through results ordered by
 * (field, id), and with the id in the index that order is the index order, so a page
 * is an index range scan instead of a sort. A leading `type_id` column would add
 * nothing: the partial `WHERE type_id = N` already fixes it.
 */

import type { NodeType, Schema } from "../../schema/index.ts";
import {
  edgeIndexName,
  edgePropExpr,
  ftsColumnName,
  ftsTableName,
  nodeFieldExpr,
  nodeIndexName,
  nodeUniqueName,
} from "./sql-names.ts";

/**
 * Version of the layout, kept in `PRAGMA user_version`. A store refuses a database with
 * another layout instead of guessing, and the start-up check (`server/store/derived-check.ts`)
 * sets such a file aside and rebuilds it from the log.
 *
 * 2: full-text tables fold diacritics (`unicode61 remove_diacritics 2`) and hold CJK text
 * one character per token (`fts-text.ts`).
 */
export const STORE_LAYOUT_VERSION = 2;

/**
 * The tokenizer of every full-text table: unicode61 folds case, and `remove_diacritics 2`
 * folds diacritics too (`résumé` matches `resume`). CJK text is split before it gets
 * here (`ftsText`, fts-text.ts).
 */
export const FTS_TOKENIZER = "unicode61 remove_diacritics 2";

/**
 * The SQL function (registered on every tenant connection) that turns a field value into
 * the text a full-text column holds: `ftsText` (fts-text.ts).
 */
export const FTS_TEXT_FUNCTION = "entdb_fts_text";

/**
 * The fixed tables of every tenant database, in creation order.
 *
 * - `nodes.seq` is an explicit rowid alias so that the full-text tables can key their
 *   rows by it (a plain rowid may be renumbered by VACUUM; an alias never is); `id` is
 *   the node id and is unique.
 * - Timestamps are integer microseconds since the Unix epoch, UTC.
 * - `payload` and `props` are JSON objects keyed by field id.
 * - `edges` has its primary key for the out direction and `edges_by_to` for the in
 *   direction, so both directions are index range scans.
 * - `outcomes` keeps the recorded outcome of every applied plan with its idempotency key.
 * - `tenant_state` is one row: the tenant id (to catch a misplaced file), the applied
 *   log position (exclusive) and the schema version whose objects are in the file.
 */
export const BASE_TABLE_DDL: readonly string[] = [
  "CREATE TABLE nodes (seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, type_id INTEGER NOT NULL, payload TEXT NOT NULL, version INTEGER NOT NULL, owner TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL) STRICT",
  "CREATE INDEX nodes_by_type ON nodes(type_id, id)",
  "CREATE TABLE edges (edge_type_id INTEGER NOT NULL, from_id TEXT NOT NULL, to_id TEXT NOT NULL, props TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (edge_type_id, from_id, to_id)) STRICT, WITHOUT ROWID",
  "CREATE INDEX edges_by_to ON edges(edge_type_id, to_id, from_id)",
  "CREATE TABLE outcomes (idempotency_key TEXT PRIMARY KEY, log_partition INTEGER NOT NULL, log_offset INTEGER NOT NULL, schema_version INTEGER NOT NULL, outcome TEXT NOT NULL) STRICT, WITHOUT ROWID",
  "CREATE TABLE tenant_state (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), tenant TEXT NOT NULL, log_partition INTEGER NOT NULL, applied_offset INTEGER NOT NULL, schema_version INTEGER NOT NULL) STRICT",
];

/** One object a schema adds to a tenant database. */
export interface SchemaObject {
  /** The SQLite object name, from ids only (`ix_n4_f5`, `ux_n3_f1_f2`, `fts_n1`). */
  readonly name: string;
  readonly kind: "index" | "unique" | "edge-index" | "fts";
  /** The node type id, or the edge type id for `edge-index`. */
  readonly typeId: number;
  /** Fields covered, in index column order (searchable fields for `fts`). */
  readonly fieldIds: readonly number[];
  /** The CREATE statement, exactly as SQLite keeps it in `sqlite_master.sql`. */
  readonly sql: string;
}

/**
 * The objects `schema` adds, in a deterministic order: node types by id, and within a
 * type its unique fields (by id), composite uniques (declared order), indexed fields
 * (by id), composite indexes (declared order) and its full-text table; then edge types
 * by id with their indexed properties. A field both `unique` and `index` gets only
 * the unique index, which serves lookups just as well.
 */
export function schemaObjects(schema: Schema): SchemaObject[] {
  const out: SchemaObject[] = [];
  for (const node of [...schema.nodes].sort((a, b) => a.id - b.id)) {
    out.push(...nodeObjects(node));
  }
  for (const edge of [...schema.edges].sort((a, b) => a.id - b.id)) {
    for (const field of [...edge.fields].sort((a, b) => a.id - b.id)) {
      // Edge properties take `index` but never `unique` or `searchable` (the compiler says so).
      if (!field.index) continue;
      out.push({
        name: edgeIndexName(edge.id, field.id),
        kind: "edge-index",
        typeId: edge.id,
        fieldIds: [field.id],
        sql: `CREATE INDEX ${edgeIndexName(edge.id, field.id)} ON edges(${edgePropExpr(field.id)}) WHERE edge_type_id = ${edge.id}`,
      });
    }
  }
  return out;
}

/**
 * Every statement that creates a fresh tenant database for `schema`: the fixed
 * tables, then the schema's objects. (`entdb generate` prints the same list as
 * `indexes.sql`; the store runs the first part once and diffs the second.)
 */
export function buildTenantDdl(schema: Schema): string[] {
  return [...BASE_TABLE_DDL, ...schemaObjects(schema).map((o) => o.sql)];
}

/**
 * The statement filling a freshly created full-text table from the nodes already
 * stored, for a type that became searchable (or gained a searchable field). Each value
 * goes through {@link FTS_TEXT_FUNCTION} only if it holds a character outside printable
 * ASCII: `ftsText` changes only text with CJK characters, and a call into JavaScript
 * per value was about a sixth of filling a table (a bulk-loaded tenant fills every one
 * at its end). Non-text values go past the `GLOB` unchanged, as the function returns them.
 * The rows go in in rowid (`seq`) order: FTS5 writes the terms it holds as a new segment
 * whenever a rowid is not above the last one, and the nodes come from `nodes_by_type` in
 * id order, which is not `seq` order for ids minted in the same millisecond (UUIDv7's
 * low bits are random), from several servers, or by a client; out of order, the table
 * was written as many small segments, merged again.
 */
export function ftsPopulateSql(typeId: number, fieldIds: readonly number[]): string {
  const cols = fieldIds.map(ftsColumnName).join(", ");
  const values = fieldIds
    .map((id) => {
      const value = nodeFieldExpr(id);
      return `CASE WHEN ${value} GLOB '*[^ -~]*' THEN ${FTS_TEXT_FUNCTION}(${value}) ELSE ${value} END`;
    })
    .join(", ");
  return `INSERT INTO ${ftsTableName(typeId)}(rowid, ${cols}) SELECT seq, ${values} FROM nodes WHERE type_id = ${typeId} ORDER BY seq`;
}

function nodeObjects(node: NodeType): SchemaObject[] {
  const out: SchemaObject[] = [];
  const fields = [...node.fields].sort((a, b) => a.id - b.id);
  const where = `WHERE type_id = ${node.id}`;
  const exprs = (ids: readonly number[]) => ids.map(nodeFieldExpr).join(", ");
  const unique = (ids: readonly number[]) => {
    const name = nodeUniqueName(node.id, ids);
    out.push({
      name,
      kind: "unique",
      typeId: node.id,
      fieldIds: ids,
      sql: `CREATE UNIQUE INDEX ${name} ON nodes(${exprs(ids)}) ${where}`,
    });
  };
  const index = (ids: readonly number[]) => {
    const name = nodeIndexName(node.id, ids);
    out.push({
      name,
      kind: "index",
      typeId: node.id,
      fieldIds: ids,
      sql: `CREATE INDEX ${name} ON nodes(${exprs(ids)}, id) ${where}`,
    });
  };
  for (const f of fields) if (f.unique) unique([f.id]);
  for (const c of node.uniques) unique(c.fieldIds);
  for (const f of fields) if (f.index && !f.unique) index([f.id]);
  for (const c of node.indexes) index(c.fieldIds);
  const searchable = fields.filter((f) => f.searchable).map((f) => f.id);
  if (searchable.length > 0) {
    const name = ftsTableName(node.id);
    out.push({
      name,
      kind: "fts",
      typeId: node.id,
      fieldIds: searchable,
      sql: `CREATE VIRTUAL TABLE ${name} USING fts5(${searchable.map(ftsColumnName).join(", ")}, tokenize = '${FTS_TOKENIZER}')`,
    });
  }
  return out;
}
