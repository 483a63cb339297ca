/**
 * The binary encoding of a call's answer for the unary fast paths: `toBinary`, except
 * that an answer whose first field holds nodes or edges (`GetNodeResponse`,
 * `GetNodesResponse`, `QueryNodesResponse`, `ListEdgesResponse`, …) has that field
 * written by `node-wire.ts`. `toBinary` writes fields in field number order, so the
 * first field's bytes followed by `toBinary` of the rest are the same bytes as
 * `toBinary` of the whole. A plan's answer has its results written by
 * `plan-response-wire.ts`.
 */

import { type DescMessage, type Message, toBinary } from "@bufbuild/protobuf";
import {
  type Edge,
  type ExecutePlanResponse,
  ExecutePlanResponseSchema,
  type Node,
} from "../../generated/entdb/v1/entdb_pb.js";
import { encodeNodeLike, type NodeLikeKind } from "./node-wire.ts";
import { encodePlanResponse } from "./plan-response-wire.ts";

/** How to split an answer: its first field, when that field holds nodes or edges. */
interface Split {
  readonly localName: string;
  readonly number: number;
  readonly kind: NodeLikeKind;
  readonly list: boolean;
}

const splits = new WeakMap<DescMessage, Split | null>();

function splitOf(desc: DescMessage): Split | null {
  let split = splits.get(desc);
  if (split !== undefined) return split;
  split = null;
  const first = desc.fields.concat().sort((a, b) => a.number - b.number)[0];
  if (first !== undefined && first.oneof === undefined) {
    const message =
      first.fieldKind === "message"
        ? first.message
        : first.fieldKind === "list" && first.listKind === "message"
          ? first.message
          : undefined;
    const kind =
      message?.typeName === "entdb.v1.Node"
        ? "node"
        : message?.typeName === "entdb.v1.Edge"
          ? "edge"
          : undefined;
    if (kind !== undefined) {
      split = {
        localName: first.localName,
        number: first.number,
        kind,
        list: first.fieldKind === "list",
      };
    }
  }
  splits.set(desc, split);
  return split;
}

/** `message` (of type `desc`) in the protobuf binary format, the same bytes `toBinary` gives. */
export function encodeOutput(desc: DescMessage, message: Message): Uint8Array {
  if (desc === ExecutePlanResponseSchema && message.$typeName === desc.typeName)
    return encodePlanResponse(message as ExecutePlanResponse) ?? toBinary(desc, message);
  const split = splitOf(desc);
  if (split === null || message.$typeName !== desc.typeName) return toBinary(desc, message);
  const record = message as unknown as Record<string, unknown>;
  const value = record[split.localName];
  let items: readonly (Node | Edge)[];
  if (split.list) {
    if (!Array.isArray(value) || value.length === 0) return toBinary(desc, message);
    items = value as (Node | Edge)[];
  } else {
    if (value === undefined || !Object.hasOwn(record, split.localName))
      return toBinary(desc, message);
    items = [value as Node | Edge];
  }
  const head = encodeNodeLike(split.kind, split.number, items);
  if (head === undefined) return toBinary(desc, message);
  const rest = toBinary(desc, {
    ...message,
    [split.localName]: split.list ? [] : undefined,
  } as Message);
  if (rest.byteLength === 0) return head;
  const out = new Uint8Array(head.byteLength + rest.byteLength);
  out.set(head, 0);
  out.set(rest, head.byteLength);
  return out;
}
