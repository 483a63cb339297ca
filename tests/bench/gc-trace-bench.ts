/**
 * `node tests/bench/gc-trace-bench.ts [rows] [seconds] [rounds] NAME=FLAGS...`: what the
 * young generation's collections cost `entdb serve` under the Go load generator, per set
 * of V8 flags. Each variant is a whole `entdb serve` started with its flags (on top of
 * the ones `entdb serve` adds itself) and `--trace-gc-nvp`; the variants run one after
 * another, in alternating order, `rounds` times. Prints per variant and row: calls/s,
 * p50, p99 and server CPU per call (medians of the rounds), then the scavenges of the
 * measured windows: how many per second, their pause (median, 90th percentile) and
 * V8's own split of it (waiting for the safepoint, the roots, the parallel copying on
 * the main thread and on helper threads, sweeping the young generation's array
 * buffers), and what survived and was promoted. Rows are
 * `op:clients` as in `npm run bench:pg` (default `create:1,get:1,get:32`). E.g.
 * `node tests/bench/gc-trace-bench.ts create:1 5 2 default= single=--single-threaded-gc`.
 * A measurement, not a test.
 */

import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, REPO_ROOT } from "../e2e/server-process.ts";
import { buildLoadgen, loadgenRunArgs, parseLoadgenResult } from "./go-toolchain.ts";

const positional = process.argv.slice(2).filter((a) => !a.includes("="));
const variants = process.argv
  .slice(2)
  .filter((a) => a.includes("="))
  .map((a) => {
    const at = a.indexOf("=");
    return {
      name: a.slice(0, at),
      flags: a
        .slice(at + 1)
        .split(/\s+/)
        .filter(Boolean),
    };
  });
const [rowsArg = "create:1,get:1,get:32", secondsArg = "5", roundsArg = "2"] = positional;
if (variants.length === 0) {
  console.error(
    "usage: node tests/bench/gc-trace-bench.ts [rows] [seconds] [rounds] NAME=FLAGS...",
  );
  process.exit(2);
}
const rows = rowsArg.split(",").map((r) => {
  const [op = "", clients = "1"] = r.split(":");
  return { op, clients };
});

/** One scavenge as `--trace-gc-nvp` reports it (times in ms, sizes in bytes). */
type Scavenge = Record<string, number>;

const work = mkdtempSync(join(tmpdir(), "entdb-gc-"));
const bin = join(work, "loadgen");
buildLoadgen(bin);

/** A running server and the file its trace goes to. */
interface Traced {
  readonly child: ChildProcess;
  readonly url: string;
  readonly traceFile: string;
}

/** The trace so far. V8 writes it through stdio's buffer: up to a few KB arrive late. */
const traceOf = (server: Traced) => readFileSync(server.traceFile, "utf8");

/** Runs the load generator without blocking this process. */
const run = (args: readonly string[]) =>
  new Promise<string>((resolve, reject) =>
    execFile(bin, args, (error, stdout) => (error ? reject(error) : resolve(stdout))),
  );

async function start(name: string, flags: readonly string[]): Promise<Traced> {
  const port = await freePort();
  const httpPort = await freePort();
  // A file, not a pipe: a trace nobody reads in time must not block the server.
  const traceFile = join(work, `${name}.trace`);
  const child = spawn(
    process.execPath,
    [
      ...flags,
      "--trace-gc-nvp",
      join(REPO_ROOT, "bin", "entdb.ts"),
      "serve",
      "--schema",
      join(REPO_ROOT, "examples", "tracker", "schema.entdb"),
      "--data-dir",
      join(work, name),
      "--port",
      String(port),
      "--http-port",
      String(httpPort),
    ],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, ENTDB_LOG_LEVEL: "warn", ENTDB_WAL: "embedded" },
      stdio: ["ignore", openSync(traceFile, "w"), "inherit"],
    },
  );
  const traced: Traced = { child, url: `http://127.0.0.1:${port}`, traceFile };
  for (let i = 0; i < 300; i++) {
    const ready = await fetch(`http://127.0.0.1:${httpPort}/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return traced;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${name}: the server did not get ready`);
}

