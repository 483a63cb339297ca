/**
 * Assembles the API: every service on one Connect router (Connect, gRPC and
 * gRPC-Web protocols), authentication, metrics, CORS, and a JSON 404 for unknown
 * paths. The result is a request handler for both HTTP/1.1 and HTTP/2.
 */

import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  type ContextValues,
  cors,
  createConnectRouter,
  createContextKey,
  type Interceptor,
  type ServiceImpl,
} from "@connectrpc/connect";
import type { UniversalServerRequest, UniversalServerResponse } from "@connectrpc/connect/protocol";
import { codeToString } from "@connectrpc/connect/protocol-connect";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
// The module, not the folder's index: that one loads kafkajs, which only a cluster needs.
import { TENANT_OWNER_HEADER } from "../cluster/tenant-owner-error.ts";
import { actorKey, refusalKey, refusedBeforeDecode, unauthenticatedError } from "./auth.ts";
import type { Authenticator } from "./authenticator.ts";
import { type ErrorStatus, rewriteErrorStatus } from "./error-rewrite.ts";
import { jsonBodyKind, keepBody, nameJsonErrorField } from "./json-errors.ts";
import type { CounterChild, HistogramChild } from "./lean-metrics.ts";
import type { DualHandler } from "./listen.ts";
import type { ServerMetrics } from "./metrics.ts";
import { clientWentAway, isEnveloped, readUntilReset } from "./request-body.ts";
import { SCHEMA_FINGERPRINT_HEADER, TENANT_HEADER } from "./request-headers.ts";
import { STRICT_JSON_OPTIONS } from "./strict-json.ts";
import { type CallForwarding, single, withNowForm } from "./unary-call.ts";
import {
  createUnaryFastPath,
  type FastMethod,
  malformedBodyMessage,
  type UnaryImpl,
} from "./unary-fast-path.ts";

/** A service to serve: its name, how to register it on a router, and its unary methods. */
export interface ServiceRoute {
  readonly typeName: string;
  register(router: ConnectRouter): void;
  /** The implemented unary methods, which the fast path may serve (unary-fast-path.ts). */
  readonly unary: readonly FastMethod[];
}

/** Pairs a service descriptor with its implementation, type-checked against each other. */
export function route<T extends DescService>(
  service: T,
  impl: Partial<ServiceImpl<T>>,
): ServiceRoute {
  return {
    typeName: service.typeName,
    register: (router) => router.service(service, impl),
    unary: unaryMethods(service, impl as Readonly<Record<string, unknown>>),
  };
}

/** The unary methods of `service` that `impl` implements (keyed by local name). */
export function unaryMethods(
  service: DescService,
  impl: Readonly<Record<string, unknown>>,
): FastMethod[] {
  const out: FastMethod[] = [];
  for (const method of service.methods) {
    const fn = impl[method.localName];
    if (method.methodKind === "unary" && typeof fn === "function") {
      out.push({ service, method, impl: fn as UnaryImpl });
    }
  }
  return out;
}

/** Options of {@link createApiHandler}. */
export interface ApiHandlerOptions {
  readonly routes: readonly ServiceRoute[];
  /** Decides every request's actor, on both the router and the fast path. */
  readonly authenticator: Authenticator;
  /** The per-call metrics (a serving thread has only these, server/threads). */
  readonly metrics: Pick<ServerMetrics, "requests" | "requestSeconds">;
  /** Origins allowed to call from browsers; "*" allows any. */
  readonly corsOrigins: readonly string[];
  /** Largest request message accepted, in bytes. */
  readonly readMaxBytes: number;
  /** Run around every call after the metrics, on the router and on the fast path alike. */
  readonly interceptors?: readonly Interceptor[];
  /** Aborted when the server shuts down: every call's signal is then aborted with its reason. */
  readonly shutdownSignal: AbortSignal;
  /** Receives failures of the transport itself (never of a handler: those become responses). */
  logError(err: unknown): void;
  /**
   * Receives what failed because the client went away mid-request (its connection or
   * stream closed before the call ended): the client's doing, not a failure of the
   * server, so the server logs it at debug. Default: dropped.
   */
  logClientGone?(err: unknown): void;
  /** On a serving thread only: how the fast paths hand on calls it does not serve (unary-call.ts). */
  readonly forward?: CallForwarding;
  /**
   * Runs as each fast-path call (Connect, gRPC, gRPC-Web) starts, its body read and
   * parsed: the server settles there the log commits its writer thread has finished
   * (the log's `takeCompletions`), so a write is answered before this call runs rather
   * than after every call the event loop's turn brought.
   */
  readonly beforeCall?: () => void;
  /** `--public-reads`: a request without an Authorization header reaches the read handlers (auth.ts `refusedBeforeDecode`). */
  readonly anonymousReads?: boolean;
}

