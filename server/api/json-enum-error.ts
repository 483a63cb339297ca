/**
 * protobuf-es refuses an unknown enum name in JSON with "cannot decode enum
 * entdb.v1.Direction from JSON: "UP"", which does not say which field held it. This
 * finds that field in the request's JSON (kept as the library reads the body) and
 * says it: "Field `direction` has no entdb.v1.Direction value named "UP"; use one of
 * DIRECTION_UNSPECIFIED, DIRECTION_OUT, DIRECTION_IN."
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

/**
 * The status naming the field, when `status` is protobuf-es's unknown-enum error and
 * the field can be found in `body` (a request of `input`); otherwise undefined.
 */
export function nameUnknownEnumField(
  status: ErrorStatus,
  input: DescMessage,
  body: Uint8Array,
  kind: "unary" | "enveloped",
): ErrorStatus | undefined {
  if (status.code !== Code.InvalidArgument) return undefined;
  const enumName = ENUM_ERROR.exec(status.message)?.[1];
  if (enumName === undefined) return undefined;
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
  const found = findUnknownEnum(json, input, enumName, "", 0);
  if (found === undefined) return undefined;
  const names = found.desc.values.map((v) => v.name).join(", ");
  return {
    code: Code.InvalidArgument,
    message: `Field \`${found.path}\` has no ${enumName} value named ${JSON.stringify(found.value).slice(0, 100)}; use one of ${names}.`,
  };
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
  if (depth > 32 || typeof json !== "object" || json === null || Array.isArray(json))
    return undefined;
  for (const [key, value] of Object.entries(json)) {
    const field = desc.fields.find((f) => f.jsonName === key || f.name === key);
    if (field === undefined) continue;
    const path = `${prefix}${field.name}`;
    const items: [string, unknown][] =
      field.fieldKind === "list" && Array.isArray(value)
        ? value.map((v, i) => [`${path}[${i}]`, v])
        : field.fieldKind === "map" && typeof value === "object" && value !== null
          ? Object.entries(value).map(([k, v]) => [`${path}[${JSON.stringify(k)}]`, v])
          : [[path, value]];
    const enumDesc = enumOf(field);
    const messageDesc = messageOf(field);
    for (const [at, item] of items) {
      if (enumDesc?.typeName === enumName && isUnknownName(enumDesc, item))
        return { path: at, value: item, desc: enumDesc };
      if (messageDesc !== undefined) {
        const inner = findUnknownEnum(item, messageDesc, enumName, `${at}.`, depth + 1);
        if (inner !== undefined) return inner;
      }
    }
  }
  return undefined;
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
