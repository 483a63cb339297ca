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
  type Interceptor,
  type ServiceImpl,
} from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { authContext, type TokenMap } from "./auth.ts";
import type { DualHandler } from "./listen.ts";
import type { ServerMetrics } from "./metrics.ts";

/** A service to serve: its name and how to register it on a router. */
export interface ServiceRoute {
  readonly typeName: string;
  register(router: ConnectRouter): void;
}

/** Pairs a service descriptor with its implementation, type-checked against each other. */
export function route<T extends DescService>(
  service: T,
  impl: Partial<ServiceImpl<T>>,
): ServiceRoute {
  return { typeName: service.typeName, register: (router) => router.service(service, impl) };
}

/** Options of {@link createApiHandler}. */
export interface ApiHandlerOptions {
  readonly routes: readonly ServiceRoute[];
  readonly tokens: TokenMap;
  readonly metrics: ServerMetrics;
  /** Origins allowed to call from browsers; "*" allows any. */
  readonly corsOrigins: readonly string[];
  /** Largest request message accepted, in bytes. */
  readonly readMaxBytes: number;
}

/** Builds the handler serving every route over all three protocols. */
export function createApiHandler(options: ApiHandlerOptions): DualHandler {
  const metricsInterceptor: Interceptor = (next) => async (req) => {
    const method = `${req.service.typeName}/${req.method.name}`;
    const end = options.metrics.requestSeconds.startTimer({ method });
    try {
      const res = await next(req);
      options.metrics.requests.inc({ method, code: "ok" });
      return res;
    } catch (err) {
      const code = ConnectError.from(err).code;
      options.metrics.requests.inc({ method, code: Code[code] ?? "unknown" });
      throw err;
    } finally {
      end();
    }
  };

  const adapter = connectNodeAdapter({
    routes: (router: ConnectRouter) => {
      for (const r of options.routes) r.register(router);
    },
    interceptors: [metricsInterceptor],
    readMaxBytes: options.readMaxBytes,
    contextValues: (req) => {
      const auth = req.headers["authorization"];
      return authContext(options.tokens, Array.isArray(auth) ? auth[0] : auth);
    },
    fallback: (_req, res) => {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          code: "unimplemented",
          message: "No such RPC. Services: " + options.routes.map((r) => r.typeName).join(", "),
        }),
      );
    },
  });

  const allowAny = options.corsOrigins.includes("*");
  const allowedOrigin = (origin: string | undefined) =>
    origin !== undefined && (allowAny || options.corsOrigins.includes(origin)) ? origin : undefined;

  return (req, res) => {
    const originHeader = req.headers["origin"];
    const origin = allowedOrigin(Array.isArray(originHeader) ? originHeader[0] : originHeader);
    const out = res as http.ServerResponse & http2.Http2ServerResponse;
    if (origin) {
      out.setHeader("access-control-allow-origin", origin);
      out.setHeader("vary", "Origin");
      out.setHeader("access-control-expose-headers", cors.exposedHeaders.join(", "));
    }
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
}
