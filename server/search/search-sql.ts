/**
 * Full-text search over one tenant database: the query (search-query.ts) as an FTS5
 * MATCH on each searched type's full-text table, joined to `nodes` so that the read
 * scope's visibility term and the structured filters of QueryNodes apply inside the
 * same statement (DESIGN.md contract 12: a node the caller may not read is never a
 * hit, never counted and never snippeted).
 *
 * Ranking is FTS5's bm25 with the schema's per-field weights (`searchable(weight = w)`),
 * negated so that a higher `score` is more relevant; ties break on `nodes.seq`.
 * Searching several types is a UNION ALL of one arm per type, ranked together (bm25
 * scores of different tables use each table's own statistics, so they are comparable
 * only roughly; docs/search.md says so). A search may instead be ordered by a field of
 * its one type, exactly as QueryNodes orders.
 *
 * Cursors are bound to the query, types, filters and order. Ordered by a field, pages
 * are keyset pages on (field, id), stable under writes as QueryNodes' are. Ordered by
 * relevance, a keyset on (score, seq) would not be: a write anywhere in the type moves
 * bm25's corpus statistics and so every score, and a hit could cross the cursor. So the
 * first page ranks up to SNAPSHOT_MAX_HITS hits at once and keeps them as a snapshot
 * (search-snapshots.ts); later pages walk it, re-checking each hit against the query,
 * the filters and the caller's scope in SQL, so a walk never repeats a hit, never skips
 * one that is unchanged, and never returns one that was deleted or is no longer read.
 *
 * Snippets are computed for the rows of the page only (search-snippets.ts).
 *
 * Limits, cursor keys and the mailbox recipient are bound as `+?`: SQLite (built with
 * STAT4) plans with the value of a bare `?` in `LIMIT` or compared with an indexed column,
 * and then compiles the statement again every time it is bound (node-query.ts does the same).
 */

import { createHash } from "node:crypto";
import {
  ftsTableName,
  nodeFieldExpr,
  STORE_LAYOUT_VERSION,
} from "../../codegen/store-layout/index.ts";
import type { Filter, Node, OrderBy } from "../../generated/entdb/v1/entdb_pb.js";
import { type NodeType, nodeById, type Schema } from "../../schema/index.ts";
import type { ReadScope } from "../acl/read-scope.ts";
import { hasDenies } from "../store/access-tables.ts";
import { compileFilter, noFieldText } from "../store/node-query.ts";
import { decodeNodeCursor, encodeNodeCursor, filtersDigest } from "../store/page-cursor.ts";
import { NODE_COLUMNS, type NodeRow, nodeFromRow } from "../store/row-codec.ts";
import { StoreError } from "../store/store-error.ts";
import type { SqlScalar } from "../store/stored-value-codec.ts";
import type { TenantDb } from "../store/tenant-db.ts";
import { hiddenNodeTerm } from "../store/visibility-sql.ts";
import { SearchQueryError, toFtsMatch } from "./search-query.ts";
import { type SearchSnapshots, SNAPSHOT_MAX_HITS, type SnapshotOwner } from "./search-snapshots.ts";
import { snippetsOf } from "./search-snippets.ts";

/** What a search asks for; `limit` is already clamped by the caller. */
export interface SearchRequest {
  readonly query: string;
  /** The node types to search; empty: every type with searchable fields. */
  readonly typeIds: readonly number[];
  /** Structured filters (QueryNodes'); only with exactly one type. */
  readonly filters: readonly Filter[];
  /** Order by a field instead of relevance; only with exactly one type. */
  readonly orderBy?: OrderBy;
  readonly limit: number;
  readonly cursor: string;
  /** Markers put around each highlighted match in snippets. */
  readonly highlight: { readonly start: string; readonly end: string };
  /** `html`: the stored text of snippets is HTML-escaped (the markers are not). */
  readonly escape?: "html";
  /** Tokens per snippet (FTS5 allows 1 to 64). */
  readonly snippetTokens: number;
  /** Only nodes in this recipient principal's mailbox (docs/mailbox.md). */
  readonly mailbox?: string;
}

/** A snippet of one searchable field that matched. */
export interface SearchSnippet {
  readonly fieldId: number;
  readonly text: string;
}

