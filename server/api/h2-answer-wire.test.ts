/**
 * What the fast paths put on the wire for an HTTP/2 answer, frame by frame: a Connect
 * unary answer and error, a gRPC answer and error, a gRPC-Web answer. A proxy between a
 * real HTTP/2 client and the server records every byte the server sends; each call
 * runs on its own connection. The stream's frames (type, flags, DATA bytes) and the
 * headers and trailers the client decodes (but the date) must be exactly these: how the
 * answer is written (`h2-answer.ts`) may change what the server builds in memory, never
 * a byte it sends.
 */

import * as http2 from "node:http2";
import * as net from "node:net";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextValues } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Health,
  HealthCheckRequestSchema,
  HealthCheckResponseSchema,
} from "../../generated/grpc/health/v1/health_pb.js";
import { createUnaryFastPath } from "./unary-fast-path.ts";

const check = Health.methods.find((m) => m.name === "Check");
if (check === undefined) throw new Error("grpc.health.v1.Health lacks Check");

let fail = false;
const fast = createUnaryFastPath({
  methods: new Map([
    [
      "/grpc.health.v1.Health/Check",
      {
        service: Health,
        method: check,
        impl: async () => {
          if (fail) throw new ConnectError("no such service", Code.NotFound);
          return { status: 1 };
        },
      },
    ],
  ]),
  readMaxBytes: 1024,
  contextValues: () => createContextValues(),
  extraHeaders: () => ({}),
  interceptors: [],
  shutdownSignal: new AbortController().signal,
  logError: () => {},
});

let server: http2.Http2Server;
let proxy: net.Server;
/** What the server sent on each proxied connection, in order. */
const sent: Buffer[][] = [];

