/**
 * Archive benchmark, against the real S3-compatible server of `tests/infra/s3.sh`:
 * - upload: an embedded log of N plan events (one Team each) archived, in runs of
 *   `ENTDB_BENCH_RUN` events (default 1,000) of one tenant, round robin over
 *   `ENTDB_BENCH_TENANTS` tenants (default 20; `ENTDB_BENCH_TENANTS=2000 ENTDB_BENCH_RUN=10`
 *   with 100,000 events: many small tenants of 50 events each);
 * - replay: `restoreArchive` of that archive into an empty data dir, its read phase
 *   (download, sha256, decode, write the log) and its apply phase (the live applier),
 *   so the applier's share of a replay is visible;
 * - snapshot: one tenant grown to `ENTDB_BENCH_TENANT_MB` (default 64; 1024 for the
 *   1 GB row of docs/archive.md) through `entdb serve`, snapshotted and restored, with
 *   peak RSS (`archive-snapshot-bench.ts`);
 * - the archiver's own CPU (`archiver-cpu-bench.ts`): an embedded log in this process
 *   under a fixed append rate, without and with an archiver;
 * - overhead (`archive-overhead-bench.ts`): `entdb serve` without and with `--archive`
 *   in `ENTDB_BENCH_ROUNDS` (default 9) short rounds of rotating arm order: server CPU
 *   per plan at a fixed offered rate (`ENTDB_BENCH_RATE`, default 200 plans/s, open
 *   loop) and closed-loop plans/s of 64 clients; medians, spread, per-round ratios and
 *   the 5 % aim beside them. `ENTDB_BENCH_ONLY=overhead` runs these two parts alone,
 *   `ENTDB_BENCH_ONLY=archiver` the first of them, `ENTDB_BENCH_ONLY=replay` the upload
 *   and the replay alone. `ENTDB_BENCH_RESTORE_TO_TIME=1` gives the restores a `--to-time`
 *   after every event (the read phase then decodes each event to read its time).
 *   `ENTDB_BENCH_SMALL_TENANT_EVENTS` gives the restores their `smallTenantEvents` (tenants
 *   this small keep their indexes per event; 0: every tenant's are built at the end).
 *   `ENTDB_BENCH_IDS_PER_MS=N` gives the Teams ids as ingress mints them (UUIDv7) with the
 *   clock one millisecond further every N events, so ids minted in one millisecond are
 *   not in log order; without it, ids in log order.
 *
 * Run: `node tests/bench/archive-bench.ts [events] [seconds-per-round]` (default 100000, 5;
 * the seconds are per phase of a round in the overhead part).
 * The data dirs are temp dirs on the disk of `os.tmpdir()`. The restore rows also give
 * the CPU time this process used, since on a shared machine the wall time mostly
 * measures the other load.
 */

import { mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { enableCompileCache } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { mintNodeId } from "../../server/api/ingress/node-id.ts";
import { SCHEMA_LOG_KEY } from "../../server/apply/index.ts";
import {
  Archiver,
  DEFAULT_RESTORE_THREADS,
  parseArchiveUrl,
  restoreArchive,
  S3ObjectStore,
} from "../../server/archive/index.ts";
import { createLogger } from "../../server/log.ts";
import { openEmbeddedWal } from "../../server/wal/index.ts";
import { startTestS3 } from "../infra/s3-server.ts";
import {
  op,
  planEvent,
  schemaChangeEvent,
  served,
  T,
  TRACKER_V1,
  v,
} from "../store/store-fixtures.ts";
import { benchArchiveOverhead } from "./archive-overhead-bench.ts";
import { benchLargeSnapshot } from "./archive-snapshot-bench.ts";
import { benchArchiverCpu } from "./archiver-cpu-bench.ts";

// As `entdb` does (bin/entdb.ts): a restore's worker threads then load their modules
// from the compile cache, as they do under `entdb restore` (NODE_DISABLE_COMPILE_CACHE=1:
// without it).
enableCompileCache();

const EVENTS = Number(process.argv[2] ?? "100000");
const SECONDS = Number(process.argv[3] ?? "5");
const TENANTS = Number(process.env["ENTDB_BENCH_TENANTS"] ?? "20");
const RUN = Number(process.env["ENTDB_BENCH_RUN"] ?? "1000");
const TENANT_MB = Number(process.env["ENTDB_BENCH_TENANT_MB"] ?? "64");
const ROUNDS = Number(process.env["ENTDB_BENCH_ROUNDS"] ?? "9");
const RATE = Number(process.env["ENTDB_BENCH_RATE"] ?? "200");
const OVERHEAD_ONLY = process.env["ENTDB_BENCH_ONLY"] === "overhead";
const RESTORE_THREADS = (
  process.env["ENTDB_BENCH_RESTORE_THREADS"] ?? `1,${DEFAULT_RESTORE_THREADS}`
)
  .split(",")
  .map(Number);
const REPLAY_ONLY = process.env["ENTDB_BENCH_ONLY"] === "replay";
const TO_TIME = process.env["ENTDB_BENCH_RESTORE_TO_TIME"] === "1";
const SMALL = process.env["ENTDB_BENCH_SMALL_TENANT_EVENTS"];
const IDS_PER_MS = Number(process.env["ENTDB_BENCH_IDS_PER_MS"] ?? "0");
const quiet = createLogger("error");
const rows: string[][] = [];
/**
 * This process's CPU time in ms per kind of thread (Linux's `/proc/self/task`; empty
 * elsewhere): the main thread, V8's helper threads (garbage collection, compiling optimized
 * code in the background), libuv's thread pool. A worker's own thread is gone once it
 * exited, so a phase's workers are the process's CPU less these.
 */
function cpuByThreadKind(): Map<string, number> {
  const out = new Map<string, number>();
  let tasks: string[];
  try {
    tasks = readdirSync("/proc/self/task");
  } catch {
    return out;
  }
  // USER_HZ is 100 on Linux.
  const tickMs = 10;
  for (const task of tasks) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${task}/stat`, "utf8");
    } catch {
      continue; // exited meanwhile
    }
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ms = (Number(fields[11]) + Number(fields[12])) * tickMs;
    const kind =
      Number(task) === process.pid
        ? "main"
        : name === "V8Worker"
          ? "V8 helpers"
          : name.startsWith("libuv")
            ? "libuv pool"
            : undefined;
    if (kind !== undefined) out.set(kind, (out.get(kind) ?? 0) + ms);
  }
  return out;
}

const rate = (n: number, ms: number) => `${Math.round((n / ms) * 1000).toLocaleString("en-US")}/s`;

const s3 = await startTestS3();
const location = parseArchiveUrl(`s3://${await s3.newBucket()}/bench`);
const store = new S3ObjectStore({ location, endpoint: s3.endpoint });
const work = join(tmpdir(), `entdb-archive-bench-${process.pid}`);
mkdirSync(work, { recursive: true });

try {
  if (!OVERHEAD_ONLY && process.env["ENTDB_BENCH_ONLY"] !== "archiver") {
    // The log: a schema change, then N plans.
    const wal = await openEmbeddedWal({ path: join(work, "wal.sqlite") });
    await wal.append([
      { tenant: SCHEMA_LOG_KEY, payload: schemaChangeEvent(SCHEMA_LOG_KEY, served(1, TRACKER_V1)) },
    ]);
    for (let i = 0; i < EVENTS; i += RUN) {
      const tenant = `tenant-${(i / RUN) % TENANTS}`;
      const batch = Array.from({ length: Math.min(RUN, EVENTS - i) }, (_, j) => {
        const n = i + j;
        const id =
          IDS_PER_MS > 0
            ? mintNodeId(1_700_000_000_000 + Math.floor(n / IDS_PER_MS))
            : `0190a000-0000-7000-8000-${String(n).padStart(12, "0")}`;
        return {
          tenant,
          payload: planEvent(tenant, `k${n}`, [
            op.createNode(T.Team, id, { 1: v.str(`Team ${n}`), 2: v.str(`team-${n}`) }),
          ]),
        };
      });
      await wal.append(batch);
    }
    const total = EVENTS + 1;

    const t = performance.now();
    const archiver = await Archiver.start({ wal, store, location, log: quiet });
    await archiver.close(600_000);
    const ms = performance.now() - t;
    rows.push([
      "archive upload",
      `${total.toLocaleString("en-US")} events, ${archiver.uploaded.segments} segments, ${(archiver.uploaded.bytes / 1e6).toFixed(1)} MB`,
      `${(ms / 1000).toFixed(2)} s`,
      rate(total, ms),
    ]);
    await wal.close();

    // One thread, then the default (tenants applied on several threads at once); the
    // CPU rate is per CPU second of the whole process, every thread's time summed.
    for (const threads of RESTORE_THREADS) {
      const on = threads === 1 ? "1 thread" : `${threads} threads`;
      const restored = join(work, `restored-${threads}`);
      const phases = new Map<string, number>();
      // CPU time per phase too: on a shared machine wall time mostly measures the other load.
      const cpu = new Map<string, number>();
      let cpuStart = process.cpuUsage();
      // Per kind of thread, at each phase's start and end.
      let kindsStart = cpuByThreadKind();
      const kinds = new Map<string, Map<string, number>>();
      const kindsSince = (since: Map<string, number>, processMs: number) => {
        const now = cpuByThreadKind();
        const used = new Map<string, number>();
        for (const [kind, ms] of now) used.set(kind, ms - (since.get(kind) ?? 0));
        if (used.size > 0)
          used.set("workers", processMs - [...used.values()].reduce((a, b) => a + b, 0));
        return used;
      };
      const cpuMs = (since: NodeJS.CpuUsage) => {
        const used = process.cpuUsage(since);
        return (used.user + used.system) / 1000;
      };
      const t = performance.now();
      let phaseStart = t;
      // The read phase from the call on: its first progress comes after the first segment,
      // and the manifest, the listings and the apply threads' start come before it.
      let phase = "read";
      const result = await restoreArchive({
        store,
        location,
        dataDir: restored,
        log: quiet,
        threads,
        ...(TO_TIME ? { toTime: new Date(Date.UTC(9999, 0, 1)) } : {}),
        ...(SMALL !== undefined ? { smallTenantEvents: Number(SMALL) } : {}),
        progress: (p) => {
          if (p.phase !== phase) {
            if (phase) {
              phases.set(phase, performance.now() - phaseStart);
              cpu.set(phase, cpuMs(cpuStart));
              kinds.set(phase, kindsSince(kindsStart, cpu.get(phase)!));
            }
            phase = p.phase;
            phaseStart = performance.now();
            cpuStart = process.cpuUsage();
            kindsStart = cpuByThreadKind();
          }
        },
      });
      phases.set(phase, performance.now() - phaseStart);
      cpu.set(phase, cpuMs(cpuStart));
      kinds.set(phase, kindsSince(kindsStart, cpu.get(phase)!));
      const ms = performance.now() - t;
      rows.push([
        `restore, ${on}: read (download, sha256, decode, write log)`,
        `${result.segments} segments`,
        `${((phases.get("read") ?? 0) / 1000).toFixed(2)} s (CPU ${((cpu.get("read") ?? 0) / 1000).toFixed(2)} s)`,
        `${rate(total, phases.get("read") ?? 1)} (${rate(total, cpu.get("read") ?? 1)} of CPU)`,
      ]);
      rows.push([
        `restore, ${on}: apply (live applier)`,
        `${total.toLocaleString("en-US")} events`,
        `${((phases.get("apply") ?? 0) / 1000).toFixed(2)} s (CPU ${((cpu.get("apply") ?? 0) / 1000).toFixed(2)} s)`,
        `${rate(total, phases.get("apply") ?? 1)} (${rate(total, cpu.get("apply") ?? 1)} of CPU)`,
      ]);
      for (const [name, used] of kinds) {
        if (used.size === 0) continue;
        rows.push([
          `restore, ${on}: ${name}, CPU by thread`,
          [...used]
            .filter(([kind]) => threads > 1 || kind !== "workers")
            .map(([kind, ms]) => `${kind} ${(ms / 1000).toFixed(2)} s`)
            .join(", "),
          "",
          "",
        ]);
      }
      rows.push([
        `restore, ${on}: total (replay from the archive)`,
        `${result.records.toLocaleString("en-US")} events`,
        `${(ms / 1000).toFixed(2)} s`,
        rate(result.records, ms),
      ]);

      rows.push([
        `restore, ${on}: the applier's share of the replay`,
        "",
        `${(((phases.get("apply") ?? 0) / ms) * 100).toFixed(0)} % of the wall time`,
        "",
      ]);
      // What the wall time would be with a core per thread: the longest thread's CPU.
      const threadCpu = result.threadCpuMs ?? [];
      if (threadCpu.length > 0) {
        const longest = Math.max(...threadCpu);
        rows.push([
          `restore, ${on}: apply, each thread's CPU`,
          threadCpu.map((c) => `${(c / 1000).toFixed(2)} s`).join(", "),
          `longest ${(longest / 1000).toFixed(2)} s`,
          `${rate(total, longest)} (events / the longest thread's CPU)`,
        ]);
      }
      rmSync(restored, { recursive: true, force: true });
    }

    if (!REPLAY_ONLY)
      rows.push(
        ...(await benchLargeSnapshot({ targetMb: TENANT_MB, store, location, work, log: quiet })),
      );
  }
  // The archiver's own CPU (archiver-cpu-bench.ts), then its overhead on writes
  // (archive-overhead-bench.ts).
  // Rounds of at least 10 s, so the 5 s flush arm uploads in each.
  if (!REPLAY_ONLY)
    rows.push(
      ...(await benchArchiverCpu({
        s3,
        rounds: ROUNDS,
        seconds: Math.max(SECONDS, 10),
        rate: RATE,
        log: quiet,
      })),
    );
  if (process.env["ENTDB_BENCH_ONLY"] !== "archiver" && !REPLAY_ONLY)
    rows.push(
      ...(await benchArchiveOverhead({ s3, rounds: ROUNDS, seconds: SECONDS, rate: RATE })),
    );
} finally {
  store.close();
  rmSync(work, { recursive: true, force: true });
}

console.log("| what | size | time | rate |");
console.log("| --- | --- | --- | --- |");
for (const row of rows) console.log(`| ${row.join(" | ")} |`);
