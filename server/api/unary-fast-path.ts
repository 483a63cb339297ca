/**
 * The Connect protocol's unary calls with binary bodies, the calls the generated client
 * makes, answered without the Connect library's generic pipeline.
 *
 * Why: the library's per-call machinery costs several times what Node's HTTP/2 stream
 * API costs for the same exchange, before any handler runs. It links abort controllers,
 * builds three `Headers`, pipes async iterables, goes through Node's HTTP/2 compatibility
 * objects, and aborts every finished call's signal, which creates a `DOMException` with a
 * stack trace. That bounded writes and reads per second more than the database did
 * (`tests/bench/server-bench.ts` measures it; docs/architecture.md has the numbers).
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
 * The call runs through the router's interceptors, in the router's order, and its signal
 * is aborted when the server's shutdown signal is, as on the library's path: what an
 * interceptor does (metrics, logging) it does for every call, whichever path serves it.
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
  type DescMethodUnary,
  type DescService,
  fromBinary,
  type Message,
  toBinary,
} from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ContextValues,
  type HandlerContext,
  type Interceptor,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
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
  /**
   * The router's interceptors, outermost first: each call runs through them around its
   * implementation, after its body is read and parsed (where the library runs them).
   */
  readonly interceptors: readonly Interceptor[];
  /**
   * The router's `shutdownSignal`: once it is aborted, every call in flight and every new
   * call has its signal aborted with the same reason.
   */
  readonly shutdownSignal: AbortSignal;
  /**
   * Receives an error that is not a ConnectError (answered as INTERNAL) thrown outside
   * the interceptors (the interceptors see and report those thrown inside them), and an
   * error thrown while writing a response (the call itself is answered).
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
interface FastResponse {
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

  /** The controllers of the calls in flight, which a shutdown aborts. */
  const inFlight = new Set<AbortController>();
  const shutdown = options.shutdownSignal;
  shutdown.addEventListener(
    "abort",
    () => {
      for (const controller of inFlight) controller.abort(shutdown.reason);
    },
    { once: true },
  );
  /** A call's abort controller, aborted at once if the server is shutting down. */
  const startCall = (): AbortController => {
    const controller = new AbortController();
    if (shutdown.aborted) controller.abort(shutdown.reason);
    else inFlight.add(controller);
    return controller;
  };

  const call = async (
    target: FastMethod,
    url: string,
    headers: http.IncomingHttpHeaders,
    body: AsyncIterable<Uint8Array>,
    signal: AbortSignal,
  ): Promise<FastResponse> => {
    const origin = headers["origin"];
    const auth = options.contextValues(single(headers["authorization"]));
    const values = auth instanceof Promise ? await auth : auth;
    const ctx = handlerContext(target, url, headers, signal, values);
    let status = 200;
    let contentType = contentTypeUnaryProto;
    let metadata: Headers | undefined;
    let bytes: Uint8Array;
    let inInterceptors = false;
    try {
      const length = headers[CONTENT_LENGTH];
      const input = parseInput(
        target.method.input,
        await readAllBytes(body, options.readMaxBytes, single(length) ?? null),
      );
      inInterceptors = true;
      const output = await intercepted(target, ctx, input, options.interceptors);
      inInterceptors = false;
      bytes = toBinary(target.method.output, output);
    } catch (e) {
      // Handlers answer bad input with a ConnectError; anything else is a bug, logged
      // with its stack (by the interceptors, if it passed through them) and answered
      // as INTERNAL.
      if (!(e instanceof ConnectError) && !inInterceptors) options.logError(e);
      const error = e instanceof ConnectError ? e : internalError(e);
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
      const controller = startCall();
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
          inFlight.delete(controller);
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
        .catch((err: unknown) => {
          inFlight.delete(controller);
          options.logError(err);
        });
      return true;
    },
    serveH1(req, res) {
      const target = eligible(req.method, req.url, req.headers);
      if (target === undefined) return false;
      const controller = startCall();
      res.once("close", () => {
        if (!res.writableFinished) {
          controller.abort(new ConnectError("the client cancelled the call", Code.Canceled));
        }
      });
      const url = `http://${req.headers.host ?? "localhost"}${req.url ?? ""}`;
      call(target, url, req.headers, bodyOf(req), controller.signal)
        .then((out) => {
          inFlight.delete(controller);
          if (res.destroyed) return;
          res.writeHead(out.status, out.headers);
          res.end(out.body);
          if (!req.readableEnded) discardRest(req, DISCARD_MAX_BYTES);
        })
        .catch((err: unknown) => {
          inFlight.delete(controller);
          options.logError(err);
        });
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

/** What an interceptor wraps: the rest of the chain. */
type AnyFn = Parameters<Interceptor>[0];

/**
 * Runs a call's implementation inside `interceptors` (outermost first), as the library
 * does for unary calls: the interceptors see the call's request (its header is built
 * only if one reads it), the implementation sees the request they pass on, and the
 * headers and trailers of the response they return are the call's. Returns the output
 * message.
 */
async function intercepted(
  target: FastMethod,
  call: CallContext,
  input: Message,
  interceptors: readonly Interceptor[],
): Promise<Message> {
  const { context } = call;
  // A FastMethod is unary (`unaryMethods` in routes.ts picks only those).
  const method = target.method as DescMethodUnary;
  const output = method.output;
  const request: UnaryRequest = {
    stream: false,
    service: target.service,
    method,
    requestMethod: context.requestMethod,
    url: context.url,
    signal: context.signal,
    get header() {
      return context.requestHeader;
    },
    contextValues: context.values,
    message: input,
  };
  let innermost: UnaryResponse | undefined;
  const implementation: AnyFn = async (req) => {
    if (req.stream) throw new ConnectError("a unary call was made a stream", Code.Internal);
    // An interceptor that passed on a request of its own has the implementation see it.
    const ctx: HandlerContext =
      req === request
        ? context
        : {
            ...context,
            service: req.service,
            requestHeader: req.header,
            signal: req.signal,
            values: req.contextValues,
          };
    const message = create(output, (await target.impl(req.message, ctx)) as Message);
    const res: UnaryResponse = {
      stream: false,
      service: target.service,
      method,
      get header() {
        return context.responseHeader;
      },
      get trailer() {
        return context.responseTrailer;
      },
      message,
    };
    innermost = res;
    return res;
  };
  let next = implementation;
  for (let i = interceptors.length - 1; i >= 0; i--) {
    const interceptor = interceptors[i];
    if (interceptor !== undefined) next = interceptor(next);
  }
  const res = await next(request);
  if (res.stream) throw new ConnectError("a unary call was answered with a stream", Code.Internal);
  if (res !== innermost) {
    // An interceptor answered with a response of its own: its headers are the call's.
    copyHeaders(res.header, context.responseHeader);
    copyHeaders(res.trailer, context.responseTrailer);
  }
  return res.message;
}

/** Replaces the contents of `to` with those of `from` (the library's `copyHeaders`). */
function copyHeaders(from: Headers, to: Headers): void {
  if (from === to) return;
  const keys: string[] = [];
  to.forEach((_, key) => {
    keys.push(key);
  });
  for (const key of keys) to.delete(key);
  from.forEach((value, key) => {
    to.set(key, value);
  });
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
