/**
 * The gRPC unary path answers as the Connect library's gRPC handler does. Each request
 * goes to two servers with the same implementation and interceptors: one answering
 * through `createUnaryFastPath` (which hands gRPC calls to grpc-unary.ts), one through
 * the library (`connectNodeAdapter`). Their answers must match: status, headers (but
 * the date), body bytes and trailers.
 */

import * as http from "node:http";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextKey,
  createContextValues,
  type HandlerContext,
  type Interceptor,
} from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Health,
  type HealthCheckRequest,
  HealthCheckRequestSchema,
  HealthCheckResponseSchema,
} from "../../generated/grpc/health/v1/health_pb.js";
import { createUnaryFastPath, type UnaryImpl } from "./unary-fast-path.ts";

const who = createContextKey<string>("nobody");
const check = Health.methods.find((m) => m.name === "Check");
if (check === undefined) throw new Error("grpc.health.v1.Health lacks Check");

/** What the implementation saw, and what it does. */
let seen: { service: string; caller: string; ctx: HandlerContext }[] = [];
let behaviour: (ctx: HandlerContext) => Promise<unknown> = async () => ({ status: 1 });
/** The codes the interceptor saw (undefined: success), and what the path logged. */
const observed: (Code | undefined)[] = [];
const logged: unknown[] = [];

const impl: UnaryImpl = async (req, ctx) => {
  seen.push({
    service: (req as HealthCheckRequest).service,
    caller: ctx.values.get(who),
    ctx,
  });
  return behaviour(ctx);
};
const interceptor: Interceptor = (next) => async (req) => {
  try {
    const res = await next(req);
    observed.push(undefined);
    return res;
  } catch (err) {
    observed.push(ConnectError.from(err).code);
    throw err;
  }
};

const shutdown = new AbortController();
const fast = createUnaryFastPath({
  methods: new Map([["/grpc.health.v1.Health/Check", { service: Health, method: check, impl }]]),
  readMaxBytes: 1024,
  contextValues: (authorization) => createContextValues().set(who, authorization ?? "anonymous"),
  extraHeaders: (origin) =>
    origin === "https://ok" ? { "access-control-allow-origin": origin } : {},
  interceptors: [interceptor],
  shutdownSignal: shutdown.signal,
  logError: (err) => logged.push(err),
});

let fastServer: http2.Http2Server;
let libraryServer: http2.Http2Server;
let fastSession: http2.ClientHttp2Session;
let librarySession: http2.ClientHttp2Session;

async function listen(server: http2.Http2Server): Promise<http2.ClientHttp2Session> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return http2.connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
}

beforeAll(async () => {
  fastServer = http2.createServer();
  fastServer.on("stream", (stream, headers) => {
    if (fast.serveH2(stream, headers)) return;
    stream.respond({ ":status": 599 }); // marks "left to the library"
    stream.end();
  });
  fastSession = await listen(fastServer);
  libraryServer = http2.createServer(
    connectNodeAdapter({
      routes: (router) =>
        router.service(Health, {
          check: async (req, ctx) =>
            create(HealthCheckResponseSchema, (await impl(req, ctx)) as object),
        }),
      interceptors: [interceptor],
      readMaxBytes: 1024,
      contextValues: (req) =>
        createContextValues().set(who, req.headers.authorization ?? "anonymous"),
    }),
  );
  librarySession = await listen(libraryServer);
});

afterAll(async () => {
  fastSession.close();
  librarySession.close();
  await new Promise<void>((resolve) => fastServer.close(() => resolve()));
  await new Promise<void>((resolve) => libraryServer.close(() => resolve()));
});

/** A whole gRPC answer: status, headers without the date, body, trailers. */
interface GrpcAnswer {
  readonly status: number;
  readonly headers: Record<string, unknown>;
  readonly body: Buffer;
  readonly trailers: Record<string, unknown>;
}