/** One hit: the node, its relevance (higher is better) and its matching snippets. */
export interface SearchHit {
  readonly node: Node;
  readonly score: number;
  readonly snippets: readonly SearchSnippet[];
}

/** A page of hits. */
export interface SearchPage {
  readonly hits: readonly SearchHit[];
  /** Empty on the last page. */
  readonly nextCursor: string;
}

/** The types a search covers: searchable in the model, with a full-text table in the file. */
export function searchedTypes(model: Schema, typeIds: readonly number[]): NodeType[] {
  if (typeIds.length === 0) {
    return model.nodes
      .filter((n) => n.fields.some((f) => f.searchable))
      .sort((a, b) => a.id - b.id);
  }
  const out: NodeType[] = [];
  for (const id of [...new Set(typeIds)].sort((a, b) => a - b)) {
    const type = nodeById(model, id);
    if (!type) throw invalid(`The schema has no node type with id ${id}.`);
    if (!type.fields.some((f) => f.searchable)) {
      throw invalid(
        `Node type ${type.name} (id ${id}) has no searchable field; mark a string field \`searchable\` in the schema to search it.`,
      );
    }
    out.push(type);
  }
  return out;
}

/** The FTS5 MATCH expression of a user query; a malformed one is an `invalid-argument` StoreError. */
export function ftsMatchOf(query: string): string {
  try {
    return toFtsMatch(query);
  } catch (err) {
    if (err instanceof SearchQueryError) throw invalid(`Search query: ${err.message}.`);
    throw err;
  }
}

/** A ranked hit before its row is read: `id` and `sort_key` only when ordered by a field. */
interface RankedRow {
  readonly seq: bigint;
  readonly score: number;
  readonly sort_key?: SqlScalar;
  readonly id?: string;
}

/** Who runs a search, for the snapshot of its relevance order (search-snapshots.ts). */
export interface SearchContext {
  readonly tenant: string;
  readonly snapshots: SearchSnapshots;
}

