/**
 * The binary encoding of `entdb.v1.ExecutePlanResponse`, byte for byte what `toBinary`
 * writes, by a writer that knows `Receipt`'s six fields, `LogPosition`'s two and
 * `OperationResult`'s three. A plan of many steps answers as many results, and
 * `toBinary`'s general writer (a descriptor walk, a fork and join and an encoder call
 * per result) was a per-step cost of every write; for the receipt, which every write
 * answers, it was about 2 % of a single create's CPU at 32 clients.
 *
 * `toBinary` writes fields in field number order, and a proto3 scalar only when it is not
 * its zero value, so the receipt (field 1) followed by the results (field 2) are its
 * bytes. A response, receipt, position or result with unknown fields, or a value of the
 * wrong type, is not encoded here (undefined) and the caller uses `toBinary`.
 * `plan-response-wire.test.ts` compares the bytes with `toBinary`'s.
 */

import type { ExecutePlanResponse } from "../../generated/entdb/v1/entdb_pb.js";
import type { Receipt } from "../../generated/entdb/v1/values_pb.js";
import {
  checkInt64,
  checkKnown,
  checkString,
  checkUint32,
  int64Size,
  NOT_ENCODABLE,
  uint32Size,
  utf8Length,
} from "./node-wire-size.ts";
import { Writer } from "./node-wire-writer.ts";

/**
 * Per result, its id's UTF-8 length and its content's size, from the sizing pass, at
 * 2 × its index and the slot after. Never shortened: `length = 0` would hand the storage
 * back for the next plan to grow again.
 */
const sizes: number[] = [];

/** The receipt's sizes from the sizing pass: its tenant's and key's UTF-8 lengths, its position's content. */
let tenantLength = 0;
let keyLength = 0;
let positionSize = 0;

/**
 * The size of a receipt's content, recording what the writing pass needs; throws
 * `NOT_ENCODABLE` for a receipt `toBinary` should write.
 */
function receiptSize(r: Receipt): number {
  checkKnown(r, "entdb.v1.Receipt");
  tenantLength = utf8Length(checkString(r.tenant));
  keyLength = utf8Length(checkString(r.idempotencyKey));
  if (typeof r.applied !== "boolean" || typeof r.replayed !== "boolean") throw NOT_ENCODABLE;
  const schemaVersion = checkUint32(r.schemaVersion);
  let size =
    (tenantLength === 0 ? 0 : 1 + uint32Size(tenantLength) + tenantLength) +
    (keyLength === 0 ? 0 : 1 + uint32Size(keyLength) + keyLength) +
    (r.applied ? 2 : 0) +
    (r.replayed ? 2 : 0) +
    (schemaVersion === 0 ? 0 : 1 + uint32Size(schemaVersion));
  const p = r.position;
  if (p !== undefined) {
    checkKnown(p, "entdb.v1.LogPosition");
    const partition = checkUint32(p.partition);
    const offset = checkInt64(p.offset);
    positionSize =
      (partition === 0 ? 0 : 1 + uint32Size(partition)) +
      (offset === 0n ? 0 : 1 + int64Size(offset));
    size += 1 + uint32Size(positionSize) + positionSize;
  }
  return size;
}

/**
 * Writes `value` as the length-delimited field `tag` (its key byte), `length` being its
 * UTF-8 size: as Latin-1 when that equals its length (every character is ASCII).
 */
function writeString(w: Writer, tag: number, value: string, length: number): void {
  w.buf[w.pos++] = tag;
  w.uint32(length);
  w.pos += w.buf.write(value, w.pos, length, length === value.length ? "latin1" : "utf8");
}

/** Writes a receipt sized by {@link receiptSize} just before, as field 1. */
function writeReceipt(w: Writer, r: Receipt, size: number): void {
  w.buf[w.pos++] = 0x0a;
  w.uint32(size);
  if (tenantLength !== 0) writeString(w, 0x0a, r.tenant, tenantLength);
  const p = r.position;
  if (p !== undefined) {
    w.buf[w.pos++] = 0x12;
    w.uint32(positionSize);
    if (p.partition !== 0) {
      w.buf[w.pos++] = 0x08;
      w.uint32(p.partition);
    }
    if (p.offset !== 0n) {
      w.buf[w.pos++] = 0x10;
      w.int64(p.offset);
    }
  }
  if (r.applied) {
    w.buf[w.pos++] = 0x18;
    w.buf[w.pos++] = 1;
  }
  if (keyLength !== 0) writeString(w, 0x22, r.idempotencyKey, keyLength);
  if (r.replayed) {
    w.buf[w.pos++] = 0x28;
    w.buf[w.pos++] = 1;
  }
  if (r.schemaVersion !== 0) {
    w.buf[w.pos++] = 0x30;
    w.uint32(r.schemaVersion);
  }
}

/** `toBinary(ExecutePlanResponseSchema, message)`, or undefined to leave it to `toBinary`. */
export function encodePlanResponse(message: ExecutePlanResponse): Uint8Array | undefined {
  const results = message.results;
  if (
    message.$typeName !== "entdb.v1.ExecutePlanResponse" ||
    message.$unknown !== undefined ||
    !Array.isArray(results)
  )
    return undefined;
  const receipt = message.receipt;
  let receiptContent = 0;
  let size = 0;
  if (receipt !== undefined) {
    try {
      receiptContent = receiptSize(receipt);
    } catch {
      return undefined;
    }
    size = 1 + uint32Size(receiptContent) + receiptContent;
  }
  for (let i = 0; i < results.length; i++) {
    const r = results[i]!;
    if (r.$typeName !== "entdb.v1.OperationResult" || r.$unknown !== undefined) return undefined;
    const { id, created, version } = r;
    if (typeof id !== "string" || typeof created !== "boolean") return undefined;
    let versionSize = 0;
    if (version !== 0n) {
      try {
        versionSize = 1 + int64Size(checkInt64(version));
      } catch {
        return undefined;
      }
    }
    const idLength = utf8Length(id);
    const content =
      (id === "" ? 0 : 1 + uint32Size(idLength) + idLength) + (created ? 2 : 0) + versionSize;
    sizes[2 * i] = idLength;
    sizes[2 * i + 1] = content;
    size += 1 + uint32Size(content) + content;
  }
  const w = new Writer(Buffer.allocUnsafe(size));
  if (receipt !== undefined) writeReceipt(w, receipt, receiptContent);
  for (let i = 0; i < results.length; i++) {
    const r = results[i]!;
    const idLength = sizes[2 * i]!;
    w.buf[w.pos++] = 0x12;
    w.uint32(sizes[2 * i + 1]!);
    if (r.id !== "") {
      w.buf[w.pos++] = 0x0a;
      w.uint32(idLength);
      w.pos += w.buf.write(r.id, w.pos, idLength, idLength === r.id.length ? "latin1" : "utf8");
    }
    if (r.created) {
      w.buf[w.pos++] = 0x10;
      w.buf[w.pos++] = 1;
    }
    if (r.version !== 0n) {
      w.buf[w.pos++] = 0x18;
      w.int64(r.version);
    }
  }
  return w.buf;
}
