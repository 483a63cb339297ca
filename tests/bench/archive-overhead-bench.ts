/**
 * The archiver's overhead on writes, for `archive-bench.ts`: `entdb serve` without
 * `--archive` and with it (the default segment policy, and a longer flush interval), in
 * many short rounds whose arm order rotates (A B C, B C A, C A B, …), so a drift of the
 * machine's other load hits every arm alike.
 *
 * Each round of an arm starts a fresh server, warms it up for a second, and measures two
 * things:
 * - open loop: plans offered at a fixed rate (`rate`/s, below what the machine
 *   sustains), whatever the answers' latency, and the server's CPU time per plan. Both
 *   arms do the same work per second, so commit groups are alike and the difference is
 *   what the archiver costs; a closed loop at saturation instead makes its commit
 *   groups smaller with the archiver taking CPU, which costs more per plan on its own.
 * - closed loop: plans/s of 64 clients each sending the next plan when the last is
 *   answered, the throughput the issue's "≤ 5 %" is worded in.
 * The server's CPU time is the sum of every thread's run time (`/proc/PID/task/*\/schedstat`,
 * nanoseconds: the 10 ms ticks of `/proc/PID/stat` are too coarse for short rounds),
 * archiver, gzip on the thread pool and the log's writer thread included.
 */

import { readdirSync, readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { EntDbService } from "../../generated/entdb/v1/entdb_pb.js";
import { removeDataDir, startServerProcess, tempDataDir } from "../e2e/server-process.ts";
import { S3_TEST_ENV, type TestS3 } from "../infra/s3-server.ts";
import { T } from "../store/store-fixtures.ts";
import { createLeanClient, type LeanClient } from "./lean-connect-client.ts";

/** One arm: a server configuration. */
interface Arm {
  readonly label: string;
  readonly archive: boolean;
  readonly env: Readonly<Record<string, string>>;
}

interface RoundResult {
  /** Server CPU ms per plan at the fixed offered rate. */
  readonly openCpuMs: number;
  /** Plans answered per second in the open loop (equals the offered rate unless saturated). */
  readonly openRate: number;
  /** Plans/s of the closed loop. */
  readonly closedRate: number;
  /** Server CPU ms per plan in the closed loop. */
  readonly closedCpuMs: number;
}

/** Options for {@link benchArchiveOverhead}. */
export interface OverheadOptions {
  readonly s3: TestS3;
  readonly rounds: number;
  readonly seconds: number;
  /** Offered plans/s of the open loop. */
  readonly rate: number;
}

/** The arms, A first: the overhead rows compare each archiving arm with A. */
const ARMS: readonly Arm[] = [
  { label: "without --archive", archive: false, env: {} },
  { label: "with --archive (flush 1 s, the default)", archive: true, env: {} },
  {
    label: "with --archive, ENTDB_ARCHIVE_FLUSH_MS=5000",
    archive: true,
    env: { ENTDB_ARCHIVE_FLUSH_MS: "5000" },
  },
];

/** Runs the rounds; returns the table rows (what, per round, time, median). */
export async function benchArchiveOverhead(options: OverheadOptions): Promise<string[][]> {
  const { s3, rounds, seconds, rate } = options;
  const results = ARMS.map(() => [] as RoundResult[]);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < ARMS.length; k++) {
      const a = (round + k) % ARMS.length;
      results[a]!.push(await runRound(s3, ARMS[a]!, seconds, rate, round));
    }
  }
  const rows: string[][] = [];
  const time = `${rounds} × ${seconds} s`;
  for (const [a, arm] of ARMS.entries()) {
    const runs = results[a]!;
    rows.push([
      `open loop, ${rate} plans/s offered: server CPU per plan ${arm.label}`,
      spread(
        runs.map((r) => r.openCpuMs),
        3,
      ),
      `${time} (answered: median ${Math.round(median(runs.map((r) => r.openRate)))}/s)`,
      `${median(runs.map((r) => r.openCpuMs)).toFixed(3)} ms`,
    ]);
  }
  for (const [a, arm] of ARMS.entries()) {
    const runs = results[a]!;
    rows.push([
      `closed loop, 64 clients: plans/s ${arm.label}`,
      spread(
        runs.map((r) => r.closedRate),
        0,
      ),
      `${time} (CPU per plan: median ${median(runs.map((r) => r.closedCpuMs)).toFixed(3)} ms)`,
      `${Math.round(median(runs.map((r) => r.closedRate))).toLocaleString("en-US")}/s`,
    ]);
  }
  const base = results[0]!;
  for (const [a, arm] of ARMS.entries()) {
    if (a === 0) continue;
    const runs = results[a]!;
    const cpu = median(runs.map((r) => r.openCpuMs)) / median(base.map((r) => r.openCpuMs)) - 1;
    // Per round too: the arms of one round ran minutes apart at most, so the ratio of a
    // round cancels more of the drift than the ratio of medians.
    const paired = runs.map((r, i) => r.openCpuMs / base[i]!.openCpuMs - 1);
    rows.push([
      `archiver overhead, server CPU per plan at ${rate} plans/s: ${arm.label} vs without (aim ≤ 5 %)`,
      `per round ${paired.map((x) => `${(x * 100).toFixed(0)} %`).join(", ")}; median of the rounds ${(median(paired) * 100).toFixed(1)} %`,
      "",
      `${(cpu * 100).toFixed(1)} %`,
    ]);
    const thr = 1 - median(runs.map((r) => r.closedRate)) / median(base.map((r) => r.closedRate));
    const pairedThr = runs.map((r, i) => 1 - r.closedRate / base[i]!.closedRate);
    rows.push([
      `archiver overhead, closed-loop plans/s: ${arm.label} vs without (aim ≤ 5 %)`,
      `per round ${pairedThr.map((x) => `${(x * 100).toFixed(0)} %`).join(", ")}; median of the rounds ${(median(pairedThr) * 100).toFixed(1)} %`,
      "",
      `${(thr * 100).toFixed(1)} %`,
    ]);
  }
  return rows;
}

