/**
 * protobuf-es says what is wrong with a JSON request but not where: "cannot decode enum
 * entdb.v1.Direction from JSON: "UP"", "cannot decode message entdb.v1.CreateNode from
 * JSON: key "fieldz" is unknown". These find the field in the request's JSON (kept as
 * the library reads the body) and name it: "Field `direction` has no entdb.v1.Direction
 * value named "UP"; use one of …", "Field `operations[0].createNode.fieldz` is not a
 * field of entdb.v1.CreateNode; its fields are: …".
 */

import type { DescEnum, DescField, DescMessage } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import type { ErrorStatus } from "./error-rewrite.ts";

/** Request content types whose body is JSON; the enveloped ones frame each message. */
export function jsonBodyKind(contentType: string | undefined): "unary" | "enveloped" | undefined {
  const type = (contentType ?? "").split(";", 1)[0]?.trim().toLowerCase() ?? "";
  if (type === "application/json") return "unary";
  if (/^application\/(connect|grpc|grpc-web)\+json$/.test(type)) return "enveloped";
  return undefined;
}

/** A request body that keeps (up to `maxBytes` of) what was read from it. */
export function keepBody(
  body: AsyncIterable<Uint8Array>,
  maxBytes: number,
): { readonly body: AsyncIterable<Uint8Array>; bytes(): Uint8Array } {
  const chunks: Uint8Array[] = [];
  let kept = 0;
  return {
    body: {
      async *[Symbol.asyncIterator]() {
        for await (const chunk of body) {
          if (kept + chunk.byteLength <= maxBytes) {
            chunks.push(chunk);
            kept += chunk.byteLength;
          }
          yield chunk;
        }
      },
    },
    bytes: () => Buffer.concat(chunks),
  };
}

const ENUM_ERROR = /^cannot decode enum (\S+) from JSON: /;
const KEY_ERROR = /^cannot decode message (\S+) from JSON: key "(.*)" is unknown$/s;

/**
 * The status naming the field, when `status` is protobuf-es's error for an unknown enum
 * name or an unknown key and the field can be found in `body` (a request of `input`);
 * otherwise undefined.
 */
export function nameJsonErrorField(
  status: ErrorStatus,
  input: DescMessage,
  body: Uint8Array,
  kind: "unary" | "enveloped",
): ErrorStatus | undefined {
  if (status.code !== Code.InvalidArgument) return undefined;
  const enumName = ENUM_ERROR.exec(status.message)?.[1];
  const unknownKey = KEY_ERROR.exec(status.message);
  if (enumName === undefined && unknownKey === null) return undefined;
  let payload = body;
  if (kind === "enveloped") {
    if (body.byteLength < 5) return undefined;
    const length = new DataView(body.buffer, body.byteOffset).getUint32(1);
    payload = body.subarray(5, 5 + length);
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(payload).toString("utf8"));
  } catch {
    return undefined;
  }
  if (unknownKey !== null) {
    const [, typeName = "", key = ""] = unknownKey;
    const found = findUnknownKey(json, input, typeName, key, "", 0);
    if (found === undefined) return undefined;
    const names = found.desc.fields.map((f) => f.jsonName);
    const listed = names.length > 40 ? `${names.slice(0, 40).join(", ")}, …` : names.join(", ");
    return {
      code: Code.InvalidArgument,
      message: `Field \`${found.path.slice(0, 200)}\` is not a field of ${typeName}; its fields are: ${listed}.`,
    };
  }
  const found = findUnknownEnum(json, input, enumName ?? "", "", 0);
  if (found === undefined) return undefined;
  const names = found.desc.values.map((v) => v.name).join(", ");
  // The schema's own value name ("high", as the TypeScript client writes it) is the usual
  // slip: the JSON form wants the proto name, prefixed with the enum's (PRIORITY_HIGH).
  const meant =
    typeof found.value === "string"
      ? found.desc.values.find(
          (v) => v.number !== 0 && v.name.endsWith(`_${found.value}`.toUpperCase()),
        )
      : undefined;
  const hint = meant === undefined ? "" : ` Did you mean ${JSON.stringify(meant.name)}?`;
  return {
    code: Code.InvalidArgument,
    message: `Field \`${found.path}\` has no ${enumName} value named ${JSON.stringify(found.value).slice(0, 100)}; use one of ${names}.${hint}`,
  };
}

