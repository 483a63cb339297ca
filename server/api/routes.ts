/**
 * Assembles the API: every service on one Connect router (Connect, gRPC and
 * gRPC-Web protocols), authentication, metrics, CORS, and a JSON 404 for unknown
 * paths. The result is a request handler for both HTTP/1.1 and HTTP/2.
 */

import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { DescService } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ConnectRouter,
  cors,
  createConnectRouter,
  type Interceptor,
  type ServiceImpl,
} from "@connectrpc/connect";
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import { authContext, type TokenMap } from "./auth.ts";
import type { DualHandler } from "./listen.ts";
import type { ServerMetrics } from "./metrics.ts";
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
  readonly tokens: TokenMap;
  /** Server-wide administrators (`--admins`), by principal. */
  readonly admins?: ReadonlySet<string>;
  readonly metrics: ServerMetrics;
  /** Origins allowed to call from browsers; "*" allows any. */
  readonly corsOrigins: readonly string[];
  /** Largest request message accepted, in bytes. */
  readonly readMaxBytes: number;
  /** Receives failures of the transport itself (never of a handler: those become responses). */
  logError(err: unknown): void;
}

/** The API's request handlers: both HTTP versions, and HTTP/2 streams for the fast path. */
export interface ApiHandler {
  /** Serves a request (HTTP/1.1, or HTTP/2 through Node's compatibility API). */
  readonly handler: DualHandler;
  /** Serves an HTTP/2 stream on the fast path and returns true, or returns false. */
  serveH2Stream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): boolean;
}

/** Builds the handler serving every route over all three protocols. */
export function createApiHandler(options: ApiHandlerOptions): ApiHandler {
  // The metric children of each method (and code) are looked up once: finding a child
  // by its labels hashes them, on every call otherwise.
  const timers = new Map<string, ReturnType<typeof options.metrics.requestSeconds.labels>>();
  const counters = new Map<string, ReturnType<typeof options.metrics.requests.labels>>();
  /** Starts timing a call to `method`; the returned function counts it under its code. */
  const observe = (method: string) => {
    let timer = timers.get(method);
    if (timer === undefined) {
      timer = options.metrics.requestSeconds.labels({ method });
      timers.set(method, timer);
    }
    const end = timer.startTimer();
    return (code: Code | undefined) => {
      const codeName = code === undefined ? "ok" : (Code[code] ?? "unknown");
      const key = `${method} ${codeName}`;
      let counter = counters.get(key);
      if (counter === undefined) {
        counter = options.metrics.requests.labels({ method, code: codeName });
        counters.set(key, counter);
      }
      counter.inc();
      end();
    };
  };
  const metricsInterceptor: Interceptor = (next) => async (req) => {
    const done = observe(`${req.service.typeName}/${req.method.name}`);
    try {
      const res = await next(req);
      done(undefined);
      return res;
    } catch (err) {
      done(ConnectError.from(err).code);
      throw err;
    }
  };

  const router = createConnectRouter({
    interceptors: [metricsInterceptor],
    readMaxBytes: options.readMaxBytes,
    acceptCompression: [compressionGzip, compressionBrotli],
  });
  for (const r of options.routes) r.register(router);
  const paths = new Map(router.handlers.map((h) => [h.requestPath, h]));

  const adapter: DualHandler = (req, res) => {
    const handler = paths.get((req.url ?? "").split("?", 2)[0] ?? "");
    if (!handler) {
      const out = res as http.ServerResponse;
      out.writeHead(404, { "content-type": "application/json" });
      out.end(
        JSON.stringify({
          code: "unimplemented",
          message: `No such RPC. Services: ${options.routes.map((r) => r.typeName).join(", ")}`,
        }),
      );
      return;
    }
    const auth = req.headers["authorization"];
    const uReq = universalRequestFromNodeRequest(
      req,
      res,
      undefined,
      authContext(options.tokens, Array.isArray(auth) ? auth[0] : auth, options.admins),
    );
    handler(uReq)
      .then((uRes) => malformedBodyAsInvalidArgument(uRes, handler.method.input.typeName))
      .then((uRes) => universalResponseToNodeResponse(uRes, res))
      .catch((err: unknown) => {
        if (ConnectError.from(err).code !== Code.Aborted) options.logError(err);
      });
  };

  const allowAny = options.corsOrigins.includes("*");
  const allowedOrigin = (origin: string | undefined) =>
    origin !== undefined && (allowAny || options.corsOrigins.includes(origin)) ? origin : undefined;
  const exposedHeaders = cors.exposedHeaders.join(", ");
  /** The CORS headers of every answer to a request from `origin`. */
  const corsHeaders = (origin: string | undefined): Readonly<Record<string, string>> => {
    const allowed = allowedOrigin(origin);
    if (allowed === undefined) return {};
    return {
      "access-control-allow-origin": allowed,
      vary: "Origin",
      "access-control-expose-headers": exposedHeaders,
    };
  };

  const fast = createUnaryFastPath({
    methods: new Map(
      options.routes.flatMap((r) =>
        r.unary.map((m) => [`/${m.service.typeName}/${m.method.name}`, m] as const),
      ),
    ),
    readMaxBytes: options.readMaxBytes,
    contextValues: (authorization) => authContext(options.tokens, authorization, options.admins),
    extraHeaders: corsHeaders,
    observe,
    logError: options.logError,
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
          [...cors.allowedHeaders, "Authorization"].join(", "),
        );
        out.setHeader("access-control-max-age", "7200");
      }
      out.writeHead(204);
      out.end();
      return;
    }
    adapter(req, res);
  };
  return { handler, serveH2Stream: (stream, headers) => fast.serveH2(stream, headers) };
}

/**
 * A request body that is not a valid protobuf message is the caller's mistake, but
 * the Connect library answers it with INTERNAL ("parse binary: …") before any
 * interceptor runs. This turns that answer into INVALID_ARGUMENT saying which
 * message was expected, for the Connect protocol (a JSON error body) and gRPC (the
 * status in headers or trailers). gRPC-Web errors travel inside the body and are
 * left as they are.
 */
async function malformedBodyAsInvalidArgument(
  res: UniversalServerResponse,
  inputType: string,
): Promise<UniversalServerResponse> {
  const explain = (detail: string) => malformedBodyMessage(inputType, detail);
  for (const headers of [res.header, res.trailer]) {
    const message = headers?.get("grpc-message");
    if (headers?.get("grpc-status") === String(Code.Internal) && message) {
      const decoded = decodeURIComponent(message);
      if (decoded.startsWith("parse binary:")) {
        headers.set("grpc-status", String(Code.InvalidArgument));
        headers.set("grpc-message", encodeURIComponent(explain(decoded)));
      }
      return res;
    }
  }
  if (res.status !== 500 || !res.body) return res;
  const chunks: Uint8Array[] = [];
  for await (const chunk of res.body) chunks.push(chunk);
  const bytes = Buffer.concat(chunks);
  const body = async function* () {
    yield bytes;
  };
  try {
    const error = JSON.parse(bytes.toString("utf8")) as { code?: string; message?: string };
    if (error.code === "internal" && error.message?.startsWith("parse binary:")) {
      const rewritten = Buffer.from(
        JSON.stringify({ code: "invalid_argument", message: explain(error.message) }),
      );
      res.header?.delete("content-length");
      return {
        ...res,
        status: 400,
        body: (async function* () {
          yield rewritten;
        })(),
      };
    }
  } catch {
    // not a Connect JSON error: pass it on unchanged
  }
  return { ...res, body: body() };
}
