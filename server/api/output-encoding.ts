/**
 * The binary encoding of a call's answer for the unary fast paths: `toBinary`, except
 * that an answer whose first field holds nodes or edges (`GetNodeResponse`,
 * `GetNodesResponse`, `QueryNodesResponse`, `ListEdgesResponse`, …) has that field
 * written by `node-wire.ts`. `toBinary` writes fields in field number order, so the
 * first field's bytes followed by `toBinary` of the rest are the same bytes as
 * `toBinary` of the whole. A plan's answer has its results written by
 * `plan-response-wire.ts`.
 */

import {
  type DescField,
  type DescMessage,
  type Message,
  ScalarType,
  toBinary,
} from "@bufbuild/protobuf";
import { FeatureSet_FieldPresence } from "@bufbuild/protobuf/wkt";
import {
  type Edge,
  type ExecutePlanResponse,
  ExecutePlanResponseSchema,
  type Node,
} from "../../generated/entdb/v1/entdb_pb.js";
import { encodeAlone, encodeNodeLike, type NodeLikeKind, type TailField } from "./node-wire.ts";
import { encodePlanResponse } from "./plan-response-wire.ts";

/** How to split an answer: its first field, when that field holds nodes or edges. */
interface Split {
  readonly localName: string;
  readonly number: number;
  readonly kind: NodeLikeKind;
  readonly list: boolean;
  /**
   * The other fields, when `node-wire.ts` writes them too (strings, lists of strings,
   * int64s: every answer of the read RPCs), so the answer is one buffer written once;
   * otherwise null, and `toBinary` writes them.
   */
  readonly tail: readonly TailField[] | null;
}

/** `field` as a field `node-wire.ts` writes after the nodes or edges, or null. */
function tailFieldOf(field: DescField): TailField | null {
  if (field.oneof !== undefined || field.number < 2 || field.number > 15) return null;
  const explicit = field.presence === FeatureSet_FieldPresence.EXPLICIT;
  if (!explicit && field.presence !== FeatureSet_FieldPresence.IMPLICIT) return null;
  const { localName, number } = field;
  if (field.fieldKind === "scalar") {
    if (field.scalar === ScalarType.STRING) return { localName, number, kind: "string", explicit };
    if (field.scalar === ScalarType.INT64 && !field.longAsString)
      return { localName, number, kind: "int64", explicit };
  }
  if (field.fieldKind === "list" && field.listKind === "scalar" && !explicit) {
    if (field.scalar === ScalarType.STRING)
      return { localName, number, kind: "strings", explicit: false };
  }
  return null;
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
      const others = desc.fields
        .filter((f) => f !== first)
        .sort((a, b) => a.number - b.number)
        .map(tailFieldOf);
      split = {
        localName: first.localName,
        number: first.number,
        kind,
        list: first.fieldKind === "list",
        tail: others.every((f) => f !== null) ? (others as TailField[]) : null,
      };
    }
  }
  splits.set(desc, split);
  return split;
}

/** Where an {@link encodedAnswer} keeps its bytes. */
const ENCODED = Symbol("entdb.encodedAnswer");

/**
 * An answer of type `desc` already encoded (by the main thread, for a call a serving
 * thread handed it): a message with no fields of its own, whose {@link encodeOutput} is
 * `bytes`. Only the fast paths may answer with one; they write nothing but its bytes.
 */
export function encodedAnswer(desc: DescMessage, bytes: Uint8Array): Message {
  return { $typeName: desc.typeName, [ENCODED]: bytes } as Message;
}

/** `message` (of type `desc`) in the protobuf binary format, the same bytes `toBinary` gives. */
export function encodeOutput(desc: DescMessage, message: Message): Uint8Array {
  const encoded = (message as { [ENCODED]?: Uint8Array })[ENCODED];
  if (encoded !== undefined) return encoded;
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
    // An answer of that field alone (`GetNodeResponse`): the node keeps its bytes.
    if (split.tail !== null && split.tail.length === 0 && message.$unknown === undefined)
      return encodeAlone(split.kind, split.number, value as Node | Edge) ?? toBinary(desc, message);
    items = [value as Node | Edge];
  }
  if (split.tail !== null) {
    const answer = encodeNodeLike(split.kind, split.number, items, {
      message: record,
      fields: split.tail,
    });
    return answer ?? toBinary(desc, message);
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
