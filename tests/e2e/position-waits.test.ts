/**
 * Reads that wait for `after_position` (docs/architecture.md) against a real
 * `entdb serve`: the wait ends at the call's deadline (`connect-timeout-ms`,
 * `grpc-timeout`) with DEADLINE_EXCEEDED, and when the client goes away the call ends
 * at once (CANCELED) instead of holding its waiter until the read's own 10 s run out.
 *
 * The position waited for is logged and never applied by the tenant read: it is the
 * receipt of a write to another tenant of the same partition, which the read's tenant
 * applies only once it is written past it. So each read below would wait the full 10 s.
 */

import * as http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import {
  GetNodeRequestSchema,
  ListMailboxRequestSchema,
  SearchRequestSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import {
  connectJsonCall,
  entDbClient,
  metricValue,
  serverPerFile,
  TRACKER,
  teamPlan,
} from "./e2e-helpers.ts";

/** The tests, against a server started with `args`. */
function suite(args: string[]): void {
  const server = serverPerFile({ args });
  const WAITING = "wait-reader";
  const WRITER = "wait-writer";

  /** A position WAITING has not applied and will not while these tests run. */
  let ahead = { partition: 0, offset: 0n };
  let teamId = "";

  beforeAll(async () => {
    const api = entDbClient(server);
    const own = await api.executePlan(teamPlan(WAITING, "reader"));
    teamId = own.results[0]?.id ?? "";
    const partition = own.receipt?.position?.partition;
    // Another tenant of the same partition (tenants are spread over the log's partitions).
    let at = { partition: -1, offset: 0n };
    for (let i = 0; at.partition !== partition && i < 64; i++) {
      const other = await api.executePlan(teamPlan(`${WRITER}-${i}`, "writer"));
      at = other.receipt?.position ?? at;
    }
    expect(at.partition).toBe(partition);
    expect(at.offset).toBeGreaterThan(own.receipt?.position?.offset ?? 0n);
    ahead = { partition: at.partition, offset: at.offset };
  });

  const afterPosition = () => ({ partition: ahead.partition, offset: String(ahead.offset) });

  /** The Connect JSON requests of each read that waits for `after_position`. */
  const READS: readonly (readonly [string, () => Record<string, unknown>])[] = [
    ["GetNode", () => ({ typeId: TRACKER.team, id: teamId })],
    ["GetNodes", () => ({ typeId: TRACKER.team, ids: [teamId] })],
    [
      "GetNodeByKey",
      () => ({ typeId: TRACKER.team, key: { [TRACKER.teamSlug]: { stringValue: "reader" } } }),
    ],
    ["QueryNodes", () => ({ typeId: TRACKER.team })],
    [
      "ListEdges",
      () => ({ edgeTypeId: TRACKER.memberOf, nodeId: teamId, direction: "DIRECTION_IN" }),
    ],
    ["Traverse", () => ({ startId: teamId, edgeTypeIds: [TRACKER.memberOf], maxDepth: 1 })],
    ["Search", () => ({ query: "reader" })],
    ["ListMailbox", () => ({})],
    ["GetMailboxUnreadCounts", () => ({})],
  ];

  const connectCall = (
    method: string,
    body: Record<string, unknown>,
    headers: Record<string, string>,
    signal?: AbortSignal,
  ) => connectJsonCall(server, method, body, headers, signal);
  const metric = (series: string) => metricValue(server, series);

  describe("a read waiting for after_position", () => {
    it.each(READS)(
      "%s ends at the call's connect-timeout-ms with deadline_exceeded",
      async (method, body) => {
        const { status, answer, ms } = await connectCall(
          method,
          { tenant: WAITING, ...body(), afterPosition: afterPosition() },
          { "connect-timeout-ms": "300" },
        );
        expect(answer.code, JSON.stringify(answer)).toBe("deadline_exceeded");
        expect(status).toBe(504);
        expect(ms).toBeLessThan(5_000);
      },
    );

    it("ends at the call's grpc-timeout with DEADLINE_EXCEEDED over gRPC", async () => {
      const session = http2.connect(server.url);
      try {
        const position = { partition: ahead.partition, offset: ahead.offset };
        const calls = [
          [
            "GetNode",
            toBinary(
              GetNodeRequestSchema,
              create(GetNodeRequestSchema, {
                tenant: WAITING,
                typeId: TRACKER.team,
                id: teamId,
                afterPosition: position,
              }),
            ),
          ],
          [
            "Search",
            toBinary(
              SearchRequestSchema,
              create(SearchRequestSchema, {
                tenant: WAITING,
                query: "reader",
                afterPosition: position,
              }),
            ),
          ],
          [
            "ListMailbox",
            toBinary(
              ListMailboxRequestSchema,
              create(ListMailboxRequestSchema, { tenant: WAITING, afterPosition: position }),
            ),
          ],
        ] as const;
        for (const [method, message] of calls) {
          const started = Date.now();
          const status = await grpcStatus(session, method, message, "300m");
          expect(status, method).toBe(String(Code.DeadlineExceeded));
          expect(Date.now() - started).toBeLessThan(5_000);
        }
      } finally {
        session.close();
      }
    });

    it.each([
      ["GetNode", () => ({ typeId: TRACKER.team, id: teamId, afterPosition: afterPosition() })],
      ["Search", () => ({ query: "reader", afterPosition: afterPosition() })],
      ["WaitForPosition", () => ({ position: afterPosition(), timeoutMs: 20_000 })],
    ] as const)(
      "%s ends when its client goes away, as CANCELED, long before its own wait runs out",
      async (method, body) => {
        const series = `entdb_requests_total{method="entdb.v1.EntDbService/${method}",code="canceled"}`;
        const before = await metric(series);
        const client = new AbortController();
        const call = connectCall(method, { tenant: WAITING, ...body() }, {}, client.signal);
        await new Promise((resolve) => setTimeout(resolve, 300));
        client.abort();
        await expect(call).rejects.toThrow();
        const gone = Date.now();
        while ((await metric(series)) === before && Date.now() - gone < 5_000)
          await new Promise((resolve) => setTimeout(resolve, 100));
        expect(await metric(series)).toBe(before + 1);
        expect(Date.now() - gone).toBeLessThan(5_000);
        // Not an internal error: nothing went wrong in the server.
        expect(server.logs()).not.toContain("internal error");
      },
    );

    it("still answers once the position is applied", async () => {
      const api = entDbClient(server);
      await api.executePlan(teamPlan(WAITING, "reader-2"));
      const read = await api.getNode({
        tenant: WAITING,
        typeId: TRACKER.team,
        id: teamId,
        afterPosition: { partition: ahead.partition, offset: ahead.offset },
      });
      expect(read.node?.id).toBe(teamId);
    });
  });
}

describe("on the main thread", () => suite([]));
// A read whose position a serving thread's file has not applied is handed to the main
// thread, which waits with the call's deadline and cancellation as handed over.
describe("with --serve-threads", () => suite(["--serve-threads", "1"]));

/** Calls `method` over gRPC with a `grpc-timeout`; its `grpc-status` trailer. */
function grpcStatus(
  session: http2.ClientHttp2Session,
  method: string,
  message: Uint8Array,
  timeout: string,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ":method": "POST",
      ":path": `/entdb.v1.EntDbService/${method}`,
      "content-type": "application/grpc+proto",
      te: "trailers",
      "grpc-timeout": timeout,
    });
    let status = "";
    stream.on("response", (h) => {
      if (h["grpc-status"] !== undefined) status = String(h["grpc-status"]);
    });
    stream.on("trailers", (t) => {
      status = String(t["grpc-status"] ?? status);
    });
    stream.resume();
    stream.on("end", () => resolve(status));
    stream.on("error", reject);
    const head = Buffer.alloc(5);
    head.writeUInt32BE(message.byteLength, 1);
    stream.end(Buffer.concat([head, message]));
  });
}
