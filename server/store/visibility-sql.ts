/**
 * The SQL term hiding the nodes a read scope may not see (DESIGN.md contract 12: reads
 * are filtered inside the store query). A node is hidden when its type is `private` in
 * the model the store reads with and the caller neither owns it nor holds an unexpired
 * grant on it, or when an unexpired deny names the caller; ownership beats a deny.
 * `tenant` and `public` types are visible to every member (non-members never reach the
 * store: the API refuses them first).
 *
 * The term is written over a table alias, so the same rule filters a query's own rows
 * (`nodes`), an edge's other end and a traversal's next node. When the schema has no
 * private type, or the scope is unrestricted, there is no term at all: such reads cost
 * what they cost before; the deny part is there only while the tenant has a deny.
 */

import type { Schema } from "../../schema/model.ts";
import type { ReadScope } from "../acl/read-scope.ts";
import type { SqlScalar } from "./value-codec.ts";

/** A SQL boolean term with its bound values. */
export interface SqlTerm {
  readonly sql: string;
  readonly params: readonly SqlScalar[];
}

const privateIds = new WeakMap<Schema, readonly number[]>();

/** The ids of the model's private node types, ascending (computed once per model). */
export function privateTypeIds(schema: Schema): readonly number[] {
  let ids = privateIds.get(schema);
  if (ids === undefined) {
    ids = schema.nodes
      .filter((n) => n.visibility === "private")
      .map((n) => n.id)
      .sort((a, b) => a - b);
    privateIds.set(schema, ids);
  }
  return ids;
}

/** What the term must account for besides the scope. */
export interface VisibilityFacts {
  /** Whether the tenant has any deny (`hasDenies`); without one the deny part is left out. */
  readonly denies: boolean;
}

/**
 * The term true for rows of `alias` (a `nodes` row) that `scope` may NOT read, or
 * undefined when it may read every node. A node is hidden unless the caller owns it, or
 * when its type is private and no unexpired grant of the caller's principals covers it,
 * or when an unexpired deny names one of them. `typeId`, when known, narrows the term
 * to that type.
 */
export function hiddenNodeTerm(
  schema: Schema | undefined,
  scope: ReadScope,
  alias: string,
  facts: VisibilityFacts,
  typeId?: number,
): SqlTerm | undefined {
  if (scope.unrestricted || schema === undefined) return undefined;
  const ids = privateTypeIds(schema);
  // The principals as bound values: a literal IN list costs less per execution than
  // json_each, and the statement text depends only on how many there are.
  const principals = scope.principals;
  const inList = `(${principals.map(() => "?").join(", ")})`;
  const parts: string[] = [];
  const params: SqlScalar[] = [scope.actor];
  let typeTerm: string | undefined;
  if (typeId !== undefined && typeId !== 0) typeTerm = ids.includes(typeId) ? "1" : undefined;
  else if (ids.length > 0) typeTerm = `${alias}.type_id IN (${ids.join(", ")})`;
  if (typeTerm !== undefined) {
    parts.push(
      `(${typeTerm} AND NOT EXISTS (SELECT 1 FROM access_grants g WHERE g.node_id = ${alias}.id AND g.deny = 0 AND +g.principal IN ${inList} AND (g.expires_at IS NULL OR g.expires_at > ?)))`,
    );
    params.push(...principals, scope.atMicros);
  }
  if (facts.denies) {
    parts.push(
      `EXISTS (SELECT 1 FROM access_grants d WHERE d.node_id = ${alias}.id AND d.deny = 1 AND +d.principal IN ${inList} AND (d.expires_at IS NULL OR d.expires_at > ?))`,
    );
    params.push(...principals, scope.atMicros);
  }
  if (parts.length === 0) return undefined;
  return { sql: `(${alias}.owner IS NOT ? AND (${parts.join(" OR ")}))`, params };
}

/**
 * The term true when the node whose id is the column `idColumn` is hidden from `scope`
 * (a missing node is not hidden: an edge to it stays listed as before).
 */
export function hiddenRefTerm(
  schema: Schema | undefined,
  scope: ReadScope,
  idColumn: string,
  facts: VisibilityFacts,
): SqlTerm | undefined {
  const hidden = hiddenNodeTerm(schema, scope, "hn", facts);
  if (hidden === undefined) return undefined;
  return {
    sql: `EXISTS (SELECT 1 FROM nodes hn WHERE hn.id = ${idColumn} AND ${hidden.sql})`,
    params: hidden.params,
  };
}
