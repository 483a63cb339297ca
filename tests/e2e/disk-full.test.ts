/**
 * A real `entdb serve` whose data dir fills up: writes are refused with UNAVAILABLE
 * naming the cause, `/ready` answers 503 and `/health` says degraded (with the reason),
 * the gRPC health service says NOT_SERVING; once space is freed the server takes writes
 * again without a restart. Every acknowledged write is then in the log and the store
 * exactly once, and a refused write left nothing behind. The data dir is a small tmpfs,
 * so the test needs root (CI runs as root); it also checks that start-up on a read-only,
 * a full or an unwritable data dir fails naming the dir and the cause (as root, the
 * unwritable case drops the capabilities that bypass mode bits, with `setpriv`).
 */

import { chmodSync, mkdirSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WalEventSchema } from "../../generated/entdb/v1/wal_pb.js";
import {
  Health,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "../../generated/grpc/health/v1/health_pb.js";
import { tenantFileName } from "../../server/store/index.ts";
import { openEmbeddedWal } from "../../server/wal/embedded-wal.ts";
import { readWalToEnd } from "../../server/wal/read-wal.ts";
import { canMount, cannotMountReason, mountTmpfs, type Tmpfs } from "../infra/tmpfs.ts";
import {
  connectError,
  countNodes,
  type EntDbClient,
  entDbClient,
  runCommand,
  str,
  TRACKER,
  teamOp,
} from "./e2e-helpers.ts";
import {
  REPO_ROOT,
  removeDataDir,
  runServeToExit,
  type ServerProcess,
  startServerProcess,
  tempDataDir,
} from "./server-process.ts";

if (!canMount) console.warn(`disk-full.test.ts skipped: ${cannotMountReason()}`);

const TENANT = "disk-full";

async function ops(server: ServerProcess, path: string) {
  const res = await fetch(`http://127.0.0.1:${server.httpPort}${path}`);
  return { status: res.status, body: await res.text() };
}

describe.runIf(canMount)("a data dir whose disk fills up", () => {
  let disk: Tmpfs;
  let server: ServerProcess | undefined;
  let api: EntDbClient;

  beforeAll(async () => {
    disk = mountTmpfs({ sizeBytes: 32 * 1024 * 1024 });
    server = await startServerProcess({ dataDir: disk.dir });
    api = entDbClient(server);
  }, 60_000);

  afterAll(async () => {
    try {
      await server?.stop();
    } finally {
      disk.unmount();
    }
  });

  it("refuses writes while full, reports it, and recovers without a restart", async () => {
    const live = server!;
    const acked: string[] = [];
    for (let i = 0; i < 5; i++) {
      const key = `before-${i}`;
      await api.executePlan({
        tenant: TENANT,
        idempotencyKey: key,
        operations: [teamOp(key, key)],
      });
      acked.push(key);
    }

    disk.fill();
    // A plan of two creates: neither may appear, ever.
    const refused = await connectError(
      api.executePlan({
        tenant: TENANT,
        idempotencyKey: "refused",
        operations: [teamOp("refused-a", "refused-a"), teamOp("refused-b", "refused-b")],
      }),
    );
    expect(refused.code).toBe(Code.Unavailable);
    expect(refused.rawMessage).toMatch(
      /^The log is unavailable: The log \S+wal\.sqlite failed: the log's disk is full \(SQLITE_FULL\)\. Writes are refused until the log can commit again/,
    );

    const ready = await ops(live, "/ready");
    expect(ready.status).toBe(503);
    const readyBody = JSON.parse(ready.body) as { status: string; reasons: string[] };
    expect(readyBody.status).toBe("degraded");
    expect(readyBody.reasons).toHaveLength(1);
    expect(readyBody.reasons[0]).toContain("the log's disk is full (SQLITE_FULL)");
    const health = await ops(live, "/health");
    expect(health.status).toBe(200);
    expect(JSON.parse(health.body)).toEqual(readyBody);
    const grpcHealth = createClient(
      Health,
      createConnectTransport({ baseUrl: live.url, httpVersion: "1.1" }),
    );
    expect((await grpcHealth.check({ service: "" })).status).toBe(ServingStatus.NOT_SERVING);

    // A client retrying while the disk is still full keeps getting UNAVAILABLE.
    const retried = await connectError(
      api.executePlan({
        tenant: TENANT,
        idempotencyKey: "retried",
        operations: [teamOp("r", "r")],
      }),
    );
    expect(retried.code).toBe(Code.Unavailable);
    expect(retried.rawMessage).toContain("the log's disk is full");

    disk.free();
    const deadline = Date.now() + 20_000;
    while ((await ops(live, "/ready")).status !== 200) {
      if (Date.now() > deadline) throw new Error(`not ready after freeing space:\n${live.logs()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(await ops(live, "/health")).toEqual({ status: 200, body: '{"status":"ok"}\n' });
    expect((await grpcHealth.check({ service: "" })).status).toBe(ServingStatus.SERVING);

    // The same process takes writes again; the retry with its key is applied once.
    const retry = await api.executePlan({
      tenant: TENANT,
      idempotencyKey: "retried",
      operations: [teamOp("r", "r")],
    });
    expect(retry.receipt?.replayed).toBe(false);
    acked.push("retried");
    for (let i = 0; i < 3; i++) {
      const key = `after-${i}`;
      await api.executePlan({
        tenant: TENANT,
        idempotencyKey: key,
        operations: [teamOp(key, key)],
      });
      acked.push(key);
    }

    const slugs = (
      await api.queryNodes({ tenant: TENANT, typeId: TRACKER.team, limit: 1000 })
    ).nodes
      .map((node) => {
        const value = node.fields[TRACKER.teamSlug]?.kind;
        return value?.case === "stringValue" ? value.value : "";
      })
      .sort();
    expect(slugs).toEqual([
      "after-0",
      "after-1",
      "after-2",
      "before-0",
      "before-1",
      "before-2",
      "before-3",
      "before-4",
      "r",
    ]);

    // The log holds each acknowledged call once and nothing of the refused one.
    expect(await live.stop()).toBe(0);
    server = undefined;
    const wal = await openEmbeddedWal({ path: `${disk.dir}/wal.sqlite` });
    try {
      const keys = (await readWalToEnd(wal))
        .flat()
        .filter((entry) => entry.tenant === TENANT)
        .map((entry) => fromBinary(WalEventSchema, entry.payload).idempotencyKey);
      expect(keys).toEqual(acked);
    } finally {
      await wal.close();
    }
  }, 60_000);
});

describe.runIf(canMount)(
  "a disk that fills under the tenant files while the log still commits",
  () => {
    it("parks the tenant, keeps the applier, and catches up by itself once space is freed", async () => {
      const disk = mountTmpfs({ sizeBytes: 40 * 1024 * 1024 });
      // Freed later to make room: the log reuses its pages, the tenant file only grows.
      // In pieces: freed one at a time when the log is what the disk refuses first. 20 MB:
      // more than the tenant's -wal file grows to (9-16 MB here), so the test can free
      // exactly what /ready asks for.
      const ballast: string[] = [];
      for (let i = 0; i < 80; i++) {
        ballast.push(join(disk.dir, `ballast-${i}`));
        writeFileSync(join(disk.dir, `ballast-${i}`), new Uint8Array(256 * 1024));
      }
      let live: ServerProcess | undefined;
      try {
        live = await startServerProcess({ dataDir: join(disk.dir, "data") });
        const client = entDbClient(live);
        const description = "lorem ipsum dolor sit amet ".repeat(600);
        const plan = (key: string) => ({
          tenant: TENANT,
          idempotencyKey: key,
          operations: [
            {
              op: {
                case: "createNode" as const,
                value: {
                  typeId: TRACKER.team,
                  fields: {
                    [TRACKER.teamName]: str(key),
                    [TRACKER.teamSlug]: str(key),
                    [TRACKER.teamDescription]: str(description),
                  },
                },
              },
            },
          ],
        });
        const acked: string[] = [];
        // Writes until the tenant parks on its full disk (the key of the write it parked at).
        let parkedKey: string | undefined;
        for (let i = 0; parkedKey === undefined && i < 10_000; i++) {
          const key = `fill-${i}`;
          try {
            await client.executePlan(plan(key));
            acked.push(key);
          } catch (err) {
            const failed = ConnectError.from(err);
            expect(failed.code).toBe(Code.Unavailable);
            expect(failed.rawMessage).toMatch(/disk is full|disk I\/O error/);
            if (failed.rawMessage.includes("stopped applying the log")) parkedKey = key;
            else {
              // The log's disk: a piece of ballast freed, and the log commits again.
              const piece = ballast.pop();
              if (piece === undefined) throw new Error(`the tenant never parked:\n${live.logs()}`);
              rmSync(piece);
              const until = Date.now() + 15_000;
              while ((await ops(live, "/ready")).body.includes("The log ") && Date.now() < until)
                await new Promise((resolve) => setTimeout(resolve, 200));
            }
          }
        }
        expect((await ops(live, "/ready")).status).toBe(503);

        // /ready names the tenant file whose disk needs room, and how much: the size of
        // its -wal file, which the retry checkpoints into it.
        const file = join(disk.dir, "data", "tenants", tenantFileName(TENANT));
        const walBytes = statSync(`${file}-wal`).size;
        expect(walBytes).toBeGreaterThan(0);
        const mb = (Math.ceil((walBytes / (1024 * 1024)) * 10) / 10).toFixed(1);
        const ready = JSON.parse((await ops(live, "/ready")).body) as { reasons: string[] };
        const parked =
          ready.reasons.find((r) => r.startsWith(`Tenant "${TENANT}"`)) ??
          ready.reasons.join(" / ");
        expect(parked.replace(/ at \d+:\d+: /, " at P: ")).toBe(
          `Tenant "${TENANT}" stopped applying the log at P: database or disk is full. Free ${mb} MB on the disk of ${file}: the retry checkpoints its ${mb} MB -wal file into it, which grows the file by up to that much.`,
        );

        // Full to the last byte: the parked tenant's retry cannot move the checkpoint either.
        for (const piece of ballast.splice(0)) rmSync(piece);
        const filler = disk.fill();
        expect(statSync(filler).size).toBeGreaterThan(walBytes + 256 * 1024);
        await new Promise((resolve) => setTimeout(resolve, 2_500));
        // Then freed by what /ready said, and 256 KB for the log's and meta.sqlite's pages:
        // enough for the retry to bring the tenant up to date.
        truncateSync(filler, Math.max(0, statSync(filler).size - walBytes - 256 * 1024));
        const deadline = Date.now() + 60_000;
        while ((await ops(live, "/ready")).status !== 200) {
          if (Date.now() > deadline)
            throw new Error(`not ready after freeing space:\n${live.logs()}`);
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        // Then room for more writes: the call the tenant parked at, retried with its key,
        // and a new write are applied.
        disk.free();
        const retryKey = parkedKey ?? "";
        await client.executePlan(plan(retryKey));
        acked.push(retryKey);
        await client.executePlan(plan("after"));
        acked.push("after");
        expect(await countNodes(client, TENANT)).toBe(acked.length);
        expect(live.logs()).not.toContain('"applier stopped"');
        expect(await live.stop()).toBe(0);
        live = undefined;
      } finally {
        await live?.stop();
        disk.unmount();
      }
    }, 120_000);
  },
);

describe.runIf(canMount)("start-up on a data dir it cannot write", () => {
  it("fails naming the read-only dir instead of a disk I/O error", async () => {
    const disk = mountTmpfs({ sizeBytes: 1024 * 1024, readOnly: true });
    try {
      const exit = await runServeToExit({ dataDir: disk.dir });
      expect(exit.code).toBe(1);
      expect(exit.listened).toBe(false);
      expect(exit.stderr).toBe(
        `error: the data dir ${disk.dir} is read-only (EROFS: its file system is mounted read-only);` +
          " fix that or choose another --data-dir (ENTDB_DATA_DIR).\n",
      );
    } finally {
      disk.unmount();
    }
  });

  it("fails naming the full disk", async () => {
    const disk = mountTmpfs({ sizeBytes: 1024 * 1024 });
    try {
      disk.fill();
      const exit = await runServeToExit({ dataDir: disk.dir });
      expect(exit.code).toBe(1);
      expect(exit.stderr).toBe(
        `error: the data dir ${disk.dir} is on a full disk (ENOSPC);` +
          " fix that or choose another --data-dir (ENTDB_DATA_DIR).\n",
      );
    } finally {
      disk.unmount();
    }
  });
});

describe("start-up on a data dir without write permission", () => {
  it("fails naming the dir and 'permission denied'", async () => {
    const parent = tempDataDir("entdb-perm-");
    const dir = join(parent, "data");
    mkdirSync(dir);
    chmodSync(dir, 0o555);
    try {
      const serve = [
        join(REPO_ROOT, "bin", "entdb.ts"),
        "serve",
        "--schema",
        join(REPO_ROOT, "examples", "tracker", "schema.entdb"),
        "--data-dir",
        dir,
        "--port",
        "0",
        "--http-port",
        "0",
      ];
      // Root writes anywhere by its capabilities: drop them, so the mode bits count.
      const root = process.getuid?.() === 0;
      const result = await runCommand(
        root ? "setpriv" : process.execPath,
        root
          ? [
              "--inh-caps=-all",
              "--bounding-set=-dac_override,-dac_read_search",
              process.execPath,
              ...serve,
            ]
          : serve,
        {
          cwd: REPO_ROOT,
          env: { ...process.env, ENTDB_WAL: "embedded", ENTDB_KAFKA_BROKERS: "" },
          timeout: 30_000,
        },
      );
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `error: permission denied: the data dir ${dir} is not writable by uid ${process.getuid?.()} (EACCES);` +
          " fix that or choose another --data-dir (ENTDB_DATA_DIR).\n",
      );
    } finally {
      chmodSync(dir, 0o755);
      removeDataDir(parent);
    }
  });
});
