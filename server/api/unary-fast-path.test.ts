import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextKey,
  createContextValues,
  type HandlerContext,
  type UnaryRequest,
} from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Health,
  type HealthCheckRequest,
  HealthCheckRequestSchema,
  HealthCheckResponseSchema,
} from "../../generated/grpc/health/v1/health_pb.js";
import { type Http2Answer, http2Exchange } from "../../tests/http2-exchange.ts";
import { requestHeaderValue } from "./unary-call.ts";
import { createUnaryFastPath, type UnaryImpl } from "./unary-fast-path.ts";

const who = createContextKey<string>("nobody");
const check = Health.methods.find((m) => m.name === "Check");
if (check === undefined) throw new Error("grpc.health.v1.Health lacks Check");

/** What the implementation saw and what it should do next. */
let seen: { service: string; caller: string; tenant: string | null; ctx: HandlerContext }[] = [];
let behaviour: (ctx: HandlerContext) => Promise<unknown> = async () => ({ status: 1 });
/** How each call ended, as the interceptors saw it (undefined: it succeeded). */
const observed: (Code | undefined)[] = [];
/** The order the interceptors ran in, and the errors they saw. */
const order: string[] = [];
const thrown: unknown[] = [];
/** The requests the inner interceptor saw. */
const requests: UnaryRequest[] = [];
/** What the path logged; only an implementation's bug (INTERNAL) may be. */
const logged: unknown[] = [];

const impl: UnaryImpl = async (req, ctx) => {
  const input = req as HealthCheckRequest;
  seen.push({
    service: input.service,
    caller: ctx.values.get(who),
    tenant: ctx.requestHeader.get("entdb-tenant"),
    ctx,
  });
  return behaviour(ctx);
};

const shutdown = new AbortController();
const fast = createUnaryFastPath({
  methods: new Map([["/grpc.health.v1.Health/Check", { service: Health, method: check, impl }]]),
  readMaxBytes: 1024,
  contextValues: (authorization) => createContextValues().set(who, authorization ?? "anonymous"),
  extraHeaders: (origin) =>
    origin === "https://ok" ? { "access-control-allow-origin": origin } : {},
  interceptors: [
    (next) => async (req) => {
      order.push("outer");
      try {
        const res = await next(req);
        observed.push(undefined);
        return res;
      } catch (err) {
        thrown.push(err);
        observed.push(ConnectError.from(err).code);
        throw err;
      }
    },
    (next) => async (req) => {
      order.push("inner");
      if (!req.stream) requests.push(req);
      return next(req);
    },
  ],
  shutdownSignal: shutdown.signal,
  logError: (err) => logged.push(err),
  beforeCall: () => order.push("before"),
});

let server: http2.Http2Server;
let session: http2.ClientHttp2Session;