async function runRound(
  s3: TestS3,
  arm: Arm,
  seconds: number,
  rate: number,
  round: number,
): Promise<RoundResult> {
  const dataDir = tempDataDir("entdb-archive-bench-serve-");
  const args = arm.archive
    ? ["--archive", `s3://${await s3.newBucket()}/bench`, "--s3-endpoint", s3.endpoint]
    : [];
  const server = await startServerProcess({
    dataDir,
    args,
    env: { ...S3_TEST_ENV, ...arm.env },
  });
  const pid = server.child.pid!;
  const client = createLeanClient(server.url);
  try {
    // Warm-up, not measured: the first plans of a fresh server compile its code paths
    // and the archiver's first put opens the bucket.
    const warm = performance.now() + 1000;
    await Promise.all(
      Array.from({ length: 8 }, async (_, c) => {
        for (let i = 0; performance.now() < warm; i++)
          await plan(client, c, `r${round}-w${c}-${i}`);
      }),
    );
    // Open loop: calls are issued on a schedule, not when the previous one returns.
    let cpu = cpuNs(pid);
    let done = 0;
    let issued = 0;
    const inFlight = new Set<Promise<void>>();
    const start = performance.now();
    const end = start + seconds * 1000;
    while (performance.now() < end) {
      const due = Math.floor(((performance.now() - start) / 1000) * rate);
      while (issued < due) {
        const call = plan(client, issued % 8, `r${round}-o${issued}`).then(() => {
          done++;
          inFlight.delete(call);
        });
        inFlight.add(call);
        issued++;
      }
      await sleep(5);
    }
    await Promise.all(inFlight);
    const openMs = performance.now() - start;
    const openCpuMs = (cpuNs(pid) - cpu) / 1e6 / done;
    const openRate = (done / openMs) * 1000;

    // Closed loop: 64 clients, each sends the next plan when the last is answered.
    cpu = cpuNs(pid);
    let closed = 0;
    const until = performance.now() + seconds * 1000;
    await Promise.all(
      Array.from({ length: 64 }, async (_, c) => {
        for (let i = 0; performance.now() < until; i++) {
          await plan(client, c % 8, `r${round}-c${c}-${i}`);
          closed++;
        }
      }),
    );
    const closedCpuMs = (cpuNs(pid) - cpu) / 1e6 / closed;
    return { openCpuMs, openRate, closedRate: closed / seconds, closedCpuMs };
  } finally {
    client.close();
    await server.stop();
    removeDataDir(dataDir);
  }
}

/** A one-node plan in `tenant-<n>`. */
async function plan(client: LeanClient, tenant: number, slug: string): Promise<void> {
  await client.call(EntDbService.method.executePlan, {
    tenant: `tenant-${tenant}`,
    idempotencyKey: slug,
    operations: [
      {
        op: {
          case: "createNode",
          value: {
            typeId: T.Team,
            fields: {
              1: { kind: { case: "stringValue", value: slug } },
              2: { kind: { case: "stringValue", value: slug } },
            },
          },
        },
      },
    ],
  });
}

/** Run time of every thread of `pid`, in nanoseconds. */
function cpuNs(pid: number): number {
  let total = 0;
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return total;
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The values of the rounds and their min–max range as a share of the median. */
function spread(xs: readonly number[], digits: number): string {
  return `${xs.map((x) => x.toFixed(digits)).join(", ")} (min–max ${(((Math.max(...xs) - Math.min(...xs)) / median(xs)) * 100).toFixed(0)} % of the median)`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