/** The API's request handlers: both HTTP versions, and HTTP/2 streams for the fast path. */
export interface ApiHandler {
  /** Serves a request (HTTP/1.1, or HTTP/2 through Node's compatibility API). */
  readonly handler: DualHandler;
  /** Serves an HTTP/2 stream on the fast path and returns true, or returns false. */
  serveH2Stream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): boolean;
  /** The fast paths' methods by request path (`/pkg.Service/Method`). */
  readonly methods: ReadonlyMap<string, FastMethod>;
}

/** A method's metric children: its latency, and its count by code (0: succeeded). */
interface MethodMetrics {
  readonly name: string;
  readonly seconds: HistogramChild;
  readonly byCode: CounterChild[];
}

/** Set by the metrics interceptor on the calls it sees on the library's path. */
const interceptedKey = createContextKey(false, { description: "entdb.intercepted" });

/** The extra headers of a response to a request from no allowed origin: none (shared, read only). */
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** Builds the handler serving every route over all three protocols. */
export function createApiHandler(options: ApiHandlerOptions): ApiHandler {
  const anonymousReads = options.anonymousReads === true;
  // The metric children of each method (and code) are looked up once, by the method's
  // descriptor: finding a child by its labels hashes them, and naming the method builds
  // a string, on every call otherwise. A child's `observe` is called directly, and keeps
  // its values itself (lean-metrics.ts): a prom-client child hashes its labels per call.
  const ofMethod = new Map<DescMethod, MethodMetrics>();
  const metricsOf = (service: DescService, method: DescMethod): MethodMetrics => {
    let m = ofMethod.get(method);
    if (m === undefined) {
      const name = `${service.typeName}/${method.name}`;
      m = { name, seconds: options.metrics.requestSeconds.labels({ method: name }), byCode: [] };
      ofMethod.set(method, m);
    }
    return m;
  };
  /** Counts a call to `m` under its code (undefined: it succeeded). */
  const count = (m: MethodMetrics, code: Code | undefined) => {
    const slot = code ?? 0;
    let counter = m.byCode[slot];
    if (counter === undefined) {
      const codeName = code === undefined ? "ok" : codeToString(code);
      counter = options.metrics.requests.labels({ method: m.name, code: codeName });
      m.byCode[slot] = counter;
    }
    counter.inc();
  };
  /** Counts a call to `m` under its code (undefined: it succeeded) and its duration. */
  const observe = (m: MethodMetrics, code: Code | undefined, startMs: number) => {
    count(m, code);
    m.seconds.observe((performance.now() - startMs) / 1000);
  };
  /**
   * Counts a call answered before the interceptors ran, under the code its client got:
   * its body could not be read (cut short, over the limit, reset by its client) or
   * parsed, or it was refused for its credentials first. Not timed: the latency is that of
   * the calls that reached their handler.
   */
  const countUnintercepted = (service: DescService, method: DescMethod, code: Code) =>
    count(metricsOf(service, method), code);
  /** Counts a call that failed with `err`, and rethrows it. */
  const failed = (m: MethodMetrics, err: unknown, startMs: number, signal: AbortSignal): never => {
    // The library answers an error that is not a ConnectError as INTERNAL and logs
    // nothing: that is a bug, so its stack goes to the log here; unless the client went
    // away (a streaming call reading a request its client closed): not the server's,
    // and counted CANCELED, as a unary call whose client left is.
    let code: Code;
    if (err instanceof ConnectError) {
      code = err.code;
      // A request whose HTTP/2 client reset it mid-body (request-body.ts).
      if (code === Code.Canceled) options.logClientGone?.(err);
    } else if (clientWentAway(err, signal.aborted)) {
      options.logClientGone?.(err);
      code = Code.Canceled;
    } else {
      options.logError(err);
      code = ConnectError.from(err).code;
    }
    observe(m, code, startMs);
    throw err;
  };
  /**
   * A streaming answer's messages, counting the call when its stream ends: as it ended
   * (ok, or its error's code), as its signal's reason when the signal ended it (its client
   * went away: CANCELED; its deadline; the shutdown), or CANCELED when it stopped being
   * read first (its client went away and the library returned the iterator).
   */
  async function* countedStream<T>(
    messages: AsyncIterable<T>,
    m: MethodMetrics,
    start: number,
    signal: AbortSignal,
  ): AsyncGenerator<T, void, undefined> {
    let counted = false;
    try {
      yield* messages;
      counted = true;
      // A stream that ended because its signal did (a handler stops at the abort) is not ok.
      observe(
        m,
        signal.aborted ? ConnectError.from(signal.reason, Code.Canceled).code : undefined,
        start,
      );
    } catch (err) {
      counted = true;
      // Ended by the call's signal (its client left, its deadline, the shutdown): the
      // reason's code; an HTTP/1.1 client's is an AbortError, which is CANCELED.
      if (!(signal.aborted && err === signal.reason)) failed(m, err, start, signal);
      observe(m, ConnectError.from(err, Code.Canceled).code, start);
      throw err;
    } finally {
      if (!counted) observe(m, Code.Canceled, start);
    }
  }
  const metricsInterceptor: Interceptor = withNowForm(
    (next) => async (req) => {
      // The library's path counts a call the interceptors never saw itself (`adapter`).
      req.contextValues.set(interceptedKey, true);
      const m = metricsOf(req.service, req.method);
      const start = performance.now();
      let res: Awaited<ReturnType<typeof next>>;
      try {
        res = await next(req);
      } catch (err) {
        return failed(m, err, start, req.signal);
      }
      // A streaming call answers at once and runs on: counted when its stream ends.
      if (res.stream) return { ...res, message: countedStream(res.message, m, start, req.signal) };
      observe(m, undefined, start);
      return res;
    },
    // The same for the fast paths, without a promise when the call answers at once.
    (next) => (req) => {
      const m = metricsOf(req.service, req.method);
      const start = performance.now();
      let res: ReturnType<typeof next>;
      try {
        res = next(req);
      } catch (err) {
        return failed(m, err, start, req.signal);
      }
      if (res instanceof Promise) {
        return res.then(
          (answered) => {
            observe(m, undefined, start);
            return answered;
          },
          (err: unknown) => failed(m, err, start, req.signal),
        );
      }
      observe(m, undefined, start);
      return res;
    },
  );

  // Both paths run these, in this order (unary-fast-path.ts).
  const interceptors = [metricsInterceptor, ...(options.interceptors ?? [])];
  const router = createConnectRouter({
    interceptors,
    shutdownSignal: options.shutdownSignal,
    readMaxBytes: options.readMaxBytes,
    jsonOptions: STRICT_JSON_OPTIONS,
    acceptCompression: [compressionGzip, compressionBrotli],
  });
  for (const r of options.routes) r.register(router);
  const paths = new Map(router.handlers.map((h) => [h.requestPath, h]));

  const adapter: DualHandler = (req, res) => {
    const handler = paths.get((req.url ?? "").split("?", 2)[0] ?? "");
    if (!handler) {
      const out = res as http.ServerResponse;
      // The list of services names the schema's types: only for a caller with a token.
      const answer = (values: ContextValues) => {
        out.writeHead(404, { "content-type": "application/json" });
        out.end(
          JSON.stringify({
            code: "unimplemented",
            message:
              values.get(actorKey) === undefined
                ? "No such RPC."
                : `No such RPC. Services: ${options.routes.map((r) => r.typeName).join(", ")}`,
          }),
        );
      };
      const values = options.authenticator.contextValues(single(req.headers["authorization"]));
      if (values instanceof Promise) values.then(answer, options.logError);
      else answer(values);
      return;
    }
    const serve = (values: ContextValues) => {
      // Refused for its credentials: whatever the handler answers becomes UNAUTHENTICATED,
      // so a body it could not decode does not name the request's fields (auth.ts).
      const refused = refusedBeforeDecode(
        values,
        handler.service.typeName,
        single(req.headers["authorization"]),
        anonymousReads,
      );
      const uReq = untilReset(req, universalRequestFromNodeRequest(req, res, undefined, values));
      // A JSON body is kept while the library reads it, to name the field of an
      // unknown key or enum name (json-errors.ts).
      const jsonKind = jsonBodyKind(req.headers["content-type"]);
      const kept =
        jsonKind !== undefined && Symbol.asyncIterator in Object(uReq.body)
          ? keepBody(uReq.body as AsyncIterable<Uint8Array>, options.readMaxBytes)
          : undefined;
      const input = handler.method.input;
      handler(kept ? { ...uReq, body: kept.body } : uReq)
        .then((uRes) =>
          refused && isConnectStream(uRes)
            ? refusedConnectStream(uRes, values)
            : rewriteErrorStatus(uRes, (status) => {
                const answer =
                  (refused ? unauthenticated(status, values) : undefined) ??
                  malformedBody(status, input.typeName) ??
                  (kept && jsonKind
                    ? nameJsonErrorField(status, input, kept.bytes(), jsonKind)
                    : undefined);
                // Answered before the interceptors ran (its body could not be read or
                // parsed): counted here, under the code the client gets.
                if (values.get(interceptedKey) !== true)
                  countUnintercepted(handler.service, handler.method, (answer ?? status).code);
                return answer;
              }),
        )
        .then((uRes) => universalResponseToNodeResponse(uRes, res))
        .catch((err: unknown) => {
          if (ConnectError.from(err).code === Code.Aborted) return;
          // A client that went away mid-request (a streaming call's body cut short, an
          // answer that could no longer be written) is not the server's failure.
          if (clientWentAway(err, req.destroyed)) options.logClientGone?.(err);
          else options.logError(err);
        });
    };
    const auth = req.headers["authorization"];
    // A JWT not yet verified is a promise; the request body waits, buffered, meanwhile.
    const values = options.authenticator.contextValues(Array.isArray(auth) ? auth[0] : auth);
    if (values instanceof Promise) values.then(serve, options.logError);
    else serve(values);
  };

  const allowAny = options.corsOrigins.includes("*");
  const allowedOrigin = (origin: string | undefined) =>
    origin !== undefined && (allowAny || options.corsOrigins.includes(origin)) ? origin : undefined;
  // A server of a cluster names a tenant's owner in a header (the redirect) and how long
  // to wait while no server owns it: a browser app reads them only if they are exposed.
  const exposedHeaders = [...cors.exposedHeaders, TENANT_OWNER_HEADER, "Retry-After"].join(", ");
  /** The CORS headers of every answer to a request from `origin`. */
  const corsHeaders = (origin: string | undefined): Readonly<Record<string, string>> => {
    const allowed = allowedOrigin(origin);
    if (allowed === undefined) return NO_HEADERS;
    return {
      "access-control-allow-origin": allowed,
      vary: "Origin",
      "access-control-expose-headers": exposedHeaders,
    };
  };

  const methods: ReadonlyMap<string, FastMethod> = new Map(
    options.routes.flatMap((r) =>
      r.unary.map((m) => [`/${m.service.typeName}/${m.method.name}`, m] as const),
    ),
  );
  const fast = createUnaryFastPath({
    methods,
    readMaxBytes: options.readMaxBytes,
    contextValues: (authorization) => options.authenticator.contextValues(authorization),
    anonymousReads,
    extraHeaders: corsHeaders,
    interceptors,
    shutdownSignal: options.shutdownSignal,
    logError: options.logError,
    countUnintercepted: (target, code) => countUnintercepted(target.service, target.method, code),
    ...(options.forward !== undefined ? { forward: options.forward } : {}),
    ...(options.beforeCall !== undefined ? { beforeCall: options.beforeCall } : {}),
  });

  const handler: DualHandler = (req, res) => {
    if (!("stream" in req) && fast.serveH1(req, res as http.ServerResponse)) return;
    const originHeader = req.headers["origin"];
    const out = res as http.ServerResponse & http2.Http2ServerResponse;
    const allow = corsHeaders(Array.isArray(originHeader) ? originHeader[0] : originHeader);
    for (const [name, value] of Object.entries(allow)) out.setHeader(name, value);
    const origin = allow["access-control-allow-origin"];
    if (req.method === "OPTIONS") {
      if (origin) {
        out.setHeader("access-control-allow-methods", cors.allowedMethods.join(", "));
        out.setHeader(
          "access-control-allow-headers",
          // The typed services take the tenant from a header (typed-call.ts); generated
          // clients send their schema's fingerprint (schema-skew.ts).
          [...cors.allowedHeaders, "Authorization", TENANT_HEADER, SCHEMA_FINGERPRINT_HEADER].join(
            ", ",
          ),
        );
        out.setHeader("access-control-max-age", "7200");
      }
      out.writeHead(204);
      out.end();
      return;
    }
    adapter(req, res);
  };
  return { handler, serveH2Stream: (stream, headers) => fast.serveH2(stream, headers), methods };
}

