/**
 * How `/metrics` counts a unary call whose request body fails (cut short, over the size
 * limit, reset by its client, not a message): once, under the code its client got, as
 * every other call is. The body is read before the interceptors run, and such calls were
 * not counted at all. Every path that reads a body: the Connect fast path and the gRPC
 * path (HTTP/1.1 and HTTP/2), and the library's (a JSON body), with and without a serving
 * thread (which reads an HTTP/2 call's body itself).
 */

import * as http from "node:http";
import * as http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metricValue } from "./e2e-helpers.ts";
import { removeDataDir, type ServerProcess, startServerProcess } from "./server-process.ts";

const PATH = "/entdb.v1.EntDbService/ExecutePlan";
const SERIES = (code: string) =>
  `entdb_requests_total{method="entdb.v1.EntDbService/ExecutePlan",code="${code}"}`;
/** Past the server's request size limit (8 MiB). */
const TOO_LONG = String(9 * 1024 * 1024);
/** Not a protobuf message: a field with wire type 7, which does not exist. */
const NOT_A_MESSAGE = Buffer.from([0x0f, 0xff, 0xff]);

/** Every ExecutePlan call counted, whatever its code. */
async function executePlanCalls(server: ServerProcess): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`entdb_requests_total{method="entdb.v1.EntDbService/ExecutePlan",`))
      total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

/** A 5-byte gRPC envelope header announcing `length` bytes of message. */
function envelopeHead(length: number): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(length, 1);
  return head;
}

/** Sends an HTTP/1.1 request; `leave` ends it (writes the rest, or goes away). Resolves when it closed. */
function h1(
  server: ServerProcess,
  headers: Record<string, string>,
  leave: (req: http.ClientRequest) => void,
): Promise<void> {
  return new Promise<void>((resolve) => {
    const req = http.request(`${server.url}${PATH}`, { method: "POST", headers, agent: false });
    req.on("error", () => resolve());
    req.on("response", (res) => {
      res.resume();
      res.on("end", () => {
        req.destroy();
        resolve();
      });
    });
    req.on("close", () => resolve());
    leave(req);
  });
}

/** Sends an HTTP/2 request on a session of its own; `leave` ends it. Resolves when it closed. */
async function h2(
  server: ServerProcess,
  headers: Record<string, string>,
  leave: (stream: http2.ClientHttp2Stream, reset: AbortController) => void,
): Promise<void> {
  const session = http2.connect(server.url);
  session.on("error", () => {});
  try {
    await new Promise<void>((resolve) => {
      const reset = new AbortController();
      const stream = session.request(
        { ":method": "POST", ":path": PATH, ...headers },
        { signal: reset.signal },
      );
      stream.on("error", () => {});
      stream.on("close", () => resolve());
      stream.resume();
      leave(stream, reset);
    });
  } finally {
    session.destroy();
  }
}

