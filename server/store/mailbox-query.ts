/**
 * Reads of one recipient's mailbox (docs/mailbox.md): newest-first keyset pages of its
 * items with filters, and unread counts. Items whose node the reader may not read are
 * filtered inside the query (visibility-sql.ts), so they are never listed or counted.
 *
 * Parameters are bound as `+?`: SQLite (built with STAT4) plans with the value of a bare
 * `?` in LIMIT or compared with an indexed column, and then compiles the statement again
 * on every call (tests/store/statement-recompiles.test.ts). The plans are the same.
 */

import { createHash } from "node:crypto";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type MailboxItem, MailboxItemSchema } from "../../generated/entdb/v1/entdb_pb.js";
import { edgeById, type Schema } from "../../schema/index.ts";
import type { ReadScope } from "../acl/read-scope.ts";
import { hasDenies } from "./access-tables.ts";
import { NODE_COLUMNS, type NodeRow, nodeFromRow } from "./row-codec.ts";
import { StoreError } from "./store-error.ts";
import type { SqlScalar } from "./stored-value-codec.ts";
import type { TenantDb } from "./tenant-db.ts";
import { hiddenNodeTerm } from "./visibility-sql.ts";

/** What a mailbox listing asks for; `limit` is already clamped by the caller. */
export interface MailboxQuery {
  readonly recipient: string;
  readonly unreadOnly: boolean;
  readonly typeIds: readonly number[];
  /** Inclusive lower bound of `delivered_at`, in microseconds. */
  readonly deliveredAfter?: bigint;
  /** Exclusive upper bound of `delivered_at`, in microseconds. */
  readonly deliveredBefore?: bigint;
  readonly includeArchived: boolean;
  readonly starredOnly: boolean;
  /** Only items whose node has an edge of `parent.edgeTypeId` to `parent.id`. */
  readonly parent?: { readonly id: string; readonly edgeTypeId: number };
  readonly limit: number;
  readonly cursor: string;
}

/** A page of mailbox items. */
export interface MailboxPage {
  readonly items: readonly MailboxItem[];
  /** Empty on the last page. */
  readonly nextCursor: string;
}

/** Unread, unarchived items: in all and per node type (ascending type id). */
export interface MailboxUnreadCounts {
  readonly total: bigint;
  readonly byType: readonly { readonly typeId: number; readonly unread: bigint }[];
}

interface ItemRow extends NodeRow {
  readonly reason: bigint;
  readonly delivered_at: bigint;
  readonly read: bigint;
  readonly archived: bigint;
  readonly starred: bigint;
}

/** Lists `q.recipient`'s items visible to `scope`, newest first (then node id descending). */
export function listMailbox(
  db: TenantDb,
  model: Schema | undefined,
  q: MailboxQuery,
  scope: ReadScope,
): MailboxPage {
  const { where, params } = baseTerms(db, model, q.recipient, scope);
  if (q.unreadOnly) where.push("m.read = 0");
  if (!q.includeArchived) where.push("m.archived = 0");
  if (q.starredOnly) where.push("m.starred = 1");
  if (q.typeIds.length > 0) {
    where.push(`m.type_id IN (${q.typeIds.map(() => "+?").join(", ")})`);
    params.push(...q.typeIds.map(BigInt));
  }
  if (q.deliveredAfter !== undefined) {
    where.push("m.delivered_at >= +?");
    params.push(q.deliveredAfter);
  }
  if (q.deliveredBefore !== undefined) {
    where.push("m.delivered_at < +?");
    params.push(q.deliveredBefore);
  }
  if (q.parent !== undefined) {
    const term = parentTerm(db, model, q.parent, scope);
    where.push(term.sql);
    params.push(...term.params);
  }
  const digest = filtersDigest(q);
  if (q.cursor !== "") {
    const c = decodeCursor(q.cursor, digest);
    where.push("(m.delivered_at < +? OR (m.delivered_at = +? AND m.node_id < +?))");
    params.push(c.at, c.at, c.id);
  }
  params.push(BigInt(q.limit + 1));
  const nodeColumns = NODE_COLUMNS.split(", ")
    .map((c) => `nodes.${c}`)
    .join(", ");
  const rows = db
    .stmt(
      `SELECT ${nodeColumns}, m.reason, m.delivered_at, m.read, m.archived, m.starred FROM mailbox_items m JOIN nodes ON nodes.id = m.node_id WHERE ${where.join(" AND ")} ORDER BY m.delivered_at DESC, m.node_id DESC LIMIT +?`,
    )
    .all(...params) as ItemRow[];
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return {
    items: page.map((row) =>
      create(MailboxItemSchema, {
        node: nodeFromRow(model, row),
        reasonEdgeTypeId: Number(row.reason),
        deliveredAt: timestampOfMicros(row.delivered_at),
        read: row.read === 1n,
        archived: row.archived === 1n,
        starred: row.starred === 1n,
      }),
    ),
    nextCursor:
      rows.length > q.limit && last ? encodeCursor(last.delivered_at, last.id, digest) : "",
  };
}

