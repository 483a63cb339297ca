/**
 * `node tests/bench/write-profile.ts [op] [clients] [seconds] [--cpu-prof] [--strace]`: one
 * row of `npm run bench:pg` (default: `create`, 1 client, 5 s) against EntDB alone over
 * Connect, to see where the server's time goes. Prints the row (ops/s, p50, server CPU
 * per op) and each server thread's share of the server's CPU over the run, warm-up
 * included, with its context switches per op (waits: it blocked; preemptions: it was
 * made to give up the core): the event loop, V8's helper threads (garbage collection,
 * compilation), libuv's pool (the log's fsync under load). `--cpu-prof` writes V8 CPU profiles of every thread (`node --cpu-prof`)
 * and keeps them; `--strace` counts the server's system calls over the run (`strace -c`,
 * which slows the server down, so read counts, not times). A measurement, not a test.
 */

import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeDataDir, startServerProcess } from "../e2e/server-process.ts";
import { EMBEDDED_SERVE_ENV } from "../kafka/kafka-serve.ts";
import { buildLoadgen } from "./go-toolchain.ts";

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

try {
  const ids = join(work, "ids.json");
  execFileSync(bin, ["load", "--url", server.url, "--tenant", "bench", "--ids", ids]);
  const before = threadUse();
  const strace = flags.has("--strace")
    ? spawn("strace", ["-c", "-f", "-o", join(work, "strace.txt"), "-p", String(pid)])
    : undefined;
  const out = execFileSync(bin, [
    "run",
    "--url",
    server.url,
    "--protocol",
    "connect",
    "--tenant",
    "bench",
    "--op",
    op,
    "--clients",
    clients,
    "--seconds",
    seconds,
    "--ids",
    ids,
    "--server-pid",
    String(pid),
  ]).toString();
  const after = threadUse();
  if (strace) {
    strace.kill("SIGINT");
    await new Promise((resolve) => strace.once("exit", resolve));
    console.log(readFileSync(join(work, "strace.txt"), "utf8"));
  }
  const m = JSON.parse(out) as { ops: number; seconds: number; p50Us: number; serverCpuUs: number };
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
  if (flags.size > 0) console.log(`kept ${work}`);
  else removeDataDir(work);
}