/**
 * The UNAUTHENTICATED answer, in place of `status`, to a call refused for its credentials
 * (auth.ts `refusedBeforeDecode`). A handler that got as far as asking for the actor
 * already answered it, and logged the refusal; any other answer (a body it could not
 * decode) is replaced, and the refusal logged here.
 */
function unauthenticated(status: ErrorStatus, values: ContextValues): ErrorStatus | undefined {
  if (status.code === Code.Unauthenticated) return undefined;
  values.get(refusalKey)?.report();
  return { code: Code.Unauthenticated, message: unauthenticatedError(values).rawMessage };
}

/** Whether `res` answers in Connect's streaming form (its error sits in an end-stream envelope). */
function isConnectStream(res: UniversalServerResponse): boolean {
  return res.header?.get("content-type")?.startsWith("application/connect+") === true;
}

/**
 * The answer of a Connect streaming call refused for its credentials (auth.ts
 * `refusedBeforeDecode`): a single end-stream envelope carrying UNAUTHENTICATED. The
 * library decodes a server-streaming call's message before the handler asks for the
 * actor, and answers a body that does not decode in the end-stream envelope, with HTTP
 * 200, where `rewriteErrorStatus` does not look; that answer named the request's fields.
 * A refused call never streams a message, so the library's whole answer is read and, unless
 * it already is the handler's plain UNAUTHENTICATED (the refusal logged then), replaced
 * (an envelope the library compressed is replaced too, unread).
 */