function exchange(
  session: http2.ClientHttp2Session,
  headers: Record<string, string>,
  body: Uint8Array,
): Promise<GrpcAnswer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ":method": "POST",
      ":path": "/grpc.health.v1.Health/Check",
      "content-type": "application/grpc+proto",
      te: "trailers",
      ...headers,
    });
    let head: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on("response", (h) => {
      head = h;
    });
    stream.on("trailers", (t) => {
      trailers = t;
    });
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => {
      const { ":status": status, date: _, ...rest } = head;
      resolve({ status: Number(status), headers: rest, body: Buffer.concat(chunks), trailers });
    });
    stream.on("error", reject);
    if (headers[":method"] === "GET") stream.end();
    else stream.end(body);
  });
}

/** Sends the request down both paths; returns the fast path's answer after checking they match. */
async function both(headers: Record<string, string>, body: Uint8Array): Promise<GrpcAnswer> {
  const answer = await exchange(fastSession, headers, body);
  const library = await exchange(librarySession, headers, body);
  expect(answer).toEqual(library);
  return answer;
}

/** `message` in a gRPC envelope with `flags`. */
function envelope(message: Uint8Array, flags = 0): Uint8Array {
  const out = new Uint8Array(5 + message.byteLength);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, message.byteLength);
  out.set(message, 5);
  return out;
}

const request = (service: string) =>
  toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service }));

