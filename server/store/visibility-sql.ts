/**
 * The SQL term hiding the nodes a read scope may not see (DESIGN.md contract 12: reads
 * are filtered inside the store query). The rule, for a node of type T in the model the
 * store reads with (docs/access-control.md):
 *
 * - its owner always reads it; otherwise
 * - an unexpired deny naming one of the caller's principals hides it;
 * - an unexpired grant naming one of them shows it;
 * - else, when T has `inherit_access` ref fields, it is read as the nodes they name are
 *   (any one readable is enough), up to {@link MAX_INHERIT_DEPTH} levels up; a ref naming a
 *   node that is gone reads as unreadable, and only when every such ref is unset does T's
 *   visibility decide;
 * - else T's visibility decides: `private` hides it, `tenant` and `public` show it to
 *   every member.
 *
 * A `publicOnly` scope (a caller that is not a member, or an anonymous reader) sees no
 * node of a type that is not `public`, whoever owns it and whatever was granted; a node
 * of a `public` type goes through the rule above (so a deny still hides it, and an
 * `inherit_access` ref makes it read as its parent, which must be public too).
 *
 * The term is written over a table alias, so the same rule filters a query's own rows
 * (`nodes`), an edge's other end and a parent in the inheritance chain. Types the rule
 * can never hide (tenant-visible, not inheriting, while the tenant has no deny) get no
 * term at all: such reads cost what they cost before.
 */

import { fieldJsonPath } from "../../codegen/store-layout/index.ts";
import { type NodeType, nodeById, type Schema } from "../../schema/served.ts";
import type { ReadScope } from "../acl/read-scope.ts";
import type { SqlScalar } from "./stored-value-codec.ts";

/** How many levels of `inherit_access` a read follows; a parent further up counts as unreadable. */
export const MAX_INHERIT_DEPTH = 3;

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

/** An `inherit_access` ref field of a type: the field and the parent type it points at. */
export interface InheritedRef {
  readonly fieldId: number;
  readonly targetId: number;
}

/**
 * The `inherit_access` ref fields of a type, as (field id, parent type id); kept per type
 * (a model's types never change), since every restricted point read asks.
 */
export function inheritedFrom(type: NodeType): readonly InheritedRef[] {
  let refs = inheritedRefs.get(type);
  if (refs === undefined) {
    const out: InheritedRef[] = [];
    for (const f of type.fields)
      if (f.inheritAccess && f.type.kind === "ref")
        out.push({ fieldId: f.id, targetId: f.type.targetId });
    refs = Object.freeze(out);
    inheritedRefs.set(type, refs);
  }
  return refs;
}

const inheritedRefs = new WeakMap<NodeType, readonly InheritedRef[]>();

/** What the term must account for besides the scope. */
export interface VisibilityFacts {
  /** Whether the tenant has any deny (`hasDenies`); without one the deny part is left out. */
  readonly denies: boolean;
}

/**
 * The term true for rows of `alias` (a `nodes` row) that `scope` may NOT read, or
 * undefined when it may read every node. `typeId`, when known, narrows the term to that
 * type; otherwise it covers every type by `type_id`.
 */
export function hiddenNodeTerm(
  schema: Schema | undefined,
  scope: ReadScope,
  alias: string,
  facts: VisibilityFacts,
  typeId?: number,
): SqlTerm | undefined {
  if (scope.unrestricted || schema === undefined) return undefined;
  return hiddenTerm(schema, scope, alias, facts, typeId, MAX_INHERIT_DEPTH);
}