/** Where `json` holds, in an object of message `typeName`, the key `key` it does not define. */
function findUnknownKey(
  json: unknown,
  desc: DescMessage,
  typeName: string,
  key: string,
  prefix: string,
  depth: number,
): { readonly path: string; readonly desc: DescMessage } | undefined {
  if (depth > 32 || !isObject(json)) return undefined;
  if (desc.typeName === typeName && key in json && fieldOf(desc, key) === undefined)
    return { path: `${prefix}${key}`, desc };
  for (const [at, item, inner] of children(json, desc, prefix)) {
    if (inner === undefined) continue;
    const found = findUnknownKey(item, inner, typeName, key, `${at}.`, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

interface Found {
  readonly path: string;
  readonly value: unknown;
  readonly desc: DescEnum;
}

/** The first field of enum `enumName` in `json` holding a name the enum lacks. */
function findUnknownEnum(
  json: unknown,
  desc: DescMessage,
  enumName: string,
  prefix: string,
  depth: number,
): Found | undefined {
  if (depth > 32 || !isObject(json)) return undefined;
  for (const [at, item, inner, field] of children(json, desc, prefix)) {
    const enumDesc = enumOf(field);
    if (enumDesc?.typeName === enumName && isUnknownName(enumDesc, item))
      return { path: at, value: item, desc: enumDesc };
    if (inner !== undefined) {
      const found = findUnknownEnum(item, inner, enumName, `${at}.`, depth + 1);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/**
 * The values of `json`'s known fields, one per list item and map entry, with their
 * path and, for messages whose JSON is an object of fields, the message to look into.
 */
function children(
  json: Record<string, unknown>,
  desc: DescMessage,
  prefix: string,
): [string, unknown, DescMessage | undefined, DescField][] {
  const out: [string, unknown, DescMessage | undefined, DescField][] = [];
  for (const [key, value] of Object.entries(json)) {
    const field = fieldOf(desc, key);
    if (field === undefined) continue;
    const path = `${prefix}${key}`; // as the caller spelled it
    const message = messageOf(field);
    // Well-known types have their own JSON forms (a Timestamp is a string).
    const inner = message?.typeName.startsWith("google.protobuf.") ? undefined : message;
    if (field.fieldKind === "list" && Array.isArray(value))
      for (const [i, v] of value.entries()) out.push([`${path}[${i}]`, v, inner, field]);
    else if (field.fieldKind === "map" && isObject(value))
      for (const [k, v] of Object.entries(value))
        out.push([`${path}[${JSON.stringify(k)}]`, v, inner, field]);
    else out.push([path, value, inner, field]);
  }
  return out;
}

function fieldOf(desc: DescMessage, key: string): DescField | undefined {
  return desc.fields.find((f) => f.jsonName === key || f.name === key);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function enumOf(field: DescField): DescEnum | undefined {
  if (field.fieldKind === "enum") return field.enum;
  if (field.fieldKind === "list" && field.listKind === "enum") return field.enum;
  if (field.fieldKind === "map" && field.mapKind === "enum") return field.enum;
  return undefined;
}

function messageOf(field: DescField): DescMessage | undefined {
  if (field.fieldKind === "message") return field.message;
  if (field.fieldKind === "list" && field.listKind === "message") return field.message;
  if (field.fieldKind === "map" && field.mapKind === "message") return field.message;
  return undefined;
}

function isUnknownName(desc: DescEnum, value: unknown): boolean {
  return typeof value === "string" && !desc.values.some((v) => v.name === value);
}
