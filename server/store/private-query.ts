/**
 * A query of a private type in id order, for a member who is not the server: the rows it
 * may read are the ones it owns and the ones granted to one of its principals (and not
 * denied to another), so instead of testing every row of the type against
 * `access_grants` (the term of `visibility-sql.ts`, a correlated lookup per row), it
 * reads two ordered streams, merged by SQLite in one statement (`UNION ALL`, ordered
 * by id, limited to what the page still needs):
 *
 * - its own rows, `owner = actor`, through the index `nodes_by_owner (type, owner, id)`;
 * - its granted rows, from the sorted set of granted ids (`granted-ids.ts`), fetched by id.
 *
 * Each round takes the next unexpired granted ids (8 in the first round, twice as many
 * in each next one, so a page of a reader with many grants needs few rounds, and a
 * reader whose page is mostly its own rows binds few ids); up to the last of them both
 * streams are complete, so the statement returns exactly the visible rows of that id
 * range, filters applied in SQL as in every query. A round that fills the page ends the
 * query; otherwise the next round starts after that range. Without filters or denies, a
 * round's statement text depends only on its shape, so it is compiled once per shape and
 * schema model and a round binds only its values. The rows, the page and the
 * cursor are the ones the general term gives (the randomized model test and
 * `private-query.test.ts` hold them to it).
 *
 * Used for a `private` type without `inherit_access` ref fields, ordered by id ascending
 * (the default), for a member's scope; every other query keeps the general term.
 */

import type { OrderBy } from "../../generated/entdb/v1/entdb_pb.js";
import type { NodeType, Schema } from "../../schema/index.ts";
import type { ReadScope } from "../acl/read-scope.ts";
import { firstAfter, grantedIds } from "./granted-ids.ts";
import { compileNodeQuery, type NodeQuery } from "./node-query.ts";
import { decodeNodeCursor, filtersDigest } from "./page-cursor.ts";
import type { NodeCacheKey } from "./row-codec.ts";
import type { SqlScalar } from "./stored-value-codec.ts";
import type { TenantDb } from "./tenant-db.ts";
import { denyTerm, inheritedFrom, type VisibilityFacts } from "./visibility-sql.ts";

type MemberScope = Extract<ReadScope, { unrestricted: false }>;

/** Whether a query of `type` ordered by `orderBy` for `scope` is answered by {@link queryPrivateById}. */
export function walksGrants(
  type: NodeType,
  scope: ReadScope,
  orderBy: OrderBy | undefined,
): scope is MemberScope {
  return (
    !scope.unrestricted &&
    scope.publicOnly !== true &&
    type.visibility === "private" &&
    (orderBy?.fieldId ?? 0) === 0 &&
    !(orderBy?.descending ?? false) &&
    inheritedFrom(type).length === 0
  );
}

/** Granted ids the first round of a query takes; each further round takes twice as many. */
export const FIRST_ROUND_IDS = 8;

/** Most granted ids one round takes (the length of its bound id list). */
export const MAX_ROUND_IDS = 1_024;

