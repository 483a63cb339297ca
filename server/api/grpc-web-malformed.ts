/**
 * gRPC-Web carries a call's status in a trailer frame inside the response body, where
 * `routes.ts` cannot rewrite it as a header. connect-es answers a request body that
 * is not a valid protobuf message with INTERNAL ("parse binary: …"); this rewrites
 * that trailer frame to INVALID_ARGUMENT saying which message was expected, and passes
 * every other body through unchanged, chunk by chunk.
 */

import { Code } from "@connectrpc/connect";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import { trailerFlag, trailerParse, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";

/** Whether `res` is a gRPC-Web response (its status travels in the body). */
export function isGrpcWebResponse(res: UniversalServerResponse): boolean {
  return res.header?.get("content-type")?.startsWith("application/grpc-web") === true;
}

/**
 * `res` with a trailer frame saying INTERNAL "parse binary: …" as its first frame
 * replaced by INVALID_ARGUMENT with `explain(message)`. A body whose first frame is a
 * message (the call succeeded so far) is streamed on untouched.
 */
export function grpcWebMalformedAsInvalidArgument(
  res: UniversalServerResponse,
  explain: (detail: string) => string,
): UniversalServerResponse {
  const body = res.body;
  if (body === undefined) return res;
  async function* rewritten(): AsyncGenerator<Uint8Array> {
    let head: Uint8Array = new Uint8Array(0);
    const it = body![Symbol.asyncIterator]();
    // Collect the first frame (5-byte prefix and its payload) before deciding.
    for (;;) {
      const frameEnd =
        head.length >= 5 ? 5 + new DataView(head.buffer, head.byteOffset).getUint32(1) : Infinity;
      if (head.length >= frameEnd) break;
      const next = await it.next();
      if (next.done) {
        yield head;
        return;
      }
      head = concat(head, next.value);
    }
    const length = new DataView(head.buffer, head.byteOffset).getUint32(1);
    const flags = head[0] ?? 0;
    if ((flags & trailerFlag) === trailerFlag) {
      const trailer = trailerParse(head.subarray(5, 5 + length));
      const message = decodeURIComponent(trailer.get("grpc-message") ?? "");
      if (
        trailer.get("grpc-status") === String(Code.Internal) &&
        message.startsWith("parse binary:")
      ) {
        trailer.set("grpc-status", String(Code.InvalidArgument));
        trailer.set("grpc-message", encodeURIComponent(explain(message)));
        const payload = trailerSerialize(trailer);
        const prefix = new Uint8Array(5);
        prefix[0] = flags;
        new DataView(prefix.buffer).setUint32(1, payload.byteLength);
        head = concat(concat(prefix, payload), head.subarray(5 + length));
      }
    }
    yield head;
    for (;;) {
      const next = await it.next();
      if (next.done) return;
      yield next.value;
    }
  }
  res.header?.delete("content-length");
  return { ...res, body: rewritten() };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
