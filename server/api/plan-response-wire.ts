/**
 * The binary encoding of `entdb.v1.ExecutePlanResponse`, byte for byte what `toBinary`
 * writes: the receipt through `toBinary`, the results (one per step of the plan) by a
 * writer that knows `OperationResult`'s three fields. A plan of many steps answers as
 * many results, and `toBinary`'s general writer (a descriptor walk, a fork and join and
 * an encoder call per result) was a per-step cost of every write.
 *
 * `toBinary` writes fields in field number order, so the receipt (field 1) followed by
 * the results (field 2) are its bytes. A response or result with unknown fields, or a
 * value of the wrong type, is not encoded here (undefined) and the caller uses
 * `toBinary`. `plan-response-wire.test.ts` compares the bytes with `toBinary`'s.
 */

import { toBinary } from "@bufbuild/protobuf";
import {
  type ExecutePlanResponse,
  ExecutePlanResponseSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import { checkInt64, int64Size, uint32Size, utf8Length } from "./node-wire-size.ts";
import { Writer } from "./node-wire-writer.ts";

/**
 * Per result, its id's UTF-8 length and its content's size, from the sizing pass, at
 * 2 × its index and the slot after. Never shortened: `length = 0` would hand the storage
 * back for the next plan to grow again.
 */
const sizes: number[] = [];

/** `toBinary(ExecutePlanResponseSchema, message)`, or undefined to leave it to `toBinary`. */
export function encodePlanResponse(message: ExecutePlanResponse): Uint8Array | undefined {
  const results = message.results;
  if (message.$unknown !== undefined || !Array.isArray(results) || results.length === 0)
    return undefined;
  let size = 0;
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
  const head = toBinary(ExecutePlanResponseSchema, { ...message, results: [] });
  const w = new Writer(Buffer.allocUnsafe(head.byteLength + size));
  w.buf.set(head, 0);
  w.pos = head.byteLength;
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
