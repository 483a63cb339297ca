/**
 * Rows of `nodes` and `edges` → `entdb.v1.Node` / `Edge` messages. Fields are decoded
 * by the kinds of the given model; stored fields the model does not have (removed
 * fields, whose ids are reserved) are left out, which is what removing a field means.
 */

import { type Edge, EdgeSchema, type Node, NodeSchema } from "../../generated/entdb/v1/entdb_pb.js";
import type { Value } from "../../generated/entdb/v1/values_pb.js";
import type { Field, Schema } from "../../schema/index.ts";
import { type JsonValue, parsePayload } from "./lossless-json.ts";
import { decodePlainPayload } from "./plain-decode.ts";
import { type StoredMismatch, StoreError } from "./store-error.ts";
import { decodeValue, microsToTimestamp } from "./stored-value-codec.ts";

/** The columns every node read selects, in {@link NodeRow} order. */
export const NODE_COLUMNS = "seq, id, type_id, payload, version, owner, created_at, updated_at";

/** A `nodes` row as better-sqlite3 returns it with safe integers on. */
export interface NodeRow {
  readonly seq: bigint;
  readonly id: string;
  readonly type_id: bigint;
  readonly payload: string;
  readonly version: bigint;
  readonly owner: string;
  readonly created_at: bigint;
  readonly updated_at: bigint;
}

/**
 * The columns a read needs of a row whose node may come from the node cache
 * (`NodeCache.cached`): its `seq` and id, both in every index of `nodes` (the rowid and
 * the last column), so a query page reads its index alone. The cache's entries are
 * current (see its module comment), so no column of the row's state is checked.
 */
export const NODE_CACHE_KEY_COLUMNS = "seq, id";

/** A `nodes` row's {@link NODE_CACHE_KEY_COLUMNS}. */
export type NodeCacheKey = Pick<NodeKeyRow, "seq" | "id">;

/**
 * The columns a point read decides visibility by, in {@link NodeKeyRow} order: what it
 * selects when its node comes from the node cache (`node-cache.ts`), which reads the
 * payload only for rows it has not decoded yet.
 */
export const NODE_KEY_COLUMNS = "seq, id, type_id, owner";

/** A `nodes` row's {@link NODE_KEY_COLUMNS}. */
export interface NodeKeyRow {
  readonly seq: bigint;
  readonly id: string;
  readonly type_id: bigint;
  readonly owner: string;
}

/** The columns every edge read selects, in {@link EdgeRow} order. */
export const EDGE_COLUMNS = "edge_type_id, from_id, to_id, props, created_at";

/** An `edges` row. */
export interface EdgeRow {
  readonly edge_type_id: bigint;
  readonly from_id: string;
  readonly to_id: string;
  readonly props: string;
  readonly created_at: bigint;
}

/** The message for a node row. */
export function nodeFromRow(model: Schema | undefined, row: NodeRow): Node {
  const typeId = Number(row.type_id);
  const type = model?.nodes.find((n) => n.id === typeId);
  // The object `create(NodeSchema, …)` makes (every field, in declaration order), without
  // its walk over the descriptor: reads build one per row they answer.
  return {
    $typeName: NodeSchema.typeName,
    id: row.id,
    typeId,
    fields: decodeFields(type?.fields ?? [], row.payload, `type ${typeId}`, typeId, {
      kind: "node",
      id: row.id,
    }),
    version: row.version,
    createdAt: microsToTimestamp(row.created_at),
    updatedAt: microsToTimestamp(row.updated_at),
    owner: row.owner,
  } as Node;
}

/** The message for an edge row. */
export function edgeFromRow(model: Schema | undefined, row: EdgeRow): Edge {
  const edgeTypeId = Number(row.edge_type_id);
  const type = model?.edges.find((e) => e.id === edgeTypeId);
  // As in `nodeFromRow`: the object `create(EdgeSchema, …)` makes.
  return {
    $typeName: EdgeSchema.typeName,
    edgeTypeId,
    fromId: row.from_id,
    toId: row.to_id,
    props: decodeFields(type?.fields ?? [], row.props, `edge type ${edgeTypeId}`, edgeTypeId, {
      kind: "edge",
      fromId: row.from_id,
      toId: row.to_id,
    }),
    createdAt: microsToTimestamp(row.created_at),
  } as Edge;
}

function decodeFields(
  fields: readonly Field[],
  text: string,
  owner: string,
  typeId: number,
  holder: StoredMismatch["holder"],
): { [key: number]: Value } {
  const out: { [key: number]: Value } = {};
  if (fields.length === 0) return out;
  // Canonical payloads (all the server writes) decode from a plain parse; the rest
  // take the lossless path, which also reports what is corrupt.
  const plain = decodePlainPayload(fields, text);
  if (plain !== undefined) return plain;
  const payload = parsePayload(text);
  for (const field of fields) {
    const json: JsonValue | undefined = payload.get(field.id);
    if (json === undefined || json === null) continue;
    try {
      out[field.id] = decodeValue(field.type, json, { owner, fieldId: field.id });
    } catch (err) {
      if (!(err instanceof StoreError) || err.code !== "corrupt") throw err;
      // Where the value sits, so the reader can tell a kind changed by a pushed version
      // (kind-change.ts) from a damaged file.
      throw new StoreError("corrupt", err.message, {
        fieldId: field.id,
        cause: err,
        mismatch: { typeId, fieldId: field.id, json, holder },
      });
    }
  }
  return out;
}
