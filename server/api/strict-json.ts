/**
 * JSON request bodies held to the same standard as binary ones: an unknown field, an
 * unknown enum name or bytes that are not UTF-8 are INVALID_ARGUMENT naming what is
 * wrong, never dropped, defaulted or replaced by U+FFFD.
 *
 * connect-es ignores unknown JSON fields unless told otherwise (`getJsonOptions`) and
 * decodes bodies with a lenient `TextDecoder`; its router hands `jsonOptions` to the
 * JSON serialization of every protocol (Connect, gRPC and gRPC-Web with `+json`), which
 * also takes the `textDecoder` to use (`JsonSerializationOptions`).
 */

import type { JsonReadOptions, JsonWriteOptions } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";

/** What the router's `jsonOptions` carry: protobuf-es read/write options and the decoder. */
export type StrictJsonOptions = Partial<JsonReadOptions & JsonWriteOptions> & {
  readonly textDecoder: { decode(input?: Uint8Array): string };
};

const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Decodes UTF-8, or throws INVALID_ARGUMENT saying where the first bad byte is. */
export function decodeUtf8Strict(bytes: Uint8Array = new Uint8Array(0)): string {
  try {
    return fatal.decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    const before = new TextDecoder().decode(bytes.subarray(Math.max(0, at - 200), at));
    const key = [...before.matchAll(/"((?:[^"\\]|\\.){1,80})"\s*:/g)].pop()?.[1];
    throw new ConnectError(
      `The JSON request body is not valid UTF-8: byte ${at}${key === undefined ? "" : ` (in the value of "${key}")`} starts no valid UTF-8 sequence; send the body encoded as UTF-8.`,
      Code.InvalidArgument,
    );
  }
}

/** The router's JSON options: unknown fields and enum names refused, UTF-8 checked. */
export const STRICT_JSON_OPTIONS: StrictJsonOptions = {
  ignoreUnknownFields: false,
  textDecoder: { decode: decodeUtf8Strict },
};

/** Offset of the first byte of `bytes` that does not belong to a valid UTF-8 sequence. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    let n: number;
    let min: number;
    if (b < 0x80) {
      i++;
      continue;
    } else if (b >= 0xc2 && b <= 0xdf) {
      n = 1;
      min = 0x80;
    } else if (b >= 0xe0 && b <= 0xef) {
      n = 2;
      min = 0x800;
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 3;
      min = 0x10000;
    } else {
      return i;
    }
    let cp = b & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const c = bytes[i + k];
      if (c === undefined || (c & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (c & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return bytes.length;
}
