/**
 * Opaque page cursors: base64url of a small JSON object holding the last item's sort
 * key and id, plus what the cursor was made for (for a node query: the type, the order
 * and a digest of the filters), so a cursor from another query fails clearly instead
 * of returning a wrong page or silently skipping rows. Keyset paging on (key, id) is
 * stable under concurrent writes: rows inserted between two pages appear in a later
 * page if they sort after the cursor, and no row is skipped or repeated.
 */

import { hash } from "node:crypto";
import { toBinary } from "@bufbuild/protobuf";
import { type Filter, FilterSchema } from "../../generated/entdb/v1/entdb_pb.js";
import { filtersKey } from "./filters-key.ts";
import { StoreError } from "./store-error.ts";
import type { SqlScalar } from "./stored-value-codec.ts";

/** Where a node query stopped. */
export interface NodeCursor {
  readonly typeId: number;
  /** The ordering field (0 = node id). */
  readonly orderField: number;
  readonly descending: boolean;
  /** Digest of the query's filters ({@link filtersDigest}). */
  readonly filters: string;
  /** The last item's sort key (absent when ordering by id). */
  readonly key: SqlScalar;
  readonly lastId: string;
}

/** Where an edge listing stopped. */
export interface EdgeCursor {
  readonly edgeTypeId: number;
  readonly nodeId: string;
  /** 1 out, 2 in (the `Direction` numbers). */
  readonly direction: number;
  /** The last edge's other end. */
  readonly lastOtherId: string;
}

type KeyJson = ["n"] | ["i", string] | ["r", number] | ["s", string];

/** Encodes a node cursor. */
export function encodeNodeCursor(c: NodeCursor): string {
  return encode({
    t: c.typeId,
    o: c.orderField,
    d: c.descending ? 1 : 0,
    f: c.filters,
    k: keyToJson(c.key),
    i: c.lastId,
  });
}

/**
 * Decodes a node cursor made for the same query (type, filters and ordering); throws
 * `invalid-argument` otherwise.
 */
export function decodeNodeCursor(
  cursor: string,
  expect: {
    readonly typeId: number;
    readonly orderField: number;
    readonly descending: boolean;
    readonly filters: string;
  },
): NodeCursor {
  const o = decode(cursor);
  const key = keyFromJson(o["k"]);
  if (
    o["t"] !== expect.typeId ||
    o["o"] !== expect.orderField ||
    o["d"] !== (expect.descending ? 1 : 0) ||
    o["f"] !== expect.filters ||
    typeof o["i"] !== "string" ||
    key === undefined
  ) {
    throw bad("it was made for another query (type, filters or order differ)");
  }
  return { ...expect, key: key.value, lastId: o["i"] };
}

/** Encodes an edge cursor. */
export function encodeEdgeCursor(c: EdgeCursor): string {
  return encode({ e: c.edgeTypeId, n: c.nodeId, r: c.direction, a: c.lastOtherId });
}

/** Decodes an edge cursor made for the same listing; throws `invalid-argument` otherwise. */
export function decodeEdgeCursor(
  cursor: string,
  expect: { readonly edgeTypeId: number; readonly nodeId: string; readonly direction: number },
): EdgeCursor {
  const o = decode(cursor);
  if (
    o["e"] !== expect.edgeTypeId ||
    o["n"] !== expect.nodeId ||
    o["r"] !== expect.direction ||
    typeof o["a"] !== "string"
  ) {
    throw bad("it was made for another listing (edge type, node or direction differ)");
  }
  return { ...expect, lastOtherId: o["a"] };
}

/** The digest of no filters, which most queries have. */
const NO_FILTERS_DIGEST = hash("sha256", Buffer.alloc(0), "base64url").slice(0, 22);

/**
 * A short digest of a node query's filters, in the order given, so a cursor names the
 * exact filters it was made for. Filters are protobuf messages, and their binary
 * encoding is deterministic for equal messages. The digests of recent filters are kept
 * by their key (filters-key.ts): a query asked again, or its next page, does not encode
 * and hash its filters again.
 */
export function filtersDigest(filters: readonly Filter[]): string {
  if (filters.length === 0) return NO_FILTERS_DIGEST;
  const key = filtersKey(filters);
  if (key !== undefined) {
    const kept = DIGESTS.get(key);
    if (kept !== undefined) return kept;
  }
  // The digest of the parts written one after another, hashed in one call: a Hash
  // object per query cost more than hashing its few bytes.
  const parts: Uint8Array[] = [];
  for (const f of filters) {
    const bytes = toBinary(FilterSchema, f);
    parts.push(Buffer.from(`${bytes.byteLength}:`), bytes);
  }
  const digest = hash("sha256", Buffer.concat(parts), "base64url").slice(0, 22);
  if (key !== undefined) {
    if (DIGESTS.size >= MAX_DIGESTS) DIGESTS.delete(DIGESTS.keys().next().value as string);
    DIGESTS.set(key, digest);
  }
  return digest;
}

/** Most filter digests kept; the oldest is dropped first. */
const MAX_DIGESTS = 4_096;

/** Digests of recent filters by their key (filters-key.ts). */
const DIGESTS = new Map<string, string>();

function encode(obj: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify(obj), "utf8").toString("base64url");
}

function decode(cursor: string): Record<string, unknown> {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) throw bad("it is not base64url");
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw bad("it does not decode");
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
    throw bad("it does not decode");
  return parsed as Record<string, unknown>;
}

function keyToJson(key: SqlScalar): KeyJson {
  if (key === null) return ["n"];
  if (typeof key === "bigint") return ["i", key.toString()];
  if (typeof key === "number") return ["r", key];
  return ["s", key];
}

function keyFromJson(json: unknown): { value: SqlScalar } | undefined {
  if (!Array.isArray(json)) return undefined;
  const [tag, v] = json as unknown[];
  if (tag === "n") return { value: null };
  if (tag === "i" && typeof v === "string" && /^-?[0-9]{1,19}$/.test(v))
    return { value: BigInt(v) };
  if (tag === "r" && typeof v === "number") return { value: v };
  if (tag === "s" && typeof v === "string") return { value: v };
  return undefined;
}

function bad(why: string): StoreError {
  return new StoreError(
    "invalid-argument",
    `The cursor is not valid for this request: ${why}. Start again without a cursor.`,
  );
}
