/**
 * Writes that wait for their outcome against a real `entdb serve` whose applier is held
 * back: the wait ends at the call's deadline (`connect-timeout-ms`, `grpc-timeout`) with
 * DEADLINE_EXCEEDED, and at once when the client goes away (counted CANCELED), instead of
 * holding the call and its waiter for the server's own 10 s. The write is logged all the
 * same: the error names its key (message and `Receipt` detail), and once the applier runs
 * the write is applied and a retry with the key answers its outcome. With and without a
 * serving thread (`--serve-threads 1`, which hands writes to the main thread).
 *
 * How the applier is held back: the server starts on a data dir whose file of one tenant
 * is gone, with `ENTDB_TEST_HOLD_REBUILD`, so that tenant's partition is not applied until
 * the hold file is removed; the writes go to another tenant of the same partition, which
 * is served (its file is there) and whose writes are logged but not applied meanwhile.
 */

import { rmSync, writeFileSync } from "node:fs";
import * as http2 from "node:http2";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExecutePlanRequestSchema } from "../../generated/entdb/v1/entdb_pb.js";
import { ReceiptSchema } from "../../generated/entdb/v1/values_pb.js";
import { EntDbClientCore, EntDbError } from "../../runtime/v1.ts";
import { tenantFileName } from "../../server/store/index.ts";
import {
  type ConnectErrorJson,
  connectJsonCall,
  entDbClient,
  metricValue,
  TRACKER,
  teamOp,
  teamPlan,
} from "./e2e-helpers.ts";
import { removeDataDir, type ServerProcess, startServerProcess } from "./server-process.ts";

const TENANT = "leave-writer";
/** gRPC connections the deadline test opens, one call each. */
const GRPC_SESSIONS = 4;

/** The JSON of a plan creating one Team. */
const teamJson = (slug: string) => ({
  createNode: {
    typeId: TRACKER.team,
    fields: {
      [TRACKER.teamName]: { stringValue: slug },
      [TRACKER.teamSlug]: { stringValue: slug },
    },
  },
});

/** The `Receipt` detail of an error, decoded; undefined when it has none. */
function receiptDetail(error: ConnectErrorJson) {
  const detail = error.details?.find((d) => d.type === "entdb.v1.Receipt");
  return detail === undefined
    ? undefined
    : fromBinary(ReceiptSchema, Buffer.from(detail.value, "base64"));
}

