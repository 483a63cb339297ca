/**
 * The unary fast path (server/api/unary-fast-path.ts) answers exactly as the Connect
 * library does. Each request is sent twice to a real `entdb serve`, over HTTP/2 and
 * over HTTP/1.1:
 * - as the generated client sends it, which takes the fast path;
 * - with a `connect-timeout-ms` header, which only the library's path serves.
 * The two answers must match: status, content type, body bytes and the CORS headers.
 * Reads, replays of an idempotency key and errors are deterministic, so their bytes can
 * be compared.
 */

import * as http2 from "node:http2";
import * as net from "node:net";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ExecutePlanRequestSchema,
  ExecutePlanResponseSchema,
  GetNodeRequestSchema,
  QueryNodesRequestSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import { http2Exchange } from "../http2-exchange.ts";
import { serverPerFile, str, teamOp } from "./e2e-helpers.ts";

const server = serverPerFile({ args: ["--cors-origins", "https://app.example"] });
const TENANT = "fast-path";
const TEAM = 2;

/** One answer, as the client sees it. */
interface Answer {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly cors: string | undefined;
  readonly body: string;
}

let session: http2.ClientHttp2Session;
let teamId = "";

beforeAll(async () => {
  session = http2.connect(server.url);
  const created = await call("h2", "ExecutePlan", planBytes("team-1"), false);
  expect(created.status).toBe(200);
  const res = fromBinary(ExecutePlanResponseSchema, Buffer.from(created.body, "base64"));
  teamId = res.results[0]?.id ?? "";
  expect(teamId).not.toBe("");
});

afterAll(() => {
  session?.close();
});

function planBytes(key: string, slug = "fast"): Uint8Array {
  return toBinary(
    ExecutePlanRequestSchema,
    create(ExecutePlanRequestSchema, {
      tenant: TENANT,
      idempotencyKey: key,
      operations: [teamOp("Fast", slug)],
    }),
  );
}

/** Posts `body` to `/entdb.v1.EntDbService/<method>`; `library` adds a timeout header. */
async function call(
  version: "h1" | "h2",
  method: string,
  body: Uint8Array,
  library: boolean,
  extra: Readonly<Record<string, string>> = {},
): Promise<Answer> {
  const headers: Record<string, string> = {
    "content-type": "application/proto",
    "connect-protocol-version": "1",
    origin: "https://app.example",
    ...extra,
  };
  if (library) headers["connect-timeout-ms"] = "60000";
  const path = `/entdb.v1.EntDbService/${method}`;
  if (version === "h1") {
    const res = await fetch(`${server.url}${path}`, {
      method: "POST",
      headers,
      body: Buffer.from(body),
    });
    return {
      status: res.status,
      contentType: res.headers.get("content-type") ?? undefined,
      cors: res.headers.get("access-control-allow-origin") ?? undefined,
      body: Buffer.from(await res.arrayBuffer()).toString("base64"),
    };
  }
  const answer = await http2Exchange(
    session,
    { ":method": "POST", ":path": path, ...headers },
    body,
  );
  return {
    status: answer.status,
    contentType: answer.headers["content-type"] as string | undefined,
    cors: answer.headers["access-control-allow-origin"] as string | undefined,
    body: answer.body.toString("base64"),
  };
}

/**
 * The same request down both paths, over each HTTP version: the two answers of a version
 * match, and both versions give the same status. Returns the HTTP/2 answer.
 */
async function sameOnBothPaths(
  method: string,
  body: Uint8Array,
  extra: Readonly<Record<string, string>> = {},
): Promise<Answer> {
  const byVersion: Answer[] = [];
  for (const version of ["h2", "h1"] as const) {
    const fast = await call(version, method, body, false, extra);
    const library = await call(version, method, body, true, extra);
    expect(fast, `${version}: the fast path and the library answer alike`).toEqual(library);
    byVersion.push(fast);
  }
  const [h2, h1] = byVersion as [Answer, Answer];
  expect(h1.status).toBe(h2.status);
  return h2;
}

type GetNodeInit = MessageInitShape<typeof GetNodeRequestSchema>;
const getNode = (init: GetNodeInit) =>
  toBinary(GetNodeRequestSchema, create(GetNodeRequestSchema, init));

