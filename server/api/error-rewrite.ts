/**
 * Rewrites the error status of an answer the Connect library built, in whichever place
 * its protocol carries it: the JSON error body of a Connect unary call, the
 * `grpc-status`/`grpc-message` headers or trailers of gRPC, or the trailer frame inside
 * a gRPC-Web body. The library decides some answers before any of our code runs (a body
 * that does not parse); this is how those answers get the code and the message the API
 * promises. Everything but the status (details, other headers, message frames) passes
 * through unchanged; a successful answer streams on untouched.
 */

import type { Code } from "@connectrpc/connect";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import {
  codeFromString,
  codeToHttpStatus,
  codeToString,
} from "@connectrpc/connect/protocol-connect";
import { trailerFlag, trailerParse, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";

/** An error status: its code and message. */
export interface ErrorStatus {
  readonly code: Code;
  readonly message: string;
}

/** Returns the status to answer instead, or undefined to keep `status`. */
export type StatusRewrite = (status: ErrorStatus) => ErrorStatus | undefined;

/** `res` with its error status passed through `rewrite`. */
export async function rewriteErrorStatus(
  res: UniversalServerResponse,
  rewrite: StatusRewrite,
): Promise<UniversalServerResponse> {
  for (const headers of [res.header, res.trailer]) {
    const code = headers?.get("grpc-status");
    if (headers === undefined || code === null || code === undefined) continue;
    if (code !== "0") {
      const next = rewrite({
        code: Number(code),
        message: decodeURIComponent(headers.get("grpc-message") ?? ""),
      });
      if (next !== undefined) {
        headers.set("grpc-status", String(next.code));
        headers.set("grpc-message", encodeURIComponent(next.message));
      }
    }
    return res;
  }
  if (res.header?.get("content-type")?.startsWith("application/grpc-web") === true)
    return rewriteGrpcWebTrailer(res, rewrite);
  if (res.status === 200 || res.body === undefined) return res;
  if (res.header?.get("content-type")?.startsWith("application/json") !== true) return res;
  const chunks: Uint8Array[] = [];
  for await (const chunk of res.body) chunks.push(chunk);
  let bytes = Buffer.concat(chunks);
  let status = res.status;
  try {
    const error = JSON.parse(bytes.toString("utf8")) as Record<string, unknown>;
    const code = typeof error["code"] === "string" ? codeFromString(error["code"]) : undefined;
    const message = typeof error["message"] === "string" ? error["message"] : "";
    const next = code === undefined ? undefined : rewrite({ code, message });
    if (next !== undefined) {
      bytes = Buffer.from(
        JSON.stringify({ ...error, code: codeToString(next.code), message: next.message }),
      );
      status = codeToHttpStatus(next.code);
      res.header?.delete("content-length");
    }
  } catch {
    // not a Connect JSON error: pass it on unchanged
  }
  return {
    ...res,
    status,
    body: (async function* () {
      yield bytes;
    })(),
  };
}

/**
 * gRPC-Web: rewrites the status in the body's trailer frame when it is the first frame
 * (the call failed before any message); a body that starts with a message frame streams
 * on untouched, chunk by chunk.
 */
function rewriteGrpcWebTrailer(
  res: UniversalServerResponse,
  rewrite: StatusRewrite,
): UniversalServerResponse {
  const body = res.body;
  if (body === undefined) return res;
  async function* rewritten(): AsyncGenerator<Uint8Array> {
    let head: Uint8Array = new Uint8Array(0);
    const it = body![Symbol.asyncIterator]();
    const frameEnd = () =>
      head.length < 5 ? Infinity : 5 + new DataView(head.buffer, head.byteOffset).getUint32(1);
    while (head.length < frameEnd()) {
      const next = await it.next();
      if (next.done) {
        yield head;
        return;
      }
      head = concat(head, next.value);
    }
    const end = frameEnd();
    const flags = head[0] ?? 0;
    if ((flags & trailerFlag) === trailerFlag) {
      const trailer = trailerParse(head.subarray(5, end));
      const code = trailer.get("grpc-status");
      const next =
        code === null || code === "0"
          ? undefined
          : rewrite({
              code: Number(code),
              message: decodeURIComponent(trailer.get("grpc-message") ?? ""),
            });
      if (next !== undefined) {
        trailer.set("grpc-status", String(next.code));
        trailer.set("grpc-message", encodeURIComponent(next.message));
        const payload = trailerSerialize(trailer);
        const prefix = new Uint8Array(5);
        prefix[0] = flags;
        new DataView(prefix.buffer).setUint32(1, payload.byteLength);
        head = concat(concat(prefix, payload), head.subarray(end));
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