for (const threads of [0, 1]) {
  describe(`a write waiting for its outcome (--serve-threads ${threads})`, () => {
    let server: ServerProcess;
    let hold = "";
    /** The team every change below names (written before the applier was held). */
    let teamId = "";

    beforeAll(async () => {
      const first = await startServerProcess();
      const api = entDbClient(first);
      const own = await api.executePlan(teamPlan(TENANT, "first"));
      teamId = own.results[0]?.id ?? "";
      // Another tenant of the same partition (tenants are spread over the log's partitions).
      let other = "";
      for (let i = 0; other === "" && i < 64; i++) {
        const res = await api.executePlan(teamPlan(`leave-other-${i}`, "other"));
        if (res.receipt?.position?.partition === own.receipt?.position?.partition)
          other = `leave-other-${i}`;
      }
      expect(other).not.toBe("");
      expect(await first.stop()).toBe(0);
      const file = join(first.dataDir, "tenants", tenantFileName(other));
      for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(file + suffix, { force: true });
      hold = join(first.dataDir, "hold");
      writeFileSync(hold, "");
      server = await startServerProcess({
        dataDir: first.dataDir,
        env: { ENTDB_TEST_HOLD_REBUILD: hold },
        args: ["--serve-threads", String(threads)],
        readyPath: "/health",
      });
    }, 90_000);

    afterAll(async () => {
      rmSync(hold, { force: true });
      if (!server) return;
      expect(await server.stop(), server.logs()).toBe(0);
      removeDataDir(server.dataDir);
    });

    const connectCall = (
      method: string,
      body: Record<string, unknown>,
      headers: Record<string, string>,
      signal?: AbortSignal,
    ) => connectJsonCall(server, method, body, headers, signal);
    const metric = (series: string) => metricValue(server, series);

    /** Waits up to 5 s for `series` to pass `before`; how long it took. */
    async function counted(series: string, before: number): Promise<number> {
      const since = Date.now();
      while ((await metric(series)) === before && Date.now() - since < 5_000)
        await new Promise((resolve) => setTimeout(resolve, 100));
      expect(await metric(series)).toBe(before + 1);
      return Date.now() - since;
    }

    /** Checks the error of a logged write: its code, its key in the message and the detail. */
    function expectLogged(answer: ConnectErrorJson, code: string, key: string) {
      expect(answer.code, JSON.stringify(answer)).toBe(code);
      expect(answer.message).toContain(`idempotency key '${key}'`);
      expect(answer.message).toContain("will be applied");
      expect(answer.message).toContain("GetReceipt");
      expect(receiptDetail(answer)).toMatchObject({
        tenant: TENANT,
        applied: false,
        idempotencyKey: key,
      });
    }

    const CHANGES: readonly (readonly [string, (key: string) => Record<string, unknown>])[] = [
      ["ExecutePlan", (key) => ({ operations: [teamJson(key)], idempotencyKey: key })],
      ["CreateGroup", (key) => ({ group: `group:${key}`, idempotencyKey: key })],
      ["UpdateMailboxItems", (key) => ({ nodeIds: [teamId], read: true, idempotencyKey: key })],
    ];

    it.each(CHANGES)(
      "%s ends at the call's connect-timeout-ms with deadline_exceeded and its key",
      async (method, body) => {
        const key = `connect-${method}-${threads}`;
        const { status, answer, ms } = await connectCall(
          method,
          { tenant: TENANT, ...body(key) },
          { "connect-timeout-ms": "300" },
        );
        expectLogged(answer, "deadline_exceeded", key);
        expect(status).toBe(504);
        expect(ms).toBeLessThan(5_000);
      },
    );

    it("ExecutePlan ends at the call's grpc-timeout with DEADLINE_EXCEEDED and its key", async () => {
      // Over several connections: with a serving thread some land on it, which hands the
      // plan and its deadline to the main thread.
      for (let i = 0; i < GRPC_SESSIONS; i++) {
        const key = `grpc-${threads}-${i}`;
        const session = http2.connect(server.url);
        try {
          const started = Date.now();
          const answer = await grpcPlan(session, key, "300m");
          expect(answer.status).toBe(String(Code.DeadlineExceeded));
          expect(answer.message).toContain(`idempotency key '${key}'`);
          expect(answer.message).toContain("will be applied");
          expect(answer.details).toContain(key);
          expect(Date.now() - started).toBeLessThan(5_000);
        } finally {
          session.close();
        }
      }
    });

    it("ExecutePlan over Connect ends when its client goes away, counted canceled, long before 10 s", async () => {
      const series = `entdb_requests_total{method="entdb.v1.EntDbService/ExecutePlan",code="canceled"}`;
      const before = await metric(series);
      const client = new AbortController();
      const call = connectCall(
        "ExecutePlan",
        { tenant: TENANT, operations: [teamJson("gone-h1")], idempotencyKey: `gone-h1-${threads}` },
        {},
        client.signal,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      client.abort();
      await expect(call).rejects.toThrow();
      expect(await counted(series, before)).toBeLessThan(5_000);
      expect(server.logs()).not.toContain("internal error");
    });

    it("ExecutePlan over gRPC ends when its client resets the stream, counted canceled", async () => {
      const series = `entdb_requests_total{method="entdb.v1.EntDbService/ExecutePlan",code="canceled"}`;
      const before = await metric(series);
      const session = http2.connect(server.url);
      session.on("error", () => {});
      const call = grpcPlan(session, `gone-h2-${threads}`, undefined).catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 300));
      session.destroy();
      await call;
      expect(await counted(series, before)).toBeLessThan(5_000);
    });

    it("the runtime reports a transport deadline as deadline_exceeded with the write's key", async () => {
      const transport = createConnectTransport({
        baseUrl: server.url,
        httpVersion: "1.1",
        defaultTimeoutMs: 300,
      });
      const core = new EntDbClientCore({ transport, tenant: TENANT });
      const key = `runtime-${threads}`;
      const failed = await core.executePlan([teamOp(key, key)], { idempotencyKey: key }).then(
        () => undefined,
        (err: unknown) => err,
      );
      expect(failed).toBeInstanceOf(EntDbError);
      expect((failed as EntDbError).code).toBe("deadline_exceeded");
      expect((failed as EntDbError).idempotencyKey).toBe(key);
    });

    it("applies every write once the applier runs, and a retry with the key answers it", async () => {
      rmSync(hold);
      const api = entDbClient(server);
      const keys = [
        ...CHANGES.map(([method]) => `connect-${method}-${threads}`),
        ...Array.from({ length: GRPC_SESSIONS }, (_, i) => `grpc-${threads}-${i}`),
        `gone-h1-${threads}`,
        `gone-h2-${threads}`,
        `runtime-${threads}`,
      ];
      for (const key of keys) {
        let receipt: Awaited<ReturnType<typeof api.getReceipt>> | undefined;
        for (let i = 0; receipt === undefined && i < 100; i++) {
          receipt = await api.getReceipt({ tenant: TENANT, idempotencyKey: key }).catch(() => {
            return new Promise<undefined>((resolve) => setTimeout(resolve, 100));
          });
        }
        expect(receipt?.receipt, key).toMatchObject({ applied: true, idempotencyKey: key });
        expect(receipt?.failure, key).toBeUndefined();
      }
      // The plans' teams are there, read back.
      for (const slug of [`connect-ExecutePlan-${threads}`, `grpc-${threads}-0`]) {
        const node = await api.getNodeByKey({
          tenant: TENANT,
          typeId: TRACKER.team,
          key: { [TRACKER.teamSlug]: { kind: { case: "stringValue", value: slug } } },
        });
        expect(node.node?.typeId).toBe(TRACKER.team);
      }
      // The runtime's retry with the key is answered the first outcome, not applied again.
      const core = new EntDbClientCore({
        transport: createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }),
        tenant: TENANT,
      });
      const key = `runtime-${threads}`;
      const again = await core.executePlan([teamOp(key, key)], { idempotencyKey: key });
      expect(again.receipt.replayed).toBe(true);
      const first = await api.getReceipt({ tenant: TENANT, idempotencyKey: key });
      expect(again.results.map((r) => r.id)).toEqual(first.results.map((r) => r.id));
    }, 60_000);
  });
}

