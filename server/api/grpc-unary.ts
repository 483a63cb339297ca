/**
 * The gRPC protocol's unary calls with binary bodies over HTTP/2, answered without the
 * Connect library's generic pipeline, as `unary-fast-path.ts` answers the Connect
 * protocol's. The library's gRPC handler pipes each call through async iterables
 * (split, decompress, parse, serialize, compress, join), links three abort signals and
 * goes through Node's HTTP/2 compatibility objects: that cost gRPC calls 1.2 to 4 times
 * the server CPU of the same Connect call (docs/performance.md).
 *
 * What this path serves, and nothing else:
 * - `POST` to a unary method that has an implementation
 * - `content-type: application/grpc` or `application/grpc+proto`
 * - no request compression (`grpc-encoding` absent or `identity`)
 * - a `grpc-timeout` the library accepts, or none; the deadline aborts the call's
 *   signal with DEADLINE_EXCEEDED ("the operation timed out"), as the library's does
 *
 * Every other request (gRPC-Web, JSON, compressed, a malformed timeout) returns `false`
 * and takes the library's path. The answer is the library's, built from its own
 * helpers where it must match (`setTrailerStatus`, `parseTimeout`, the envelope's size
 * check): status 200, `content-type: application/grpc+proto`, the message in one
 * envelope, and `grpc-status`, `grpc-message` and `grpc-status-details-bin` in the
 * trailers, with an error's metadata and the implementation's headers and trailers.
 * A body that is not exactly one well-formed envelope gets the library's error for it.
 *
 * Responses are never compressed: `grpc-accept-encoding` is what a client can take,
 * and identity is always allowed (the library compresses answers of 1 KiB or more
 * when asked). `tests/e2e/grpc-unary.test.ts` sends the same requests down both paths
 * and through real gRPC clients.
 */

import * as http2 from "node:http2";
import type { DescMessage, Message } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  contentTypeProto,
  headerContentType,
  headerEncoding,
  headerGrpcStatus,
  headerTimeout,
  parseTimeout,
  setTrailerStatus,
} from "@connectrpc/connect/protocol-grpc";
import { encodeOutput } from "./output-encoding.ts";
import {
  bodyOf,
  type CallSignal,
  createCallSignals,
  type FastMethod,
  type FastPathOptions,
  handlerContext,
  intercepted,
  internalError,
  parseInput,
  single,
} from "./unary-call.ts";

const { NGHTTP2_NO_ERROR } = http2.constants;

// Node gives header names in lower case; the library's constants are capitalized.
const CONTENT_TYPE = headerContentType.toLowerCase();
const ENCODING = headerEncoding.toLowerCase();
const TIMEOUT = headerTimeout.toLowerCase();
const STATUS = headerGrpcStatus.toLowerCase();

/** The envelope flag of a compressed message. */
const COMPRESSED_FLAG = 0b00000001;
const NO_BYTES: Uint8Array = new Uint8Array(0);

/** Serves eligible gRPC unary calls from HTTP/2 streams. */
export interface GrpcUnary {
  /** Serves the stream and returns true, or returns false (and leaves it untouched). */
  serveH2(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): boolean;
}

/** The answer to one call: response headers, the enveloped message (or none), trailers. */
interface GrpcAnswer {
  readonly headers: Record<string, string>;
  readonly body: Uint8Array;
  readonly trailers: Record<string, string>;
}