beforeAll(async () => {
  server = http2.createServer();
  server.on("stream", (stream, headers) => {
    if (fast.serveH2(stream, headers)) return;
    stream.respond({ ":status": 599 }); // marks "left to the library"
    stream.end();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  session = http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});

afterAll(async () => {
  session.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function post(headers: Record<string, string>, body: Uint8Array): Promise<Http2Answer> {
  return http2Exchange(
    session,
    {
      ":method": "POST",
      ":path": "/grpc.health.v1.Health/Check",
      "content-type": "application/proto",
      ...headers,
    },
    body,
  );
}

const request = (service: string) =>
  toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service }));

describe("createUnaryFastPath", () => {
  it("serves a binary Connect unary call: parses, calls the implementation, encodes", async () => {
    seen = [];
    behaviour = async () => ({ status: 1 });
    const reply = await post(
      { authorization: "Bearer t", "entdb-tenant": "acme", origin: "https://ok" },
      request("svc"),
    );
    expect(reply.status).toBe(200);
    expect(reply.headers["content-type"]).toBe("application/proto");
    expect(reply.headers["access-control-allow-origin"]).toBe("https://ok");
    expect(fromBinary(HealthCheckResponseSchema, reply.body).status).toBe(1);
    expect(seen.map(({ ctx: _, ...rest }) => rest)).toEqual([
      { service: "svc", caller: "Bearer t", tenant: "acme" },
    ]);
    expect(observed.at(-1)).toBeUndefined();
  });

  it("reads a request header's value from Node's headers as Headers.get gives it", async () => {
    seen = [];
    requests.length = 0;
    behaviour = async () => ({ status: 1 });
    const reply = await http2Exchange(
      session,
      {
        ":method": "POST",
        ":path": "/grpc.health.v1.Health/Check",
        "content-type": "application/proto",
        "entdb-schema-fingerprint": "sha256:abc",
        "x-repeated": ["one", "two"],
        "x-empty": "",
      },
      request("h"),
    );
    expect(reply.status).toBe(200);
    const ctx = seen[0]?.ctx as HandlerContext;
    const req = requests[0] as UnaryRequest;
    const names = [
      "entdb-schema-fingerprint",
      "x-repeated",
      "x-empty",
      "authorization",
      "content-type",
    ];
    for (const name of names) {
      expect(requestHeaderValue(ctx, name)).toBe(ctx.requestHeader.get(name));
      expect(requestHeaderValue(req, name)).toBe(req.header.get(name));
    }
    expect(requestHeaderValue(ctx, "x-repeated")).toBe("one, two");
    expect(requestHeaderValue(req, "entdb-schema-fingerprint")).toBe("sha256:abc");
    expect(requestHeaderValue(req, "authorization")).toBeNull();
    // A request an interceptor made from the call's is asked through its own headers.
    const replaced = { ...req, header: new Headers({ "entdb-schema-fingerprint": "other" }) };
    expect(requestHeaderValue(replaced, "entdb-schema-fingerprint")).toBe("other");
    expect(requestHeaderValue({ ...ctx, requestHeader: new Headers() }, "x-repeated")).toBeNull();
    // The request's own keys are the library's, in its order, its header one of them: a
    // spread copy carries the same header.
    expect(Object.keys(req)).toEqual([
      "stream",
      "service",
      "method",
      "requestMethod",
      "url",
      "signal",
      "header",
      "contextValues",
      "message",
    ]);
    expect({ ...req }.header).toBe(req.header);
    expect({ ...req }.header.get("x-repeated")).toBe("one, two");
  });

  it("leaves calls it does not serve to the library: timeouts, JSON, compression, GET, other versions", async () => {
    seen = [];
    const cases: Record<string, string>[] = [
      { "connect-timeout-ms": "1000" },
      { "content-type": "application/json" },
      { "content-encoding": "gzip" },
      { "connect-protocol-version": "2" },
      { ":method": "GET" },
    ];
    for (const headers of cases) {
      expect((await post(headers, request("x"))).status).toBe(599);
    }
    expect(seen).toEqual([]);
  });

  it("answers a ConnectError with its code's status, the error JSON and its metadata as headers", async () => {
    behaviour = async () => {
      throw new ConnectError("no such thing", Code.NotFound, { "x-why": "because" });
    };
    const reply = await post({}, request("x"));
    expect(reply.status).toBe(404);
    expect(reply.headers["content-type"]).toBe("application/json");
    expect(reply.headers["x-why"]).toBe("because");
    expect(JSON.parse(reply.body.toString())).toEqual({
      code: "not_found",
      message: "no such thing",
    });
    expect(observed.at(-1)).toBe(Code.NotFound);
  });

  it("sends headers and trailers the implementation sets (trailers prefixed, as unary Connect does)", async () => {
    behaviour = async (ctx) => {
      ctx.responseHeader.set("x-answer", "42");
      ctx.responseTrailer.set("x-late", "yes");
      return { status: 1 };
    };
    const reply = await post({}, request("x"));
    expect(reply.status).toBe(200);
    expect(reply.headers["content-type"]).toBe("application/proto");
    expect(reply.headers["x-answer"]).toBe("42");
    expect(reply.headers["trailer-x-late"]).toBe("yes");
  });

  it("answers any other error as INTERNAL without its message; the interceptors see the error itself", async () => {
    const bug = new Error("secret detail");
    behaviour = async () => {
      throw bug;
    };
    logged.length = 0;
    const reply = await post({}, request("x"));
    expect(reply.status).toBe(500);
    expect(JSON.parse(reply.body.toString())).toEqual({
      code: "internal",
      message: "internal error",
    });
    // The interceptors report it (routes.ts logs it with its stack); the path does not
    // log it a second time.
    expect(thrown.at(-1)).toBe(bug);
    expect(bug.stack).toMatch(/^Error: secret detail\n\s+at /);
    expect(logged).toEqual([]);
  });

  it("runs beforeCall, then the interceptors around the implementation, outermost first", async () => {
    order.length = 0;
    seen = [];
    behaviour = async () => ({ status: 1 });
    expect((await post({}, request("x"))).status).toBe(200);
    expect(order).toEqual(["before", "outer", "inner"]);
    expect(seen).toHaveLength(1);
    expect(observed.at(-1)).toBeUndefined();
  });

  it("answers a body it cannot read before the interceptors run, as the library does", async () => {
    order.length = 0;
    expect((await post({}, new Uint8Array([0x0a, 0x05, 0x61]))).status).toBe(400);
    expect((await post({}, request("x".repeat(2000)))).status).toBe(429);
    expect(order).toEqual([]);
  });

  it("logs nothing for bad input or an error the implementation meant", async () => {
    logged.length = 0;
    behaviour = async () => {
      throw new ConnectError("no such thing", Code.NotFound);
    };
    expect((await post({}, request("x"))).status).toBe(404);
    expect((await post({}, new Uint8Array([0x0a, 0x05, 0x61]))).status).toBe(400);
    expect(logged).toEqual([]);
  });

  it("answers INVALID_ARGUMENT naming the message when the body is not protobuf", async () => {
    seen = [];
    const reply = await post({}, new Uint8Array([0x0a, 0x05, 0x61]));
    expect(reply.status).toBe(400);
    expect(JSON.parse(reply.body.toString()).message).toMatch(
      /^The request body is not a valid grpc\.health\.v1\.HealthCheckRequest \(.+\); send a serialized grpc\.health\.v1\.HealthCheckRequest\.$/,
    );
    expect(seen).toEqual([]);
  });

  it("answers RESOURCE_EXHAUSTED above the size limit without calling the implementation", async () => {
    seen = [];
    const reply = await post({}, request("x".repeat(2000)));
    expect(reply.status).toBe(429);
    expect(JSON.parse(reply.body.toString()).code).toBe("resource_exhausted");
    expect(seen).toEqual([]);
  });

  it("aborts the call's signal with CANCELED when the client resets the stream", async () => {
    seen = [];
    let release: () => void = () => {};
    behaviour = (ctx) =>
      new Promise((resolve) => {
        release = () => resolve({ status: 1 });
        ctx.signal.addEventListener("abort", () => release());
      });
    const stream = session.request({
      ":method": "POST",
      ":path": "/grpc.health.v1.Health/Check",
      "content-type": "application/proto",
    });
    stream.on("error", () => {});
    stream.end(request("slow"));
    await expect.poll(() => seen.length).toBe(1);
    stream.close(http2.constants.NGHTTP2_CANCEL);
    const signal = seen[0]?.ctx.signal;
    await expect.poll(() => signal?.aborted).toBe(true);
    expect(ConnectError.from(signal?.reason).code).toBe(Code.Canceled);
  });
});

// Last: the shutdown cannot be undone, and every call after it sees an aborted signal.
describe("createUnaryFastPath at shutdown", () => {
  it("aborts the signal of calls in flight and of calls after it with the shutdown's reason", async () => {
    seen = [];
    behaviour = (ctx) =>
      new Promise((resolve) => {
        if (ctx.signal.aborted) resolve({ status: 2 });
        else ctx.signal.addEventListener("abort", () => resolve({ status: 2 }));
      });
    const inFlight = post({}, request("slow"));
    await expect.poll(() => seen.length).toBe(1);
    const reason = new ConnectError("the server is shutting down", Code.Unavailable);
    shutdown.abort(reason);
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(fromBinary(HealthCheckResponseSchema, answer.body).status).toBe(2);
    expect(seen[0]?.ctx.signal.reason).toBe(reason);

    const after = await post({}, request("late"));
    expect(after.status).toBe(200);
    expect(seen[1]?.ctx.signal.aborted).toBe(true);
    expect(seen[1]?.ctx.signal.reason).toBe(reason);
  });
});