/**
 * Sends a plan creating one Team under `key` over gRPC (with `timeout` as its
 * `grpc-timeout`, if any); its status, message and the raw status details.
 */
function grpcPlan(
  session: http2.ClientHttp2Session,
  key: string,
  timeout: string | undefined,
): Promise<{ status: string; message: string; details: string }> {
  const message = toBinary(
    ExecutePlanRequestSchema,
    create(ExecutePlanRequestSchema, {
      tenant: TENANT,
      idempotencyKey: key,
      operations: [teamOp(key, key)],
    }),
  );
  return new Promise((resolve, reject) => {
    const stream = session.request({
      ":method": "POST",
      ":path": "/entdb.v1.EntDbService/ExecutePlan",
      "content-type": "application/grpc+proto",
      te: "trailers",
      ...(timeout === undefined ? {} : { "grpc-timeout": timeout }),
    });
    let fields: http2.IncomingHttpHeaders = {};
    stream.on("response", (h) => {
      if (h["grpc-status"] !== undefined) fields = h;
    });
    stream.on("trailers", (t) => {
      fields = t;
    });
    stream.resume();
    stream.on("end", () =>
      resolve({
        status: String(fields["grpc-status"] ?? ""),
        message: decodeURIComponent(String(fields["grpc-message"] ?? "")),
        details: Buffer.from(String(fields["grpc-status-details-bin"] ?? ""), "base64").toString(
          "latin1",
        ),
      }),
    );
    stream.on("error", reject);
    const head = Buffer.alloc(5);
    head.writeUInt32BE(message.byteLength, 1);
    stream.end(Buffer.concat([head, message]));
  });
}
