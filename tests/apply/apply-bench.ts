/**
 * Applier throughput: plans applied per second when a delivered batch holds many
 * plans (one transaction per tenant per batch, a savepoint per plan), and the CPU time
 * per plan and per operation (the robust figure on a shared machine). The "replay" rows
 * are the log the archive bench restores, applied live and as a restore applies it (its
 * applier options and a bulk load, server/apply/bulk-load.ts, whose index builds at the
 * end are in the time). Run with `node tests/apply/apply-bench.ts [dir]`
 * or `npm run bench apply`; the data dir defaults to the OS temp dir.
 * `ENTDB_BENCH_ROW=text` runs only the rows whose label contains it.
 * Not a test: it prints numbers and asserts nothing.
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Applier } from "../../server/apply/applier.ts";
import { BulkLoad } from "../../server/apply/bulk-load.ts";
import { RESTORE_APPLIER_OPTIONS } from "../../server/archive/restore-apply.ts";
import { openStore } from "../../server/store/store.ts";
import { openEmbeddedWal } from "../../server/wal/embedded-wal.ts";
import type { WalEntry } from "../../server/wal/wal.ts";
import {
  lookupOf,
  op,
  planEvent,
  served,
  T,
  TRACKER_V1,
  userFields,
  v,
} from "../store/store-fixtures.ts";

const root = process.argv[2] ?? tmpdir();
const onlyRow = process.env["ENTDB_BENCH_ROW"];

type Ops = ReturnType<typeof op.createNode>[];

/** A plan of one User create and `opsPerPlan - 1` Team creates. */
const userAndTeams =
  (opsPerPlan: number) =>
  (i: number): Ops => {
    const ops = [op.createNode(T.User, `u${i}`, userFields(i))];
    for (let j = 1; j < opsPerPlan; j++)
      ops.push(
        op.createNode(T.Team, `t${i}-${j}`, {
          1: v.str(`Team ${i} ${j}`),
          2: v.str(`t-${i}-${j}`),
        }),
      );
    return ops;
  };

/** A plan of `n` Team creates (searchable name, unique slug), as the archive bench logs. */
const teams =
  (n: number) =>
  (i: number): Ops =>
    Array.from({ length: n }, (_, j) =>
      op.createNode(T.Team, `0190a000-0000-7000-8000-${String(i * n + j).padStart(12, "0")}`, {
        1: v.str(`Team ${i * n + j}`),
        2: v.str(`team-${i * n + j}`),
      }),
    );

async function bench(
  label: string,
  tenants: number,
  plans: number,
  opsPerPlan: number,
  batch: number,
  options: {
    opsOf?: (i: number) => Ops;
    tenantOf?: (i: number) => number;
    bulk?: boolean;
  } = {},
): Promise<void> {
  if (onlyRow !== undefined && !label.includes(onlyRow)) return;
  const opsOf = options.opsOf ?? userAndTeams(opsPerPlan);
  const tenantOf = options.tenantOf ?? ((i: number) => i % tenants);
  const dir = mkdtempSync(join(root, "entdb-apply-bench-"));
  const wal = await openEmbeddedWal({
    path: join(dir, "wal.sqlite"),
    partitions: 1,
    writer: "inline",
  });
  const store = openStore({ dataDir: dir, schemas: lookupOf(served(1, TRACKER_V1)) });
  const bulk = new BulkLoad();
  const applier = new Applier({
    wal,
    store,
    // As a restore applies (restore-apply.ts): its options and a bulk load.
    ...(options.bulk
      ? {
          ...RESTORE_APPLIER_OPTIONS,
          ...bulk.applierHooks,
        }
      : {}),
  });
  const records = [];
  for (let i = 0; i < plans; i++) {
    const tenant = `tenant-${tenantOf(i)}`;
    records.push({ tenant, payload: planEvent(tenant, `k${i}`, opsOf(i)) });
  }
  // One call per record, so the log keeps the round robin order (one call groups by tenant).
  const positions = await Promise.all(records.map((record) => wal.append([record])));
  const entries: WalEntry[] = records.map((r, i) => ({ ...r, position: positions[i]![0]! }));
  // Warm up: create the tenant files outside the timing.
  for (let t = 0; t < tenants; t++) store.tenant(`tenant-${t}`, true);
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  for (let i = 0; i < entries.length; i += batch) applier.applyBatch(entries.slice(i, i + batch));
  for (const tenant of bulk.tenants) bulk.finish(store, tenant);
  const ms = performance.now() - start;
  const cpu = process.cpuUsage(cpuStart);
  const cpuUsPerPlan = (cpu.user + cpu.system) / plans;
  const flushStart = performance.now();
  applier.flush();
  const flushMs = performance.now() - flushStart;
  const stats = applier.stats;
  console.log(
    `${label.padEnd(44)} ${String(plans).padStart(6)} plans x ${opsPerPlan} ops, batch ${String(batch).padStart(4)}: ` +
      `${((plans / ms) * 1000).toFixed(0).padStart(6)} plans/s, ${((plans * opsPerPlan * 1000) / ms).toFixed(0).padStart(6)} ops/s` +
      `, ${cpuUsPerPlan.toFixed(1).padStart(7)} CPU µs/plan (${(cpuUsPerPlan / opsPerPlan).toFixed(1)} per op` +
      `, ${(1e6 / cpuUsPerPlan).toFixed(0)} plans per CPU s)` +
      `; then checkpoint + flush ${flushMs.toFixed(0)} ms (rejected ${stats.rejected})`,
  );
  store.close();
  await wal.close();
  rmSync(dir, { recursive: true, force: true });
}

await bench("one tenant, one create per plan", 1, 20_000, 1, 512);
await bench("one tenant, one create per plan, batch 1", 1, 2_000, 1, 1);
await bench("one tenant, five creates per plan", 1, 5_000, 5, 512);
await bench("100 tenants round robin", 100, 20_000, 1, 512);
await bench("replay: 20 tenants in runs of 1,000, one Team", 20, 40_000, 1, 512, {
  opsOf: teams(1),
  tenantOf: (i) => Math.floor(i / 1000) % 20,
});
await bench("replay as a restore applies it", 20, 40_000, 1, RESTORE_APPLIER_OPTIONS.maxBatch, {
  opsOf: teams(1),
  tenantOf: (i) => Math.floor(i / 1000) % 20,
  bulk: true,
});
await bench("one tenant, a plan of 100 Team creates", 1, 400, 100, 512, { opsOf: teams(100) });
