/**
 * Reads of nodes by a unique key and pages of a node type's query, for `StoreReader`:
 * the visibility term of the reader folded into the one statement each runs.
 */

import { nodeFieldExpr } from "../../codegen/store-layout/index.ts";
import type { Filter, Node, OrderBy } from "../../generated/entdb/v1/entdb_pb.js";
import type { Value } from "../../generated/entdb/v1/values_pb.js";
import { type NodeType, nodeById, type Schema } from "../../schema/index.ts";
import type { ReadScope } from "../acl/read-scope.ts";
import type { Page } from "../engine.ts";
import type { NodeCache } from "./node-cache.ts";
import { factsOf, nodesOf } from "./node-point-reads.ts";
import { compileNodeQuery } from "./node-query.ts";
import { encodeNodeCursor } from "./page-cursor.ts";
import { queryPrivateById, walksGrants } from "./private-query.ts";
import { NODE_COLUMNS, type NodeCacheKey, type NodeRow } from "./row-codec.ts";
import { StoreError } from "./store-error.ts";
import { encodeValue, type SqlScalar, sqlValueOf } from "./stored-value-codec.ts";
import type { TenantDb } from "./tenant-db.ts";
import { hiddenNodeTerm } from "./visibility-sql.ts";

/** The node of `typeId` whose unique `key` fields hold those values, if `scope` may read it. */
export function nodeByKey(
  cache: NodeCache,
  db: TenantDb,
  model: Schema,
  typeId: number,
  key: ReadonlyMap<number, Value>,
  scope: ReadScope,
): Node | undefined {
  const type = requireType(model, typeId);
  const ids = [...key.keys()].sort((a, b) => a - b);
  const isKey =
    (ids.length === 1 && type.fields.some((f) => f.id === ids[0] && f.unique)) ||
    type.uniques.some((u) => sameSet(u.fieldIds, ids));
  if (!isKey) {
    throw new StoreError(
      "invalid-argument",
      `Fields [${ids.join(", ")}] of type ${typeId} are not one unique field or all fields of one composite unique.`,
      ids.length > 0 ? { fieldId: ids[0]! } : undefined,
    );
  }
  const where: string[] = [`type_id = ${typeId}`];
  const params: SqlScalar[] = [];
  for (const fieldId of ids) {
    const field = type.fields.find((f) => f.id === fieldId)!;
    const json = encodeValue(model, field.type, key.get(fieldId)!, {
      owner: `type ${typeId}`,
      fieldId,
    });
    if (json === null) return undefined;
    where.push(`${nodeFieldExpr(fieldId)} = ?`);
    params.push(sqlValueOf(json));
  }
  const hidden = hiddenNodeTerm(model, scope, "nodes", factsOf(db, scope), typeId);
  if (hidden) {
    where.push(`NOT ${hidden.sql}`);
    params.push(...hidden.params);
  }
  const row = db
    .stmt(`SELECT ${NODE_COLUMNS} FROM nodes WHERE ${where.join(" AND ")}`)
    .get(...params) as NodeRow | undefined;
  return row && cache.node(db, model, row);
}

/** A page of `typeId`'s nodes that `scope` may read, `limit` already clamped. */
export function queryNodePage(
  cache: NodeCache,
  db: TenantDb,
  model: Schema,
  typeId: number,
  query: {
    readonly filters: readonly Filter[];
    readonly orderBy?: OrderBy;
    readonly limit: number;
    readonly cursor: string;
  },
  scope: ReadScope,
): Page<Node> {
  const limit = query.limit;
  const type = requireType(model, typeId);
  const facts = factsOf(db, scope);
  const hasIndex = (name: string) => db.hasObject(name);
  let compiled: { orderField: number; descending: boolean; filters: string };
  let rows: (NodeCacheKey & { sort_key?: SqlScalar })[];
  if (walksGrants(type, scope, query.orderBy)) {
    // A private type in id order: the reader's own and granted rows, merged.
    const found = queryPrivateById(
      db,
      model,
      type,
      { ...query, limit, columns: "keys" },
      scope,
      facts,
      hasIndex,
    );
    compiled = { orderField: 0, descending: false, filters: found.filters };
    rows = found.rows;
  } else {
    const hidden = hiddenNodeTerm(model, scope, "nodes", facts, typeId);
    const c = compileNodeQuery(
      model,
      type,
      { ...query, limit, ...(hidden ? { hidden } : {}), columns: "keys" },
      hasIndex,
    );
    compiled = c;
    rows = db.stmt(c.sql).all(...c.params) as NodeCacheKey[];
  }
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  let nextCursor = "";
  if (rows.length > limit && last) {
    // Only the last row's sort key is needed. The statement read it when the order's
    // index holds it; computing it for every row otherwise cost more than the rest of
    // the statement, so it is read for the last row alone.
    const key =
      "sort_key" in last
        ? (last.sort_key ?? null)
        : compiled.orderField === 0
          ? null
          : (db
              .stmt(`SELECT ${nodeFieldExpr(compiled.orderField)} FROM nodes WHERE seq = ?`)
              .pluck()
              .get(last.seq) as SqlScalar);
    nextCursor = encodeNodeCursor({
      typeId,
      orderField: compiled.orderField,
      descending: compiled.descending,
      filters: compiled.filters,
      key,
      lastId: last.id,
    });
  }
  return { items: nodesOf(cache, db, model, page), nextCursor };
}

function requireType(model: Schema, typeId: number): NodeType {
  const type = nodeById(model, typeId);
  if (!type)
    throw new StoreError("invalid-argument", `The schema has no node type with id ${typeId}.`);
  return type;
}

function sameSet(a: readonly number[], sortedB: readonly number[]): boolean {
  if (a.length !== sortedB.length) return false;
  const sortedA = [...a].sort((x, y) => x - y);
  return sortedA.every((v, i) => v === sortedB[i]);
}