/** Counts `recipient`'s unread, unarchived items visible to `scope`. */
export function mailboxUnreadCounts(
  db: TenantDb,
  model: Schema | undefined,
  recipient: string,
  scope: ReadScope,
): MailboxUnreadCounts {
  const { where, params } = baseTerms(db, model, recipient, scope);
  where.push("m.read = 0", "m.archived = 0");
  const rows = db
    .stmt(
      `SELECT m.type_id AS type_id, count(*) AS n FROM mailbox_items m JOIN nodes ON nodes.id = m.node_id WHERE ${where.join(" AND ")} GROUP BY m.type_id ORDER BY m.type_id`,
    )
    .all(...params) as { type_id: bigint; n: bigint }[];
  const byType = rows.map((r) => ({ typeId: Number(r.type_id), unread: BigInt(r.n) }));
  return { total: byType.reduce((sum, t) => sum + t.unread, 0n), byType };
}

/**
 * One condition: the item's node has an edge of the given type to the parent, and the
 * parent is visible to `scope` (a hidden parent matches nothing, so the filter does not
 * tell whether it exists). A primary-key probe of `edges` per candidate item.
 */
function parentTerm(
  db: TenantDb,
  model: Schema | undefined,
  parent: { readonly id: string; readonly edgeTypeId: number },
  scope: ReadScope,
): { sql: string; params: SqlScalar[] } {
  if (model !== undefined && edgeById(model, parent.edgeTypeId) === undefined) {
    throw new StoreError(
      "invalid-argument",
      `Edge type ${parent.edgeTypeId} is not in the schema; set \`parent_edge_type_id\` to one of ${model.edges.map((e) => `${e.id} (${e.name})`).join(", ") || "its edge types (it has none)"}.`,
    );
  }
  const hidden = hiddenNodeTerm(model, scope, "p", {
    denies: !scope.unrestricted && hasDenies(db),
  });
  return {
    sql: `EXISTS (SELECT 1 FROM edges e JOIN nodes p ON p.id = e.to_id WHERE e.edge_type_id = +? AND e.from_id = m.node_id AND e.to_id = +?${hidden ? ` AND NOT ${hidden.sql}` : ""})`,
    params: [BigInt(parent.edgeTypeId), parent.id, ...(hidden?.params ?? [])],
  };
}

/** The recipient term and the visibility term every mailbox read starts from. */
function baseTerms(
  db: TenantDb,
  model: Schema | undefined,
  recipient: string,
  scope: ReadScope,
): { where: string[]; params: SqlScalar[] } {
  const where = ["m.recipient = +?"];
  const params: SqlScalar[] = [recipient];
  const hidden = hiddenNodeTerm(model, scope, "nodes", {
    denies: !scope.unrestricted && hasDenies(db),
  });
  if (hidden) {
    where.push(`NOT ${hidden.sql}`);
    params.push(...hidden.params);
  }
  return { where, params };
}

function timestampOfMicros(micros: bigint) {
  const ts = timestampFromMs(Number(micros / 1000n));
  ts.nanos += Number(micros % 1000n) * 1000;
  return ts;
}

/** A short digest of the filters, so a cursor is refused with other filters. */
function filtersDigest(q: MailboxQuery): string {
  const text = JSON.stringify([
    q.recipient,
    q.unreadOnly,
    [...q.typeIds].sort((a, b) => a - b),
    q.deliveredAfter?.toString() ?? "",
    q.deliveredBefore?.toString() ?? "",
    q.includeArchived,
    q.starredOnly,
    q.parent === undefined ? "" : [q.parent.edgeTypeId, q.parent.id],
  ]);
  return createHash("sha256").update(text).digest("base64url").slice(0, 16);
}

function encodeCursor(at: bigint, id: string, digest: string): string {
  return Buffer.from(JSON.stringify({ t: at.toString(), i: id, f: digest })).toString("base64url");
}

function decodeCursor(cursor: string, digest: string): { at: bigint; id: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    parsed = undefined;
  }
  const c = parsed as { t?: unknown; i?: unknown; f?: unknown } | undefined;
  if (
    typeof c !== "object" ||
    c === null ||
    typeof c.t !== "string" ||
    !/^[0-9]{1,19}$/.test(c.t) ||
    typeof c.i !== "string"
  ) {
    throw new StoreError(
      "invalid-argument",
      "The cursor is not valid for this request: it does not decode. Start again without a cursor.",
    );
  }
  if (c.f !== digest) {
    throw new StoreError(
      "invalid-argument",
      "The cursor was made for other filters; send the same filters, or start again without a cursor.",
    );
  }
  return { at: BigInt(c.t), id: c.i };
}
