/**
 * Keeps the Go load generator of `npm run bench:pg` (tests/bench/loadgen) compiling,
 * vetted and in step with the server's .proto files, so the benchmark does not rot
 * between runs, and drives a real `entdb serve` with it briefly: every row over Connect
 * and gRPC with its lean client (which frames HTTP/2 itself), and an error the server
 * answers, which must stop the run with the server's message. Go is required here: a
 * machine without it fails this test with a message that says so. No number is judged.
 */

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildLoadgen,
  goBinary,
  LOADGEN_DIR,
  type LoadgenClient,
  loadgenRunArgs,
  parseLoadgenResult,
} from "../bench/go-toolchain.ts";
import {
  REPO_ROOT,
  removeDataDir,
  type ServerProcess,
  startServerProcess,
} from "../e2e/server-process.ts";
import { EMBEDDED_SERVE_ENV } from "../kafka/kafka-serve.ts";

const dir = mkdtempSync(join(tmpdir(), "entdb-loadgen-"));
afterAll(() => removeDataDir(dir));

function listFiles(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(root, join(d.parentPath, d.name)))
    .sort();
}

describe("bench load generator", () => {
  // A cold build fetches and compiles connect-go and protobuf; later ones hit Go's cache.
  it("passes go vet and go test, builds, and refuses bad arguments", { timeout: 300_000 }, () => {
    expect(goBinary()).toMatch(/\/go$/);
    const bin = join(dir, "loadgen");
    buildLoadgen(bin);
    // The lean client's plan encoding and wire checks (plan-wire_test.go).
    execFileSync(goBinary(), ["test", "."], { cwd: LOADGEN_DIR, stdio: "pipe" });

    const usage = spawnSync(bin, [], { encoding: "utf8" });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toBe("usage: loadgen load|run|pgbench [flags] (see main.go)\n");

    const ids = join(dir, "ids.json");
    writeFileSync(ids, JSON.stringify({ users: ["u"], teams: ["t"] }));
    const run = spawnSync(
      bin,
      ["run", "--url", "http://127.0.0.1:1", "--op", "nope", "--ids", ids],
      { encoding: "utf8" },
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(
      'loadgen run: --op "nope": use create, create-team, node-edge, create-100, get, get-100, query-50, edges-out or edges-in\n',
    );
    const mixed = spawnSync(
      bin,
      ["run", "--url", "http://127.0.0.1:1", "--op", "get+nope", "--ids", ids],
      { encoding: "utf8" },
    );
    expect(mixed.status).toBe(1);
    expect(mixed.stderr).toBe(
      'loadgen run: --op "nope": use create, create-team, node-edge, create-100, get, get-100, query-50, edges-out or edges-in\n',
    );
  });

  it("has Go code that matches a fresh `buf generate`", { timeout: 300_000 }, () => {
    // The plugins at the versions go.mod requires, built from the module cache.
    const plugins = join(dir, "plugins");
    for (const pkg of [
      "google.golang.org/protobuf/cmd/protoc-gen-go",
      "connectrpc.com/connect/cmd/protoc-gen-connect-go",
    ]) {
      // A trailing slash: -o names the directory the binary goes into.
      execFileSync(goBinary(), ["build", "-o", `${plugins}/`, pkg], { cwd: LOADGEN_DIR });
    }
    expect(readdirSync(plugins).sort()).toEqual(["protoc-gen-connect-go", "protoc-gen-go"]);
    const out = join(dir, "generated");
    execFileSync(
      join(REPO_ROOT, "node_modules", ".bin", "buf"),
      [
        "generate",
        "--template",
        join(LOADGEN_DIR, "buf.gen.yaml"),
        "--path",
        "server/api/proto/entdb",
        "--output",
        out,
      ],
      { cwd: REPO_ROOT, env: { ...process.env, PATH: `${plugins}:${process.env["PATH"]}` } },
    );
    const fresh = join(out, "tests", "bench", "loadgen", "gen");
    const committed = join(LOADGEN_DIR, "gen");
    const files = listFiles(fresh);
    expect(files).toContain("entdb/v1/entdbv1connect/entdb.connect.go");
    expect(listFiles(committed)).toEqual(files);
    for (const file of files) {
      expect(readFileSync(join(committed, file), "utf8"), file).toBe(
        readFileSync(join(fresh, file), "utf8"),
      );
    }
  });
});

describe("bench load generator against entdb serve", () => {
  const bin = join(dir, "loadgen-live");
  const ids = join(dir, "live-ids.json");
  let server: ServerProcess;

  beforeAll(async () => {
    buildLoadgen(bin);
    server = await startServerProcess({ dataDir: join(dir, "entdb"), env: EMBEDDED_SERVE_ENV });
    execFileSync(bin, ["load", "--url", server.url, "--tenant", "bench", "--ids", ids]);
  }, 300_000);
  afterAll(async () => {
    await server?.stop();
  });

  function run(
    op: string,
    protocol: "connect" | "grpc",
    client: LoadgenClient,
    tenant = "bench",
    clients = 4,
    conns = 2,
  ) {
    return spawnSync(
      bin,
      [
        ...loadgenRunArgs({
          url: server.url,
          protocol,
          client,
          tenant,
          op,
          clients,
          conns,
          seconds: 0.4,
          ids,
          serverPid: server.child.pid,
        }),
        "--warmup",
        "0.1",
      ],
      { encoding: "utf8" },
    );
  }

  // Reads first, so each edge row finds exactly the 10 edges it checks for.
  const ops = ["get", "get-100", "query-50", "edges-out", "edges-in", "create", "node-edge"];
  for (const op of [...ops, "create-100"]) {
    for (const protocol of ["connect", "grpc"] as const) {
      it(`runs ${op} over ${protocol} with the lean client`, { timeout: 60_000 }, () => {
        const out = run(op, protocol, "lean");
        expect(out.stderr).toBe("");
        expect(out.status).toBe(0);
        const m = parseLoadgenResult(out.stdout);
        // Even a plan of 100 creates on a loaded machine completes a few in 0.4 s.
        expect(m.ops).toBeGreaterThanOrEqual(op === "create-100" ? 2 : 20);
        expect(m.ops).toBeLessThan(200_000);
        expect(m.seconds).toBeGreaterThan(0.35);
        expect(m.p50Us).toBeGreaterThan(0);
        expect(m.p99Us).toBeGreaterThanOrEqual(m.p50Us);
        expect(m.serverCpuUs).toBeGreaterThan(0);
      });
    }
  }

  // A connection with one client has no reader goroutine: the client reads its own
  // answers (lean-conn.go). 1 client on 1 connection is solo; 3 on 2 put clients 0 and
  // 2 on a shared connection and client 1 alone on the other, so both paths run at once.
  // A plan of 100 creates sends 12 KB a call, past the first send window's 64 KiB within
  // a few calls: the window the server grants back is read by the caller.
  for (const [clients, conns] of [
    [1, 1],
    [3, 2],
  ] as const) {
    for (const op of ["get", "get-100", "create", "create-100"]) {
      for (const protocol of ["connect", "grpc"] as const) {
        it(`runs ${op} over ${protocol} with ${clients} client(s) on ${conns} connection(s)`, {
          timeout: 60_000,
        }, () => {
          const out = run(op, protocol, "lean", "bench", clients, conns);
          expect(out.stderr).toBe("");
          expect(out.status).toBe(0);
          const m = parseLoadgenResult(out.stdout);
          expect(m.ops).toBeGreaterThanOrEqual(op === "create-100" ? 2 : 20);
          expect(m.ops).toBeLessThan(200_000);
          expect(m.seconds).toBeGreaterThan(0.35);
          expect(m.p50Us).toBeGreaterThan(0);
          expect(m.p99Us).toBeGreaterThanOrEqual(m.p50Us);
          expect(m.serverCpuUs).toBeGreaterThan(0);
          expect(m.clientCpuUs).toBeGreaterThan(0);
        });
      }
    }
  }

  // A mixed row: its readers and one writer over the same window, both counted apart.
  for (const op of ["query-50+create-team", "get+create"]) {
    for (const [protocol, client] of [
      ["connect", "lean"],
      ["grpc", "lean"],
      ["connect", "connect"],
    ] as const) {
      it(`runs the mixed row ${op} over ${protocol} with the ${client} client`, {
        timeout: 60_000,
      }, () => {
        const out = run(op, protocol, client);
        expect(out.stderr).toBe("");
        expect(out.status).toBe(0);
        const m = parseLoadgenResult(out.stdout);
        expect(m.ops).toBeGreaterThanOrEqual(20);
        expect(m.writes?.ops).toBeGreaterThanOrEqual(2);
        expect(m.writes?.seconds).toBeGreaterThan(0.35);
        expect(m.writes?.p99Us).toBeGreaterThanOrEqual(m.writes?.p50Us ?? Infinity);
        expect(m.serverCpuUs).toBeGreaterThan(0);
      });
    }
  }

  it("leaves a row that is not mixed without writes", { timeout: 60_000 }, () => {
    const out = run("get", "connect", "lean");
    expect(out.status).toBe(0);
    expect(parseLoadgenResult(out.stdout).writes).toBeUndefined();
  });

  it("still runs a row with the connect-go client", { timeout: 60_000 }, () => {
    const out = run("get", "grpc", "connect");
    expect(out.status).toBe(0);
    expect(parseLoadgenResult(out.stdout).ops).toBeGreaterThanOrEqual(20);
  });

  const invalid =
    "invalid_argument: The tenant id \"Bad Tenant!\" contains whitespace (U+0020); use ASCII letters, digits, '.', '_' and '-'.";
  for (const [op, method] of [
    ["get", "GetNode"],
    ["create", "ExecutePlan"],
  ] as const) {
    for (const protocol of ["connect", "grpc"] as const) {
      it(`stops on the server's error over ${protocol} (${method}) and exits 1`, () => {
        const out = run(op, protocol, "lean", "Bad Tenant!");
        expect(out.status).toBe(1);
        expect(out.stdout).toBe("");
        expect(out.stderr).toBe(`loadgen run: warm-up: ${method}: ${invalid}\n`);
      });
      it(`stops on the server's error over ${protocol} (${method}) with 1 client on its own connection`, () => {
        const out = run(op, protocol, "lean", "Bad Tenant!", 1, 1);
        expect(out.status).toBe(1);
        expect(out.stdout).toBe("");
        expect(out.stderr).toBe(`loadgen run: warm-up: ${method}: ${invalid}\n`);
      });
    }
  }
});
