/**
 * The gRPC protocol's unary calls with binary bodies (over HTTP/2) and gRPC-Web's (over
 * HTTP/1.1 and HTTP/2), answered without the Connect library's generic pipeline, as
 * `unary-fast-path.ts` answers the Connect protocol's. The library's handlers pipe each
 * call through async iterables (split, decompress, parse, serialize, compress, join),
 * link three abort signals and go through Node's HTTP/2 compatibility objects: that
 * cost gRPC calls 1.2 to 4.9 times the server CPU of the same Connect call
 * (docs/performance-log.md, "What changed", item 3).
 *
 * What this path serves, and nothing else:
 * - `POST` to a unary method that has an implementation
 * - `content-type: application/grpc` or `application/grpc+proto` (HTTP/2), or
 *   `application/grpc-web` or `application/grpc-web+proto` (either HTTP version)
 * - no request compression (`grpc-encoding` absent or `identity`)
 * - a `grpc-timeout` the library accepts, or none; the deadline aborts the call's
 *   signal with DEADLINE_EXCEEDED ("the operation timed out"), as the library's does
 *
 * Every other request (JSON, gRPC-Web text, compressed, a malformed timeout) returns
 * `false` and takes the library's path. The answer is the library's, built from its
 * own helpers where it must match (`setTrailerStatus`, `trailerSerialize`,
 * `parseTimeout`, the envelope's size check): status 200, the `+proto` content type, the
 * message in one envelope, and `grpc-status`, `grpc-message` and
 * `grpc-status-details-bin` with an error's metadata and the implementation's trailers
 * in the HTTP/2 trailers (gRPC) or in a trailer frame at the end of the body
 * (gRPC-Web). A body that is not exactly one well-formed envelope gets the library's
 * error for it.
 *
 * Responses are never compressed: `grpc-accept-encoding` is what a client can take,
 * and identity is always allowed (the library compresses answers of 1 KiB or more
 * when asked). `grpc-unary.test.ts` and `tests/e2e/grpc-unary.test.ts` send the same
 * requests down both paths and through real gRPC and gRPC-Web clients.
 */