describe("the unary fast path answers as the Connect library does", () => {
  it("a read of an existing node", async () => {
    const answer = await sameOnBothPaths(
      "GetNode",
      getNode({ tenant: TENANT, typeId: TEAM, id: teamId }),
    );
    expect(answer.status).toBe(200);
    expect(answer.contentType).toBe("application/proto");
    expect(answer.cors).toBe("https://app.example");
  });

  it("a query page", async () => {
    const body = toBinary(
      QueryNodesRequestSchema,
      create(QueryNodesRequestSchema, { tenant: TENANT, typeId: TEAM, limit: 10 }),
    );
    const answer = await sameOnBothPaths("QueryNodes", body);
    expect(answer.status).toBe(200);
  });

  it("a replayed idempotency key", async () => {
    const answer = await sameOnBothPaths("ExecutePlan", planBytes("team-1"));
    const res = fromBinary(ExecutePlanResponseSchema, Buffer.from(answer.body, "base64"));
    expect(res.results[0]?.id).toBe(teamId);
  });

  it("NOT_FOUND for a missing node", async () => {
    const answer = await sameOnBothPaths(
      "GetNode",
      getNode({ tenant: TENANT, typeId: TEAM, id: "0190d1b2-0000-7000-8000-000000000000" }),
    );
    expect(answer.status).toBe(404);
    expect(answer.contentType).toBe("application/json");
    expect(JSON.parse(Buffer.from(answer.body, "base64").toString())).toMatchObject({
      code: "not_found",
    });
  });

  it("INVALID_ARGUMENT for a hostile tenant id", async () => {
    const answer = await sameOnBothPaths(
      "GetNode",
      getNode({ tenant: "../x", typeId: TEAM, id: teamId }),
    );
    expect(answer.status).toBe(400);
    expect(JSON.parse(Buffer.from(answer.body, "base64").toString())).toMatchObject({
      code: "invalid_argument",
    });
  });

  it("INVALID_ARGUMENT naming the message for a body that is not protobuf", async () => {
    const answer = await sameOnBothPaths("ExecutePlan", new Uint8Array([0x0a, 0x05, 0x61]));
    expect(answer.status).toBe(400);
    expect(JSON.parse(Buffer.from(answer.body, "base64").toString())).toMatchObject({
      code: "invalid_argument",
      message: expect.stringContaining("entdb.v1.ExecutePlanRequest"),
    });
  });

  it("INVALID_ARGUMENT with details for a read of an unknown type id", async () => {
    const answer = await sameOnBothPaths(
      "GetNode",
      getNode({ tenant: TENANT, typeId: 999, id: teamId }),
    );
    expect(answer.status).toBe(400);
    expect(JSON.parse(Buffer.from(answer.body, "base64").toString())).toMatchObject({
      code: "invalid_argument",
      details: [{ type: "entdb.v1.WriteFailure" }],
    });
  });

  it("INVALID_ARGUMENT for a write of an unknown type id", async () => {
    const body = toBinary(
      ExecutePlanRequestSchema,
      create(ExecutePlanRequestSchema, {
        tenant: TENANT,
        idempotencyKey: "unknown-type",
        operations: [
          { op: { case: "createNode", value: { typeId: 999, fields: { 1: str("x") } } } },
        ],
      }),
    );
    const answer = await sameOnBothPaths("ExecutePlan", body);
    expect(answer.status).toBe(400);
  });

  it("RESOURCE_EXHAUSTED for a body over the size limit", async () => {
    const big = toBinary(
      GetNodeRequestSchema,
      create(GetNodeRequestSchema, { tenant: TENANT, id: "x".repeat(9 * 1024 * 1024) }),
    );
    const answer = await sameOnBothPaths("GetNode", big);
    expect(answer.status).toBe(429);
    expect(JSON.parse(Buffer.from(answer.body, "base64").toString())).toMatchObject({
      code: "resource_exhausted",
    });
  });

  it("an answer to an oversized body always reaches the client, and the connection stays usable", async () => {
    const big = toBinary(
      GetNodeRequestSchema,
      create(GetNodeRequestSchema, { tenant: TENANT, id: "x".repeat(9 * 1024 * 1024) }),
    );
    const small = getNode({ tenant: TENANT, typeId: TEAM, id: teamId });
    // HTTP/1.1: the server answers at once (the declared length is over the limit) and
    // reads and drops the rest, so the still-sending client never hits a reset and the
    // same connection serves the next request.
    const socket = net.connect({ host: "127.0.0.1", port: server.port });
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    try {
      const answers = await h1Exchange(socket, [big, big, small]);
      expect(answers.map((a) => a.status)).toEqual([429, 429, 200]);
      expect(JSON.parse(answers[0]?.body ?? "")).toMatchObject({ code: "resource_exhausted" });
    } finally {
      socket.destroy();
    }
    // HTTP/2: the server answers once the body passes the limit, then resets the stream
    // with NO_ERROR (RFC 9113 §8.1), which the client takes as "stop sending", not as a
    // failure; the session serves the next request.
    for (let i = 0; i < 3; i++) {
      const answer = await call("h2", "GetNode", big, false);
      expect(answer.status).toBe(429);
    }
    expect((await call("h2", "GetNode", small, false)).status).toBe(200);
  });
});

/**
 * Sends each body as a fast-path GetNode over one HTTP/1.1 connection, one after the
 * other, and reads each answer (status and body; answers carry content-length).
 */
async function h1Exchange(
  socket: net.Socket,
  bodies: readonly Uint8Array[],
): Promise<{ status: number; body: string }[]> {
  let buffered = Buffer.alloc(0);
  let wake: (() => void) | undefined;
  socket.on("data", (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    wake?.();
  });
  const more = () =>
    new Promise<void>((resolve, reject) => {
      wake = resolve;
      socket.once("error", reject);
    });
  const out: { status: number; body: string }[] = [];
  for (const body of bodies) {
    socket.write(
      `POST /entdb.v1.EntDbService/GetNode HTTP/1.1\r\nhost: x\r\ncontent-type: application/proto\r\nconnect-protocol-version: 1\r\ncontent-length: ${body.byteLength}\r\n\r\n`,
    );
    socket.write(body);
    for (;;) {
      const end = buffered.indexOf("\r\n\r\n");
      if (end >= 0) {
        const head = buffered.subarray(0, end).toString();
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? "0");
        if (buffered.length >= end + 4 + length) {
          out.push({
            status: Number(head.split(" ")[1]),
            body: buffered.subarray(end + 4, end + 4 + length).toString(),
          });
          buffered = buffered.subarray(end + 4 + length);
          break;
        }
      }
      await more();
    }
  }
  return out;
}
