/**
 * The API handler runs one interceptor chain on both request paths: a call the fast path
 * serves (binary Connect unary, what generated clients send) goes through the same
 * interceptors as one the Connect router serves, and both honour the shutdown signal.
 */

import * as http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../../generated/grpc/health/v1/health_pb.js";
import { type Http2Answer, http2Exchange } from "../../tests/http2-exchange.ts";
import { createLogger } from "../log.ts";
import { createAuthenticator } from "./authenticator.ts";
import { type ApiListener, listenApi } from "./listen.ts";
import { createServerMetrics } from "./metrics.ts";
import { createApiHandler, route } from "./routes.ts";

/** What the interceptor saw: the method, the caller's tenant header, and how the call ended. */
const seen: { method: string; tenant: string | null; outcome: string }[] = [];
const recorder: Interceptor = (next) => async (req) => {
  const entry = { method: req.method.name, tenant: req.header.get("entdb-tenant"), outcome: "" };
  seen.push(entry);
  try {
    const res = await next(req);
    entry.outcome = "ok";
    res.header.set("x-intercepted", "yes");
    return res;
  } catch (err) {
    entry.outcome = Code[ConnectError.from(err).code] ?? "unknown";
    throw err;
  }
};

/** Signals of the calls to `Check` with service "wait", which wait for their signal. */
const waiting: AbortSignal[] = [];
const shutdown = new AbortController();
const metrics = createServerMetrics({
  applierLag: async () => new Map(),
  openTenantDbs: () => 0,
  parkedTenants: () => 0,
});
const logged: unknown[] = [];
/** Streams the fast path answered itself. */
let fastServed = 0;

let api: ApiListener;
let session: http2.ClientHttp2Session;

beforeAll(async () => {
  const handler = createApiHandler({
    routes: [
      route(Health, {
        async check(req, ctx) {
          if (req.service === "missing") throw new ConnectError("no such service", Code.NotFound);
          if (req.service === "wait") {
            waiting.push(ctx.signal);
            if (!ctx.signal.aborted) {
              await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
            }
          }
          return { status: ServingStatus.SERVING };
        },
      }),
    ],
    authenticator: createAuthenticator({
      config: { tokens: [], jwt: undefined },
      log: createLogger("error", () => {}),
    }),
    metrics,
    corsOrigins: [],
    readMaxBytes: 1024,
    interceptors: [recorder],
    shutdownSignal: shutdown.signal,
    logError: (err) => logged.push(err),
  });
  api = await listenApi(handler.handler, {
    host: "127.0.0.1",
    port: 0,
    serveH2Stream: (stream, headers) => {
      const served = handler.serveH2Stream(stream, headers);
      if (served) fastServed++;
      return served;
    },
  });
  session = http2.connect(`http://127.0.0.1:${api.port}`);
});

afterAll(async () => {
  session.close();
  await api.close(1_000);
});

const CHECK = "/grpc.health.v1.Health/Check";

function binaryCheck(service: string): Promise<Http2Answer> {
  return http2Exchange(
    session,
    {
      ":method": "POST",
      ":path": CHECK,
      "content-type": "application/proto",
      "entdb-tenant": "acme",
    },
    toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service })),
  );
}

async function requestsCounted(code: string): Promise<number> {
  const counted = await metrics.requests.get();
  const sample = counted.values.find(
    (v) => v.labels["method"] === "grpc.health.v1.Health/Check" && v.labels["code"] === code,
  );
  return sample?.value ?? 0;
}

describe("the API handler's interceptors", () => {
  it("see fast-path calls (HTTP/2 and HTTP/1.1), and what they set reaches the client", async () => {
    seen.length = 0;
    const before = fastServed;
    const okBefore = await requestsCounted("ok");

    const h2 = await binaryCheck("");
    expect(h2.status).toBe(200);
    expect(h2.headers["x-intercepted"]).toBe("yes");
    expect(fastServed).toBe(before + 1);

    const h1 = await fetch(`http://127.0.0.1:${api.port}${CHECK}`, {
      method: "POST",
      headers: { "content-type": "application/proto", "entdb-tenant": "acme" },
      body: toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, {})),
    });
    expect(h1.status).toBe(200);
    expect(h1.headers.get("x-intercepted")).toBe("yes");

    expect(seen).toEqual([
      { method: "Check", tenant: "acme", outcome: "ok" },
      { method: "Check", tenant: "acme", outcome: "ok" },
    ]);
    // The metrics are an interceptor too: each call counted once.
    expect(await requestsCounted("ok")).toBe(okBefore + 2);
  });

  it("see a fast-path call's error, as they see the library path's", async () => {
    seen.length = 0;
    const before = fastServed;
    const fast = await binaryCheck("missing");
    expect(fast.status).toBe(404);
    expect(fastServed).toBe(before + 1);
    const library = await http2Exchange(
      session,
      { ":method": "POST", ":path": CHECK, "content-type": "application/json" },
      new TextEncoder().encode('{"service":"missing"}'),
    );
    expect(library.status).toBe(404);
    expect(fastServed).toBe(before + 1);
    expect(seen.map((s) => s.outcome)).toEqual(["NotFound", "NotFound"]);
    expect(logged).toEqual([]);
  });
});

describe("shutdown", () => {
  it("aborts the signal of fast-path calls in flight, and of calls after it, with its reason", async () => {
    const inFlight = binaryCheck("wait");
    await expect.poll(() => waiting.length).toBe(1);
    const reason = new ConnectError("the server is shutting down", Code.Unavailable);
    shutdown.abort(reason);
    expect(waiting[0]?.reason).toBe(reason);
    expect((await inFlight).status).toBe(200);

    const after = await binaryCheck("wait");
    expect(after.status).toBe(200);
    expect(waiting[1]?.aborted).toBe(true);
    expect(waiting[1]?.reason).toBe(reason);
  });
});
