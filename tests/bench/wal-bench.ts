/**
 * Embedded WAL throughput and latency, with fsync on (the log always runs
 * `synchronous=FULL`): appends/s and p50/p99 append latency for 1, 16 and 64 concurrent
 * appenders, for both writer placements (SQLite on a worker thread vs on the event-loop
 * thread). Each appender is a closed loop: append one record, await it, repeat. Also
 * reports commits (fsyncs) per append, which shows group commit at work, and the p99
 * event-loop delay, which shows what an inline commit costs everything else the server
 * is doing.
 *
 * Run: `node tests/bench/wal-bench.ts [seconds-per-run] [repeats] [dir]` (defaults 2, 3,
 * a temp dir). Each case runs `repeats` times, interleaved with the other cases so that
 * background load hits all alike, and the table shows the median of each metric and the
 * range of appends/s. The directory must be on the disk to measure (not tmpfs, where
 * fsync is free). A second table repeats the cases in a child process whose commits
 * take 2 ms longer (`wal-bench-slow-fsync.ts`), to show how the placements behave on a
 * disk with slow fsync.
 */

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { openEmbeddedWal } from "../../server/wal/embedded-wal.ts";
import type { WalWriterPlacement } from "../../server/wal/wal-writer.ts";

/** One measured case. */
export interface WalBenchResult {
  readonly writer: WalWriterPlacement;
  readonly concurrency: number;
  readonly appendsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly commitsPerAppend: number;
  readonly loopDelayP99Ms: number;
}

const PAYLOAD_BYTES = 256;

/** Runs one case for `seconds` against a fresh log in `dir`. */
export async function benchWal(
  writer: WalWriterPlacement,
  concurrency: number,
  seconds: number,
  dir: string,
): Promise<WalBenchResult> {
  const path = join(dir, `bench-${writer}-${concurrency}.db`);
  rmSync(path, { force: true });
  const wal = await openEmbeddedWal({ path, partitions: 8, writer });
  const payload = new Uint8Array(PAYLOAD_BYTES).fill(7);
  const latencies: number[] = [];
  let measuring = false;
  let running = true;
  const appender = async (id: number): Promise<void> => {
    const tenant = `tenant-${id}`;
    while (running) {
      const start = performance.now();
      await wal.append([{ tenant, payload }]);
      if (measuring) latencies.push(performance.now() - start);
    }
  };
  const loops = Array.from({ length: concurrency }, (_, id) => appender(id));
  // Warm up (page cache, JIT, WAL file growth) before measuring.
  await new Promise((resolve) => setTimeout(resolve, 300));
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const commitsBefore = wal.stats.commits;
  measuring = true;
  delay.enable();
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  measuring = false;
  const elapsed = (performance.now() - started) / 1000;
  delay.disable();
  const commits = wal.stats.commits - commitsBefore;
  running = false;
  await Promise.all(loops);
  await wal.close();
  rmSync(path, { force: true });
  latencies.sort((a, b) => a - b);
  const at = (q: number): number =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    writer,
    concurrency,
    appendsPerSecond: latencies.length / elapsed,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    commitsPerAppend: commits / Math.max(1, latencies.length),
    loopDelayP99Ms: delay.percentile(99) / 1e6,
  };
}

/** Per-metric medians of one case's runs, with the range of appends/s. */
export function medianOf(
  runs: readonly WalBenchResult[],
): WalBenchResult & { readonly range: string } {
  const median = (pick: (r: WalBenchResult) => number): number => {
    const sorted = runs.map(pick).sort((a, b) => a - b);
    return sorted[Math.floor(sorted.length / 2)] ?? 0;
  };
  const rates = runs.map((r) => Math.round(r.appendsPerSecond));
  return {
    writer: runs[0]!.writer,
    concurrency: runs[0]!.concurrency,
    appendsPerSecond: median((r) => r.appendsPerSecond),
    p50Ms: median((r) => r.p50Ms),
    p99Ms: median((r) => r.p99Ms),
    commitsPerAppend: median((r) => r.commitsPerAppend),
    loopDelayP99Ms: median((r) => r.loopDelayP99Ms),
    range: `${Math.min(...rates)}–${Math.max(...rates)}`,
  };
}

/** Renders per-case medians as a Markdown table. */
export function formatWalBench(cases: readonly (readonly WalBenchResult[])[]): string {
  const lines = [
    "| writer | appenders | appends/s (range) | p50 ms | p99 ms | commits/append | loop delay p99 ms |",
    "|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of cases.map(medianOf)) {
    lines.push(
      `| ${r.writer} | ${r.concurrency} | ${Math.round(r.appendsPerSecond)} (${r.range}) |` +
        ` ${r.p50Ms.toFixed(2)} | ${r.p99Ms.toFixed(2)} | ${r.commitsPerAppend.toFixed(3)} |` +
        ` ${r.loopDelayP99Ms.toFixed(2)} |`,
    );
  }
  return lines.join("\n");
}

const SLOW_FSYNC_MS = 2;

if (import.meta.main) {
  const seconds = Number(process.argv[2] ?? "2");
  const repeats = Number(process.argv[3] ?? "3");
  const dir = process.argv[4] ?? mkdtempSync(join(tmpdir(), "entdb-wal-bench-"));
  const slowed = process.env["ENTDB_BENCH_FSYNC_MS"];
  const writers = ["thread", "inline"] as const;
  const runs = new Map<string, WalBenchResult[]>();
  for (let repeat = 0; repeat < repeats; repeat++) {
    for (const concurrency of [1, 16, 64]) {
      // Alternate which placement goes first, so neither always runs after a warm disk.
      for (const writer of repeat % 2 === 0 ? writers : [...writers].reverse()) {
        const key = `${concurrency} ${writer}`;
        runs.set(key, [
          ...(runs.get(key) ?? []),
          await benchWal(writer, concurrency, seconds, dir),
        ]);
      }
    }
  }
  console.log(
    slowed === undefined
      ? `Disk as is (median of ${repeats} runs of ${seconds} s):`
      : `\nEvery commit ${slowed} ms slower, simulated slow fsync (median of ${repeats} runs of ${seconds} s):`,
  );
  console.log(formatWalBench([...runs.keys()].sort().map((key) => runs.get(key)!)));
  if (slowed === undefined) {
    const preload = new URL("./wal-bench-slow-fsync.ts", import.meta.url).pathname;
    const child = spawnSync(
      process.execPath,
      [
        "--import",
        preload,
        new URL(import.meta.url).pathname,
        String(seconds),
        String(repeats),
        dir,
      ],
      { stdio: "inherit", env: { ...process.env, ENTDB_BENCH_FSYNC_MS: String(SLOW_FSYNC_MS) } },
    );
    process.exitCode = child.status ?? 1;
  }
  if (process.argv[4] === undefined) rmSync(dir, { recursive: true, force: true });
}
