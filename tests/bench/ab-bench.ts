/**
 * `node tests/bench/ab-bench.ts BASE_TREE [rows] [seconds] [rounds] [--grpc] [--conns N]
 * [--threads A,B]`: the rows of
 * `npm run bench:pg` against two builds of EntDB in one run, to measure a change: one
 * `entdb serve` started from BASE_TREE (another checkout of the repository, e.g. a
 * worktree of the commit before) and one from this tree, the same data loaded into both,
 * then every row run on each in turn, alternating which goes first, `rounds` times.
 * Prints, per row, the server's CPU per call on each side (median and lowest of the
 * rounds) and their ratio, then each side's calls/s, p50, p99 and its main thread's CPU
 * per call (medians of the rounds). Rows are `op` or `op:clients` as in `npm run bench:pg`
 * (default `get,edges-out,edges-in,query-50,get-100` at 32 clients); a mixed row
 * (`query-50+create-team`) counts its reads and its writer's calls together for the CPU
 * per call, and shows the writer's calls/s, p50 and p99 beside the reads'. Connect unless
 * `--grpc`; the load generator's lean client unless `ENTDB_BENCH_CLIENT=connect`.
 * `--conns N` spreads each row's clients over N HTTP/2 connections on both sides;
 * `--threads A,B` starts the base with `--serve-threads A` and this tree with
 * `--serve-threads B` (BASE_TREE `.` compares one build with and without threads). Prints
 * the load average before and after. A measurement, not a test.
 */

import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startServerProcess as startThis } from "../e2e/server-process.ts";
import { EMBEDDED_SERVE_ENV } from "../kafka/kafka-serve.ts";
import { benchClient, buildLoadgen, loadgenRunArgs, parseLoadgenResult } from "./go-toolchain.ts";

const argv = process.argv.slice(2);
const grpc = argv.includes("--grpc");
/** The value of `--name V`, taken out of the positional arguments. */
const flag = (name: string): string | undefined => {
  const at = argv.indexOf(name);
  if (at < 0) return undefined;
  const value = argv[at + 1];
  argv.splice(at, 2);
  return value;
};
const conns = flag("--conns");
const [baseThreads = "0", thisThreads = "0"] = (flag("--threads") ?? "0,0").split(",");
const args = argv;
const [
  baseArg,
  rowsArg = "get,edges-out,edges-in,query-50,get-100",
  secondsArg = "3",
  roundsArg = "4",
] = args.filter((a) => !a.startsWith("--"));
if (baseArg === undefined) {
  console.error("usage: node tests/bench/ab-bench.ts BASE_TREE [rows] [seconds] [rounds] [--grpc]");
  process.exit(2);
}
const baseTree = resolve(baseArg);
const client = benchClient();
const rows = rowsArg.split(",").map((r) => {
  const [op = "", clients = "32"] = r.split(":");
  return { op, clients };
});

const work = mkdtempSync(join(tmpdir(), "entdb-ab-"));
const bin = join(work, "loadgen");
buildLoadgen(bin);
type Start = typeof startThis;
const { startServerProcess: startBase } = (await import(
  join(baseTree, "tests", "e2e", "server-process.ts")
)) as { startServerProcess: Start };
const sides = [
  {
    name: "base",
    server: await startBase({
      dataDir: join(work, "base"),
      env: EMBEDDED_SERVE_ENV,
      args: baseThreads === "0" ? [] : ["--serve-threads", baseThreads],
    }),
  },
  {
    name: "this",
    server: await startThis({
      dataDir: join(work, "this"),
      env: EMBEDDED_SERVE_ENV,
      args: thisThreads === "0" ? [] : ["--serve-threads", thisThreads],
    }),
  },
];

/**
 * The CPU time the server's main thread (its first task, whose id is the process id) has
 * used, in µs, from /proc (clock ticks of 10 ms: a row's few seconds make that a fine
 * enough grain per call). Beside the process's CPU per call, it shows what the main
 * thread, which runs every write's engine work, spends per call.
 */
const mainThreadCpuUs = (pid: number | undefined): number => {
  if (pid === undefined) return 0;
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces), closed by the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
};

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

