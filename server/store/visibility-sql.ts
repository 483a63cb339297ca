/**
 * The SQL term hiding the nodes a read scope may not see (DESIGN.md contract 12: reads
 * are filtered inside the store query). A node is hidden when its type is `private` in
 * the model the store reads with and the caller neither owns it nor holds a grant on it.
 * `tenant` and `public` types are visible to every member (non-members never reach the
 * store: the API refuses them first).
 *
 * The term is written over a table alias, so the same rule filters a query's own rows
 * (`nodes`), an edge's other end and a traversal's next node. When the schema has no
 * private type, or the scope is unrestricted, there is no term at all: such reads cost
 * what they cost before.
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

/**
 * The term true for rows of `alias` (a `nodes` row) that `scope` may NOT read, or
 * undefined when it may read every node. `typeId`, when known, narrows the term to that
 * type (none at all if it is not private).
 */
export function hiddenNodeTerm(
  schema: Schema | undefined,
  scope: ReadScope,
  alias: string,
  typeId?: number,
): SqlTerm | undefined {
  if (scope.unrestricted || schema === undefined) return undefined;
  const ids = privateTypeIds(schema);
  let typeTerm: string;
  if (typeId !== undefined && typeId !== 0) {
    if (!ids.includes(typeId)) return undefined;
    typeTerm = "1";
  } else {
    if (ids.length === 0) return undefined;
    typeTerm = `${alias}.type_id IN (${ids.join(", ")})`;
  }
  return { sql: `(${typeTerm} AND ${alias}.owner IS NOT ?)`, params: [scope.actor] };
}

/**
 * The term true when the node whose id is the column `idColumn` is hidden from `scope`
 * (a missing node is not hidden: an edge to it stays listed as before).
 */
export function hiddenRefTerm(
  schema: Schema | undefined,
  scope: ReadScope,
  idColumn: string,
): SqlTerm | undefined {
  const hidden = hiddenNodeTerm(schema, scope, "hn");
  if (hidden === undefined) return undefined;
  return {
    sql: `EXISTS (SELECT 1 FROM nodes hn WHERE hn.id = ${idColumn} AND ${hidden.sql})`,
    params: hidden.params,
  };
}