beforeAll(async () => {
  server = http2.createServer();
  server.on("stream", (stream, headers) => {
    if (!fast.serveH2(stream, headers)) {
      stream.respond({ ":status": 599 });
      stream.end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as net.AddressInfo).port;
  proxy = net.createServer((client) => {
    const chunks: Buffer[] = [];
    sent.push(chunks);
    const upstream = net.connect(port, "127.0.0.1");
    upstream.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      client.write(chunk);
    });
    client.pipe(upstream);
    upstream.on("close", () => client.destroy());
    client.on("close", () => upstream.destroy());
    upstream.on("error", () => {});
    client.on("error", () => {});
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
});

afterAll(async () => {
  await new Promise<void>((resolve) => proxy.close(() => resolve()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

/** One frame the server sent on the call's stream. */
interface Frame {
  readonly type: string;
  readonly flags: number;
  /** A DATA frame's bytes, in hex. */
  readonly data?: string;
}

const FRAME_TYPES = ["DATA", "HEADERS", "PRIORITY", "RST_STREAM", "SETTINGS", "PUSH_PROMISE"];
const END_STREAM = 0x1;
const END_HEADERS = 0x4;

/** The frames of stream 1 in what the server sent (the connection's own frames left out). */
function streamFrames(bytes: Buffer): Frame[] {
  const frames: Frame[] = [];
  for (let at = 0; at + 9 <= bytes.length; ) {
    const length = bytes.readUIntBE(at, 3);
    const type = bytes[at + 3] ?? 0;
    const flags = bytes[at + 4] ?? 0;
    const id = bytes.readUInt32BE(at + 5) & 0x7fffffff;
    const payload = bytes.subarray(at + 9, at + 9 + length);
    at += 9 + length;
    if (id !== 1) continue;
    const name = FRAME_TYPES[type] ?? `type ${type}`;
    frames.push(
      name === "DATA"
        ? { type: name, flags, data: payload.toString("hex") }
        : { type: name, flags },
    );
  }
  return frames;
}

/** What the client decoded, and the frames the server sent for it. */
interface Exchange {
  readonly headers: Record<string, unknown>;
  readonly trailers: Record<string, unknown>;
  readonly frames: Frame[];
}

/** One call on a fresh connection through the proxy; resolves once the connection closed. */
async function exchange(contentType: string, body: Uint8Array): Promise<Exchange> {
  const index = sent.length;
  const session = http2.connect(`http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`);
  const answer = await new Promise<Omit<Exchange, "frames">>((resolve, reject) => {
    const stream = session.request({
      ":method": "POST",
      ":path": "/grpc.health.v1.Health/Check",
      "content-type": contentType,
      te: "trailers",
    });
    let headers: Record<string, unknown> = {};
    let trailers: Record<string, unknown> = {};
    stream.on("response", ({ date: _, ...rest }) => {
      headers = Object.fromEntries(Object.entries(rest));
    });
    stream.on("trailers", (t) => {
      trailers = Object.fromEntries(Object.entries(t));
    });
    stream.resume();
    stream.on("end", () => resolve({ headers, trailers }));
    stream.on("error", reject);
    stream.end(body);
  });
  await new Promise<void>((resolve) => session.close(resolve));
  await new Promise((resolve) => setTimeout(resolve, 20));
  return { ...answer, frames: streamFrames(Buffer.concat(sent[index] ?? [])) };
}

const request = toBinary(
  HealthCheckRequestSchema,
  create(HealthCheckRequestSchema, { service: "x" }),
);
const response = toBinary(
  HealthCheckResponseSchema,
  create(HealthCheckResponseSchema, { status: 1 }),
);
const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
/** `message` in a gRPC envelope. */
const envelope = (message: Uint8Array, flags = 0) =>
  Buffer.concat([Buffer.from([flags, 0, 0, 0, message.byteLength]), message]);

describe("an HTTP/2 answer on the wire", () => {
  it("Connect unary: HEADERS, then the body in one DATA frame that ends the stream", async () => {
    fail = false;
    expect(await exchange("application/proto", request)).toEqual({
      headers: {
        ":status": 200,
        "content-type": "application/proto",
        "content-length": String(response.byteLength),
      },
      trailers: {},
      frames: [
        { type: "HEADERS", flags: END_HEADERS },
        { type: "DATA", flags: END_STREAM, data: hex(response) },
      ],
    });
  });

  it("Connect error: the JSON error in one DATA frame that ends the stream", async () => {
    fail = true;
    const error = JSON.stringify({ code: "not_found", message: "no such service" });
    expect(await exchange("application/proto", request)).toEqual({
      headers: {
        ":status": 404,
        "content-type": "application/json",
        "content-length": String(error.length),
      },
      trailers: {},
      frames: [
        { type: "HEADERS", flags: END_HEADERS },
        { type: "DATA", flags: END_STREAM, data: Buffer.from(error).toString("hex") },
      ],
    });
  });

  it("gRPC unary: HEADERS, the envelope, then the trailers end the stream", async () => {
    fail = false;
    expect(await exchange("application/grpc", envelope(request))).toEqual({
      headers: { ":status": 200, "content-type": "application/grpc+proto" },
      trailers: { "grpc-status": "0" },
      frames: [
        { type: "HEADERS", flags: END_HEADERS },
        { type: "DATA", flags: 0, data: hex(envelope(response)) },
        { type: "HEADERS", flags: END_HEADERS | END_STREAM },
      ],
    });
  });

  it("gRPC error: HEADERS, no message, the status in the trailers", async () => {
    fail = true;
    expect(await exchange("application/grpc", envelope(request))).toEqual({
      headers: { ":status": 200, "content-type": "application/grpc+proto" },
      trailers: { "grpc-status": "5", "grpc-message": "no%20such%20service" },
      frames: [
        { type: "HEADERS", flags: END_HEADERS },
        { type: "HEADERS", flags: END_HEADERS | END_STREAM },
      ],
    });
  });

  it("gRPC-Web: the envelope and the trailer frame in one DATA frame that ends the stream", async () => {
    fail = false;
    const trailer = Buffer.from("grpc-status: 0\r\n");
    expect(await exchange("application/grpc-web+proto", envelope(request))).toEqual({
      headers: { ":status": 200, "content-type": "application/grpc-web+proto" },
      trailers: {},
      frames: [
        { type: "HEADERS", flags: END_HEADERS },
        {
          type: "DATA",
          flags: END_STREAM,
          data: hex(Buffer.concat([envelope(response), envelope(trailer, 0x80)])),
        },
      ],
    });
  });
});