import type * as http from "node:http";
import * as http2 from "node:http2";
import type { Readable } from "node:stream";
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
import {
  contentTypeProto as contentTypeWebProto,
  trailerFlag,
  trailerSerialize,
} from "@connectrpc/connect/protocol-grpc-web";
import { endH2Answer } from "./h2-answer.ts";
import { encodeOutput } from "./output-encoding.ts";
import { readChunks } from "./request-body.ts";
import {
  type CallSignal,
  createCallSignals,
  discardRest,
  type FastMethod,
  type FastPathOptions,
  handlerContext,
  intercepted,
  internalError,
  parseInput,
  refuseBeforeDecode,
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

/** Serves eligible gRPC and gRPC-Web unary calls. */
export interface GrpcUnary {
  /** Serves the stream and returns true, or returns false (and leaves it untouched). */
  serveH2(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): boolean;
  /** Serves a gRPC-Web request over HTTP/1.1 and returns true, or returns false. */
  serveH1(req: http.IncomingMessage, res: http.ServerResponse): boolean;
}

/** The answer to one call: response headers, the enveloped message (or none), trailers. */
interface GrpcAnswer {
  /**
   * With `:status` first when the call came over HTTP/2, where the usual answer's are a
   * flat list of names and values (HTTP/1.1 answers always have an object).
   */
  readonly headers: Record<string, string | number> | string[];
  readonly body: Uint8Array;
  readonly trailers: Record<string, string>;
}

/** A request this path serves: its method, protocol and deadline. */
interface Eligible {
  readonly target: FastMethod;
  /** gRPC-Web (trailers in the body) rather than gRPC (trailers in HTTP/2 trailers). */
  readonly web: boolean;
  readonly timeoutMs: number | undefined;
}

/** What `call` returns for a call it handed to `options.forward` (which answers it). */
const FORWARDED: GrpcAnswer = { headers: [], body: new Uint8Array(0), trailers: {} };

/** The trailers of a successful answer that set none (shared: Node copies what it sends). */
const OK_TRAILERS: Readonly<Record<string, string>> = Object.freeze({ [STATUS]: "0" });

/** The trailer frame of a successful gRPC-Web answer that set no trailers. */
const WEB_OK_TRAILER = webTrailer(OK_TRAILERS);

/** Creates the gRPC and gRPC-Web path over `options.methods`. */
export function createGrpcUnary(options: FastPathOptions): GrpcUnary {
  const startCall = createCallSignals(options.shutdownSignal);
  const forward = options.forward;

  /** The call a request is for, if this path may serve it. */
  const eligible = (
    method: string | undefined,
    path: string | undefined,
    headers: http.IncomingHttpHeaders,
  ): Eligible | undefined => {
    if (method !== "POST" || path === undefined) return undefined;
    const target = options.methods.get(path);
    if (target === undefined) return undefined;
    const type = headers[CONTENT_TYPE];
    let web: boolean;
    if (type === contentTypeProto || type === "application/grpc") web = false;
    else if (type === contentTypeWebProto || type === "application/grpc-web") web = true;
    else return undefined;
    const encoding = headers[ENCODING];
    if (encoding !== undefined && encoding !== "identity") return undefined;
    const timeout = headers[TIMEOUT];
    let timeoutMs: number | undefined;
    if (timeout !== undefined) {
      const parsed = parseTimeout(single(timeout) ?? null, Number.MAX_SAFE_INTEGER);
      // The library answers a malformed timeout; so it keeps that case.
      if (parsed.error !== undefined) return undefined;
      timeoutMs = parsed.timeoutMs;
    }
    return { target, web, timeoutMs };
  };

  const call = async (
    { target, web }: Eligible,
    url: string,
    headers: http.IncomingHttpHeaders,
    body: Readable,
    signal: CallSignal,
    h2: boolean,
    forwardOn: http2.ServerHttp2Stream | undefined,
  ): Promise<GrpcAnswer> => {
    const auth = options.contextValues(single(headers["authorization"]));
    const values = auth instanceof Promise ? await auth : auth;
    const ctx = handlerContext(target, web ? "grpc-web" : "grpc", url, headers, signal, values);
    let error: ConnectError | undefined;
    let bytes = NO_BYTES;
    let inInterceptors = false;
    try {
      refuseBeforeDecode(
        values,
        target.service.typeName,
        headers["authorization"],
        options.anonymousReads === true,
      );
      // A serving thread keeps the request's bytes: to hand them on (forward, or a
      // handed-over implementation: requestBody).
      const raw = forward === undefined ? undefined : { data: NO_BYTES };
      const input = await readSingleMessage(
        body,
        options.readMaxBytes,
        target.method.input,
        web ? trailerFlag : undefined,
        raw,
      );
      if (forward !== undefined && forwardOn !== undefined && !forward.serves(target, input)) {
        forward.send(forwardOn, headers, envelope(raw?.data ?? NO_BYTES));
        return FORWARDED;
      }
      if (raw !== undefined) ctx.body = raw.data;
      inInterceptors = true;
      const answer = intercepted(target, ctx, input, options.interceptors);
      const output = answer instanceof Promise ? await answer : answer;
      inInterceptors = false;
      bytes = envelope(encodeOutput(target.method.output, output));
    } catch (e) {
      // As on the Connect path: a ConnectError is meant, anything else is a bug, logged
      // with its stack (by the interceptors, if it passed through them).
      if (!(e instanceof ConnectError) && !inInterceptors) options.logError(e);
      error = e instanceof ConnectError ? e : internalError(e);
    }
    const extra = options.extraHeaders(single(headers["origin"]));
    const contentType = web ? contentTypeWebProto : contentTypeProto;
    const written = ctx.headersWritten();
    // Headers objects only when the implementation or an error needs them.
    if (written === undefined && error === undefined) {
      // Over HTTP/2 the headers as a flat list, in the order the object below would
      // give them (the Connect path does the same: Node encodes a list as it is).
      if (h2 && extra[CONTENT_TYPE] === undefined) {
        const list: string[] = [":status", "200"];
        for (const name in extra) list.push(name, extra[name] as string);
        list.push(CONTENT_TYPE, contentType);
        return { headers: list, body: bytes, trailers: OK_TRAILERS };
      }
    }
    // Over HTTP/2 with `:status` first: Node's `respond` takes the headers as they are.
    const out: Record<string, string | number> = h2 ? { ":status": 200 } : {};
    for (const name in extra) out[name] = extra[name] as string;
    out[CONTENT_TYPE] = contentType;
    if (written === undefined && error === undefined) {
      return { headers: out, body: bytes, trailers: OK_TRAILERS };
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

  /**
   * Serves one call and writes its answer with `write`. Never rejects: what goes wrong
   * while answering is logged. One async function and no `.then`/`.catch` after it (the
   * Connect path's call is an object whose steps call the next, `ConnectCall`).
   */
  const serve = async <S>(
    request: Eligible,
    url: string,
    headers: http.IncomingHttpHeaders,
    body: Readable,
    signal: CallSignal,
    sink: S,
    write: (sink: S, request: Eligible, res: GrpcAnswer) => void,
  ): Promise<void> => {
    try {
      const h2 = write === answerH2;
      const res = await call(
        request,
        url,
        headers,
        body,
        signal,
        h2,
        h2 && forward !== undefined ? (sink as http2.ServerHttp2Stream) : undefined,
      );
      // Answered: a close from here on is the stream's normal end, not a cancel.
      signal.end();
      if (res !== FORWARDED) write(sink, request, res);
    } catch (err) {
      signal.end();
      options.logError(err);
    }
  };

  return {
    serveH2(stream, headers) {
      const path = headers[":path"];
      const request = eligible(headers[":method"], path, headers);
      if (request === undefined) return false;
      const signal = startCall(request.timeoutMs);
      // `on`, not `once`: a stream closes once, and `once` wraps the listener per call.
      stream.on("close", () => {
        // A stream closed before its answer was sent was cancelled by the client.
        if (!signal.ended) signal.abort(cancelledCall());
      });
      stream.on("error", ignore); // a reset stream reports here; the call sees its signal
      const url = `http://${single(headers[":authority"]) ?? "localhost"}${path}`;
      void serve(request, url, headers, stream, signal, stream, answerH2);
      return true;
    },
    serveH1(req, res) {
      const request = eligible(req.method, req.url, req.headers);
      // gRPC itself needs HTTP/2 trailers: over HTTP/1.1 only gRPC-Web is served.
      if (request === undefined || !request.web) return false;
      const url = `http://${req.headers.host ?? "localhost"}${req.url ?? ""}`;
      const signal = startCall(request.timeoutMs);
      res.once("close", () => {
        if (!res.writableFinished && !signal.ended) signal.abort(cancelledCall());
      });
      void serve(request, url, req.headers, req, signal, { req, res }, answerH1);
      return true;
    },
  };
}

/** What a stream's `error` listener does: a reset stream reports there; the call sees its signal. */
const ignore = () => {};

/** The reason a call's signal is aborted with when its client goes away first. */
function cancelledCall(): ConnectError {
  return new ConnectError("the client cancelled the call", Code.Canceled);
}

/** Writes a call's answer on its HTTP/2 stream: gRPC with HTTP/2 trailers, gRPC-Web with its trailer frame. */
function answerH2(stream: http2.ServerHttp2Stream, request: Eligible, res: GrpcAnswer): void {
  if (stream.destroyed) return;
  if (request.web) {
    stream.respond(res.headers);
    // As on the Connect path: an answer before the whole body arrived tells the client
    // to stop sending once it is out (RFC 9113 §8.1).
    endH2Answer(stream, webBody(res));
    return;
  }
  stream.respond(res.headers, WAIT_FOR_TRAILERS);
  // The usual trailers are one shared object (Node copies what it sends), sent by a
  // function shared by every call: `on`, not `once`, as a stream wants its trailers once.
  // Other trailers are sent by a closure, taken off once it ran (`once`), so the stream
  // does not keep the answer reachable.
  if (res.trailers === OK_TRAILERS) stream.on("wantTrailers", sendOkTrailers);
  else stream.once("wantTrailers", () => sendTrailers(stream, res.trailers));
  stream.end(res.body);
}

/** Writes a gRPC-Web call's answer on its HTTP/1.1 response. */
function answerH1(
  { req, res }: { req: http.IncomingMessage; res: http.ServerResponse },
  _request: Eligible,
  answer: GrpcAnswer,
): void {
  if (res.destroyed) return;
  // An HTTP/1.1 answer's headers are always an object (`call` builds a list only over HTTP/2).
  res.writeHead(200, answer.headers as Record<string, string | number>);
  res.end(webBody(answer));
  if (!req.readableEnded) discardRest(req);
}

const WAIT_FOR_TRAILERS = { waitForTrailers: true } as const;

function sendOkTrailers(this: http2.ServerHttp2Stream): void {
  sendTrailers(this, OK_TRAILERS);
}

function sendTrailers(stream: http2.ServerHttp2Stream, trailers: Record<string, string>): void {
  if (stream.destroyed) return;
  stream.sendTrailers(trailers);
  // Node sends trailers on the next turn, so the close waits one.
  if (stream.state.remoteClose === 0) setImmediate(closeAfterTrailers, stream);
}

function closeAfterTrailers(stream: http2.ServerHttp2Stream): void {
  if (!stream.destroyed && stream.state.remoteClose === 0) stream.close(NGHTTP2_NO_ERROR);
}

/** A gRPC-Web answer's body: the message envelope (if any), then the trailer frame. */
function webBody(res: GrpcAnswer): Uint8Array {
  const trailer =
    res.trailers[STATUS] === "0" && Object.keys(res.trailers).length === 1
      ? WEB_OK_TRAILER
      : webTrailer(res.trailers);
  if (res.body.byteLength === 0) return trailer;
  const out = new Uint8Array(res.body.byteLength + trailer.byteLength);
  out.set(res.body, 0);
  out.set(trailer, res.body.byteLength);
  return out;
}

/** The trailer frame of gRPC-Web: the trailer flag, a length, the fields as the library writes them. */
function webTrailer(trailers: Readonly<Record<string, string>>): Uint8Array {
  const headers = new Headers();
  for (const [key, value] of Object.entries(trailers)) headers.set(key, value);
  const data = trailerSerialize(headers);
  const out = envelope(data);
  out[0] = trailerFlag;
  return out;
}

/**
 * `message` in a gRPC envelope: a flags byte (uncompressed), its length, the bytes. From
 * Node's buffer pool: a `new Uint8Array` of an answer's size has a backing store of its
 * own, allocated and later freed per call (about 1.3 µs of a get's CPU in a profile).
 */
function envelope(message: Uint8Array): Uint8Array {
  const out = Buffer.allocUnsafe(5 + message.byteLength);
  const length = message.byteLength;
  out[0] = 0;
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
 * naming its type); a second message (UNIMPLEMENTED; in gRPC-Web an envelope with the
 * end flag is skipped); bytes left over (INVALID_ARGUMENT);
 * no message at all (UNIMPLEMENTED).
 */
async function readSingleMessage(
  body: Readable,
  readMaxBytes: number,
  desc: DescMessage,
  endFlag: number | undefined,
  raw?: { data: Uint8Array },
): Promise<Message> {
  let pending = NO_BYTES;
  /** The payload length of the envelope being read, once its header is in. */
  let length = -1;
  let message: Message | undefined;
  await readChunks(body, (chunk) => {
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
      const flags = pending[0] ?? 0;
      const data = pending.subarray(5, 5 + length);
      pending = pending.subarray(5 + length);
      length = -1;
      if ((flags & COMPRESSED_FLAG) !== 0) {
        throw new ConnectError(
          "received compressed envelope, but do not know how to decompress",
          Code.Internal,
        );
      }
      // The library's gRPC-Web handler skips an envelope with the end flag.
      if (endFlag !== undefined && (flags & endFlag) === endFlag) continue;
      if (message !== undefined) {
        throw new ConnectError(
          "protocol error: received extra input message for unary method",
          Code.Unimplemented,
        );
      }
      message = parseInput(desc, data);
      if (raw !== undefined) raw.data = data;
    }
  });
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
