/**
 * A client that goes away mid-request is the client's doing, not the server's: the
 * server logs it at debug, never at error. Raw HTTP/2 clients send a request's headers
 * and half a body (or only the headers, or a whole write) and destroy their session;
 * HTTP/1.1 clients destroy their socket mid-body. Over Connect (binary and JSON), gRPC
 * and gRPC-Web, unary and streaming, on the main thread and on a serving thread
 * (`--serve-threads 1`: each session is a new connection, and the kernel spreads them
 * over both threads; `/metrics` shows both answered). Before, an HTTP/1.1 body cut short
 * ("aborted") and a streaming call's request closed under it ("Premature close") were
 * logged as "transport error" at error level.
 */

import * as http from "node:http";
import * as http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { afterAll, describe, expect, it } from "vitest";
import { ExecutePlanRequestSchema } from "../../generated/entdb/v1/entdb_pb.js";
import { http2Exchange } from "../http2-exchange.ts";
import { entDbClient, teamOp } from "./e2e-helpers.ts";
import { removeDataDir, type ServerProcess, startServerProcess } from "./server-process.ts";

const started: ServerProcess[] = [];
afterAll(async () => {
  for (const server of started) {
    expect(await server.stop()).toBe(0);
    removeDataDir(server.dataDir);
  }
});

const CONTENT_TYPES = {
  proto: "application/proto",
  json: "application/json",
  grpc: "application/grpc",
  "grpc-web": "application/grpc-web+proto",
} as const;
type Kind = keyof typeof CONTENT_TYPES;
const METHODS = ["ExecutePlan", "Subscribe"] as const;

/** Half of a request body of `kind` (a gRPC envelope promising 200 bytes, 50 sent). */
function halfBody(kind: Kind): Buffer {
  if (kind === "json") return Buffer.from('{"tenant":"acme","operations":[');
  if (kind === "proto") return Buffer.from([0x0a, 0x04, 0x61, 0x63]);
  return Buffer.concat([Buffer.from([0, 0, 0, 0, 200]), Buffer.alloc(50, 1)]);
}

/**
 * Opens a session, answers one read on it (so `/metrics` counts the thread that holds
 * the connection), then sends `kind`'s request with its headers and `part` of its body
 * and destroys the session once the server had time to start reading.
 */
async function abandon(
  server: ServerProcess,
  kind: Kind,
  method: (typeof METHODS)[number],
  part: "headers" | "half" | "whole",
): Promise<void> {
  const session = http2.connect(server.url);
  session.on("error", () => {});
  const read = await http2Exchange(
    session,
    {
      ":method": "POST",
      ":path": "/entdb.v1.EntDbService/GetNode",
      "content-type": "application/json",
    },
    Buffer.from('{"tenant":"acme","typeId":1,"id":"missing"}'),
  );
  expect(read.status).toBe(404);
  const grpc = kind === "grpc" || kind === "grpc-web";
  const stream = session.request({
    ":method": "POST",
    ":path": `/entdb.v1.EntDbService/${method}`,
    "content-type": CONTENT_TYPES[kind],
    ...(grpc ? { te: "trailers" } : part === "whole" ? {} : { "content-length": "200" }),
  });
  stream.on("error", () => {});
  if (part === "half") stream.write(halfBody(kind));
  if (part === "whole") {
    // A whole write, the session destroyed right after: its answer has nowhere to go.
    const plan = toBinary(
      ExecutePlanRequestSchema,
      create(ExecutePlanRequestSchema, { tenant: "acme", operations: [teamOp("gone", "gone")] }),
    );
    stream.end(grpc ? Buffer.concat([envelopeHead(plan.length), plan]) : plan);
  }
  await new Promise((resolve) => setTimeout(resolve, part === "whole" ? 1 : 60));
  session.destroy();
}

function envelopeHead(length: number): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(length, 1);
  return head;
}

/** An HTTP/1.1 request with half its body, its socket destroyed mid-body. */
function abandonHttp1(server: ServerProcess, kind: "proto" | "json"): Promise<void> {
  return new Promise((resolve) => {
    const req = http.request(`${server.url}/entdb.v1.EntDbService/ExecutePlan`, {
      method: "POST",
      headers: { "content-type": CONTENT_TYPES[kind], "content-length": "200" },
      agent: false,
    });
    req.on("error", () => resolve());
    req.write(halfBody(kind));
    setTimeout(() => {
      req.destroy();
      resolve();
    }, 60);
  });
}

async function threadCalls(server: ServerProcess): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^entdb_thread_requests_total\{thread="(\d+)"\} (\d+)$/gm))
    out.set(m[1] ?? "", Number(m[2]));
  return out;
}

/** The server's log lines at `level`. */
function lines(server: ServerProcess, level: string): string[] {
  return server
    .logs()
    .split("\n")
    .filter((line) => line.includes(`"level":"${level}"`));
}

describe("a client that goes away mid-request", () => {
  for (const threads of [0, 1]) {
    it(`is logged at debug, not as an error (--serve-threads ${threads})`, async () => {
      const server = await startServerProcess({
        args: ["--serve-threads", String(threads), "--log-level", "debug"],
      });
      started.push(server);
      // A tenant with a node, so a write is real work.
      await entDbClient(server).executePlan({ tenant: "acme", operations: [teamOp("a", "a")] });
      const rounds = threads === 0 ? 2 : 4;
      for (let round = 0; round < rounds; round++) {
        for (const kind of Object.keys(CONTENT_TYPES) as Kind[])
          for (const method of METHODS)
            for (const part of ["headers", "half"] as const)
              await abandon(server, kind, method, part);
        await abandon(server, "proto", "ExecutePlan", "whole");
        await abandon(server, "grpc", "ExecutePlan", "whole");
        await abandonHttp1(server, "proto");
        await abandonHttp1(server, "json");
      }
      // The server still answers, and has had time to log what it saw.
      await entDbClient(server).executePlan({ tenant: "acme", operations: [teamOp("b", "b")] });
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(lines(server, "error")).toEqual([]);
      const gone = lines(server, "debug").filter((l) =>
        l.includes('"msg":"client went away mid-request"'),
      );
      expect(gone.length).toBeGreaterThan(0);
      if (threads > 0) {
        const calls = await threadCalls(server);
        expect(calls.get("1") ?? 0, "the serving thread held some of the sessions").toBeGreaterThan(
          0,
        );
        expect(calls.get("0") ?? 0, "the main thread held some of the sessions").toBeGreaterThan(0);
      }
    }, 180_000);
  }
});