describe("the gRPC unary path", () => {
  it("serves a gRPC unary call: one envelope in, one out, status 0 in the trailers", async () => {
    seen = [];
    behaviour = async () => ({ status: 1 });
    const reply = await both({ authorization: "Bearer t" }, envelope(request("svc")));
    expect(reply.status).toBe(200);
    expect(reply.headers["content-type"]).toBe("application/grpc+proto");
    expect(reply.trailers["grpc-status"]).toBe("0");
    expect(reply.body.subarray(0, 5)).toEqual(Buffer.from([0, 0, 0, 0, 2]));
    expect(fromBinary(HealthCheckResponseSchema, reply.body.subarray(5)).status).toBe(1);
    expect(seen.map(({ service, caller, ctx }) => [service, caller, ctx.protocolName])).toEqual([
      ["svc", "Bearer t", "grpc"],
      ["svc", "Bearer t", "grpc"],
    ]);
    expect(observed.slice(-2)).toEqual([undefined, undefined]);
  });

  it("takes `application/grpc` and identity encoding, and adds the CORS headers", async () => {
    const reply = await exchange(
      fastSession,
      { "content-type": "application/grpc", "grpc-encoding": "identity", origin: "https://ok" },
      envelope(request("x")),
    );
    expect(reply.status).toBe(200);
    expect(reply.headers["access-control-allow-origin"]).toBe("https://ok");
    expect(reply.trailers["grpc-status"]).toBe("0");
  });

  it("leaves gRPC calls it does not serve to the library: JSON, gRPC-Web text, compression, bad timeouts, GET", async () => {
    seen = [];
    const cases: Record<string, string>[] = [
      { "content-type": "application/grpc+json" },
      { "content-type": "application/grpc-web-text" },
      { "grpc-encoding": "gzip" },
      { "grpc-timeout": "soon" },
      { ":method": "GET" },
    ];
    for (const headers of cases) {
      expect((await exchange(fastSession, headers, envelope(request("x")))).status).toBe(599);
    }
    expect(seen).toEqual([]);
  });

  it("answers a ConnectError with its code, message and metadata in the trailers", async () => {
    behaviour = async () => {
      throw new ConnectError("no such thing: 100% gone", Code.NotFound, { "x-why": "because" });
    };
    const reply = await both({}, envelope(request("x")));
    expect(reply.status).toBe(200);
    expect(reply.body.byteLength).toBe(0);
    expect(reply.trailers).toMatchObject({
      "grpc-status": "5",
      "grpc-message": "no%20such%20thing%3A%20100%25%20gone",
      "x-why": "because",
    });
    expect(observed.slice(-2)).toEqual([Code.NotFound, Code.NotFound]);
  });

  it("sends an error's details in grpc-status-details-bin", async () => {
    behaviour = async () => {
      const error = new ConnectError("bad", Code.InvalidArgument);
      error.details.push({ desc: HealthCheckRequestSchema, value: { service: "why" } });
      throw error;
    };
    const reply = await both({}, envelope(request("x")));
    expect(reply.trailers["grpc-status"]).toBe("3");
    expect(reply.trailers["grpc-status-details-bin"]).toMatch(/^[A-Za-z0-9+/]+$/);
  });

  it("sends the headers and trailers the implementation sets", async () => {
    behaviour = async (ctx) => {
      ctx.responseHeader.set("x-answer", "42");
      ctx.responseTrailer.set("x-late", "yes");
      return { status: 1 };
    };
    const reply = await both({}, envelope(request("x")));
    expect(reply.headers["x-answer"]).toBe("42");
    expect(reply.trailers).toMatchObject({ "grpc-status": "0", "x-late": "yes" });
  });

  it("answers any other error as INTERNAL without its message, and logs nothing itself", async () => {
    behaviour = async () => {
      throw new Error("secret detail");
    };
    logged.length = 0;
    const reply = await both({}, envelope(request("x")));
    expect(reply.trailers).toMatchObject({
      "grpc-status": "13",
      "grpc-message": "internal%20error",
    });
    expect(logged).toEqual([]);
  });

  it("answers bodies that are not one envelope as the library does, without calling the implementation", async () => {
    seen = [];
    behaviour = async () => ({ status: 1 });
    const one = envelope(request("x"));
    const cases: [Uint8Array, string, string][] = [
      [new Uint8Array(0), "12", "missing input message"],
      [Buffer.concat([one, one]), "12", "received extra input message"],
      [one.subarray(0, one.byteLength - 1), "3", "incomplete envelope"],
      [envelope(request("x".repeat(2000))), "8", "larger than configured readMaxBytes 1024"],
      [envelope(request("x"), 1), "13", "do not know how to decompress"],
    ];
    for (const [body, status, message] of cases) {
      const reply = await both({}, body);
      expect(reply.trailers["grpc-status"]).toBe(status);
      expect(decodeURIComponent(String(reply.trailers["grpc-message"]))).toContain(message);
    }
    expect(seen).toEqual([]);
  });

  it("answers INVALID_ARGUMENT naming the message when the body is not protobuf", async () => {
    // The library says INTERNAL here; routes.ts rewrites its answer to this one.
    const reply = await exchange(fastSession, {}, envelope(new Uint8Array([0x0a, 0x05, 0x61])));
    expect(reply.trailers["grpc-status"]).toBe("3");
    expect(decodeURIComponent(String(reply.trailers["grpc-message"]))).toMatch(
      /^The request body is not a valid grpc\.health\.v1\.HealthCheckRequest \(.+\); send a serialized grpc\.health\.v1\.HealthCheckRequest\.$/,
    );
  });

  it("gives the call its deadline: the time left, and DEADLINE_EXCEEDED on the signal when it passes", async () => {
    seen = [];
    behaviour = (ctx) =>
      new Promise((_, reject) => {
        ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason));
      });
    const reply = await both({ "grpc-timeout": "50m" }, envelope(request("x")));
    expect(reply.trailers).toMatchObject({
      "grpc-status": "4",
      "grpc-message": "the%20operation%20timed%20out",
    });
    const left = seen[0]?.ctx.timeoutMs();
    expect(left).toBeLessThanOrEqual(0);
    expect(left).toBeGreaterThan(-10_000);
  });

  it("has no deadline without grpc-timeout", async () => {
    seen = [];
    behaviour = async () => ({ status: 1 });
    await exchange(fastSession, {}, envelope(request("x")));
    expect(seen[0]?.ctx.timeoutMs()).toBeUndefined();
    expect(seen[0]?.ctx.signal.aborted).toBe(false);
  });

  it("aborts the call's signal with CANCELED when the client resets the stream", async () => {
    seen = [];
    behaviour = (ctx) =>
      new Promise((resolve) => {
        ctx.signal.addEventListener("abort", () => resolve({ status: 1 }));
      });
    const stream = fastSession.request({
      ":method": "POST",
      ":path": "/grpc.health.v1.Health/Check",
      "content-type": "application/grpc",
    });
    stream.on("error", () => {});
    stream.end(envelope(request("slow")));
    await expect.poll(() => seen.length).toBe(1);
    stream.close(http2.constants.NGHTTP2_CANCEL);
    const signal = seen[0]?.ctx.signal;
    await expect.poll(() => signal?.aborted).toBe(true);
    expect(ConnectError.from(signal?.reason).code).toBe(Code.Canceled);
  });
});

