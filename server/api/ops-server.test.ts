import { afterEach, describe, expect, it } from "vitest";
import { createServerMetrics } from "./metrics.ts";
import { type OpsServer, startOpsServer } from "./ops-server.ts";

let server: OpsServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function start(ready: () => Promise<boolean>): Promise<OpsServer> {
  return startOpsServer({
    host: "127.0.0.1",
    port: 0,
    metrics: createServerMetrics({
      applierLag: async () => new Map(),
      openTenantDbs: () => 0,
      parkedTenants: () => 0,
    }),
    ready,
    readyDetails: async () => ({ archive_lag_records: 3 }),
  });
}

describe("the ops server's /ready", () => {
  it("names why it cannot tell whether the applier caught up when the log cannot be read", async () => {
    server = await start(() =>
      Promise.reject(
        new Error(
          'Could not read the end of partition 0 of "entdb-wal": Connection error: connect ECONNREFUSED 127.0.0.1:9092',
        ),
      ),
    );
    const res = await fetch(`http://127.0.0.1:${server.port}/ready`);
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      status: "degraded",
      reasons: [
        'Cannot tell whether the applier caught up with the log: Could not read the end of partition 0 of "entdb-wal": Connection error: connect ECONNREFUSED 127.0.0.1:9092',
      ],
      archive_lag_records: 3,
    });
  });

  it("answers 200 ready, and 503 catching up, with its details", async () => {
    let caughtUp = false;
    server = await start(async () => caughtUp);
    const behind = await fetch(`http://127.0.0.1:${server.port}/ready`);
    expect([behind.status, await behind.json()]).toEqual([
      503,
      { status: "catching up", archive_lag_records: 3 },
    ]);
    caughtUp = true;
    const ready = await fetch(`http://127.0.0.1:${server.port}/ready`);
    expect([ready.status, await ready.json()]).toEqual([
      200,
      { status: "ready", archive_lag_records: 3 },
    ]);
  });
});
