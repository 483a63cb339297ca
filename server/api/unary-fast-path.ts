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
 * gRPC and gRPC-Web unary calls go to `grpc-unary.ts`, the same kind of path for those
 * protocols. Every other request (JSON, GET, compressed or timed Connect calls, unknown
 * paths) returns `false` and takes the library's path, so behaviour there is the
 * library's. What it does is the protocol's unary exchange, built from the library's
 * own helpers for the parts that must match:
 * - the error JSON (`errorToJsonBytes`)
 * - the HTTP status of a code (`codeToHttpStatus`)
 * - the size limit (`readAllBytes`'s answers, from `request-body.ts`)
 * - metadata headers (`mergeNonProtocolHeaders`)
 * - `trailer-` prefixed unary trailers (`trailerMux`)
 *
 * The call runs through the router's interceptors, in the router's order, and its signal
 * is aborted when the server's shutdown signal is, as on the library's path: what an
 * interceptor does (metrics, logging) it does for every call, whichever path serves it.
 * A call answered before the interceptors run (its body could not be read or parsed) is
 * counted by `countUnintercepted`, as routes.ts counts one on the library's path.
 *
 * Responses are never compressed; the protocol lets a server choose identity.
 * `tests/e2e/unary-fast-path.test.ts` sends the same requests down both paths and
 * checks the responses are the same, byte for byte, errors included.
 */

import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { Readable } from "node:stream";
import { Code, ConnectError, type ContextValues } from "@connectrpc/connect";
import { mergeNonProtocolHeaders } from "@connectrpc/connect/protocol";
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
import { createGrpcUnary } from "./grpc-unary.ts";
import { endH2Answer } from "./h2-answer.ts";
import { type BodyReceiver, readBodyInto } from "./request-body.ts";
import {
  authenticateCall,
  type CallContext,
  type CallForwarding,
  type CallSignal,
  createCallSignals,
  discardRest,
  type FastMethod,
  type FastPathOptions,
  handlerContext,
  InterceptedCall,
  isEmpty,
  parseInput,
  refuseBeforeDecode,
  single,
} from "./unary-call.ts";

export { type FastMethod, malformedBodyMessage, type UnaryImpl } from "./unary-call.ts";

// Node gives header names in lower case; the library's constants are capitalized.
const CONTENT_TYPE = headerContentType.toLowerCase();
const CONTENT_ENCODING = headerUnaryEncoding.toLowerCase();
const CONTENT_LENGTH = headerUnaryContentLength.toLowerCase();
const TIMEOUT = headerTimeout.toLowerCase();
const PROTOCOL_VERSION = headerProtocolVersion.toLowerCase();

/** What the path needs from the server around it. */
export type UnaryFastPathOptions = FastPathOptions;

/** Serves eligible unary calls from an HTTP/2 stream or an HTTP/1.1 request. */
export interface UnaryFastPath {
  /** Serves the stream and returns true, or returns false (and leaves it untouched). */
  serveH2(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): boolean;
  /** Serves the request and returns true, or returns false (and leaves it untouched). */
  serveH1(req: http.IncomingMessage, res: http.ServerResponse): boolean;
}

/** What a stream's `error` listener does: a reset stream reports there; the call sees its signal. */
const ignore = () => {};

/** The reason a call's signal is aborted with when its client goes away first. */
function cancelledCall(): ConnectError {
  return new ConnectError("the client cancelled the call", Code.Canceled);
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

  const startCall = createCallSignals(options.shutdownSignal);
  const grpc = createGrpcUnary(options);
  const shared: CallShared = { options, forward: options.forward };

  return {
    serveH2(stream, headers) {
      const path = headers[":path"];
      const target = eligible(headers[":method"], path, headers);
      if (target === undefined) return grpc.serveH2(stream, headers);
      const signal = startCall();
      // `on`, not `once`: a stream closes once, and `once` wraps the listener per call.
      stream.on("close", () => {
        // A stream closed before its answer was sent was cancelled by the client.
        if (!signal.ended) signal.abort(cancelledCall());
      });
      stream.on("error", ignore);
      const url = `http://${single(headers[":authority"]) ?? "localhost"}${path}`;
      new ConnectCall(shared, target, url, headers, stream, signal, stream, undefined).start();
      return true;
    },
    serveH1(req, res) {
      const target = eligible(req.method, req.url, req.headers);
      if (target === undefined) return grpc.serveH1(req, res);
      const signal = startCall();
      res.once("close", () => {
        if (!res.writableFinished) signal.abort(cancelledCall());
      });
      const url = `http://${req.headers.host ?? "localhost"}${req.url ?? ""}`;
      new ConnectCall(shared, target, url, req.headers, req, signal, undefined, res).start();
      return true;
    },
  };
}

/** What every call of one fast path shares. */
interface CallShared {
  readonly options: UnaryFastPathOptions;
  readonly forward: CallForwarding | undefined;
}

/**
 * One call, served and answered: on `stream` (HTTP/2) or on `res` (HTTP/1.1, whose
 * request is `body`). Its steps are methods that call the next: authenticated, its body
 * read (from the stream's events, `readBodyInto`), parsed, run through the interceptors
 * and answered. A step waits only for what has not happened yet (a JWT verified, the body,
 * a handler that waits): a read answered at once runs from the body's last event to the
 * answer's write with no promise, and the call is one object, not an async function's
 * frame and the promises of each await. Never throws: what goes wrong while answering is
 * logged.
 */
class ConnectCall extends InterceptedCall implements BodyReceiver {
  readonly #shared: CallShared;
  readonly #target: FastMethod;
  readonly #url: string;
  readonly #headers: http.IncomingHttpHeaders;
  readonly #body: Readable;
  readonly #signal: CallSignal;
  readonly #stream: http2.ServerHttp2Stream | undefined;
  readonly #res: http.ServerResponse | undefined;
  #ctx: CallContext | undefined;

  constructor(
    shared: CallShared,
    target: FastMethod,
    url: string,
    headers: http.IncomingHttpHeaders,
    body: Readable,
    signal: CallSignal,
    stream: http2.ServerHttp2Stream | undefined,
    res: http.ServerResponse | undefined,
  ) {
    super();
    this.#shared = shared;
    this.#target = target;
    this.#url = url;
    this.#headers = headers;
    this.#body = body;
    this.#signal = signal;
    this.#stream = stream;
    this.#res = res;
  }

  start(): void {
    authenticateCall(this.#shared.options, this.#headers, this);
  }

  authenticated(values: ContextValues): void {
    const { options } = this.#shared;
    const headers = this.#headers;
    try {
      this.#ctx = handlerContext(this.#target, "connect", this.#url, headers, this.#signal, values);
    } catch (err) {
      this.broken(err);
      return;
    }
    try {
      refuseBeforeDecode(
        values,
        this.#target.service.typeName,
        headers["authorization"],
        options.anonymousReads === true,
      );
      readBodyInto(this.#body, options.readMaxBytes, single(headers[CONTENT_LENGTH]), this);
    } catch (e) {
      this.failed(e);
    }
  }

  bodyRead(raw: Uint8Array): void {
    const target = this.#target;
    const ctx = this.#ctx as CallContext;
    try {
      const input = parseInput(target.method.input, raw);
      ctx.body = raw;
      const forward = this.#shared.forward;
      const stream = this.#stream;
      if (forward !== undefined && stream !== undefined && !forward.serves(target, input)) {
        this.#signal.end();
        forward.send(stream, this.#headers, raw);
        return;
      }
      const { options } = this.#shared;
      options.beforeCall?.();
      this.intercept(target, ctx, input, options.interceptors);
    } catch (e) {
      this.failed(e);
    }
  }

  bodyFailed(error: unknown): void {
    this.failed(error);
  }

  protected logBug(error: unknown): void {
    this.#shared.options.logError(error);
  }

  protected countUnintercepted(code: Code): void {
    this.#shared.options.countUnintercepted?.(this.#target, code);
  }

  protected answer(bytes: Uint8Array): void {
    this.#write(200, contentTypeUnaryProto, undefined, bytes);
  }

  protected answerError(error: ConnectError): void {
    try {
      this.#write(
        codeToHttpStatus(error.code),
        contentTypeUnaryJson,
        error.isWireError ? undefined : error.metadata,
        errorToJsonBytes(error, undefined),
      );
    } catch (err) {
      this.broken(err);
    }
  }

  /** What went wrong outside the call's own steps (writing its answer): logged. */
  broken(err: unknown): void {
    this.#signal.end();
    this.#shared.options.logError(err);
  }

  #write(
    status: number,
    contentType: string,
    metadata: Headers | undefined,
    bytes: Uint8Array,
  ): void {
    try {
      const { options } = this.#shared;
      const signal = this.#signal;
      const stream = this.#stream;
      const extra = options.extraHeaders(single(this.#headers["origin"]));
      // Headers objects only when the implementation or the error set headers: most calls
      // set none, and building them was a measurable part of a small call.
      const written = this.#ctx?.headersWritten();
      const plain = written === undefined && (metadata === undefined || isEmpty(metadata));
      if (
        plain &&
        stream !== undefined &&
        extra[CONTENT_TYPE] === undefined &&
        extra[CONTENT_LENGTH] === undefined
      ) {
        // Over HTTP/2, the usual answer's headers as a flat list, in the order the object
        // below would give them: Node copies an object into a null-prototype one (a
        // dictionary) and lists its keys again before it encodes them; a list it encodes
        // as it is.
        signal.end();
        if (stream.destroyed) return;
        let list: string[];
        if (!hasAny(extra)) {
          list = [
            ":status",
            String(status),
            CONTENT_TYPE,
            contentType,
            CONTENT_LENGTH,
            String(bytes.byteLength),
          ];
        } else {
          list = [":status", String(status)];
          for (const name in extra) list.push(name, extra[name] as string);
          list.push(CONTENT_TYPE, contentType, CONTENT_LENGTH, String(bytes.byteLength));
        }
        stream.respond(list);
        // Also tells a client whose body had not ended to stop sending (an error
        // answered early), once the answer is out.
        endH2Answer(stream, bytes);
        return;
      }
      // With `:status` first over HTTP/2: Node's `respond` takes the headers as they are.
      const out: Record<string, string | number> =
        stream !== undefined ? { ":status": status } : {};
      for (const name in extra) out[name] = extra[name] as string;
      if (plain) {
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
      // Answered: a close from here on is the stream's normal end, not a cancel.
      signal.end();
      const res = this.#res;
      if (stream !== undefined) {
        if (stream.destroyed) return;
        stream.respond(out);
        // Also tells a client whose body had not ended to stop sending (an error
        // answered early), once the answer is out.
        endH2Answer(stream, bytes);
      } else if (res !== undefined) {
        if (res.destroyed) return;
        res.writeHead(status, out);
        res.end(bytes);
        const req = this.#body as http.IncomingMessage;
        if (!req.readableEnded) discardRest(req);
      }
    } catch (err) {
      this.broken(err);
    }
  }
}

/** Whether `headers` has a header (a request from no allowed origin gets none). */
function hasAny(headers: Readonly<Record<string, string>>): boolean {
  for (const _ in headers) return true;
  return false;
}