/** Creates the gRPC path over `options.methods`. */
export function createGrpcUnary(options: FastPathOptions): GrpcUnary {
  const startCall = createCallSignals(options.shutdownSignal);

  const call = async (
    target: FastMethod,
    url: string,
    headers: http2.IncomingHttpHeaders,
    body: AsyncIterable<Uint8Array>,
    signal: CallSignal,
  ): Promise<GrpcAnswer> => {
    const auth = options.contextValues(single(headers["authorization"]));
    const values = auth instanceof Promise ? await auth : auth;
    const ctx = handlerContext(target, "grpc", url, headers, signal, values);
    let error: ConnectError | undefined;
    let bytes = NO_BYTES;
    let inInterceptors = false;
    try {
      const input = await readSingleMessage(body, options.readMaxBytes, target.method.input);
      inInterceptors = true;
      const output = await intercepted(target, ctx, input, options.interceptors);
      inInterceptors = false;
      bytes = envelope(encodeOutput(target.method.output, output));
    } catch (e) {
      // As on the Connect path: a ConnectError is meant, anything else is a bug, logged
      // with its stack (by the interceptors, if it passed through them).
      if (!(e instanceof ConnectError) && !inInterceptors) options.logError(e);
      error = e instanceof ConnectError ? e : internalError(e);
    }
    const out: Record<string, string> = {
      ...options.extraHeaders(single(headers["origin"])),
      [CONTENT_TYPE]: contentTypeProto,
    };
    const written = ctx.headersWritten();
    // Headers objects only when the implementation or an error needs them.
    if (written === undefined && error === undefined) {
      return { headers: out, body: bytes, trailers: { [STATUS]: "0" } };
    }
    written?.header.forEach((value, key) => {
      out[key] = value;
    });
    const trailer = new Headers(written?.trailer);
    setTrailerStatus(trailer, error);
    const trailers: Record<string, string> = {};
    trailer.forEach((value, key) => {
      trailers[key] = value;
    });
    return { headers: out, body: bytes, trailers };
  };

  return {
    serveH2(stream, headers) {
      if (headers[":method"] !== "POST") return false;
      const path = headers[":path"];
      if (path === undefined) return false;
      const target = options.methods.get(path);
      if (target === undefined) return false;
      const type = headers[CONTENT_TYPE];
      if (type !== contentTypeProto && type !== "application/grpc") return false;
      const encoding = headers[ENCODING];
      if (encoding !== undefined && encoding !== "identity") return false;
      const timeout = headers[TIMEOUT];
      let timeoutMs: number | undefined;
      if (timeout !== undefined) {
        const parsed = parseTimeout(single(timeout) ?? null, Number.MAX_SAFE_INTEGER);
        // The library answers a malformed timeout; so it keeps that case.
        if (parsed.error !== undefined) return false;
        timeoutMs = parsed.timeoutMs;
      }
      const signal = startCall(timeoutMs);
      let answered = false;
      stream.once("close", () => {
        // A stream closed before its answer was sent was cancelled by the client.
        if (!answered)
          signal.abort(new ConnectError("the client cancelled the call", Code.Canceled));
      });
      stream.on("error", () => {}); // a reset stream reports here; the call sees its signal
      const url = `http://${single(headers[":authority"]) ?? "localhost"}${path}`;
      call(target, url, headers, bodyOf(stream), signal)
        .then((res) => {
          answered = true;
          signal.end();
          if (stream.destroyed) return;
          stream.respond({ ":status": 200, ...res.headers }, { waitForTrailers: true });
          stream.once("wantTrailers", () => {
            if (stream.destroyed) return;
            stream.sendTrailers(res.trailers);
            // An error answered before the whole body arrived: once the trailers are
            // out, tell the client to stop sending, without failing the call
            // (RFC 9113 §8.1). Node sends trailers on the next turn, so this waits one.
            if (stream.state.remoteClose === 0) {
              setImmediate(() => {
                if (!stream.destroyed && stream.state.remoteClose === 0)
                  stream.close(NGHTTP2_NO_ERROR);
              });
            }
          });
          stream.end(res.body);
        })
        .catch((err: unknown) => {
          signal.end();
          options.logError(err);
        });
      return true;
    },
  };
}

/** `message` in a gRPC envelope: a flags byte (uncompressed), its length, the bytes. */
function envelope(message: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + message.byteLength);
  const length = message.byteLength;
  out[1] = length >>> 24;
  out[2] = (length >>> 16) & 0xff;
  out[3] = (length >>> 8) & 0xff;
  out[4] = length & 0xff;
  out.set(message, 5);
  return out;
}

/**
 * The one message of a unary call's body, read to its end. The errors, and the order
 * they are found in, are the library's: an envelope over the size limit as soon as its
 * length is read (RESOURCE_EXHAUSTED); a compressed one without `grpc-encoding`
 * (INTERNAL, as the library says); a message that does not parse (INVALID_ARGUMENT
 * naming its type); a second message (UNIMPLEMENTED); bytes left over (INVALID_ARGUMENT);
 * no message at all (UNIMPLEMENTED).
 */
async function readSingleMessage(
  body: AsyncIterable<Uint8Array>,
  readMaxBytes: number,
  desc: DescMessage,
): Promise<Message> {
  let pending = NO_BYTES;
  /** The payload length of the envelope being read, once its header is in. */
  let length = -1;
  let message: Message | undefined;
  for await (const chunk of body) {
    pending = pending.byteLength === 0 ? chunk : Buffer.concat([pending, chunk]);
    for (;;) {
      if (length < 0) {
        if (pending.byteLength < 5) break;
        length =
          (pending[1] ?? 0) * 0x1000000 +
          ((pending[2] ?? 0) << 16) +
          ((pending[3] ?? 0) << 8) +
          (pending[4] ?? 0);
        if (length > readMaxBytes) {
          throw new ConnectError(
            `message size ${length} is larger than configured readMaxBytes ${readMaxBytes}`,
            Code.ResourceExhausted,
          );
        }
      }
      if (pending.byteLength < 5 + length) break;
      if (message !== undefined) {
        throw new ConnectError(
          "protocol error: received extra input message for unary method",
          Code.Unimplemented,
        );
      }
      if (((pending[0] ?? 0) & COMPRESSED_FLAG) !== 0) {
        throw new ConnectError(
          "received compressed envelope, but do not know how to decompress",
          Code.Internal,
        );
      }
      message = parseInput(desc, pending.subarray(5, 5 + length));
      pending = pending.subarray(5 + length);
      length = -1;
    }
  }
  if (pending.byteLength > 0) {
    throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  }
  if (message === undefined) {
    throw new ConnectError(
      "protocol error: missing input message for unary method",
      Code.Unimplemented,
    );
  }
  return message;
}
