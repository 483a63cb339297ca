/**
 * The operator surface of a real `entdb serve`: `/health`, `/ready`, `/metrics` on the
 * HTTP port, CORS on the API port, and a clean SIGTERM shutdown.
 */

import { Code, ConnectError } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { type EntDbClient, entDbClient, serverPerFile, teamPlan } from "./e2e-helpers.ts";

const TEAM = 2;
const ALLOWED = "https://app.example.com";

// The shutdown test stops the server itself and checks its exit code there.
const server = serverPerFile({
  args: ["--cors-origins", `${ALLOWED},https://admin.example.com`],
  checkExit: false,
});
let api: EntDbClient;

beforeAll(() => {
  api = entDbClient(server, { httpVersion: "1.1" });
});

async function ops(path: string, method = "GET") {
  const res = await fetch(`http://127.0.0.1:${server.httpPort}${path}`, { method });
  return { status: res.status, type: res.headers.get("content-type"), body: await res.text() };
}

/** The value of one exact sample line of a Prometheus text exposition. */
function sample(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("ops endpoints", () => {
  it("answers /health and /ready with JSON status", async () => {
    expect(await ops("/health")).toEqual({
      status: 200,
      type: "application/json",
      body: '{"status":"ok"}\n',
    });
    expect(await ops("/ready")).toEqual({
      status: 200,
      type: "application/json",
      body: '{"status":"ready"}\n',
    });
    expect((await ops("/nope")).status).toBe(404);
    expect((await ops("/health", "POST")).status).toBe(405);
  });

  it("counts requests by method and code, and reports open tenant databases", async () => {
    for (let i = 0; i < 3; i++) await api.executePlan(teamPlan("ops-a", `t${i}`));
    await api.executePlan(teamPlan("ops-b", "t"));
    try {
      await api.executePlan({ tenant: "ops-a", operations: [] });
      throw new Error("expected invalid_argument");
    } catch (err) {
      expect(ConnectError.from(err).code).toBe(Code.InvalidArgument);
    }
    await api.queryNodes({ tenant: "ops-a", typeId: TEAM });

    const metrics = await ops("/metrics");
    expect(metrics.status).toBe(200);
    expect(metrics.type).toContain("text/plain");
    const text = metrics.body;
    expect(
      sample(text, 'entdb_requests_total{method="entdb.v1.EntDbService/ExecutePlan",code="ok"}'),
    ).toBe(4);
    expect(
      sample(
        text,
        'entdb_requests_total{method="entdb.v1.EntDbService/ExecutePlan",code="invalid_argument"}',
      ),
    ).toBe(1);
    expect(
      sample(text, 'entdb_requests_total{method="entdb.v1.EntDbService/QueryNodes",code="ok"}'),
    ).toBe(1);
    expect(
      sample(
        text,
        'entdb_request_duration_seconds_count{method="entdb.v1.EntDbService/ExecutePlan"}',
      ),
    ).toBe(5);
    expect(sample(text, "entdb_open_tenant_databases")).toBe(2);
    expect(sample(text, 'entdb_applier_lag_events{partition="0"}')).toBe(0);
    // Declared; the server does not observe it yet (no call site), so no count is asserted.
    expect(text).toContain("# TYPE entdb_wal_append_duration_seconds histogram");
    // Process metrics carry the one prefix: entdb_process_cpu_…, entdb_nodejs_….
    expect(text).toMatch(/^entdb_nodejs_eventloop_lag_max_seconds \d/m);
    expect(text).toMatch(/^entdb_process_cpu_user_seconds_total \d/m);
    expect(text).not.toContain("entdb_process_process_");
  });
});

describe("CORS", () => {
  const preflight = (origin: string) =>
    fetch(`${server.url}/entdb.v1.EntDbService/ExecutePlan`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "authorization,content-type,connect-protocol-version",
      },
    });

  it("allows an allowed origin to send Authorization", async () => {
    const res = await preflight(ALLOWED);
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    const allowed = (res.headers.get("access-control-allow-headers") ?? "")
      .split(",")
      .map((h) => h.trim().toLowerCase());
    expect(allowed).toContain("authorization");
    expect(allowed).toContain("content-type");
    expect(allowed).toContain("connect-protocol-version");
    expect(res.headers.get("access-control-allow-methods")).toContain("POST");
  });

  it("lets a browser send the tenant header the typed services read", async () => {
    const res = await fetch(`${server.url}/acme.tracker.TeamService/Create`, {
      method: "OPTIONS",
      headers: {
        origin: ALLOWED,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type,entdb-tenant",
      },
    });
    expect(res.status).toBe(204);
    const allowed = (res.headers.get("access-control-allow-headers") ?? "")
      .split(",")
      .map((h) => h.trim().toLowerCase());
    expect(allowed).toContain("entdb-tenant");
  });

  it("gives a disallowed origin no allow-origin header", async () => {
    const res = await preflight("https://evil.example.com");
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect(res.headers.get("access-control-allow-headers")).toBeNull();
  });

  it("marks an actual call from an allowed origin, and not from another", async () => {
    const call = (origin: string) =>
      fetch(`${server.url}/entdb.v1.EntDbService/GetSchema`, {
        method: "POST",
        headers: { origin, "content-type": "application/json" },
        body: "{}",
      });
    const ok = await call(ALLOWED);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("access-control-allow-origin")).toBe(ALLOWED);
    const other = await call("https://evil.example.com");
    expect(other.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("shutdown", () => {
  it("exits 0 on SIGTERM and logs 'stopped'", async () => {
    const code = await server.stop();
    expect(code).toBe(0);
    const messages = server
      .logs()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => (JSON.parse(l) as { msg?: string; message?: string }).msg ?? "");
    expect(messages).toContain("stopped");
  }, 30_000);
});
