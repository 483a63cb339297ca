/**
 * Finds the Go toolchain and builds the load generator (`tests/bench/loadgen/`) for
 * `npm run bench:pg` and for the test that keeps it compiling. Go is required: a
 * missing toolchain is an error that says where it was looked for, never a skip.
 */

import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";

/** The load generator's Go module. */
export const LOADGEN_DIR = join(import.meta.dirname, "loadgen");

/** Where Go's official tarball installs itself; also looked for when not on PATH. */
const DEFAULT_GO = "/usr/local/go/bin/go";

/** The `go` binary: `$GO`, else the first on PATH, else /usr/local/go/bin/go. */
export function goBinary(): string {
  const fromEnv = process.env["GO"];
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`GO=${fromEnv} does not exist.`);
    return fromEnv;
  }
  for (const dir of (process.env["PATH"] ?? "").split(delimiter)) {
    const candidate = join(dir, "go");
    if (dir !== "" && existsSync(candidate)) return candidate;
  }
  if (existsSync(DEFAULT_GO)) return DEFAULT_GO;
  throw new Error(
    `The Go toolchain was not found (not on PATH, not at ${DEFAULT_GO}, GO unset): install Go 1.26 or newer (as tests/bench/loadgen/go.mod asks), which builds the benchmark load generator in tests/bench/loadgen.`,
  );
}

/**
 * Vets and builds the load generator into `out`; throws with Go's output if either
 * fails. Modules come from the Go module proxy on the first build, then from the cache.
 */
export function buildLoadgen(out: string): void {
  const go = goBinary();
  for (const args of [
    ["vet", "./..."],
    ["build", "-o", out, "."],
  ]) {
    try {
      execFileSync(go, args, { cwd: LOADGEN_DIR, stdio: ["ignore", "pipe", "pipe"] });
    } catch (error) {
      const output = (error as { stderr?: Buffer }).stderr?.toString() ?? "";
      throw new Error(`go ${args.join(" ")} in ${LOADGEN_DIR} failed:\n${output}`, {
        cause: error,
      });
    }
  }
}

/**
 * The load generator's EntDB clients: `lean` frames HTTP/2 itself (lean-conn.go) and
 * checks answers from their wire bytes, spending a fraction of the CPU per call;
 * `connect` is connect-go over net/http, what a Go application would use.
 */
export const LOADGEN_CLIENTS = ["lean", "connect"] as const;
export type LoadgenClient = (typeof LOADGEN_CLIENTS)[number];

/** The client `ENTDB_BENCH_CLIENT` names: `lean` when unset; anything else is an error. */
export function benchClient(): LoadgenClient {
  const named = process.env["ENTDB_BENCH_CLIENT"] ?? "lean";
  const client = LOADGEN_CLIENTS.find((c) => c === named);
  if (client === undefined)
    throw new Error(
      `ENTDB_BENCH_CLIENT=${named}: use ${LOADGEN_CLIENTS.join(" or ")} (lean when unset).`,
    );
  return client;
}

/** One `loadgen run`: a row driven against a server (tests/bench/loadgen). */
export interface LoadgenRun {
  readonly url: string;
  readonly protocol?: "connect" | "grpc";
  /** The EntDB client (default `lean`). */
  readonly client?: LoadgenClient;
  readonly tenant?: string;
  readonly op: string;
  readonly clients: number | string;
  readonly seconds: number | string;
  /** The file of ids the load generator's `load` wrote. */
  readonly ids: string;
  /** The server's pid, whose CPU the load generator reports per call. */
  readonly serverPid: number | undefined;
  /** HTTP/2 connections the clients share (default 1: every client on one connection). */
  readonly conns?: number;
}

/** The command line of `loadgen run` for `run`. */
export function loadgenRunArgs(run: LoadgenRun): string[] {
  return [
    "run",
    "--url",
    run.url,
    "--protocol",
    run.protocol ?? "connect",
    "--client",
    run.client ?? "lean",
    "--tenant",
    run.tenant ?? "bench",
    "--op",
    run.op,
    "--clients",
    String(run.clients),
    "--seconds",
    String(run.seconds),
    "--ids",
    run.ids,
    "--server-pid",
    String(run.serverPid),
    ...(run.conns === undefined ? [] : ["--conns", String(run.conns)]),
  ];
}

/** What `loadgen run` prints: its calls, window, latencies and the server's CPU over it. */
export interface LoadgenResult {
  readonly ops: number;
  readonly seconds: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly serverCpuUs: number;
  /** The load generator's own CPU over the same window. */
  readonly clientCpuUs: number;
  /**
   * A mixed row's (`op` READ+WRITE) writer calls over the same window; `ops` and the
   * percentiles are then the reads', `serverCpuUs` both kinds'.
   */
  readonly writes?: {
    readonly ops: number;
    readonly seconds: number;
    readonly p50Us: number;
    readonly p99Us: number;
  };
}

/** Parses what `loadgen run` printed. */
export function parseLoadgenResult(out: string): LoadgenResult {
  return JSON.parse(out) as LoadgenResult;
}