async function refusedConnectStream(
  res: UniversalServerResponse,
  values: ContextValues,
): Promise<UniversalServerResponse> {
  const chunks: Uint8Array[] = [];
  if (res.body !== undefined) for await (const chunk of res.body) chunks.push(chunk);
  const bytes = Buffer.concat(chunks);
  const length = bytes.length >= 5 ? bytes.readUInt32BE(1) : -1;
  let code: unknown;
  if (bytes[0] === END_STREAM_FLAG && length === bytes.length - 5) {
    try {
      const end = JSON.parse(bytes.subarray(5).toString("utf8")) as { error?: { code?: unknown } };
      code = end.error?.code;
    } catch {
      // not an end-stream JSON: replaced below
    }
  }
  let body = bytes;
  if (code !== codeToString(Code.Unauthenticated)) {
    values.get(refusalKey)?.report();
    const error = {
      code: codeToString(Code.Unauthenticated),
      message: unauthenticatedError(values).rawMessage,
    };
    const payload = Buffer.from(JSON.stringify({ error }));
    body = Buffer.alloc(5 + payload.length);
    body[0] = END_STREAM_FLAG;
    body.writeUInt32BE(payload.length, 1);
    body.set(payload, 5);
    res.header?.delete("connect-content-encoding");
  }
  res.header?.delete("content-length");
  return {
    ...res,
    body: (async function* () {
      yield body;
    })(),
  };
}

