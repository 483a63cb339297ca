/**
 * gRPC unary calls on a real `entdb serve` (server/api/grpc-unary.ts).
 *
 * - Each request is sent twice over HTTP/2: as gRPC clients send it, which takes the
 *   gRPC fast path, and gzip-compressed (`grpc-encoding: gzip`, answers accepted only
 *   uncompressed), which only the Connect library's path serves. The two answers must
 *   match: status, headers but the date, body bytes and trailers.
 * - A real gRPC client (connect-node's gRPC transport) and `buf curl --protocol grpc`
 *   read and write through it, deadlines and errors included.
 */

import * as http2 from "node:http2";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CreateGroupRequestSchema,
  CreateGroupResponseSchema,
  EntDbService,
  ExecutePlanRequestSchema,
  ExecutePlanResponseSchema,
  GetNodeRequestSchema,
  GetNodesRequestSchema,
  QueryNodesRequestSchema,
  UpdateMailboxItemsRequestSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import type { Receipt } from "../../generated/entdb/v1/values_pb.js";
import { createWebTransport } from "../../runtime/web.ts";
import {
  connectError,
  entDbClient,
  runCommand,
  serverPerFile,
  str,
  TRACKER,
  teamOp,
} from "./e2e-helpers.ts";
import { REPO_ROOT } from "./server-process.ts";

const server = serverPerFile({ args: ["--cors-origins", "https://app.example"] });
const TENANT = "grpc-path";
const TEAM = TRACKER.team;
const MISSING = "0190d1b2-0000-7000-8000-000000000000";

let session: http2.ClientHttp2Session;
let teamId = "";

beforeAll(async () => {
  session = http2.connect(server.url);
  const created = await call("ExecutePlan", planBytes("team-1"), false);
  expect(created.trailers["grpc-status"]).toBe("0");
  const res = fromBinary(ExecutePlanResponseSchema, created.body.subarray(5));
  teamId = res.results[0]?.id ?? "";
  expect(teamId).not.toBe("");
});

afterAll(() => {
  session?.close();
});

function planBytes(key: string, slug = "grpc"): Uint8Array {
  return toBinary(
    ExecutePlanRequestSchema,
    create(ExecutePlanRequestSchema, {
      tenant: TENANT,
      idempotencyKey: key,
      operations: [teamOp("Grpc", slug)],
    }),
  );
}

/** `message` in a gRPC envelope, gzip-compressed if `gzip`. */
function envelope(message: Uint8Array, gzip: boolean): Buffer {
  const payload = gzip ? gzipSync(message) : message;
  const head = Buffer.alloc(5);
  head[0] = gzip ? 1 : 0;
  head.writeUInt32BE(payload.byteLength, 1);
  return Buffer.concat([head, payload]);
}

/** One gRPC answer: status, headers without the date, body, trailers. */
interface Answer {
  readonly status: number;
  readonly headers: Record<string, unknown>;
  readonly body: Buffer;
  readonly trailers: Record<string, unknown>;
}

/** A call sent with a deadline (`grpc-timeout`, e.g. "100m"), its body `bodyAfterMs` later. */
interface Late {
  readonly deadline: string;
  readonly bodyAfterMs: number;
}

/**
 * Calls `/entdb.v1.EntDbService/<method>` over gRPC; `library` compresses the request;
 * `late` sends it with a deadline and its body after a delay.
 */
function call(method: string, message: Uint8Array, library: boolean, late?: Late): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ":method": "POST",
      ":path": `/entdb.v1.EntDbService/${method}`,
      "content-type": "application/grpc+proto",
      te: "trailers",
      origin: "https://app.example",
      ...(library ? { "grpc-encoding": "gzip", "grpc-accept-encoding": "identity" } : {}),
      ...(late ? { "grpc-timeout": late.deadline } : {}),
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
      const { ":status": status, date: _, ...headers } = head;
      resolve({ status: Number(status), headers, body: Buffer.concat(chunks), trailers });
    });
    stream.on("error", reject);
    if (late) setTimeout(() => stream.end(envelope(message, library)), late.bodyAfterMs);
    else stream.end(envelope(message, library));
  });
}

/** The same request down both paths; the answers match. Returns the fast path's. */
async function sameOnBothPaths(method: string, message: Uint8Array): Promise<Answer> {
  const fast = await call(method, message, false);
  const library = await call(method, message, true);
  expect(fast, "the gRPC fast path and the library answer alike").toEqual(library);
  expect(fast.status).toBe(200);
  expect(fast.headers["content-type"]).toBe("application/grpc+proto");
  expect(fast.headers["access-control-allow-origin"]).toBe("https://app.example");
  return fast;
}

type GetNodeInit = MessageInitShape<typeof GetNodeRequestSchema>;
const getNode = (init: GetNodeInit) =>
  toBinary(GetNodeRequestSchema, create(GetNodeRequestSchema, init));