try {
  for (const side of sides) {
    execFileSync(bin, [
      "load",
      "--url",
      side.server.url,
      "--tenant",
      "bench",
      "--ids",
      join(work, `${side.name}.json`),
    ]);
  }
  const loadBefore = loadavg();
  const cpu = new Map<string, number[]>();
  const mainCpu = new Map<string, number[]>();
  const rate = new Map<string, number[]>();
  const p50 = new Map<string, number[]>();
  const p99 = new Map<string, number[]>();
  const writeRate = new Map<string, number[]>();
  const writeP50 = new Map<string, number[]>();
  const writeP99 = new Map<string, number[]>();
  const add = (to: Map<string, number[]>, key: string, x: number) =>
    to.set(key, [...(to.get(key) ?? []), x]);
  for (let round = 0; round < Number(roundsArg); round++) {
    for (const row of rows) {
      const order = round % 2 === 0 ? sides : [...sides].reverse();
      for (const side of order) {
        const mainBefore = mainThreadCpuUs(side.server.child.pid);
        const out = execFileSync(
          bin,
          loadgenRunArgs({
            url: side.server.url,
            protocol: grpc ? "grpc" : "connect",
            client,
            op: row.op,
            clients: row.clients,
            seconds: secondsArg,
            ids: join(work, `${side.name}.json`),
            serverPid: side.server.child.pid,
            ...(conns === undefined ? {} : { conns: Number(conns) }),
          }),
        ).toString();
        const m = parseLoadgenResult(out);
        const key = `${row.op}:${row.clients} ${side.name}`;
        const calls = m.ops + (m.writes?.ops ?? 0);
        add(cpu, key, m.serverCpuUs / calls);
        add(mainCpu, key, (mainThreadCpuUs(side.server.child.pid) - mainBefore) / calls);
        add(rate, key, m.ops / m.seconds);
        add(writeRate, key, m.writes ? m.writes.ops / m.writes.seconds : 0);
        add(writeP50, key, m.writes?.p50Us ?? 0);
        add(writeP99, key, m.writes?.p99Us ?? 0);
        add(p50, key, m.p50Us);
        add(p99, key, m.p99Us);
      }
    }
  }
  const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(", ");
  console.log(
    `base: ${baseTree} --serve-threads ${baseThreads}; this: --serve-threads ${thisThreads}; ${conns ?? 1} connection(s) per row; ${grpc ? "gRPC" : "Connect"}; load average ${la(loadBefore)} before, ${la(loadavg())} after.\n`,
  );
  console.log(
    `| row | base µs/call (median, lowest) | this µs/call (median, lowest) | this/base |`,
  );
  console.log(`|---|---:|---:|---:|`);
  for (const row of rows) {
    const b = cpu.get(`${row.op}:${row.clients} base`) ?? [];
    const t = cpu.get(`${row.op}:${row.clients} this`) ?? [];
    const f = (xs: number[]) => `${median(xs).toFixed(0)} (${Math.min(...xs).toFixed(0)})`;
    console.log(
      `| ${row.op}, ${row.clients} | ${f(b)} | ${f(t)} | ${(median(t) / median(b)).toFixed(2)}× |`,
    );
  }
  console.log(
    `\n| row | side | calls/s | p50 µs | p99 µs | main thread µs/call | writer calls/s | writer p50 µs | writer p99 µs |`,
  );
  console.log(`|---|---|---:|---:|---:|---:|---:|---:|---:|`);
  for (const row of rows) {
    for (const side of sides) {
      const key = `${row.op}:${row.clients} ${side.name}`;
      const m = (of: Map<string, number[]>) => median(of.get(key) ?? []).toFixed(0);
      console.log(
        `| ${row.op}, ${row.clients} | ${side.name} | ${m(rate)} | ${m(p50)} | ${m(p99)} | ${m(mainCpu)} | ${m(writeRate)} | ${m(writeP50)} | ${m(writeP99)} |`,
      );
    }
  }
} finally {
  for (const side of sides) await side.server.stop();
  rmSync(work, { recursive: true, force: true });
}