/** The flags of an uncompressed end-stream envelope in Connect's streaming form. */
const END_STREAM_FLAG = 0b10;

/**
 * A request body that is not a valid protobuf message is the caller's mistake, but
 * the Connect library answers it with INTERNAL ("parse binary: …") before any
 * interceptor runs. This is the INVALID_ARGUMENT saying which message was expected;
 * `rewriteErrorStatus` puts it where the protocol carries the status.
 */
function malformedBody(status: ErrorStatus, inputType: string): ErrorStatus | undefined {
  if (status.code !== Code.Internal || !status.message.startsWith("parse binary:"))
    return undefined;
  return { code: Code.InvalidArgument, message: malformedBodyMessage(inputType, status.message) };
}

/** `uReq` with its body read by {@link readUntilReset} when it came over HTTP/2. */
function untilReset(
  req: http.IncomingMessage | http2.Http2ServerRequest,
  uReq: UniversalServerRequest,
): UniversalServerRequest {
  const body = uReq.body;
  if (!("stream" in req) || !(Symbol.asyncIterator in Object(body))) return uReq;
  const enveloped = isEnveloped(single(req.headers["content-type"]));
  return {
    ...uReq,
    body: readUntilReset(req.stream, body as AsyncIterable<Uint8Array>, enveloped),
  };
}