const message = (answer: Answer) =>
  decodeURIComponent(String(answer.trailers["grpc-message"] ?? ""));

describe("the gRPC fast path answers as the Connect library does", () => {
  it("a read of an existing node", async () => {
    const answer = await sameOnBothPaths(
      "GetNode",
      getNode({ tenant: TENANT, typeId: TEAM, id: teamId }),
    );
    expect(answer.trailers["grpc-status"]).toBe("0");
    expect(answer.body.byteLength).toBeGreaterThan(5);
  });

  it("a query page and a batch read", async () => {
    const query = toBinary(
      QueryNodesRequestSchema,
      create(QueryNodesRequestSchema, { tenant: TENANT, typeId: TEAM, limit: 10 }),
    );
    expect((await sameOnBothPaths("QueryNodes", query)).trailers["grpc-status"]).toBe("0");
    const batch = toBinary(
      GetNodesRequestSchema,
      create(GetNodesRequestSchema, { tenant: TENANT, typeId: TEAM, ids: [teamId, MISSING] }),
    );
    expect((await sameOnBothPaths("GetNodes", batch)).trailers["grpc-status"]).toBe("0");
  });

  it("a replayed idempotency key", async () => {
    const answer = await sameOnBothPaths("ExecutePlan", planBytes("team-1"));
    const res = fromBinary(ExecutePlanResponseSchema, answer.body.subarray(5));
    expect(res.results[0]?.id).toBe(teamId);
  });

  it("NOT_FOUND for a missing node", async () => {
    const answer = await sameOnBothPaths(
      "GetNode",
      getNode({ tenant: TENANT, typeId: TEAM, id: MISSING }),
    );
    expect(answer.body.byteLength).toBe(0);
    expect(answer.trailers["grpc-status"]).toBe(String(Code.NotFound));
  });

  it("INVALID_ARGUMENT for a hostile tenant id", async () => {
    const answer = await sameOnBothPaths("GetNode", getNode({ tenant: "../x", typeId: TEAM }));
    expect(answer.trailers["grpc-status"]).toBe(String(Code.InvalidArgument));
  });

  it("INVALID_ARGUMENT naming the message for a body that is not protobuf", async () => {
    const answer = await sameOnBothPaths("ExecutePlan", new Uint8Array([0x0a, 0x05, 0x61]));
    expect(answer.trailers["grpc-status"]).toBe(String(Code.InvalidArgument));
    expect(message(answer)).toContain("send a serialized entdb.v1.ExecutePlanRequest");
  });

  it("INVALID_ARGUMENT with details for a write of an unknown type id", async () => {
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
    expect(answer.trailers["grpc-status"]).toBe(String(Code.InvalidArgument));
    expect(answer.trailers["grpc-status-details-bin"]).toEqual(expect.any(String));
  });
});

describe("gRPC clients on the fast path", () => {
  it("connect-node's gRPC transport writes, reads and gets the API's errors", async () => {
    const client = entDbClient(server, { protocol: "grpc" });
    const created = await client.executePlan({
      tenant: TENANT,
      idempotencyKey: "client-1",
      operations: [teamOp("Client", "client")],
    });
    const id = created.results[0]?.id ?? "";
    const read = await client.getNode({ tenant: TENANT, typeId: TEAM, id }, { timeoutMs: 10_000 });
    expect(read.node?.id).toBe(id);
    expect(read.node?.fields[TRACKER.teamName]?.kind).toEqual(str("Client").kind);
    const missing = await connectError(
      client.getNode({ tenant: TENANT, typeId: TEAM, id: MISSING }),
    );
    expect(missing.code).toBe(Code.NotFound);
    const duplicate = await connectError(
      client.executePlan({
        tenant: TENANT,
        idempotencyKey: "client-2",
        operations: [teamOp("Other", "client")],
      }),
    );
    expect(duplicate.code).toBe(Code.AlreadyExists);
    expect(duplicate.rawMessage).toMatch(/unique/i);
  });

  it("buf curl --protocol grpc reads a node and reports NOT_FOUND", async () => {
    const buf = join(REPO_ROOT, "node_modules", ".bin", "buf");
    const grpc = ["curl", "--protocol", "grpc", "--http2-prior-knowledge"];
    const url = `${server.url}/entdb.v1.EntDbService/GetNode`;
    const found = await runCommand(
      buf,
      [...grpc, "-d", JSON.stringify({ tenant: TENANT, typeId: TEAM, id: teamId }), url],
      { cwd: server.dataDir, timeout: 30_000 },
    );
    expect(found.stderr).toBe("");
    expect(JSON.parse(found.stdout)).toMatchObject({
      node: { id: teamId, typeId: TEAM, fields: { "1": { stringValue: "Grpc" } } },
    });
    const missing = await runCommand(
      buf,
      [...grpc, "-d", JSON.stringify({ tenant: TENANT, typeId: TEAM, id: MISSING }), url],
      { cwd: server.dataDir, timeout: 30_000 },
    );
    expect(missing.code).not.toBe(0);
    expect(JSON.parse(missing.stderr)).toMatchObject({ code: "not_found" });
  }, 60_000);
});