/** Runs `req` over `db` for `scope`; throws `invalid-argument` StoreErrors on misuse. */
export function searchTenantDb(
  db: TenantDb,
  model: Schema,
  req: SearchRequest,
  scope: ReadScope,
  context: SearchContext,
): SearchPage {
  const match = ftsMatchOf(req.query);
  const types = searchedTypes(model, req.typeIds);
  const single = types.length === 1 ? types[0] : undefined;
  if (!single && (req.filters.length > 0 || req.orderBy)) {
    throw invalid(
      "Filters and order_by apply to one node type: set exactly one type id, or search without them.",
    );
  }
  const facts = { denies: !scope.unrestricted && hasDenies(db) };
  const orderField = req.orderBy?.fieldId ?? -1;
  const descending = req.orderBy ? req.orderBy.descending : true;
  let keyExpr: string | undefined;
  if (single && req.orderBy) {
    if (orderField === 0) keyExpr = "id";
    else {
      const field = single.fields.find((f) => f.id === orderField);
      if (!field) throw invalid(`${noFieldText(single, orderField)}.`);
      keyExpr = nodeFieldExpr(orderField);
    }
  }

  /**
   * One arm per searched type, UNION ALL'd; `onlySeqs` restricts each arm to the seqs of
   * a JSON array (a snapshot's next hits, re-checked).
   */
  const armsOf = (onlySeqs?: string): { sql: string; params: SqlScalar[] } | undefined => {
    const arms: string[] = [];
    const params: SqlScalar[] = [];
    for (const type of types) {
      const columns = db.ftsFields(type.id);
      if (!columns) continue;
      const fts = ftsTableName(type.id);
      const weights = columns.map((id) => {
        const w = type.fields.find((f) => f.id === id)?.searchWeight ?? 1;
        return Number.isFinite(w) ? String(w) : "1";
      });
      const where = [`${fts} MATCH ?`];
      params.push(match);
      // A full-text table holds exactly the nodes of its type (rowid = nodes.seq), so the
      // join to `nodes` is made only when a term needs the row: visibility, a filter or a
      // sort key. Ranking then sorts (score, seq) pairs, not whole rows.
      const hidden = hiddenNodeTerm(model, scope, "nodes", facts, type.id);
      if (hidden) {
        where.push(`NOT ${hidden.sql}`);
        params.push(...hidden.params);
      }
      if (req.mailbox !== undefined) {
        where.push("nodes.id IN (SELECT node_id FROM mailbox_items WHERE recipient = +?)");
        params.push(req.mailbox);
      }
      for (const filter of req.filters) {
        const c = compileFilter(model, type, filter);
        where.push(c.sql);
        params.push(...c.params);
      }
      const joined = where.length > 1 || keyExpr !== undefined;
      if (onlySeqs !== undefined) {
        where.push(`${fts}.rowid IN (SELECT value FROM json_each(?))`);
        params.push(onlySeqs);
      }
      const key = keyExpr === undefined ? "" : `, ${keyExpr} AS sort_key, nodes.id AS id`;
      const from = joined ? `${fts} JOIN nodes ON nodes.seq = ${fts}.rowid` : fts;
      const score =
        onlySeqs === undefined ? `, -bm25(${fts}, ${weights.join(", ")}) AS score${key}` : "";
      arms.push(`SELECT ${fts}.rowid AS seq${score} FROM ${from} WHERE ${where.join(" AND ")}`);
    }
    return arms.length === 0 ? undefined : { sql: arms.join(" UNION ALL "), params };
  };

  const digest = `${filtersDigest(req.filters)}.${req.mailbox === undefined ? "" : `mailbox:${req.mailbox}.`}${STORE_LAYOUT_VERSION}.${types.map((t) => t.id).join(",")}.${Buffer.from(match).toString("base64url")}`;
  const cursorFor = {
    typeId: single?.id ?? 0,
    orderField,
    descending,
    filters: digestOf(digest),
  };
  const page =
    keyExpr === undefined
      ? relevancePage({
          tenant: context.tenant,
          request: cursorFor.filters,
          actor: scope.unrestricted ? "" : scope.actor,
          snapshots: context.snapshots,
        })
      : fieldOrderedPage(armsOf());
  const nodes = rowsBySeq(db, page.rows);
  const snippets = snippetsOf(db, page.rows, nodes, match, req);
  return {
    hits: page.rows.map((r) => ({
      node: nodeFromRow(model, nodes.get(r.seq)!),
      score: r.score,
      snippets: snippets.get(r.seq) ?? [],
    })),
    nextCursor: page.nextCursor,
  };

  function fieldOrderedPage(arms: { sql: string; params: SqlScalar[] } | undefined): {
    rows: RankedRow[];
    nextCursor: string;
  } {
    if (!arms) return { rows: [], nextCursor: "" };
    const params = [...arms.params];
    const after: string[] = [];
    if (req.cursor !== "") {
      const c = decodeNodeCursor(req.cursor, cursorFor);
      const cmp = descending ? "<" : ">";
      if (c.key === null) {
        after.push(
          descending
            ? "(sort_key IS NULL AND id < +?)"
            : "((sort_key IS NULL AND id > +?) OR sort_key IS NOT NULL)",
        );
        params.push(c.lastId);
      } else {
        const range = `sort_key ${cmp}= +? AND (sort_key ${cmp} +? OR id ${cmp} +?)`;
        after.push(descending ? `((${range}) OR sort_key IS NULL)` : `(${range})`);
        params.push(c.key, c.key, c.lastId);
      }
    }
    const dir = descending ? "DESC" : "ASC";
    const sql = `SELECT * FROM (${arms.sql})${after.length > 0 ? ` WHERE ${after.join(" AND ")}` : ""} ORDER BY sort_key ${dir}, id ${dir} LIMIT +?`;
    params.push(BigInt(req.limit + 1));
    const rows = db.stmt(sql).all(...params) as RankedRow[];
    const page = rows.slice(0, req.limit);
    const last = page[page.length - 1];
    return {
      rows: page,
      nextCursor:
        rows.length > req.limit && last
          ? encodeNodeCursor({ ...cursorFor, key: last.sort_key ?? null, lastId: last.id ?? "" })
          : "",
    };
  }

  /**
   * A relevance-ordered page. The first ranks up to SNAPSHOT_MAX_HITS hits and keeps
   * them as a snapshot when there is more than one page; later pages walk the snapshot
   * from the cursor's position, keeping only the hits that still match and that the
   * caller still reads (the arms, restricted to those seqs), reading further into the
   * snapshot until the page is full.
   */
  function relevancePage(owner: SnapshotOwner & { readonly snapshots: SearchSnapshots }): {
    rows: RankedRow[];
    nextCursor: string;
  } {
    const { snapshots, ...who } = owner;
    const cursorAt = (id: string, position: number) =>
      encodeNodeCursor({ ...cursorFor, key: position, lastId: `${SNAPSHOT_PREFIX}${id}` });
    if (req.cursor === "") {
      const arms = armsOf();
      if (!arms) return { rows: [], nextCursor: "" };
      // Rows as [seq, score] arrays: up to SNAPSHOT_MAX_HITS of them, so no object each.
      // The statement's text is this path's own, so setting it raw affects no other read.
      const ranked = db
        .stmt(`SELECT seq, score FROM (${arms.sql}) ORDER BY score DESC, seq ASC LIMIT +?`)
        .raw(true)
        .all(...arms.params, BigInt(SNAPSHOT_MAX_HITS)) as [bigint, number][];
      const rows = ranked.slice(0, req.limit).map(([seq, score]): RankedRow => ({ seq, score }));
      if (ranked.length <= req.limit) return { rows, nextCursor: "" };
      const seqs = new BigInt64Array(ranked.length);
      const scores = new Float64Array(ranked.length);
      for (let i = 0; i < ranked.length; i++) {
        const [seq, score] = ranked[i]!;
        seqs[i] = seq;
        scores[i] = score;
      }
      const id = snapshots.put(who, { seqs, scores });
      return { rows, nextCursor: cursorAt(id, req.limit) };
    }
    const c = decodeNodeCursor(req.cursor, cursorFor);
    if (
      typeof c.key !== "number" ||
      !Number.isSafeInteger(c.key) ||
      c.key < 0 ||
      !c.lastId.startsWith(SNAPSHOT_PREFIX)
    )
      throw expired(snapshots);
    const id = c.lastId.slice(SNAPSHOT_PREFIX.length);
    const snapshot = snapshots.get(id, who);
    if (!snapshot || c.key > snapshot.seqs.length) throw expired(snapshots);
    const rows: RankedRow[] = [];
    let position = c.key;
    while (rows.length < req.limit && position < snapshot.seqs.length) {
      // Read a little more than the page needs: some hits may have dropped out.
      const end = Math.min(snapshot.seqs.length, position + 2 * (req.limit - rows.length) + 8);
      const chunk = snapshot.seqs.subarray(position, end);
      const arms = armsOf(`[${chunk.join(",")}]`);
      const alive = new Set<bigint>();
      if (arms) {
        for (const r of db.stmt(arms.sql).all(...arms.params) as { seq: bigint }[])
          alive.add(r.seq);
      }
      for (; position < end && rows.length < req.limit; position++) {
        const seq = snapshot.seqs[position]!;
        if (alive.has(seq)) rows.push({ seq, score: snapshot.scores[position]! });
      }
    }
    return {
      rows,
      nextCursor: position < snapshot.seqs.length ? cursorAt(id, position) : "",
    };
  }
}

