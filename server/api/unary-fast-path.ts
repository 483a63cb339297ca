/**
 * The Connect protocol's unary calls with binary bodies, the calls the generated client
 * makes, answered without the Connect library's generic pipeline.
 *
 * Why: on a 2-core machine the library's per-call machinery cost about 150 µs of CPU
 * per call before any handler ran. It links abort controllers, builds three `Headers`,
 * pipes async iterables, goes through Node's HTTP/2 compatibility objects, and aborts
 * every finished call's signal, which creates a `DOMException` with a stack trace.
 * That was 3 to 4 times what Node's HTTP/2 stream API costs for the same exchange.
 * It bounded writes and reads per second more than the database did.
 * (`tests/bench/server-bench.ts` measures it.)
 *
 * What this path serves, and nothing else:
 * - `POST` to a unary method that has an implementation
 * - `content-type: application/proto`
 * - no request compression
 * - no `connect-timeout-ms`
 * - protocol version 1 or none
 *
 * Every other request (gRPC, gRPC-Web, JSON, GET, compressed or timed calls, unknown
 * paths) returns `false` and takes the library's path, so behaviour there is the
 * library's. What it does is the protocol's unary exchange, built from the library's
 * own helpers for the parts that must match:
 * - the error JSON (`errorToJsonBytes`)
 * - the HTTP status of a code (`codeToHttpStatus`)
 * - the size limit (`readAllBytes`)
 * - metadata headers (`mergeNonProtocolHeaders`)
 * - `trailer-` prefixed unary trailers (`trailerMux`)
 *
 * Responses are never compressed; the protocol lets a server choose identity.
 * `tests/e2e/unary-fast-path.test.ts` sends the same requests down both paths and
 * checks the responses are the same, byte for byte, errors included.
 */

import type * as http from "node:http";
import * as http2 from "node:http2";
import type { Readable } from "node:stream";
import {
  create,
  type DescMessage,
  type DescMethod,
  type DescService,
  fromBinary,
  type Message,
  toBinary,
} from "@bufbuild/protobuf";
import { Code, ConnectError, type ContextValues, type HandlerContext } from "@connectrpc/connect";
import { mergeNonProtocolHeaders, readAllBytes } from "@connectrpc/connect/protocol";
import {
  codeToHttpStatus,
  contentTypeUnaryJson,
  contentTypeUnaryProto,
  errorToJsonBytes,
  headerContentType,
  headerProtocolVersion,
  headerTimeout,
  headerUnaryContentLength,
  headerUnaryEncoding,
  protocolVersion,
  trailerMux,
} from "@connectrpc/connect/protocol-connect";

const { NGHTTP2_NO_ERROR } = http2.constants;

// Node gives header names in lower case; the library's constants are capitalized.
const CONTENT_TYPE = headerContentType.toLowerCase();
const CONTENT_ENCODING = headerUnaryEncoding.toLowerCase();
const CONTENT_LENGTH = headerUnaryContentLength.toLowerCase();
const TIMEOUT = headerTimeout.toLowerCase();
const PROTOCOL_VERSION = headerProtocolVersion.toLowerCase();

/** A unary implementation as a router sees it: a request message in, a message (or its init shape) out. */
export type UnaryImpl = (req: Message, ctx: HandlerContext) => unknown;

/** One method this path can serve. */
export interface FastMethod {
  readonly service: DescService;
  /** A unary method (the path serves no streams). */
  readonly method: DescMethod;
  readonly impl: UnaryImpl;
}

/** What the path needs from the server around it. */
export interface UnaryFastPathOptions {
  /** Request path (`/pkg.Service/Method`) → method. */
  readonly methods: ReadonlyMap<string, FastMethod>;
  /** Largest request body accepted, in bytes (the router's `readMaxBytes`). */
  readonly readMaxBytes: number;
  /** The request's context values (authentication) from its Authorization header; never rejects. */
  contextValues(authorization: string | undefined): ContextValues | Promise<ContextValues>;
  /** Headers every response carries for this request's Origin (CORS); may be empty. */
  extraHeaders(origin: string | undefined): Readonly<Record<string, string>>;
  /** Starts timing a call; the returned function records its outcome. */
  observe(methodName: string): (code: Code | undefined) => void;
  /**
   * Receives an implementation's error that is not a ConnectError (answered as INTERNAL),
   * and an error thrown while writing a response (the call itself is answered).
   */
  logError(err: unknown): void;
}

/** Serves eligible unary calls from an HTTP/2 stream or an HTTP/1.1 request. */
export interface UnaryFastPath {
  /** Serves the stream and returns true, or returns false (and leaves it untouched). */
  serveH2(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): boolean;
  /** Serves the request and returns true, or returns false (and leaves it untouched). */
  serveH1(req: http.IncomingMessage, res: http.ServerResponse): boolean;
}

