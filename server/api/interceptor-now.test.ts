/**
 * The fast paths run an interceptor's now form (`withNowForm`, unary-call.ts) when every
 * interceptor of the router has one: a call whose handler answers at once goes through
 * the chain without a promise, and one that does not, or a chain with an interceptor
 * that has no now form, still gives a promise. Calls in flight follow the shutdown.
 */

import * as http2 from "node:http2";
import { create, type Message, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Health,
  HealthCheckRequestSchema,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../../generated/grpc/health/v1/health_pb.js";
import { http2Exchange } from "../../tests/http2-exchange.ts";
import { createLogger } from "../log.ts";
import { createAuthenticator } from "./authenticator.ts";
import { CallValues } from "./call-values.ts";
import { type ApiListener, listenApi } from "./listen.ts";
import { createServerMetrics } from "./metrics.ts";
import { createApiHandler, route } from "./routes.ts";
import {
  createCallSignals,
  type FastMethod,
  handlerContext,
  intercepted,
  type UnaryImpl,
  withNowForm,
} from "./unary-call.ts";

const request = create(HealthCheckRequestSchema, { service: "x" });
const SERVING = { status: ServingStatus.SERVING };

/** One call of Health.Check through `interceptors`, answered by `impl`. */
function call(impl: UnaryImpl, interceptors: readonly Interceptor[]) {
  const target: FastMethod = { service: Health, method: Health.method.check, impl };
  const signal = createCallSignals(new AbortController().signal)();
  const ctx = handlerContext(target, "connect", "http://x/", {}, signal, new CallValues());
  return { ctx, answer: intercepted(target, ctx, request, interceptors) };
}

/** An interceptor that writes `name` to `log` on the way in and out, in both of its forms. */
function logging(name: string, log: string[]): Interceptor {
  return withNowForm(
    (next) => async (req) => {
      log.push(`${name} in (async)`);
      const res = await next(req);
      log.push(`${name} out (async)`);
      return res;
    },
    (next) => (req) => {
      log.push(`${name} in`);
      const res = next(req);
      if (res instanceof Promise)
        return res.then((r) => {
          log.push(`${name} out, later`);
          return r;
        });
      log.push(`${name} out`);
      return res;
    },
  );
}

describe("intercepted, with every interceptor's now form", () => {
  it("answers a handler that answers at once with the message itself, through the chain in order", () => {
    const log: string[] = [];
    const seen: Message[] = [];
    const { answer } = call(
      (req) => {
        seen.push(req);
        return SERVING;
      },
      [logging("outer", log), logging("inner", log)],
    );
    expect(answer).not.toBeInstanceOf(Promise);
    expect((answer as HealthCheckResponse).status).toBe(ServingStatus.SERVING);
    expect((answer as HealthCheckResponse).$typeName).toBe("grpc.health.v1.HealthCheckResponse");
    expect(seen).toEqual([request]);
    expect(log).toEqual(["outer in", "inner in", "inner out", "outer out"]);
  });

  it("throws what a handler answering at once throws, and rejects with what a waiting one rejects with", async () => {
    const log: string[] = [];
    const notFound = new ConnectError("no such service", Code.NotFound);
    expect(() =>
      call(() => {
        throw notFound;
      }, [logging("only", log)]),
    ).toThrow(notFound);
    expect(log).toEqual(["only in"]);

    log.length = 0;
    const later = call(async () => SERVING, [logging("only", log)]).answer;
    expect(later).toBeInstanceOf(Promise);
    expect(((await later) as HealthCheckResponse).status).toBe(ServingStatus.SERVING);
    expect(log).toEqual(["only in", "only out, later"]);
    await expect(call(() => Promise.reject(notFound), [logging("only", log)]).answer).rejects.toBe(
      notFound,
    );
  });

  it("gives the call the headers of a response an interceptor answered with itself", () => {
    const own = withNowForm(
      (next) => next,
      (next) => (req) => {
        const res = next(req);
        if (res instanceof Promise) throw new Error("answered at once in this test");
        const header = new Headers({ "x-own": "yes" });
        return { ...res, header, trailer: new Headers({ "x-trailer": "t" }) };
      },
    );
    const { ctx, answer } = call(() => SERVING, [own]);
    expect((answer as HealthCheckResponse).status).toBe(ServingStatus.SERVING);
    expect(ctx.headersWritten()?.header.get("x-own")).toBe("yes");
    expect(ctx.headersWritten()?.trailer.get("x-trailer")).toBe("t");
  });

  it("runs every interceptor's async form when one of them has no now form", async () => {
    const log: string[] = [];
    const plain: Interceptor = (next) => async (req) => {
      log.push("plain");
      return next(req);
    };
    const { answer } = call(() => SERVING, [logging("outer", log), plain]);
    expect(answer).toBeInstanceOf(Promise);
    expect(((await answer) as HealthCheckResponse).status).toBe(ServingStatus.SERVING);
    expect(log).toEqual(["outer in (async)", "plain", "outer out (async)"]);
  });
});

describe("the calls in flight", () => {
  it("are aborted by the shutdown, those already ended are not, and later calls start aborted", () => {
    const shutdown = new AbortController();
    const start = createCallSignals(shutdown.signal);
    const [a, b, c] = [start(), start(), start()];
    b?.end();
    b?.end();
    const reason = new ConnectError("shutting down", Code.Unavailable);
    shutdown.abort(reason);
    expect([a?.signal.reason, b?.signal.aborted, c?.signal.reason]).toEqual([
      reason,
      false,
      reason,
    ]);
    const after = start();
    expect(after.signal.reason).toBe(reason);
    after.end();
    a?.end();
  });
});

describe("the metrics interceptor's now form", () => {
  const metrics = createServerMetrics({
    applierLag: async () => new Map(),
    openTenantDbs: () => 0,
    parkedTenants: () => 0,
  });
  const logged: unknown[] = [];
  let api: ApiListener;
  let session: http2.ClientHttp2Session;

  beforeAll(async () => {
    const handler = createApiHandler({
      routes: [
        route(Health, {
          // Answers at once: with only the metrics interceptor, the chain has no promise.
          check(req) {
            if (req.service === "missing") throw new ConnectError("no such service", Code.NotFound);
            if (req.service === "bug") throw new Error("a bug");
            return SERVING;
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
      shutdownSignal: new AbortController().signal,
      logError: (err) => logged.push(err),
    });
    api = await listenApi(handler.handler, {
      host: "127.0.0.1",
      port: 0,
      serveH2Stream: handler.serveH2Stream,
    });
    session = http2.connect(`http://127.0.0.1:${api.port}`);
  });

  afterAll(async () => {
    session.close();
    await api.close(1_000);
  });

  const check = (service: string) =>
    http2Exchange(
      session,
      {
        ":method": "POST",
        ":path": "/grpc.health.v1.Health/Check",
        "content-type": "application/proto",
      },
      toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service })),
    );

  const counted = async (code: string): Promise<number> =>
    (await metrics.requests.get()).values.find(
      (v) => v.labels["method"] === "grpc.health.v1.Health/Check" && v.labels["code"] === code,
    )?.value ?? 0;

  // A handler's error that is not a ConnectError is counted as `ConnectError.from` names it
  // (Unknown), as the async form counts it, and answered as INTERNAL.
  it("counts calls answered at once by their code and times them, and logs a bug once", async () => {
    expect((await check("")).status).toBe(200);
    expect((await check("")).status).toBe(200);
    expect((await check("missing")).status).toBe(404);
    expect((await check("bug")).status).toBe(500);
    expect([await counted("ok"), await counted("not_found"), await counted("unknown")]).toEqual([
      2, 1, 1,
    ]);
    const seconds = (await metrics.requestSeconds.get()).values.find(
      (v) =>
        v.labels["method"] === "grpc.health.v1.Health/Check" && v.metricName?.endsWith("_count"),
    );
    expect(seconds?.value).toBe(4);
    expect(logged).toHaveLength(1);
    expect(String(logged[0])).toContain("a bug");
  });
});