/** The first `query.limit + 1` rows of `type` that `scope` may read, in id order. */
export function queryPrivateById(
  db: TenantDb,
  model: Schema,
  type: NodeType,
  query: NodeQuery,
  scope: MemberScope,
  facts: VisibilityFacts,
  hasIndex: (name: string) => boolean,
): { rows: NodeCacheKey[]; filters: string } {
  const want = query.limit + 1;
  const granted = grantedIds(db, scope.principals);
  const filters = filtersDigest(query.filters);
  let i = 0;
  let lastId: string | undefined;
  if (query.cursor !== "") {
    // Validates the query (fields, filters, then the cursor) as the general path does.
    compileNodeQuery(model, type, query, hasIndex);
    ({ lastId } = decodeNodeCursor(query.cursor, {
      typeId: type.id,
      orderField: 0,
      descending: false,
      filters,
    }));
    i = firstAfter(granted.ids, lastId);
  }
  const rows: NodeCacheKey[] = [];
  // Without filters or denies a round's statement text depends only on its shape, so it
  // is compiled once per shape and a round only binds its values.
  const memo = query.filters.length === 0 && !facts.denies ? memoOf(model) : undefined;
  // Every visible row with an id up to `lo` is in `rows` (or before the cursor).
  let lo: string | undefined;
  let take = FIRST_ROUND_IDS;
  for (;;) {
    const ids: string[] = [];
    while (i < granted.ids.length && ids.length < take) {
      const until = granted.until[i];
      if (until === null || until === undefined || until > scope.atMicros)
        ids.push(granted.ids[i]!);
      i++;
    }
    // Up to `bound` both arms are complete; past the last granted id, the own arm is.
    const bound = i < granted.ids.length ? ids[ids.length - 1] : undefined;
    let sql: string;
    let params: SqlScalar[];
    const shape =
      type.id * 32 +
      (query.columns === "keys" ? 16 : 0) +
      (lo !== undefined ? 8 : 0) +
      (bound !== undefined ? 4 : 0) +
      (ids.length > 0 ? 2 : 0) +
      (lastId !== undefined ? 1 : 0);
    const known = memo?.get(shape);
    if (known !== undefined) {
      // The order compileNodeQuery binds them in: the bounds and the owner, then the cursor.
      params = [];
      if (lo !== undefined) params.push(lo);
      if (bound !== undefined) params.push(bound);
      params.push(scope.actor);
      if (lastId !== undefined) params.push(lastId);
      if (ids.length > 0) {
        params.push(JSON.stringify(ids), scope.actor);
        if (lastId !== undefined) params.push(lastId);
      }
      sql = known;
    } else {
      ({ sql, params } = compileRound(model, type, query, scope, facts, hasIndex, lo, bound, ids));
      memo?.set(shape, sql);
    }
    // The two arms are disjoint (owned or not) and each reads an index in id order, so
    // SQLite merges them without sorting.
    params.push(BigInt(want - rows.length));
    for (const row of db.stmt(sql).all(...params) as NodeCacheKey[]) rows.push(row);
    if (rows.length >= want || bound === undefined) return { rows, filters };
    lo = bound;
    take = Math.min(take * 2, MAX_ROUND_IDS);
  }
}

/**
 * One round's statement (ordered and limited, the limit not bound) and its values: the
 * reader's own rows after `lo` up to `bound`, and the rows of the granted `ids`.
 */
function compileRound(
  model: Schema,
  type: NodeType,
  query: NodeQuery,
  scope: MemberScope,
  facts: VisibilityFacts,
  hasIndex: (name: string) => boolean,
  lo: string | undefined,
  bound: string | undefined,
  ids: readonly string[],
): { sql: string; params: SqlScalar[] } {
  const range: Term[] = [];
  if (lo !== undefined) range.push({ sql: "id > +?", params: [lo] });
  if (bound !== undefined) range.push({ sql: "id <= +?", params: [bound] });
  const arm = { ...query, arm: true as const };
  const own = compileNodeQuery(
    model,
    type,
    { ...arm, also: [...range, { sql: "nodes.owner = +?", params: [scope.actor] }] },
    hasIndex,
  );
  let sql = own.sql;
  const params = [...own.params];
  if (ids.length > 0) {
    const terms: Term[] = [
      // One statement text whatever the count, so the statement cache keeps it.
      { sql: "id IN (SELECT value FROM json_each(?))", params: [JSON.stringify(ids)] },
      { sql: "nodes.owner IS NOT +?", params: [scope.actor] },
    ];
    if (facts.denies) {
      const deny = denyTerm(scope, "nodes");
      terms.push({ sql: `NOT ${deny.sql}`, params: deny.params });
    }
    const grants = compileNodeQuery(model, type, { ...arm, also: terms }, hasIndex);
    sql += ` UNION ALL ${grants.sql}`;
    params.push(...grants.params);
  }
  return { sql: `${sql} ORDER BY id LIMIT +?`, params };
}

/**
 * Round statements of queries without filters (in a tenant without denies), by schema
 * model and shape: the type id times 32 plus a bit each for key columns, a lower bound,
 * an upper bound, any granted id and a cursor; at most 32 per private type.
 */
const memos = new WeakMap<Schema, Map<number, string>>();

function memoOf(model: Schema): Map<number, string> {
  let memo = memos.get(model);
  if (memo === undefined) {
    memo = new Map();
    memos.set(model, memo);
  }
  return memo;
}

interface Term {
  readonly sql: string;
  readonly params: readonly SqlScalar[];
}