describe("a write whose deadline passed before it was logged", () => {
  /** Sends `message` late, then on time: the second must be the first to log its key. */
  async function refusedThenFree(method: string, message: Uint8Array): Promise<Receipt> {
    const late = await call(method, message, false, { deadline: "100m", bodyAfterMs: 400 });
    // A headers-only answer carries its status in the headers.
    expect(late.trailers["grpc-status"] ?? late.headers["grpc-status"]).toBe(
      String(Code.DeadlineExceeded),
    );
    // Had the late call been logged, the same key would answer its outcome as a replay.
    const again = await call(method, message, false);
    expect(again.trailers["grpc-message"]).toBeUndefined();
    expect(again.trailers["grpc-status"]).toBe("0");
    // Every write's answer holds its receipt in field 1.
    const receipt = fromBinary(CreateGroupResponseSchema, again.body.subarray(5)).receipt;
    expect(receipt?.replayed).toBe(false);
    expect(receipt?.applied).toBe(true);
    return receipt!;
  }

  it("a plan is answered DEADLINE_EXCEEDED and not logged: its key is still free", async () => {
    await refusedThenFree("ExecutePlan", planBytes("late-1", "late-late-1"));
  });

  it("so are an access change and a mailbox change", async () => {
    const group = toBinary(
      CreateGroupRequestSchema,
      create(CreateGroupRequestSchema, {
        tenant: TENANT,
        group: "group:late",
        idempotencyKey: "late-group",
      }),
    );
    await refusedThenFree("CreateGroup", group);
    const mailbox = toBinary(
      UpdateMailboxItemsRequestSchema,
      create(UpdateMailboxItemsRequestSchema, {
        tenant: TENANT,
        nodeIds: [teamId],
        read: true,
        idempotencyKey: "late-mailbox",
      }),
    );
    await refusedThenFree("UpdateMailboxItems", mailbox);
  });
});

describe("gRPC-Web on the fast path", () => {
  /** Posts a gRPC-Web call over HTTP/1.1; `library` gzips the request, which only the library serves. */
  async function webCall(method: string, message: Uint8Array, library: boolean) {
    const res = await fetch(`${server.url}/entdb.v1.EntDbService/${method}`, {
      method: "POST",
      headers: {
        "content-type": "application/grpc-web+proto",
        origin: "https://app.example",
        ...(library ? { "grpc-encoding": "gzip", "grpc-accept-encoding": "identity" } : {}),
      },
      body: new Uint8Array(envelope(message, library)),
    });
    return {
      status: res.status,
      contentType: res.headers.get("content-type"),
      cors: res.headers.get("access-control-allow-origin"),
      body: Buffer.from(await res.arrayBuffer()).toString("base64"),
    };
  }

  it("answers over HTTP/1.1 as the library does: a read, NOT_FOUND, a body that is not protobuf", async () => {
    const cases: [string, Uint8Array][] = [
      ["GetNode", getNode({ tenant: TENANT, typeId: TEAM, id: teamId })],
      ["GetNode", getNode({ tenant: TENANT, typeId: TEAM, id: MISSING })],
      ["ExecutePlan", new Uint8Array([0x0a, 0x05, 0x61])],
    ];
    for (const [method, message] of cases) {
      const fast = await webCall(method, message, false);
      expect(fast).toEqual(await webCall(method, message, true));
      expect(fast.status).toBe(200);
      expect(fast.contentType).toBe("application/grpc-web+proto");
      expect(fast.cors).toBe("https://app.example");
    }
  });

  it("the runtime's gRPC-Web transport writes, reads and gets the API's errors", async () => {
    const client = createClient(
      EntDbService,
      createWebTransport({ baseUrl: server.url, protocol: "grpc-web" }),
    );
    const created = await client.executePlan({
      tenant: TENANT,
      idempotencyKey: "web-1",
      operations: [teamOp("Web", "web")],
    });
    const id = created.results[0]?.id ?? "";
    const read = await client.getNode({ tenant: TENANT, typeId: TEAM, id });
    expect(read.node?.fields[TRACKER.teamName]?.kind).toEqual(str("Web").kind);
    const missing = await connectError(
      client.getNode({ tenant: TENANT, typeId: TEAM, id: MISSING }),
    );
    expect(missing.code).toBe(Code.NotFound);
  });
});
