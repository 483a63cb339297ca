/**
 * Archive benchmark, against the real S3-compatible server of `tests/infra/s3.sh`:
 * - upload: an embedded log of N plan events (20 tenants, one Team each) archived;
 * - replay: `restoreArchive` of that archive into an empty data dir, its read phase
 *   (download, sha256, decode, write the log) and its apply phase (the live applier),
 *   so the applier's share of a replay is visible;
 * - snapshot: one tenant grown to `ENTDB_BENCH_TENANT_MB` (default 64; 1024 for the
 *   1 GB row of docs/archive.md) through `entdb serve`, snapshotted and restored, with
 *   peak RSS (`archive-snapshot-bench.ts`);
 * - overhead: plans/s of `entdb serve` with 64 concurrent clients, without (A) and with
 *   (B) `--archive`, in alternating rounds A B A B … (`ENTDB_BENCH_ROUNDS` of each,
 *   default 5), so a drift of the machine's other load hits both alike; medians and
 *   the spread.
 *
 * Run: `node tests/bench/archive-bench.ts [events] [seconds-per-round]` (default 100000, 5).
 * The data dirs are temp dirs on the disk of `os.tmpdir()`. The restore rows also give
 * the CPU time this process used, since on a shared machine the wall time mostly
 * measures the other load.
 */

import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { EntDbService } from "../../generated/entdb/v1/entdb_pb.js";
import { SCHEMA_LOG_KEY } from "../../server/apply/index.ts";
import {
  Archiver,
  parseArchiveUrl,
  restoreArchive,
  S3ObjectStore,
} from "../../server/archive/index.ts";
import { createLogger } from "../../server/log.ts";
import { openEmbeddedWal } from "../../server/wal/index.ts";
import { removeDataDir, startServerProcess, tempDataDir } from "../e2e/server-process.ts";
import { S3_TEST_ENV, startTestS3 } from "../infra/s3-server.ts";
import {
  op,
  planEvent,
  schemaChangeEvent,
  served,
  T,
  TRACKER_V1,
  v,
} from "../store/store-fixtures.ts";
import { benchLargeSnapshot } from "./archive-snapshot-bench.ts";
import { createLeanClient } from "./lean-connect-client.ts";

const EVENTS = Number(process.argv[2] ?? "100000");
const SECONDS = Number(process.argv[3] ?? "5");
const TENANTS = 20;
const TENANT_MB = Number(process.env["ENTDB_BENCH_TENANT_MB"] ?? "64");
const ROUNDS = Number(process.env["ENTDB_BENCH_ROUNDS"] ?? "5");
const quiet = createLogger("error");
const rows: string[][] = [];
const rate = (n: number, ms: number) => `${Math.round((n / ms) * 1000).toLocaleString("en-US")}/s`;

const s3 = await startTestS3();
const location = parseArchiveUrl(`s3://${await s3.newBucket()}/bench`);
const store = new S3ObjectStore({ location, endpoint: s3.endpoint });
const work = join(tmpdir(), `entdb-archive-bench-${process.pid}`);
mkdirSync(work, { recursive: true });