/** The response of one call. */
interface UnaryResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Uint8Array;
}

/** Creates the fast path over `options.methods`. */
export function createUnaryFastPath(options: UnaryFastPathOptions): UnaryFastPath {
  /** The method a request is for, if this path may serve it. */
  const eligible = (
    method: string | undefined,
    path: string | undefined,
    headers: http.IncomingHttpHeaders,
  ): FastMethod | undefined => {
    if (method !== "POST" || path === undefined) return undefined;
    const target = options.methods.get(path);
    if (target === undefined) return undefined;
    if (headers[CONTENT_TYPE] !== contentTypeUnaryProto) return undefined;
    const encoding = headers[CONTENT_ENCODING];
    if (encoding !== undefined && encoding !== "identity") return undefined;
    if (headers[TIMEOUT] !== undefined) return undefined;
    const version = headers[PROTOCOL_VERSION];
    if (version !== undefined && version !== protocolVersion) return undefined;
    return target;
  };

  const call = async (
    target: FastMethod,
    url: string,
    headers: http.IncomingHttpHeaders,
    body: AsyncIterable<Uint8Array>,
    signal: AbortSignal,
  ): Promise<UnaryResponse> => {
    const done = options.observe(`${target.service.typeName}/${target.method.name}`);
    const origin = headers["origin"];
    const auth = options.contextValues(single(headers["authorization"]));
    const values = auth instanceof Promise ? await auth : auth;
    const ctx = handlerContext(target, url, headers, signal, values);
    let status = 200;
    let contentType = contentTypeUnaryProto;
    let metadata: Headers | undefined;
    let bytes: Uint8Array;
    try {
      const length = headers[CONTENT_LENGTH];
      const input = parseInput(
        target.method.input,
        await readAllBytes(body, options.readMaxBytes, single(length) ?? null),
      );
      const output = await target.impl(input, ctx.context);
      bytes = toBinary(target.method.output, create(target.method.output, output as Message));
      done(undefined);
    } catch (e) {
      // Handlers answer bad input with a ConnectError; anything else is a bug, logged
      // with its stack and answered as INTERNAL.
      if (!(e instanceof ConnectError)) options.logError(e);
      const error = e instanceof ConnectError ? e : internalError(e);
      done(error.code);
      status = codeToHttpStatus(error.code);
      contentType = contentTypeUnaryJson;
      if (!error.isWireError) metadata = error.metadata;
      bytes = errorToJsonBytes(error, undefined);
    }
    const out: Record<string, string> = { ...options.extraHeaders(single(origin)) };
    // Headers objects only when the implementation or the error set headers: most calls
    // set none, and building them was a measurable part of a small call.
    const written = ctx.headersWritten();
    if (written === undefined && (metadata === undefined || isEmpty(metadata))) {
      out[CONTENT_TYPE] = contentType;
    } else {
      const responseHeader = written?.header ?? new Headers();
      responseHeader.set(CONTENT_TYPE, contentType);
      if (metadata !== undefined) mergeNonProtocolHeaders(responseHeader, metadata);
      trailerMux(responseHeader, written?.trailer ?? new Headers()).forEach((value, key) => {
        out[key] = value;
      });
    }
    out[CONTENT_LENGTH] = String(bytes.byteLength);
    return { status, headers: out, body: bytes };
  };

  return {
    serveH2(stream, headers) {
      const path = headers[":path"];
      const target = eligible(headers[":method"], path, headers);
      if (target === undefined) return false;
      const controller = new AbortController();
      let answered = false;
      stream.once("close", () => {
        // A stream closed before its answer was sent was cancelled by the client.
        if (!answered)
          controller.abort(new ConnectError("the client cancelled the call", Code.Canceled));
      });
      stream.on("error", () => {}); // a reset stream reports here; the call sees its signal
      const url = `http://${single(headers[":authority"]) ?? "localhost"}${path}`;
      call(target, url, headers, bodyOf(stream), controller.signal)
        .then((res) => {
          answered = true;
          if (stream.destroyed) return;
          stream.respond({ ":status": res.status, ...res.headers });
          if (stream.readableEnded) {
            // No callback: Node usually completes the last write after the stream
            // closed, and would hand the callback a new error, stack trace and all.
            stream.end(res.body);
            return;
          }
          stream.end(res.body, () => {
            // An error answered before the whole body arrived: once the answer is
            // out, tell the client to stop sending, without failing the call
            // (RFC 9113 §8.1).
            if (!stream.readableEnded && !stream.destroyed) stream.close(NGHTTP2_NO_ERROR);
          });
        })
        .catch(options.logError);
      return true;
    },
    serveH1(req, res) {
      const target = eligible(req.method, req.url, req.headers);
      if (target === undefined) return false;
      const controller = new AbortController();
      res.once("close", () => {
        if (!res.writableFinished) {
          controller.abort(new ConnectError("the client cancelled the call", Code.Canceled));
        }
      });
      const url = `http://${req.headers.host ?? "localhost"}${req.url ?? ""}`;
      call(target, url, req.headers, bodyOf(req), controller.signal)
        .then((out) => {
          if (res.destroyed) return;
          res.writeHead(out.status, out.headers);
          res.end(out.body);
          if (!req.readableEnded) discardRest(req, DISCARD_MAX_BYTES);
        })
        .catch(options.logError);
      return true;
    },
  };
}

