/**
 * Connection hygiene of `listenApi` on real sockets: stalled and idle connections are
 * closed by their deadlines, and connections past the cap are refused in their own
 * protocol with a message saying why.
 */

import { readdirSync } from "node:fs";
import type * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiListener, listenApi } from "./listen.ts";

const PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
const GOAWAY = 0x7;

const answer = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => {
  res.setHeader("content-type", "text/plain");
  res.end(`${req.httpVersion} ${req.url}`);
};

/** Opens a raw TCP connection, optionally writes `bytes`, and resolves with all it received once closed. */
function rawConnection(port: number, bytes?: Buffer): Promise<{ received: Buffer; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () =>
      resolve({ received: Buffer.concat(chunks), ms: performance.now() - started }),
    );
    if (bytes) socket.write(bytes);
  });
}

/** The HTTP/2 frames in `bytes`: type and payload. */
function frames(bytes: Buffer): { type: number; payload: Buffer }[] {
  const out: { type: number; payload: Buffer }[] = [];
  let at = 0;
  while (at + 9 <= bytes.length) {
    const length = bytes.readUIntBE(at, 3);
    out.push({ type: bytes[at + 3]!, payload: bytes.subarray(at + 9, at + 9 + length) });
    at += 9 + length;
  }
  return out;
}

/** Open file descriptors of this process. */
const openFds = () => readdirSync("/proc/self/fd").length;

describe("connection deadlines", () => {
  let listener: ApiListener;
  beforeAll(async () => {
    listener = await listenApi(answer, {
      host: "127.0.0.1",
      port: 0,
      sniffTimeoutMs: 300,
      settingsTimeoutMs: 300,
      idleTimeoutMs: 400,
    });
  });
  afterAll(() => listener.close(1_000));

  it("closes 200 connections that never send a byte once the sniff deadline passes", async () => {
    const before = openFds();
    const results = await Promise.all(
      Array.from({ length: 200 }, () => rawConnection(listener.port)),
    );
    for (const r of results) {
      expect(r.received.length).toBe(0);
      expect(r.ms).toBeGreaterThanOrEqual(250);
    }
    // Every descriptor, client and server side, is released again.
    expect(openFds()).toBeLessThanOrEqual(before);
  });

  it("closes a connection that sends only part of the HTTP/2 preface", async () => {
    const r = await rawConnection(listener.port, PREFACE.subarray(0, 10));
    expect(r.received.length).toBe(0);
    expect(r.ms).toBeGreaterThanOrEqual(250);
  });

  it("answers a preface without SETTINGS with GOAWAY SETTINGS_TIMEOUT and closes", async () => {
    const r = await rawConnection(listener.port, PREFACE);
    const goaway = frames(r.received).find((f) => f.type === GOAWAY);
    expect(goaway?.payload.readUInt32BE(4)).toBe(http2.constants.NGHTTP2_SETTINGS_TIMEOUT);
    expect(r.ms).toBeGreaterThanOrEqual(250);
  });

  it("closes an HTTP/2 session with no open stream after the idle timeout, with GOAWAY NO_ERROR", async () => {
    const session = http2.connect(`http://127.0.0.1:${listener.port}`);
    const goaway = new Promise<number>((resolve) =>
      session.once("goaway", (code) => resolve(code)),
    );
    const closed = new Promise<void>((resolve) => session.once("close", () => resolve()));
    const body = await new Promise<string>((resolve, reject) => {
      const stream = session.request({ ":path": "/idle" });
      let text = "";
      stream.on("data", (c) => {
        text += c;
      });
      stream.on("end", () => resolve(text));
      stream.on("error", reject);
    });
    expect(body).toBe("2.0 /idle");
    const started = performance.now();
    expect(await goaway).toBe(http2.constants.NGHTTP2_NO_ERROR);
    await closed;
    expect(performance.now() - started).toBeGreaterThanOrEqual(300);
  });

  it("keeps an HTTP/2 session while a stream is open past the idle timeout, and closes it an idle timeout after", async () => {
    // Answers 700 ms late: the stream is open past the 400 ms idle timeout.
    const slow = await listenApi(
      (_req, res) => {
        setTimeout(() => res.end("late"), 700);
      },
      { host: "127.0.0.1", port: 0, idleTimeoutMs: 400 },
    );
    try {
      const session = http2.connect(`http://127.0.0.1:${slow.port}`);
      let goawayAt: number | undefined;
      const goaway = new Promise<number>((resolve) =>
        session.once("goaway", (code) => {
          goawayAt = performance.now();
          resolve(code);
        }),
      );
      const stream = session.request({ ":path": "/slow" });
      const body = await new Promise<string>((resolve, reject) => {
        let text = "";
        stream.on("data", (c) => {
          text += c;
        });
        stream.on("end", () => resolve(text));
        stream.on("error", reject);
      });
      expect(body).toBe("late");
      expect(goawayAt).toBeUndefined();
      const answered = performance.now();
      expect(await goaway).toBe(http2.constants.NGHTTP2_NO_ERROR);
      expect((goawayAt ?? 0) - answered).toBeGreaterThanOrEqual(300);
      session.close();
    } finally {
      await slow.close(1_000);
    }
  });

  it("closes an idle HTTP/1.1 keep-alive connection after the idle timeout", async () => {
    const r = await rawConnection(
      listener.port,
      Buffer.from("GET /keep HTTP/1.1\r\nhost: x\r\n\r\n"),
    );
    expect(r.received.toString()).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n1\.1 \/keep$/);
    expect(r.ms).toBeGreaterThanOrEqual(350);
  });
});

describe("connection cap", () => {
  let listener: ApiListener;
  const message =
    "The server has 2 connections open, its limit; retry later, or reuse a connection.";
  beforeAll(async () => {
    listener = await listenApi(answer, { host: "127.0.0.1", port: 0, maxConnections: 2 });
  });
  afterAll(() => listener.close(1_000));

  /** An HTTP/2 session that has answered one request (so it is open and counted). */
  async function openSession(): Promise<http2.ClientHttp2Session> {
    const session = http2.connect(`http://127.0.0.1:${listener.port}`);
    await new Promise<void>((resolve, reject) => {
      const stream = session.request({ ":path": "/held" });
      stream.on("data", () => {});
      stream.on("end", () => resolve());
      stream.on("error", reject);
    });
    return session;
  }

  it("refuses HTTP/1.1 and HTTP/2 past the cap, saying why, and serves again below it", async () => {
    const held = [await openSession(), await openSession()];

    const h1 = await rawConnection(
      listener.port,
      Buffer.from("GET /over HTTP/1.1\r\nhost: x\r\n\r\n"),
    );
    const text = h1.received.toString();
    expect(text).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(JSON.parse(text.slice(text.indexOf("\r\n\r\n") + 4))).toEqual({
      code: "unavailable",
      message,
    });

    const refused = http2.connect(`http://127.0.0.1:${listener.port}`);
    refused.on("error", () => {});
    const goaway = await new Promise<{ code: number; data: string }>((resolve) =>
      refused.once("goaway", (code, _last, data?: Buffer) =>
        resolve({ code, data: data?.toString() ?? "" }),
      ),
    );
    expect(goaway).toEqual({ code: http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, data: message });
    refused.destroy();

    const gone = held.shift()!;
    await new Promise<void>((resolve) => {
      gone.once("close", () => resolve());
      gone.close();
    });
    // The server sees the close a moment after the client.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const again = await openSession();
    again.close();
    for (const s of held) s.close();
  });
});
