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
import { factsOf, foundNodesByIds, nodesOf } from "./node-point-reads.ts";
import { compileNodeQuery, fieldName, noFieldText } from "./node-query.ts";
import { encodeNodeCursor } from "./page-cursor.ts";
import { queryPrivateById, walksGrants } from "./private-query.ts";
import { pageKey, type QueryPageCache } from "./query-page-cache.ts";
import { NODE_COLUMNS, type NodeRow } from "./row-codec.ts";
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
  const unknown = ids.find((id) => !type.fields.some((f) => f.id === id));
  if (unknown !== undefined) {
    throw new StoreError("invalid-argument", `${noFieldText(type, unknown)}.`, {
      fieldId: unknown,
    });
  }
  const isKey =
    (ids.length === 1 && type.fields.some((f) => f.id === ids[0] && f.unique)) ||
    type.uniques.some((u) => sameSet(u.fieldIds, ids));
  if (!isKey) {
    throw new StoreError(
      "invalid-argument",
      ids.length === 0
        ? `The key names no field; name the fields of one unique of ${type.name}.`
        : `The key names ${ids.map((id) => fieldName(type, id)).join(", ")}; a key is one unique field or all fields of one composite unique of ${type.name}.`,
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
      label: () => `The key's value of ${fieldName(type, fieldId)}`,
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
  pages: QueryPageCache,
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
    const rows = found.rows;
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    const nextCursor =
      rows.length > limit && last
        ? encodeNodeCursor({
            typeId,
            orderField: 0,
            descending: false,
            filters: found.filters,
            key: null,
            lastId: last.id,
          })
        : "";
    return { items: nodesOf(cache, db, model, page), nextCursor };
  }
  const hidden = hiddenNodeTerm(model, scope, "nodes", facts, typeId);
  // A reader whose term hides nothing reads the rows every such reader reads: the page
  // kept for the same query answers it until a commit writes a node of the type.
  const key = hidden === undefined ? pageKey(typeId, query) : undefined;
  if (key !== undefined) {
    const kept = pages.page(db, model, typeId, key);
    if (kept !== undefined) return kept;
  }
  const c = compileNodeQuery(
    model,
    type,
    { ...query, limit, ...(hidden ? { hidden } : {}), columns: "ids" },
    hasIndex,
  );
  // The ids alone, plucked: every row the statement finds is one the reader may read.
  const ids = db
    .stmt(c.sql)
    .pluck()
    .all(...c.params) as string[];
  let nextCursor = "";
  if (ids.length > limit) {
    ids.length = limit;
    const lastId = ids[limit - 1];
    if (lastId !== undefined) {
      // Only the last row's sort key is needed, read for it alone in the same turn.
      const key =
        c.orderField === 0
          ? null
          : (db.stmt(sortKeySql(c.orderField)).pluck().get(lastId) as SqlScalar);
      nextCursor = encodeNodeCursor({
        typeId,
        orderField: c.orderField,
        descending: c.descending,
        filters: c.filters,
        key,
        lastId,
      });
    }
  }
  const page = { items: foundNodesByIds(cache, db, model, ids), nextCursor };
  return key === undefined ? page : pages.keep(db, model, typeId, key, page);
}

/** The statement reading one node's sort key on `fieldId` by id, its text built once. */
function sortKeySql(fieldId: number): string {
  let sql = SORT_KEY_SQL.get(fieldId);
  if (sql === undefined) {
    sql = `SELECT ${nodeFieldExpr(fieldId)} FROM nodes WHERE id = ?`;
    SORT_KEY_SQL.set(fieldId, sql);
  }
  return sql;
}

/** Sort key statements by field id (field ids are small numbers a schema declares). */
const SORT_KEY_SQL = new Map<number, string>();

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