describe("the gRPC-Web unary path", () => {
  const web = { "content-type": "application/grpc-web+proto" };

  it("answers with the message and a trailer frame in the body, as the library does", async () => {
    seen = [];
    behaviour = async () => ({ status: 1 });
    const reply = await both(web, envelope(request("w")));
    expect(reply.headers["content-type"]).toBe("application/grpc-web+proto");
    expect(reply.trailers).toEqual({});
    const trailer = reply.body.subarray(7);
    expect(trailer[0]).toBe(0x80);
    expect(trailer.subarray(5).toString()).toBe("grpc-status: 0\r\n");
    expect(seen.map(({ ctx }) => ctx.protocolName)).toEqual(["grpc-web", "grpc-web"]);
  });

  it("puts an error's status, message and metadata in the trailer frame", async () => {
    behaviour = async (ctx) => {
      ctx.responseTrailer.set("x-late", "yes");
      throw new ConnectError("no such thing", Code.NotFound, { "x-why": "because" });
    };
    const reply = await both(web, envelope(request("x")));
    expect(reply.body[0]).toBe(0x80);
    expect(reply.body.subarray(5).toString()).toBe(
      "grpc-message: no%20such%20thing\r\ngrpc-status: 5\r\nx-late: yes\r\nx-why: because\r\n",
    );
  });

  it("skips an envelope with the end flag and answers a bad body as the library does", async () => {
    seen = [];
    const cases: [Uint8Array, string][] = [
      [envelope(request("x"), 0x80), "grpc-status: 12"],
      [new Uint8Array([0, 0, 0]), "grpc-status: 3"],
    ];
    for (const [body, status] of cases) {
      const reply = await both(web, body);
      expect(reply.body[0]).toBe(0x80);
      expect(reply.body.subarray(5).toString()).toContain(`${status}\r\n`);
    }
    expect(seen).toEqual([]);
  });

  it("serves gRPC-Web over HTTP/1.1, and leaves gRPC over HTTP/1.1 to the library", async () => {
    behaviour = async () => ({ status: 1 });
    const h1 = http.createServer((req, res) => {
      if (fast.serveH1(req, res)) return;
      res.writeHead(599);
      res.end();
    });
    await new Promise<void>((resolve) => h1.listen(0, "127.0.0.1", resolve));
    try {
      const url = `http://127.0.0.1:${(h1.address() as AddressInfo).port}/grpc.health.v1.Health/Check`;
      const post = (contentType: string) =>
        fetch(url, {
          method: "POST",
          headers: { "content-type": contentType },
          body: Buffer.from(envelope(request("h1"))),
        });
      const answer = await post("application/grpc-web+proto");
      expect(answer.status).toBe(200);
      expect(answer.headers.get("content-type")).toBe("application/grpc-web+proto");
      const h2 = await exchange(librarySession, web, envelope(request("h1")));
      expect(Buffer.from(await answer.arrayBuffer())).toEqual(h2.body);
      expect((await post("application/grpc+proto")).status).toBe(599);
    } finally {
      await new Promise<void>((resolve) => h1.close(() => resolve()));
    }
  });
});

// Last: the shutdown cannot be undone.
describe("the gRPC unary path at shutdown", () => {
  it("aborts the signal of calls in flight and of calls after it with the shutdown's reason", async () => {
    seen = [];
    behaviour = (ctx) =>
      new Promise((resolve) => {
        if (ctx.signal.aborted) resolve({ status: 2 });
        else ctx.signal.addEventListener("abort", () => resolve({ status: 2 }));
      });
    const inFlight = exchange(fastSession, {}, envelope(request("slow")));
    await expect.poll(() => seen.length).toBe(1);
    const reason = new ConnectError("the server is shutting down", Code.Unavailable);
    shutdown.abort(reason);
    const answer = await inFlight;
    expect(answer.trailers["grpc-status"]).toBe("0");
    expect(fromBinary(HealthCheckResponseSchema, answer.body.subarray(5)).status).toBe(2);
    expect(seen[0]?.ctx.signal.reason).toBe(reason);

    await exchange(fastSession, {}, envelope(request("late")));
    expect(seen[1]?.ctx.signal.reason).toBe(reason);
  });
});
