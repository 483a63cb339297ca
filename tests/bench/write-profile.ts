/**
 * `node tests/bench/write-profile.ts [op] [clients] [seconds] [--cpu-prof] [--strace]`: one
 * row of `npm run bench:pg` (default: `create`, 1 client, 5 s) against EntDB alone over
 * Connect, to see where the server's time goes. Prints the row (ops/s, p50, server CPU
 * per op) and each server thread's share of the server's CPU over the run, warm-up
 * included: the event loop, the log writer's thread, V8's helper threads (garbage
 * collection). `--cpu-prof` writes V8 CPU profiles of every thread (`node --cpu-prof`)
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

/** CPU ticks (user + system) per thread of the server, by "tid name". */
function threadTicks(): Map<string, number> {
  const out = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    out.set(`${tid} ${name}`, Number(fields[11]) + Number(fields[12]));
  }
  return out;
}

try {
  const ids = join(work, "ids.json");
  execFileSync(bin, ["load", "--url", server.url, "--tenant", "bench", "--ids", ids]);
  const before = threadTicks();
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
  const after = threadTicks();
  if (strace) {
    strace.kill("SIGINT");
    await new Promise((resolve) => strace.once("exit", resolve));
    console.log(readFileSync(join(work, "strace.txt"), "utf8"));
  }
  const m = JSON.parse(out) as { ops: number; seconds: number; p50Us: number; serverCpuUs: number };
  console.log(
    `${op}, ${clients} client(s): ${(m.ops / m.seconds).toFixed(0)}/s, p50 ${m.p50Us.toFixed(0)} µs, server CPU ${(m.serverCpuUs / m.ops).toFixed(0)} µs/op`,
  );
  const used = [...after].map(
    ([thread, ticks]) => [thread, ticks - (before.get(thread) ?? 0)] as const,
  );
  const total = used.reduce((sum, [, ticks]) => sum + ticks, 0);
  for (const [thread, ticks] of used.filter(([, t]) => t > 0).sort((a, b) => b[1] - a[1]))
    console.log(`  ${thread}: ${((100 * ticks) / total).toFixed(0)} % of the server's CPU`);
} finally {
  await server.stop();
  if (flags.size > 0) console.log(`kept ${work}`);
  else removeDataDir(work);
}
