/**
 * `node tests/bench/write-profile.ts [op] [clients] [seconds] [--cpu-prof] [--strace]
 * [--grpc]`: one row of `npm run bench:pg` (default: `create`, 1 client, 5 s) against EntDB
 * alone over Connect (gRPC with `--grpc`), to see where the server's time goes. Prints the row (ops/s, p50, server CPU
 * per op) and each server thread's share of the server's CPU over the run, warm-up
 * included, with its context switches per op (waits: it blocked; preemptions: it was
 * made to give up the core): the event loop, V8's helper threads (garbage collection,
 * compilation), libuv's pool (the log's fsync under load). `--cpu-prof` writes V8 CPU profiles of every thread (`node --cpu-prof`),
 * keeps them and prints each one's summary (`cpu-profile-summary.ts`: the most self time,
 * and what the log's functions, `server/wal/`, took with their callees; the profiles cover
 * the server's whole life, the load and warm-up included); `--strace` counts the server's system calls over the run (`strace -c`,
 * which slows the server down, so read counts, not times); `--syncs` instead times every
 * `fsync`, `fdatasync` and `ftruncate` of the server (`strace -T`) and prints, per file,
 * how many per op and their median and mean (strace adds its own overhead to each call,
 * so compare runs traced alike). A measurement, not a test.
 */

import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { REPO_ROOT, removeDataDir, startServerProcess } from "../e2e/server-process.ts";
import { EMBEDDED_SERVE_ENV } from "../kafka/kafka-serve.ts";
import { summarizeCpuProfile } from "./cpu-profile-summary.ts";
import { buildLoadgen, loadgenRunArgs, parseLoadgenResult } from "./go-toolchain.ts";