try {
  // The log: a schema change, then N plans.
  const wal = await openEmbeddedWal({ path: join(work, "wal.sqlite") });
  await wal.append([
    { tenant: SCHEMA_LOG_KEY, payload: schemaChangeEvent(SCHEMA_LOG_KEY, served(1, TRACKER_V1)) },
  ]);
  for (let i = 0; i < EVENTS; i += 1000) {
    const tenant = `tenant-${(i / 1000) % TENANTS}`;
    const batch = Array.from({ length: Math.min(1000, EVENTS - i) }, (_, j) => {
      const n = i + j;
      const id = `0190a000-0000-7000-8000-${String(n).padStart(12, "0")}`;
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

  let t = performance.now();
  const archiver = await Archiver.start({ wal, store, location, log: quiet });
  await archiver.close(600_000);
  let ms = performance.now() - t;
  rows.push([
    "archive upload",
    `${total.toLocaleString("en-US")} events, ${archiver.uploaded.segments} segments, ${(archiver.uploaded.bytes / 1e6).toFixed(1)} MB`,
    `${(ms / 1000).toFixed(2)} s`,
    rate(total, ms),
  ]);
  await wal.close();

  const restored = join(work, "restored");
  const phases = new Map<string, number>();
  // CPU time per phase too: on a shared machine wall time mostly measures the other load.
  const cpu = new Map<string, number>();
  let cpuStart = process.cpuUsage();
  const cpuMs = (since: NodeJS.CpuUsage) => {
    const used = process.cpuUsage(since);
    return (used.user + used.system) / 1000;
  };
  t = performance.now();
  let phaseStart = t;
  let phase = "";
  const result = await restoreArchive({
    store,
    location,
    dataDir: restored,
    log: quiet,
    progress: (p) => {
      if (p.phase !== phase) {
        if (phase) {
          phases.set(phase, performance.now() - phaseStart);
          cpu.set(phase, cpuMs(cpuStart));
        }
        phase = p.phase;
        phaseStart = performance.now();
        cpuStart = process.cpuUsage();
      }
    },
  });
  phases.set(phase, performance.now() - phaseStart);
  cpu.set(phase, cpuMs(cpuStart));
  ms = performance.now() - t;
  rows.push([
    "restore: read (download, sha256, decode, write log)",
    `${result.segments} segments`,
    `${((phases.get("read") ?? 0) / 1000).toFixed(2)} s (CPU ${((cpu.get("read") ?? 0) / 1000).toFixed(2)} s)`,
    `${rate(total, phases.get("read") ?? 1)} (${rate(total, cpu.get("read") ?? 1)} of CPU)`,
  ]);
  rows.push([
    "restore: apply (live applier)",
    `${total.toLocaleString("en-US")} events`,
    `${((phases.get("apply") ?? 0) / 1000).toFixed(2)} s (CPU ${((cpu.get("apply") ?? 0) / 1000).toFixed(2)} s)`,
    `${rate(total, phases.get("apply") ?? 1)} (${rate(total, cpu.get("apply") ?? 1)} of CPU)`,
  ]);
  rows.push([
    "restore: total (replay from the archive)",
    `${result.records.toLocaleString("en-US")} events`,
    `${(ms / 1000).toFixed(2)} s`,
    rate(result.records, ms),
  ]);

  rows.push([
    "restore: the applier's share of the replay",
    "",
    `${(((phases.get("apply") ?? 0) / ms) * 100).toFixed(0)} % of the wall time`,
    "",
  ]);

  rows.push(
    ...(await benchLargeSnapshot({ targetMb: TENANT_MB, store, location, work, log: quiet })),
  );

  // Write throughput without and with the archiver.
  // Per round: plans/s, and the server's CPU time per plan (user + system of all its
  // threads, from /proc): on a shared machine the rate mostly measures the neighbours'
  // load, the CPU per plan what the server itself spends, archiver included.
  const cpuTicks = (pid: number | undefined): number => {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14, 15)
  };
  const TICK_MS = 10; // USER_HZ is 100 on Linux
  const plansPerSecond = async (archive: boolean): Promise<{ rate: number; cpuMs: number }> => {
    const dataDir = tempDataDir("entdb-archive-bench-serve-");
    const bucket = archive ? await s3.newBucket() : "";
    const server = await startServerProcess({
      dataDir,
      args: archive ? ["--archive", `s3://${bucket}/bench`, "--s3-endpoint", s3.endpoint] : [],
      env: { ...S3_TEST_ENV },
    });
    const client = createLeanClient(server.url);
    const ticksBefore = cpuTicks(server.child.pid);
    let done = 0;
    const until = performance.now() + SECONDS * 1000;
    await Promise.all(
      Array.from({ length: 64 }, async (_, c) => {
        for (let i = 0; performance.now() < until; i++) {
          const slug = `c${c}-${i}`;
          await client.call(EntDbService.method.executePlan, {
            tenant: `tenant-${c % 8}`,
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
          done++;
        }
      }),
    );
    const cpuMs = ((cpuTicks(server.child.pid) - ticksBefore) * TICK_MS) / done;
    client.close();
    await server.stop();
    removeDataDir(dataDir);
    return { rate: done / SECONDS, cpuMs };
  };
  // Alternating rounds: A (without) and B (with --archive), A B A B …
  const without: { rate: number; cpuMs: number }[] = [];
  const withArchive: { rate: number; cpuMs: number }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    without.push(await plansPerSecond(false));
    withArchive.push(await plansPerSecond(true));
  }
  const median = (xs: readonly number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  };
  const spread = (xs: readonly number[], digits: number) =>
    `${xs.map((x) => x.toFixed(digits)).join(", ")} (min–max ${(((Math.max(...xs) - Math.min(...xs)) / median(xs)) * 100).toFixed(0)} % of the median)`;
  for (const [label, runs] of [
    ["without", without],
    ["with", withArchive],
  ] as const) {
    const rates = runs.map((r) => r.rate);
    const cpu = runs.map((r) => r.cpuMs);
    rows.push([
      `entdb serve, 64 clients: plans ${label} --archive, median of ${ROUNDS} rounds`,
      spread(rates, 0),
      `${ROUNDS} × ${SECONDS} s`,
      `${Math.round(median(rates)).toLocaleString("en-US")}/s`,
    ]);
    rows.push([
      `entdb serve: server CPU per plan ${label} --archive, median`,
      spread(cpu, 3),
      "",
      `${median(cpu).toFixed(3)} ms`,
    ]);
  }
  rows.push([
    "archiver overhead on writes: plans/s (1 - median B / median A)",
    "",
    "",
    `${((1 - median(withArchive.map((r) => r.rate)) / median(without.map((r) => r.rate))) * 100).toFixed(1)} %`,
  ]);
  rows.push([
    "archiver overhead on writes: server CPU per plan (median B / median A - 1)",
    "",
    "",
    `${((median(withArchive.map((r) => r.cpuMs)) / median(without.map((r) => r.cpuMs)) - 1) * 100).toFixed(1)} %`,
  ]);
} finally {
  store.close();
  rmSync(work, { recursive: true, force: true });
}

console.log("| what | size | time | rate |");
console.log("| --- | --- | --- | --- |");
for (const row of rows) console.log(`| ${row.join(" | ")} |`);
