/**
 * The archiver's own CPU cost, for `archive-bench.ts`: in this process, an embedded log
 * (thread writer, as in `entdb serve`) gets `rate` one-record appends per second spread
 * over 8 tenants, without an archiver and with one (flush 1 s, the default, and 5 s), in
 * rounds of rotating arm order. The process's CPU time (every thread: the log's writer,
 * gzip on the thread pool, the S3 client) per second of load is compared: with no
 * server, HTTP/2 or applier in the measurement, the archiver's share is resolved far
 * better than by the server rows on a shared machine. So is the CPU time of the event
 * loop's thread alone, where the archiver's puts run and where the server handles its
 * requests: without the log writer thread's time (most of the total, and most of its
 * round-to-round noise) the archiver's cost per put stands out.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { Archiver, parseArchiveUrl, S3ObjectStore } from "../../server/archive/index.ts";
import type { Logger } from "../../server/log.ts";
import { openEmbeddedWal } from "../../server/wal/index.ts";
import type { TestS3 } from "../infra/s3-server.ts";

/** Options for {@link benchArchiverCpu}. */
export interface ArchiverCpuOptions {
  readonly s3: TestS3;
  readonly rounds: number;
  readonly seconds: number;
  /** Appends per second. */
  readonly rate: number;
  readonly log: Logger;
}

const ARMS: readonly { readonly label: string; readonly flushMs: number | undefined }[] = [
  { label: "no archiver", flushMs: undefined },
  { label: "archiver, flush 1 s (the default)", flushMs: 1000 },
  { label: "archiver, flush 5 s", flushMs: 5000 },
];

/** Runs the rounds; returns the table rows (what, per round, time, median). */
export async function benchArchiverCpu(options: ArchiverCpuOptions): Promise<string[][]> {
  const { s3, rounds, seconds, rate, log } = options;
  const cpu = ARMS.map(() => [] as number[]);
  const loop = ARMS.map(() => [] as number[]);
  const puts = ARMS.map(() => [] as number[]);
  const payload = new Uint8Array(120).fill(7);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < ARMS.length; k++) {
      const a = (round + k) % ARMS.length;
      const { flushMs } = ARMS[a]!;
      const dir = mkdtempSync(join(tmpdir(), "entdb-archiver-cpu-"));
      const wal = await openEmbeddedWal({ path: join(dir, "log.sqlite"), writer: "thread" });
      let archiver: Archiver | undefined;
      let store: S3ObjectStore | undefined;
      try {
        if (flushMs !== undefined) {
          const location = parseArchiveUrl(`s3://${await s3.newBucket()}/bench`);
          store = new S3ObjectStore({ location, endpoint: s3.endpoint });
          archiver = await Archiver.start({ wal, store, location, log, flushIntervalMs: flushMs });
        }
        const before = process.cpuUsage();
        const loopBefore = process.threadCpuUsage();
        const start = performance.now();
        const appends: Promise<unknown>[] = [];
        let issued = 0;
        while (performance.now() - start < seconds * 1000) {
          const due = Math.floor(((performance.now() - start) / 1000) * rate);
          for (; issued < due; issued++)
            appends.push(wal.append([{ tenant: `tenant-${issued % 8}`, payload }]));
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        await Promise.all(appends);
        const used = process.cpuUsage(before);
        const loopUsed = process.threadCpuUsage(loopBefore);
        cpu[a]!.push((used.user + used.system) / 1000 / seconds);
        loop[a]!.push((loopUsed.user + loopUsed.system) / 1000 / seconds);
        puts[a]!.push((archiver?.uploaded.segments ?? 0) / seconds);
      } finally {
        await archiver?.close();
        store?.close();
        await wal.close();
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  const rows: string[][] = [];
  for (const [label, xs] of [
    ["CPU per second (all threads)", cpu],
    ["event loop thread's CPU per second", loop],
  ] as const) {
    const base = median(xs[0]!);
    for (const [a, arm] of ARMS.entries()) {
      const cost = median(xs[a]!) - base;
      // Per round too: the arms of a round ran within a minute, which cancels more drift.
      const paired = median(xs[a]!.map((x, i) => x - xs[0]![i]!));
      const perPut = paired / median(puts[a]!);
      const extra =
        a === 0
          ? ""
          : `; the archiver: ${cost.toFixed(1)} ms/s by the medians, ${paired.toFixed(1)} ms/s by the rounds, ${Number.isFinite(perPut) ? perPut.toFixed(2) : "?"} ms per put`;
      rows.push([
        `in process, ${rate} appends/s over 8 tenants: ${label}, ${arm.label}`,
        `${xs[a]!.map((x) => x.toFixed(0)).join(", ")} ms/s`,
        `${rounds} × ${seconds} s (puts: median ${median(puts[a]!).toFixed(1)}/s${extra})`,
        `${median(xs[a]!).toFixed(1)} ms/s`,
      ]);
    }
  }
  return rows;
}

function median(xs: readonly number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