const args = process.argv.slice(2);
const flags = new Set(args.filter((a) => a.startsWith("--")));
const [op = "create", clients = "1", seconds = "5"] = args.filter((a) => !a.startsWith("--"));
const work = mkdtempSync(join(tmpdir(), "entdb-write-profile-"));
const bin = join(work, "loadgen");
buildLoadgen(bin);
const profiles = join(work, "profiles");
const env = flags.has("--cpu-prof")
  ? { ...EMBEDDED_SERVE_ENV, NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profiles}` }
  : EMBEDDED_SERVE_ENV;
const server = await startServerProcess({ dataDir: join(work, "entdb"), env });
const pid = server.child.pid;

/** Per thread of the server, by "tid name": CPU ticks (user + system) and context switches. */
interface ThreadUse {
  readonly ticks: number;
  /** The thread blocked (waited for a message, a socket, the disk, a lock). */
  readonly voluntary: number;
  /** The thread was preempted while it could run. */
  readonly involuntary: number;
}

function threadUse(): Map<string, ThreadUse> {
  const out = new Map<string, ThreadUse>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const status = readFileSync(`/proc/${pid}/task/${tid}/status`, "utf8");
    const count = (key: string) => Number(new RegExp(`^${key}:\\s*(\\d+)`, "m").exec(status)?.[1]);
    out.set(`${tid} ${name}`, {
      ticks: Number(fields[11]) + Number(fields[12]),
      voluntary: count("voluntary_ctxt_switches"),
      involuntary: count("nonvoluntary_ctxt_switches"),
    });
  }
  return out;
}

/**
 * Per file and call, from `strace -f -T` lines (`123 fsync(27) = 0 <0.000221>`, or split
 * in two when another thread's call came between: `123 fsync(27 <unfinished ...>` and
 * `123 <... fsync resumed>) = 0 <0.000221>`): calls per op, median and mean µs. Files are
 * named from the server's open descriptors.
 */
function syncTimes(traced: string, ops: number): string {
  const byCall = new Map<string, number[]>();
  const started = new Map<string, string>();
  const record = (call: string, fd: string, seconds: string): void => {
    let file = `fd ${fd}`;
    try {
      file = readlinkSync(`/proc/${pid}/fd/${fd}`).replace(`${work}/`, "");
    } catch {
      // Closed since: keep the number.
    }
    const key = `${call} ${file}`;
    const times = byCall.get(key) ?? [];
    times.push(Number(seconds) * 1e6);
    byCall.set(key, times);
  };
  for (const line of traced.split("\n")) {
    const whole = /^(\d+) +(fsync|fdatasync|ftruncate)\((\d+)[,)].*<([\d.]+)>$/.exec(line);
    if (whole !== null) {
      record(whole[2] ?? "", whole[3] ?? "", whole[4] ?? "");
      continue;
    }
    const begun = /^(\d+) +(fsync|fdatasync|ftruncate)\((\d+).*<unfinished/.exec(line);
    if (begun !== null) {
      started.set(`${begun[1]} ${begun[2]}`, begun[3] ?? "");
      continue;
    }
    const resumed = /^(\d+) +<\.\.\. (fsync|fdatasync|ftruncate) resumed>.*<([\d.]+)>$/.exec(line);
    const fd = resumed === null ? undefined : started.get(`${resumed[1]} ${resumed[2]}`);
    if (resumed !== null && fd !== undefined) record(resumed[2] ?? "", fd, resumed[3] ?? "");
  }
  return [...byCall]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, times]) => {
      times.sort((a, b) => a - b);
      const mean = times.reduce((sum, t) => sum + t, 0) / times.length;
      const median = times[Math.floor(times.length / 2)] ?? 0;
      return `  ${key}: ${(times.length / ops).toFixed(3)} per op, median ${median.toFixed(0)} µs, mean ${mean.toFixed(0)} µs`;
    })
    .join("\n");
}

try {
  const ids = join(work, "ids.json");
  execFileSync(bin, ["load", "--url", server.url, "--tenant", "bench", "--ids", ids]);
  const before = threadUse();
  if (flags.has("--strace") && flags.has("--syncs")) {
    throw new Error("--strace and --syncs both trace the server; pick one.");
  }
  const strace = flags.has("--strace")
    ? spawn("strace", ["-c", "-f", "-o", join(work, "strace.txt"), "-p", String(pid)])
    : flags.has("--syncs")
      ? spawn("strace", [
          "-f",
          "-T",
          "-e",
          "trace=fsync,fdatasync,ftruncate",
          "-o",
          join(work, "strace.txt"),
          "-p",
          String(pid),
        ])
      : undefined;
  const out = execFileSync(
    bin,
    loadgenRunArgs({
      url: server.url,
      op,
      clients,
      seconds,
      ids,
      serverPid: pid,
      protocol: flags.has("--grpc") ? "grpc" : "connect",
    }),
  ).toString();
  const after = threadUse();
  const m = parseLoadgenResult(out);
  if (strace) {
    strace.kill("SIGINT");
    await new Promise((resolve) => strace.once("exit", resolve));
    const traced = readFileSync(join(work, "strace.txt"), "utf8");
    console.log(flags.has("--syncs") ? syncTimes(traced, m.ops) : traced);
  }
  console.log(
    `${op}, ${clients} client(s): ${(m.ops / m.seconds).toFixed(0)}/s, p50 ${m.p50Us.toFixed(0)} µs, server CPU ${(m.serverCpuUs / m.ops).toFixed(0)} µs/op`,
  );
  const zero: ThreadUse = { ticks: 0, voluntary: 0, involuntary: 0 };
  const used = [...after].map(([thread, use]) => {
    const was = before.get(thread) ?? zero;
    return {
      thread,
      ticks: use.ticks - was.ticks,
      voluntary: use.voluntary - was.voluntary,
      involuntary: use.involuntary - was.involuntary,
    };
  });
  const total = used.reduce((sum, { ticks }) => sum + ticks, 0);
  // Switches are counted over the measured run only (warm-up included), per operation
  // measured: each is a sleep and a wake-up, which on a VM costs tens of µs of CPU.
  const perOp = (n: number) => (n / m.ops).toFixed(2);
  for (const use of used.filter((u) => u.ticks > 0).sort((a, b) => b.ticks - a.ticks))
    console.log(
      `  ${use.thread}: ${((100 * use.ticks) / total).toFixed(0)} % of the server's CPU,` +
        ` ${perOp(use.voluntary)} waits and ${perOp(use.involuntary)} preemptions per op`,
    );
} finally {
  await server.stop();
  if (flags.has("--cpu-prof")) {
    // Written as each thread exits, so only now.
    for (const file of readdirSync(profiles).sort()) {
      console.log(`${file}:`);
      console.log(summarizeCpuProfile(join(profiles, file), REPO_ROOT, 25, ["server/wal/"]));
    }
  }
  if (flags.size > 0) console.log(`kept ${work}`);
  else removeDataDir(work);
}
