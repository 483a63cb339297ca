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
import type { Message } from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues } from "@connectrpc/connect";
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
import { type ChunkSink, readChunksInto } from "./request-body.ts";
import {
  authenticateCall,
  type CallContext,
  type CallSignal,
  createCallSignals,
  discardRest,
  type FastMethod,
  type FastPathOptions,
  handlerContext,
  InterceptedCall,
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

/** The trailers of a successful answer that set none (shared: Node copies what it sends). */
const OK_TRAILERS: Readonly<Record<string, string>> = Object.freeze({ [STATUS]: "0" });

/** The trailer frame of a successful gRPC-Web answer that set no trailers. */
const WEB_OK_TRAILER = webTrailer(OK_TRAILERS);

/** Creates the gRPC and gRPC-Web path over `options.methods`. */
export function createGrpcUnary(options: FastPathOptions): GrpcUnary {
  const startCall = createCallSignals(options.shutdownSignal);

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

  const shared: GrpcShared = { options, forward: options.forward };
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
      new GrpcCall(shared, request, url, headers, stream, signal, stream, answerH2).start();
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
      new GrpcCall(shared, request, url, req.headers, req, signal, { req, res }, answerH1).start();
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

/** What every call of one gRPC path shares. */
interface GrpcShared {
  readonly options: FastPathOptions;
  readonly forward: FastPathOptions["forward"];
}

/**
 * One gRPC or gRPC-Web call, from its headers to its answer, as an object whose steps call
 * the next (as the Connect path's `ConnectCall`): authenticate, read the body's one
 * envelope from the stream's events, run the interceptors and the implementation, write
 * the answer with `write`. No async function and no promise unless the authenticator or
 * the implementation returns one. Never throws: what goes wrong while answering is logged.
 *
 * The body's message is read as the library reads it, with its errors in its order: an
 * envelope over the size limit as soon as its length is read (RESOURCE_EXHAUSTED); a
 * compressed one without `grpc-encoding` (INTERNAL, as the library says); a message that
 * does not parse (INVALID_ARGUMENT naming its type); a second message (UNIMPLEMENTED; in
 * gRPC-Web an envelope with the end flag is skipped); bytes left over (INVALID_ARGUMENT);
 * no message at all (UNIMPLEMENTED).
 */
class GrpcCall<S> extends InterceptedCall implements ChunkSink {
  readonly #shared: GrpcShared;
  readonly #request: Eligible;
  readonly #url: string;
  readonly #headers: http.IncomingHttpHeaders;
  readonly #body: Readable;
  readonly #signal: CallSignal;
  readonly #sink: S;
  readonly #write: (sink: S, request: Eligible, res: GrpcAnswer) => void;
  #ctx: CallContext | undefined;
  /** The body's bytes not yet read as an envelope. */
  #pending = NO_BYTES;
  /** The payload length of the envelope being read, once its header is in. */
  #length = -1;
  #message: Message | undefined;
  /** The message's bytes (a serving thread hands them on: forward, or a handed call). */
  #raw = NO_BYTES;

  constructor(
    shared: GrpcShared,
    request: Eligible,
    url: string,
    headers: http.IncomingHttpHeaders,
    body: Readable,
    signal: CallSignal,
    sink: S,
    write: (sink: S, request: Eligible, res: GrpcAnswer) => void,
  ) {
    super();
    this.#shared = shared;
    this.#request = request;
    this.#url = url;
    this.#headers = headers;
    this.#body = body;
    this.#signal = signal;
    this.#sink = sink;
    this.#write = write;
  }

  start(): void {
    authenticateCall(this.#shared.options, this.#headers, this);
  }

  authenticated(values: ContextValues): void {
    const { target, web } = this.#request;
    try {
      this.#ctx = handlerContext(
        target,
        web ? "grpc-web" : "grpc",
        this.#url,
        this.#headers,
        this.#signal,
        values,
      );
    } catch (err) {
      this.broken(err);
      return;
    }
    try {
      refuseBeforeDecode(
        values,
        target.service.typeName,
        this.#headers["authorization"],
        this.#shared.options.anonymousReads === true,
      );
      readChunksInto(this.#body, this);
    } catch (e) {
      this.failed(e);
    }
  }

  take(chunk: Buffer): void {
    let pending = this.#pending.byteLength === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    for (;;) {
      if (this.#length < 0) {
        if (pending.byteLength < 5) break;
        this.#length =
          (pending[1] ?? 0) * 0x1000000 +
          ((pending[2] ?? 0) << 16) +
          ((pending[3] ?? 0) << 8) +
          (pending[4] ?? 0);
        const readMaxBytes = this.#shared.options.readMaxBytes;
        if (this.#length > readMaxBytes) {
          throw new ConnectError(
            `message size ${this.#length} is larger than configured readMaxBytes ${readMaxBytes}`,
            Code.ResourceExhausted,
          );
        }
      }
      const length = this.#length;
      if (pending.byteLength < 5 + length) break;
      const flags = pending[0] ?? 0;
      const data = pending.subarray(5, 5 + length);
      pending = pending.subarray(5 + length);
      this.#length = -1;
      if ((flags & COMPRESSED_FLAG) !== 0) {
        throw new ConnectError(
          "received compressed envelope, but do not know how to decompress",
          Code.Internal,
        );
      }
      // The library's gRPC-Web handler skips an envelope with the end flag.
      if (this.#request.web && (flags & trailerFlag) === trailerFlag) continue;
      if (this.#message !== undefined) {
        throw new ConnectError(
          "protocol error: received extra input message for unary method",
          Code.Unimplemented,
        );
      }
      this.#message = parseInput(this.#request.target.method.input, data);
      this.#raw = data;
    }
    this.#pending = pending;
  }

  end(): void {
    try {
      if (this.#pending.byteLength > 0) {
        throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
      }
      const input = this.#message;
      if (input === undefined) {
        throw new ConnectError(
          "protocol error: missing input message for unary method",
          Code.Unimplemented,
        );
      }
      const { target } = this.#request;
      const { forward, options } = this.#shared;
      const ctx = this.#ctx as CallContext;
      if (forward !== undefined) {
        const stream =
          this.#write === answerH2 ? (this.#sink as http2.ServerHttp2Stream) : undefined;
        if (stream !== undefined && !forward.serves(target, input)) {
          this.#signal.end();
          forward.send(stream, this.#headers, envelope(this.#raw));
          return;
        }
        ctx.body = this.#raw;
      }
      options.beforeCall?.();
      this.intercept(target, ctx, input, options.interceptors);
    } catch (e) {
      this.failed(e);
    }
  }

  fail(error: unknown): void {
    this.failed(error);
  }

  protected logBug(error: unknown): void {
    this.#shared.options.logError(error);
  }

  protected countUnintercepted(code: Code): void {
    this.#shared.options.countUnintercepted?.(this.#request.target, code);
  }

  protected answer(bytes: Uint8Array): void {
    this.#finish(envelope(bytes), undefined);
  }

  protected answerError(error: ConnectError): void {
    this.#finish(NO_BYTES, error);
  }

  /** What went wrong outside the call's own steps (before its context, or writing its answer): logged. */
  broken(err: unknown): void {
    this.#signal.end();
    this.#shared.options.logError(err);
  }

  #finish(bytes: Uint8Array, error: ConnectError | undefined): void {
    let res: GrpcAnswer;
    try {
      res = answerOf(
        this.#shared.options,
        this.#request.web,
        this.#headers,
        this.#ctx as CallContext,
        this.#write === answerH2,
        bytes,
        error,
      );
    } catch (err) {
      this.broken(err);
      return;
    }
    // Answered: a close from here on is the stream's normal end, not a cancel.
    this.#signal.end();
    try {
      this.#write(this.#sink, this.#request, res);
    } catch (err) {
      this.#shared.options.logError(err);
    }
  }
}

/** A call's answer: its headers (a flat list over HTTP/2 when nothing else is set), body and trailers. */
function answerOf(
  options: FastPathOptions,
  web: boolean,
  headers: http.IncomingHttpHeaders,
  ctx: CallContext,
  h2: boolean,
  bytes: Uint8Array,
  error: ConnectError | undefined,
): GrpcAnswer {
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
}
