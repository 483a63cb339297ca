/**
 * A query of a private type in id order, for a member who is not the server: the rows it
 * may read are the ones it owns and the ones granted to one of its principals (and not
 * denied to another), so instead of testing every row of the type against
 * `access_grants` (the term of `visibility-sql.ts`, a correlated lookup per row), it
 * reads two ordered streams and merges them:
 *
 * - its own rows, `owner = actor`, through the type's id index;
 * - its granted rows, from the sorted set of granted ids (`granted-ids.ts`), fetched by id.
 *
 * Each round takes the next `limit + 1` unexpired granted ids; up to the last of them
 * (or up to the last own row read, when that comes first) both streams are complete, so
 * their merge is exactly the visible rows of that id range, filters applied in SQL as in
 * every query. A round that fills the page ends the query; otherwise the next round
 * starts after that range. The rows, the page and the cursor are the ones the general
 * term gives (the randomized model test and `private-query.test.ts` hold them to it).
 *
 * Used for a `private` type without `inherit_access` ref fields, ordered by id ascending
 * (the default), for a member's scope; every other query keeps the general term.
 */

import type { OrderBy } from "../../generated/entdb/v1/entdb_pb.js";
import type { NodeType, Schema } from "../../schema/index.ts";
import type { ReadScope } from "../acl/read-scope.ts";
import { compareCodePoints, firstAfter, grantedIds } from "./granted-ids.ts";
import { compileNodeQuery, type NodeQuery } from "./node-query.ts";
import { decodeNodeCursor, filtersDigest } from "./page-cursor.ts";
import type { NodeRow } from "./row-codec.ts";
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

/** The first `query.limit + 1` rows of `type` that `scope` may read, in id order. */
export function queryPrivateById(
  db: TenantDb,
  model: Schema,
  type: NodeType,
  query: NodeQuery,
  scope: MemberScope,
  facts: VisibilityFacts,
  hasIndex: (name: string) => boolean,
): { rows: NodeRow[]; filters: string } {
  const want = query.limit + 1;
  const granted = grantedIds(db, scope.principals);
  const rows: NodeRow[] = [];
  let filters = "";
  // The rows up to `lo` (exclusive of nothing: every id <= lo) are done.
  let lo: string | undefined;
  let i = 0;
  let first = true;
  for (;;) {
    const need = want - rows.length;
    const after: Term[] = lo === undefined ? [] : [{ sql: "id > +?", params: [lo] }];
    if (first) {
      filters = filtersDigest(query.filters);
      if (query.cursor !== "") {
        // Validates the query (fields, filters, then the cursor) as the general path does.
        compileNodeQuery(model, type, { ...query, limit: need - 1 }, hasIndex);
        i = firstAfter(
          granted.ids,
          decodeNodeCursor(query.cursor, {
            typeId: type.id,
            orderField: 0,
            descending: false,
            filters,
          }).lastId,
        );
      }
      first = false;
    }
    const cands: string[] = [];
    while (i < granted.ids.length && cands.length < want) {
      const until = granted.until[i];
      if (until === null || until === undefined || until > scope.atMicros)
        cands.push(granted.ids[i]!);
      i++;
    }
    const bound = i < granted.ids.length ? cands[cands.length - 1] : undefined;

    const ownTerms: Term[] = [...after, { sql: "nodes.owner = +?", params: [scope.actor] }];
    if (bound !== undefined) ownTerms.push({ sql: "id <= +?", params: [bound] });
    const own = compileNodeQuery(
      model,
      type,
      { ...query, limit: need - 1, also: ownTerms },
      hasIndex,
    );
    const ownRows = db.stmt(own.sql).all(...own.params) as NodeRow[];
    const hi = ownRows.length === need ? ownRows[need - 1]!.id : bound;

    const inRange = hi === undefined ? cands : cands.slice(0, firstAfter(cands, hi));
    let grantRows: NodeRow[] = [];
    if (inRange.length > 0) {
      const terms: Term[] = [
        // One statement text whatever the count, so the statement cache keeps it.
        { sql: "id IN (SELECT value FROM json_each(?))", params: [JSON.stringify(inRange)] },
        { sql: "nodes.owner IS NOT ?", params: [scope.actor] },
      ];
      if (facts.denies) {
        const deny = denyTerm(scope, "nodes");
        terms.push({ sql: `NOT ${deny.sql}`, params: deny.params });
      }
      const c = compileNodeQuery(model, type, { ...query, limit: need - 1, also: terms }, hasIndex);
      grantRows = db.stmt(c.sql).all(...c.params) as NodeRow[];
    }

    // Both lists are in id order and disjoint (owned or not): merge them.
    mergeById(rows, ownRows, grantRows, want);
    if (rows.length >= want || hi === undefined) return { rows, filters };
    lo = hi;
  }
}

/**
 * Appends to `out` the rows of `a` and `b` (each in id order, no id in both) in id
 * order, until `out` has `want` rows. Each row of the shorter list is placed by a
 * binary search in the longer one: a page usually merges a few granted rows into many
 * own rows, or the other way round, and comparing ids by code point is the cost.
 */
export function mergeById(out: NodeRow[], a: NodeRow[], b: NodeRow[], want: number): void {
  const [long, short] = a.length >= b.length ? [a, b] : [b, a];
  let at = 0;
  for (const row of short) {
    // The first row of `long` from `at` on with an id after this row's.
    let lo = at;
    let hi = long.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareCodePoints(long[mid]!.id, row.id) < 0) lo = mid + 1;
      else hi = mid;
    }
    while (at < lo) {
      if (out.length >= want) return;
      out.push(long[at++]!);
    }
    if (out.length >= want) return;
    out.push(row);
  }
  while (at < long.length && out.length < want) out.push(long[at++]!);
}

interface Term {
  readonly sql: string;
  readonly params: readonly SqlScalar[];
}