/**
 * Most body bytes an HTTP/1.1 connection reads and drops after an early answer (a body
 * over the limit) before it is closed instead.
 */
const DISCARD_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Reads and drops the rest of a request answered before its body was read. HTTP/1.1
 * cannot stop one request, and closing the connection with body bytes unread makes the
 * kernel reset it: the client, still sending, gets EPIPE or ECONNRESET and may never
 * read the answer already on its way. Reading the rest keeps the answer deliverable and
 * the connection reusable; past `max` bytes the connection is closed after all.
 */
function discardRest(req: http.IncomingMessage, max: number): void {
  let read = 0;
  req.on("data", (chunk: Buffer) => {
    read += chunk.length;
    if (read > max) req.socket.destroy();
  });
  req.resume();
}

/**
 * The request body's chunks. Stopping early (a body over the limit) must not destroy
 * the stream: the answer still has to go out on it.
 */
function bodyOf(readable: Readable): AsyncIterable<Uint8Array> {
  return readable.iterator({ destroyOnReturn: false });
}

/** A header's first value. */
function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The message in `bytes`. A body that is not one is the caller's mistake: the answer is
 * INVALID_ARGUMENT naming the expected message (the library's path says the same;
 * see `routes.ts`).
 */
function parseInput(desc: DescMessage, bytes: Uint8Array): Message {
  try {
    return fromBinary(desc, bytes);
  } catch (e) {
    throw new ConnectError(
      malformedBodyMessage(desc.typeName, e instanceof Error ? e.message : String(e)),
      Code.InvalidArgument,
    );
  }
}

/** The message of the INVALID_ARGUMENT answer to a body that does not parse as `inputType`. */
export function malformedBodyMessage(inputType: string, detail: string): string {
  return `The request body is not a valid ${inputType} (${detail.replace(/^parse binary: /, "")}); send a serialized ${inputType}.`;
}

/** What the library answers for an error that is not a ConnectError. */
function internalError(cause: unknown): ConnectError {
  return new ConnectError("internal error", Code.Internal, undefined, undefined, cause);
}

/** A call's HandlerContext, and the response headers its implementation wrote, if any. */
interface CallContext {
  readonly context: HandlerContext;
  /** The response header and trailer, if the implementation touched either. */
  headersWritten(): { readonly header: Headers; readonly trailer: Headers } | undefined;
}

/**
 * The HandlerContext of one call. The request headers are converted to `Headers` only if
 * an implementation reads them, and the response headers and trailers are only created
 * when asked for.
 */
function handlerContext(
  target: FastMethod,
  url: string,
  headers: http.IncomingHttpHeaders,
  signal: AbortSignal,
  values: ContextValues,
): CallContext {
  let requestHeader: Headers | undefined;
  let responseHeader: Headers | undefined;
  let responseTrailer: Headers | undefined;
  const context: HandlerContext = {
    method: target.method,
    service: target.service,
    signal,
    timeoutMs: () => undefined,
    requestMethod: "POST",
    get requestHeader() {
      requestHeader ??= webHeaders(headers);
      return requestHeader;
    },
    get responseHeader() {
      responseHeader ??= new Headers();
      return responseHeader;
    },
    get responseTrailer() {
      responseTrailer ??= new Headers();
      return responseTrailer;
    },
    protocolName: "connect",
    values,
    url,
  };
  return {
    context,
    headersWritten: () =>
      responseHeader === undefined && responseTrailer === undefined
        ? undefined
        : { header: responseHeader ?? new Headers(), trailer: responseTrailer ?? new Headers() },
  };
}

function isEmpty(headers: Headers): boolean {
  let empty = true;
  headers.forEach(() => {
    empty = false;
  });
  return empty;
}

/** Node's request headers as `Headers`, without HTTP/2 pseudo-headers. */
function webHeaders(headers: http.IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [key, value] of Object.entries(headers)) {
    if (key.startsWith(":") || value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.append(key, v);
    else out.set(key, value);
  }
  return out;
}
