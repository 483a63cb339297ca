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
 *
 * Responses are never compressed; the protocol lets a server choose identity.
 * `tests/e2e/unary-fast-path.test.ts` sends the same requests down both paths and
 * checks the responses are the same, byte for byte, errors included.
 */

import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { Readable } from "node:stream";
import { Code, ConnectError } from "@connectrpc/connect";
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
import { encodeOutput } from "./output-encoding.ts";
import { readBody } from "./request-body.ts";
import {
  type CallSignal,
  createCallSignals,
  discardRest,
  type FastMethod,
  type FastPathOptions,
  handlerContext,
  intercepted,
  internalError,
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
  const forward = options.forward;

  /**
   * Serves one call and writes its answer: on `stream` (HTTP/2) or on `res` (HTTP/1.1,
   * whose request is `body`). Never rejects: what goes wrong while answering is logged.
   * One async function and no `.then`/`.catch` after it: a call allocates no answer
   * object, no continuation closures and no promises beyond its own.
   */
  const serve = async (
    target: FastMethod,
    url: string,
    headers: http.IncomingHttpHeaders,
    body: Readable,
    signal: CallSignal,
    stream: http2.ServerHttp2Stream | undefined,
    res: http.ServerResponse | undefined,
  ): Promise<void> => {
    try {
      const origin = headers["origin"];
      const auth = options.contextValues(single(headers["authorization"]));
      const values = auth instanceof Promise ? await auth : auth;
      const ctx = handlerContext(target, "connect", url, headers, signal, values);
      let status = 200;
      let contentType = contentTypeUnaryProto;
      let metadata: Headers | undefined;
      let bytes: Uint8Array;
      let inInterceptors = false;
      try {
        refuseBeforeDecode(
          values,
          target.service.typeName,
          headers["authorization"],
          options.anonymousReads === true,
        );
        const length = headers[CONTENT_LENGTH];
        const raw = await readBody(body, options.readMaxBytes, single(length));
        const input = parseInput(target.method.input, raw);
        ctx.body = raw;
        if (forward !== undefined && stream !== undefined && !forward.serves(target, input)) {
          signal.end();
          forward.send(stream, headers, raw);
          return;
        }
        inInterceptors = true;
        const answer = intercepted(target, ctx, input, options.interceptors);
        const output = answer instanceof Promise ? await answer : answer;
        inInterceptors = false;
        bytes = encodeOutput(target.method.output, output);
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
      const extra = options.extraHeaders(single(origin));
      // Headers objects only when the implementation or the error set headers: most calls
      // set none, and building them was a measurable part of a small call.
      const written = ctx.headersWritten();
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
        const list: string[] = [":status", String(status)];
        for (const name in extra) list.push(name, extra[name] as string);
        list.push(CONTENT_TYPE, contentType, CONTENT_LENGTH, String(bytes.byteLength));
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
        const req = body as http.IncomingMessage;
        if (!req.readableEnded) discardRest(req);
      }
    } catch (err) {
      signal.end();
      options.logError(err);
    }
  };

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
      void serve(target, url, headers, stream, signal, stream, undefined);
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
      void serve(target, url, req.headers, req, signal, undefined, res);
      return true;
    },
  };
}