for (const threads of [0, 1]) {
  describe(`a unary call whose request body fails (--serve-threads ${threads})`, () => {
    let server: ServerProcess;

    beforeAll(async () => {
      server = await startServerProcess({ args: ["--serve-threads", String(threads)] });
    }, 60_000);

    afterAll(async () => {
      expect(await server.stop(), server.logs()).toBe(0);
      removeDataDir(server.dataDir);
    });

    /** Runs `send` and checks it is counted once, under `code`, and nothing else is. */
    async function expectCounted(code: string, send: () => Promise<void>) {
      const before = { code: await metricValue(server, SERIES(code)), all: await calls() };
      await send();
      const since = Date.now();
      while ((await calls()) === before.all && Date.now() - since < 5_000)
        await new Promise((resolve) => setTimeout(resolve, 50));
      // Time for a second count, if the call were counted twice.
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(await metricValue(server, SERIES(code))).toBe(before.code + 1);
      expect(await calls()).toBe(before.all + 1);
      expect(server.logs()).not.toContain('"level":"error"');
    }
    const calls = () => executePlanCalls(server);

    const proto = { "content-type": "application/proto", "connect-protocol-version": "1" };
    const json = { "content-type": "application/json", "connect-protocol-version": "1" };
    const grpc = { "content-type": "application/grpc+proto", te: "trailers" };
    const grpcWeb = { "content-type": "application/grpc-web+proto" };

    describe("the Connect fast path", () => {
      it("counts an HTTP/1.1 body over the size limit as resource_exhausted", async () => {
        await expectCounted("resource_exhausted", () =>
          h1(server, { ...proto, "content-length": TOO_LONG }, (req) => req.write("x")),
        );
      });

      it("counts an HTTP/1.1 body whose client went away mid-body as canceled", async () => {
        await expectCounted("canceled", () =>
          h1(server, { ...proto, "content-length": "100" }, (req) => {
            req.write(Buffer.alloc(10));
            setTimeout(() => req.destroy(), 300);
          }),
        );
      });

      it("counts an HTTP/1.1 body that is not a message as invalid_argument", async () => {
        await expectCounted("invalid_argument", () =>
          h1(server, proto, (req) => req.end(NOT_A_MESSAGE)),
        );
      });

      it("counts an HTTP/2 body over the size limit as resource_exhausted", async () => {
        await expectCounted("resource_exhausted", () =>
          h2(server, { ...proto, "content-length": TOO_LONG }, (stream) => stream.write("x")),
        );
      });

      it("counts an HTTP/2 body whose client reset the stream mid-body as canceled", async () => {
        await expectCounted("canceled", () =>
          h2(server, proto, (stream, reset) => {
            stream.write(Buffer.alloc(10));
            setTimeout(() => reset.abort(), 300);
          }),
        );
      });

      it("counts an HTTP/2 body that is not a message as invalid_argument", async () => {
        await expectCounted("invalid_argument", () =>
          h2(server, proto, (stream) => stream.end(NOT_A_MESSAGE)),
        );
      });
    });

    describe("the gRPC path", () => {
      it("counts an envelope over the size limit as resource_exhausted", async () => {
        await expectCounted("resource_exhausted", () =>
          h2(server, grpc, (stream) => stream.write(envelopeHead(9 * 1024 * 1024))),
        );
      });

      it("counts a body that ends mid-envelope as invalid_argument", async () => {
        await expectCounted("invalid_argument", () =>
          h2(server, grpc, (stream) =>
            stream.end(Buffer.concat([envelopeHead(10), NOT_A_MESSAGE])),
          ),
        );
      });

      it("counts a stream its client reset mid-body as canceled", async () => {
        await expectCounted("canceled", () =>
          h2(server, grpc, (stream, reset) => {
            stream.write(envelopeHead(10));
            setTimeout(() => reset.abort(), 300);
          }),
        );
      });

      it("counts an HTTP/1.1 gRPC-Web body that ends mid-envelope as invalid_argument", async () => {
        await expectCounted("invalid_argument", () =>
          h1(server, grpcWeb, (req) => req.end(Buffer.concat([envelopeHead(10), NOT_A_MESSAGE]))),
        );
      });
    });

    if (threads > 0)
      it("counts a call whose body a serving thread read and refused", async () => {
        // Each HTTP/2 session lands on a thread at random (SO_REUSEPORT): sessions are
        // opened until one reached the serving thread. The server makes no other call
        // here, so what the thread counted is these calls.
        const onThread = () => metricValue(server, `entdb_thread_requests_total{thread="1"}`);
        for (let i = 0; i < 40 && (await onThread()) === 0; i++)
          await h2(server, proto, (stream) => stream.end(NOT_A_MESSAGE));
        expect(await onThread()).toBeGreaterThan(0);
      });

    describe("the library's path", () => {
      it("counts an HTTP/1.1 JSON body that is not JSON as invalid_argument", async () => {
        await expectCounted("invalid_argument", () => h1(server, json, (req) => req.end("{")));
      });

      it("counts an HTTP/1.1 JSON body over the size limit as resource_exhausted", async () => {
        await expectCounted("resource_exhausted", () =>
          h1(server, { ...json, "content-length": TOO_LONG }, (req) => req.write("{")),
        );
      });

      it("counts an HTTP/2 JSON body that is not JSON as invalid_argument", async () => {
        await expectCounted("invalid_argument", () =>
          h2(server, json, (stream) => stream.end("{")),
        );
      });

      it("counts an HTTP/2 JSON body whose client reset the stream mid-body as canceled", async () => {
        await expectCounted("canceled", () =>
          h2(server, json, (stream, reset) => {
            stream.write("{");
            setTimeout(() => reset.abort(), 300);
          }),
        );
      });
    });
  });
}
