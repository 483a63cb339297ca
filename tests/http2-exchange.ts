/**
 * One HTTP/2 request on an open session, read to the end: status, headers and body.
 * What tests and the benchmark's lean client need when they speak HTTP/2 themselves.
 */

import type * as http2 from "node:http2";

/** A complete HTTP/2 answer. */
export interface Http2Answer {
  readonly status: number;
  readonly headers: http2.IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * Sends `headers` (pseudo-headers included) and `body` on `session` and resolves with
 * the whole answer; rejects if the stream fails. A GET sends no body.
 */
export function http2Exchange(
  session: http2.ClientHttp2Session,
  headers: http2.OutgoingHttpHeaders,
  body?: Uint8Array,
): Promise<Http2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers);
    let head: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h) => {
      head = h;
    });
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () =>
      resolve({
        status: Number(head[":status"]),
        headers: head,
        body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks),
      }),
    );
    stream.on("error", reject);
    if (headers[":method"] === "GET" || body === undefined) stream.end();
    else stream.end(body);
  });
}