/** Marks a relevance cursor's `lastId` as a snapshot id. */
const SNAPSHOT_PREFIX = "snapshot:";

function expired(snapshots: SearchSnapshots): StoreError {
  const minutes = Math.round((snapshots.ttlMs / 60_000) * 10) / 10;
  return new StoreError(
    "failed-precondition",
    `The search cursor expired: its ranked hits are kept ${minutes} minutes after the last page was read, by the server that made them. Start again without a cursor.`,
  );
}

/**
 * The `nodes` rows of a page's hits, by seq. Read in the same synchronous turn as the
 * ranking statement, so every hit's row is still there.
 */
function rowsBySeq(db: TenantDb, rows: readonly RankedRow[]): Map<bigint, NodeRow> {
  const out = new Map<bigint, NodeRow>();
  if (rows.length === 0) return out;
  const found = db
    .stmt(`SELECT ${NODE_COLUMNS} FROM nodes WHERE seq IN (${rows.map(() => "?").join(", ")})`)
    .all(...rows.map((r) => r.seq)) as NodeRow[];
  for (const row of found) out.set(row.seq, row);
  return out;
}

function digestOf(text: string): string {
  return createHash("sha256").update(text).digest("base64url").slice(0, 22);
}

function invalid(message: string): StoreError {
  return new StoreError("invalid-argument", message);
}