function hiddenTerm(
  schema: Schema,
  scope: Extract<ReadScope, { unrestricted: false }>,
  alias: string,
  facts: VisibilityFacts,
  typeId: number | undefined,
  depth: number,
): SqlTerm | undefined {
  if (typeId !== undefined && typeId !== 0) {
    const type = nodeById(schema, typeId);
    if (type) return typeHidden(schema, scope, alias, facts, type, depth);
    return scope.publicOnly ? ALWAYS : undefined;
  }
  const sql: string[] = [];
  const params: SqlScalar[] = [];
  let always = 0;
  for (const type of schema.nodes) {
    const term = typeHidden(schema, scope, alias, facts, type, depth);
    if (!term) continue;
    if (term === ALWAYS) always++;
    sql.push(`WHEN ${type.id} THEN ${term.sql}`);
    params.push(...term.params);
  }
  // A node of a type no model knows falls under the deny rule only, or is hidden from a
  // public-only scope.
  const other = facts.denies ? denyTerm(scope, alias) : undefined;
  if (scope.publicOnly) {
    if (always === schema.nodes.length) return ALWAYS;
    if (sql.length === 0) {
      const known = schema.nodes.map((n) => n.id).join(", ");
      return { sql: `(${alias}.type_id NOT IN (${known}))`, params: [] };
    }
    sql.push("ELSE 1");
  } else if (sql.length === 0 && !other) return undefined;
  else if (other) {
    sql.push(`ELSE (${alias}.owner IS NOT ? AND ${other.sql})`);
    params.push(scope.actor, ...other.params);
  } else sql.push("ELSE 0");
  return { sql: `(CASE ${alias}.type_id ${sql.join(" ")} END)`, params };
}

/** The term hiding a node of `type` held in `alias`, or undefined if it never hides one. */
function typeHidden(
  schema: Schema,
  scope: Extract<ReadScope, { unrestricted: false }>,
  alias: string,
  facts: VisibilityFacts,
  type: NodeType,
  depth: number,
): SqlTerm | undefined {
  if (scope.publicOnly && type.visibility !== "public") return ALWAYS;
  const parents = inheritedFrom(type);
  const isPrivate = type.visibility === "private";
  if (!isPrivate && parents.length === 0 && !facts.denies) return undefined;
  const sql: string[] = [`(${alias}.owner IS NOT ? AND (`];
  const params: SqlScalar[] = [scope.actor];
  if (facts.denies) {
    const deny = denyTerm(scope, alias);
    sql.push(`${deny.sql} OR `);
    params.push(...deny.params);
  }
  // NOT (granted OR shown by inheritance OR shown by the type's visibility)
  const grant = grantTerm(scope, alias);
  sql.push(`NOT (${grant.sql}`);
  params.push(...grant.params);
  if (parents.length === 0) {
    sql.push(isPrivate ? ")" : " OR 1)");
  } else {
    const exists: string[] = [];
    for (const { fieldId, targetId } of parents) {
      const pa = `${alias}_p${fieldId}`;
      const ref = `json_extract(${alias}.payload, '${fieldJsonPath(fieldId)}')`;
      exists.push(`${ref} IS NOT NULL`);
      if (depth === 0) continue;
      const parentHidden = hiddenTerm(schema, scope, pa, facts, targetId, depth - 1);
      sql.push(
        ` OR EXISTS (SELECT 1 FROM nodes ${pa} WHERE ${pa}.id = ${ref}${parentHidden ? ` AND NOT ${parentHidden.sql}` : ""})`,
      );
      if (parentHidden) params.push(...parentHidden.params);
    }
    if (!isPrivate) sql.push(` OR NOT (${exists.join(" OR ")})`);
    sql.push(")");
  }
  sql.push("))");
  return { sql: sql.join(""), params };
}

/** The term of a node no scope detail can show. */
const ALWAYS: SqlTerm = { sql: "1", params: [] };

function grantTerm(scope: Extract<ReadScope, { unrestricted: false }>, alias: string): SqlTerm {
  return {
    sql: `EXISTS (SELECT 1 FROM access_grants g WHERE g.node_id = ${alias}.id AND g.deny = 0 AND +g.principal IN ${inList(scope)} AND (g.expires_at IS NULL OR g.expires_at > ?))`,
    params: [...scope.principals, scope.atMicros],
  };
}

/** The term true when an unexpired deny names one of the scope's principals on `alias`. */
export function denyTerm(
  scope: Extract<ReadScope, { unrestricted: false }>,
  alias: string,
): SqlTerm {
  return {
    sql: `EXISTS (SELECT 1 FROM access_grants d WHERE d.node_id = ${alias}.id AND d.deny = 1 AND +d.principal IN ${inList(scope)} AND (d.expires_at IS NULL OR d.expires_at > ?))`,
    params: [...scope.principals, scope.atMicros],
  };
}

/**
 * The principals as bound values: a literal IN list costs less per execution than
 * json_each, and the statement text depends only on how many there are.
 */
function inList(scope: Extract<ReadScope, { unrestricted: false }>): string {
  return `(${scope.principals.map(() => "?").join(", ")})`;
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