function scavenges(trace: string): Scavenge[] {
  return trace
    .split("\n")
    .filter((line) => line.includes(" gc=s "))
    .map((line) => {
      const fields: Scavenge = {};
      for (const [, key, value] of line.matchAll(/([\w.]+)=([\d.]+)/g))
        fields[key as string] = Number(value);
      return fields;
    });
}

const quantile = (xs: readonly number[], q: number) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] as number;
};
const median = (xs: readonly number[]) => quantile(xs, 0.5);

const servers = new Map<string, Traced>();
try {
  for (const v of variants) {
    const server = await start(v.name, v.flags);
    servers.set(v.name, server);
    execFileSync(bin, [
      "load",
      "--url",
      server.url,
      "--tenant",
      "bench",
      "--ids",
      join(work, `${v.name}.json`),
    ]);
  }
  const runs = new Map<string, { rate: number; p50: number; p99: number; cpu: number }[]>();
  const gcs = new Map<string, Scavenge[]>();
  const window = new Map<string, number>();
  for (let round = 0; round < Number(roundsArg); round++) {
    for (const row of rows) {
      const order = round % 2 === 0 ? variants : [...variants].reverse();
      for (const v of order) {
        const server = servers.get(v.name) as Traced;
        const from = traceOf(server).length;
        const out = await run(
          loadgenRunArgs({
            url: server.url,
            op: row.op,
            clients: row.clients,
            seconds: secondsArg,
            ids: join(work, `${v.name}.json`),
            serverPid: server.child.pid,
          }),
        );
        await new Promise((resolve) => setTimeout(resolve, 300));
        const m = parseLoadgenResult(out);
        const key = `${row.op}:${row.clients} ${v.name}`;
        runs.set(key, [
          ...(runs.get(key) ?? []),
          { rate: m.ops / m.seconds, p50: m.p50Us, p99: m.p99Us, cpu: m.serverCpuUs / m.ops },
        ]);
        // The window includes the load generator's unmeasured second before it.
        gcs.set(key, [...(gcs.get(key) ?? []), ...scavenges(traceOf(server).slice(from))]);
        window.set(key, (window.get(key) ?? 0) + m.seconds + 1);
      }
    }
  }
  console.log(
    "| row | flags | calls/s | p50 µs | p99 µs | CPU µs/call | scavenges/s | pause median, p90 ms | safepoint | roots | parallel (main) | parallel (helpers) | array buffers | survived KB | promoted KB | new space KB |",
  );
  console.log("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const row of rows) {
    for (const v of variants) {
      const key = `${row.op}:${row.clients} ${v.name}`;
      const r = runs.get(key) ?? [];
      const g = gcs.get(key) ?? [];
      const f = (name: string, digits = 2) => median(g.map((s) => s[name] ?? 0)).toFixed(digits);
      const kb = (name: string) => (median(g.map((s) => s[name] ?? 0)) / 1024).toFixed(0);
      const pauses = g.map((s) => s["pause"] ?? 0);
      console.log(
        `| ${row.op}, ${row.clients} | ${v.name}: \`${v.flags.join(" ") || "(none)"}\` | ${median(r.map((x) => x.rate)).toFixed(0)} | ${median(r.map((x) => x.p50)).toFixed(0)} | ${median(r.map((x) => x.p99)).toFixed(0)} | ${median(r.map((x) => x.cpu)).toFixed(0)} | ${(g.length / (window.get(key) ?? 1)).toFixed(1)} | ${median(pauses).toFixed(2)}, ${quantile(pauses, 0.9).toFixed(2)} | ${f("time_to_safepoint")} | ${f("scavenge.roots")} | ${f("scavenge.parallel")} | ${f("background.scavenge.parallel")} | ${f("scavenge.sweep_array_buffers")} | ${kb("new_space_survived")} | ${kb("promoted")} | ${kb("new_space_capacity")} |`,
      );
    }
  }
} finally {
  for (const server of servers.values()) {
    server.child.kill("SIGTERM");
    await new Promise((resolve) => server.child.once("exit", resolve));
  }
  // GC_TRACE_KEEP=1 keeps the traces (and anything else the flags print, e.g. `--trace-opt`).
  if (process.env.GC_TRACE_KEEP === "1") console.log(`traces kept in ${work}`);
  else rmSync(work, { recursive: true, force: true });
}
