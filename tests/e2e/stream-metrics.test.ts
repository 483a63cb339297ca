/**
 * How `/metrics` counts a server-streaming call (`Subscribe`) whose client hangs up: as
 * `canceled`, as a unary call whose client left is, when its stream ends, over HTTP/1.1
 * and HTTP/2, Connect and gRPC, mid-stream or before its request was read. Before, a
 * stream was counted `ok` when it started, whatever its end, and one whose client left
 * before its request was read was counted `unknown`. With and without a serving thread
 * (which replays streams on the main thread).
 */

import * as http from "node:http";
import * as http2 from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { entDbClient, metricValue, teamPlan } from "./e2e-helpers.ts";
import { removeDataDir, type ServerProcess, startServerProcess } from "./server-process.ts";

const TENANT = "stream-metrics";
const SERIES = (code: string) =>
  `entdb_requests_total{method="entdb.v1.EntDbService/Subscribe",code="${code}"}`;

/** A Subscribe request from the tenant's start, in one envelope (Connect JSON or gRPC proto). */
function subscribeBody(grpc: boolean): Buffer {
  // SubscribeRequest { tenant = 1; from_start = 4 } in protobuf, or its Connect JSON.
  const message = grpc
    ? Buffer.concat([
        Buffer.from([0x0a, TENANT.length]),
        Buffer.from(TENANT),
        Buffer.from([0x20, 0x01]),
      ])
    : Buffer.from(JSON.stringify({ tenant: TENANT, fromStart: true }));
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

for (const threads of [0, 1]) {
  describe(`a Subscribe whose client hangs up (--serve-threads ${threads})`, () => {
    let server: ServerProcess;

    beforeAll(async () => {
      server = await startServerProcess({
        args: ["--serve-threads", String(threads), "--log-level", "debug"],
      });
      await entDbClient(server).executePlan(teamPlan(TENANT, "one"));
    }, 60_000);

    afterAll(async () => {
      expect(await server.stop(), server.logs()).toBe(0);
      removeDataDir(server.dataDir);
    });

    const metric = (series: string) => metricValue(server, series);

    /** Runs `hangUp` and checks it is counted one `canceled`, and nothing else. */
    async function expectCanceled(hangUp: () => Promise<void>) {
      const before = {
        canceled: await metric(SERIES("canceled")),
        ok: await metric(SERIES("ok")),
        unknown: await metric(SERIES("unknown")),
      };
      await hangUp();
      const since = Date.now();
      while ((await metric(SERIES("canceled"))) === before.canceled && Date.now() - since < 5_000)
        await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await metric(SERIES("canceled"))).toBe(before.canceled + 1);
      expect(await metric(SERIES("ok"))).toBe(before.ok);
      expect(await metric(SERIES("unknown"))).toBe(before.unknown);
      expect(server.logs()).not.toContain('"level":"error"');
    }

    it("counts an HTTP/1.1 Connect stream left mid-stream as canceled", async () => {
      await expectCanceled(
        () =>
          new Promise<void>((resolve) => {
            const req = http.request(`${server.url}/entdb.v1.EntDbService/Subscribe`, {
              method: "POST",
              headers: { "content-type": "application/connect+json" },
              agent: false,
            });
            req.on("error", () => resolve());
            // The first message arrived: the stream runs; then the client goes away.
            req.on("response", (res) =>
              res.once("data", () => setTimeout(() => req.destroy(), 100)),
            );
            req.on("close", () => resolve());
            req.end(subscribeBody(false));
          }),
      );
    });

    it("counts an HTTP/1.1 Connect stream left before its request was read as canceled", async () => {
      await expectCanceled(
        () =>
          new Promise<void>((resolve) => {
            const req = http.request(`${server.url}/entdb.v1.EntDbService/Subscribe`, {
              method: "POST",
              headers: { "content-type": "application/connect+json", "content-length": "200" },
              agent: false,
            });
            req.on("error", () => resolve());
            req.on("close", () => resolve());
            req.write(subscribeBody(false).subarray(0, 8));
            setTimeout(() => req.destroy(), 300);
          }),
      );
    });

    it("ends a health Watch at its grpc-timeout, counted deadline_exceeded", async () => {
      const series = `entdb_requests_total{method="grpc.health.v1.Health/Watch",code="deadline_exceeded"}`;
      const before = await metric(series);
      const session = http2.connect(server.url);
      try {
        const started = Date.now();
        const status = await new Promise<string>((resolve, reject) => {
          const stream = session.request({
            ":method": "POST",
            ":path": "/grpc.health.v1.Health/Watch",
            "content-type": "application/grpc+proto",
            te: "trailers",
            "grpc-timeout": "100m",
          });
          let code = "";
          stream.on("trailers", (t) => {
            code = String(t["grpc-status"] ?? "");
          });
          stream.resume();
          stream.on("end", () => resolve(code));
          stream.on("error", reject);
          // HealthCheckRequest { service = "" }: an empty message.
          stream.end(Buffer.alloc(5));
        });
        expect(status).toBe("4");
        // Not the watch's own 1 s pause between polls of the status.
        expect(Date.now() - started).toBeLessThan(800);
      } finally {
        session.close();
      }
      const since = Date.now();
      while ((await metric(series)) === before && Date.now() - since < 5_000)
        await new Promise((resolve) => setTimeout(resolve, 50));
      expect(await metric(series)).toBe(before + 1);
    });

    for (const grpc of [false, true]) {
      const kind = grpc ? "gRPC" : "Connect";
      const headers = {
        ":method": "POST",
        ":path": "/entdb.v1.EntDbService/Subscribe",
        "content-type": grpc ? "application/grpc+proto" : "application/connect+json",
        ...(grpc ? { te: "trailers" } : {}),
      };

      it(`counts an HTTP/2 ${kind} stream left mid-stream as canceled`, async () => {
        await expectCanceled(async () => {
          const session = http2.connect(server.url);
          session.on("error", () => {});
          await new Promise<void>((resolve) => {
            const stream = session.request(headers);
            stream.on("error", () => {});
            stream.once("data", () => setTimeout(resolve, 100));
            stream.end(subscribeBody(grpc));
          });
          session.destroy();
        });
      });

      /** Sends the first bytes of the request, then `leave`s once the call has started. */
      const partialRequest = async (
        leave: (stream: http2.ClientHttp2Stream, reset: AbortController) => void,
      ) => {
        const session = http2.connect(server.url);
        session.on("error", () => {});
        try {
          await new Promise<void>((resolve) => {
            const reset = new AbortController();
            const stream = session.request(headers, { signal: reset.signal });
            stream.on("error", () => {});
            stream.on("close", () => resolve());
            stream.resume();
            stream.write(subscribeBody(grpc).subarray(0, 8));
            // Time for the call to start (on the main thread, when a serving thread hands it on).
            setTimeout(() => leave(stream, reset), 300);
          });
        } finally {
          session.destroy();
        }
      };

      it(`counts an HTTP/2 ${kind} stream left before its request was read as canceled`, async () => {
        await expectCanceled(() => partialRequest((stream) => stream.session?.destroy()));
      });

      // A reset that comes before the body's end (an AbortSignal: RST_STREAM CANCEL alone),
      // and one that comes just after it (`close(NGHTTP2_CANCEL)` once the bytes were sent:
      // END_STREAM, then RST_STREAM CANCEL). Either way the body reads as cut short.
      for (const [how, leave] of [
        ["aborted", (_s: http2.ClientHttp2Stream, reset: AbortController) => reset.abort()],
        ["closed", (s: http2.ClientHttp2Stream) => s.close(http2.constants.NGHTTP2_CANCEL)],
      ] as const)
        it(`counts an HTTP/2 ${kind} stream reset (CANCEL, ${how}) before its request was read as canceled`, async () => {
          await expectCanceled(() => partialRequest(leave));
          expect(server.logs()).toContain("client went away mid-request");
        });

      it(`counts an HTTP/2 ${kind} stream whose request ends cut short, without a reset, as invalid_argument`, async () => {
        const before = await metric(SERIES("invalid_argument"));
        await partialRequest((stream) => stream.end());
        const since = Date.now();
        while ((await metric(SERIES("invalid_argument"))) === before && Date.now() - since < 5_000)
          await new Promise((resolve) => setTimeout(resolve, 50));
        expect(await metric(SERIES("invalid_argument"))).toBe(before + 1);
      });
    }
  });
}
