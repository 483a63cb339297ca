/**
 * The large-tenant half of the archive benchmark (`archive-bench.ts`): one tenant grown
 * to a target size through a real `entdb serve`, then its snapshot (online backup,
 * streaming gzip with sha256, multipart upload) and its restore (streaming download,
 * sha256, gunzip into the file; then the start-up check's `PRAGMA quick_check`), each
 * timed, with the peak RSS of this process during each.
 *
 * The tenant is built by many large plans, the same path as any write (ingress, log,
 * applier): plans of 12 tracker Users, each with a 48 KiB `avatar` (bytes, not
 * searchable, so the size is payload rather than full-text index), from 8 concurrent
 * clients. Half of each avatar is random and half a repeated phrase, so gzip has some
 * but not all of the work it would have on real data.
 */

import { randomBytes } from "node:crypto";
import { mkdirSync, statfsSync, statSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import { EntDbService } from "../../generated/entdb/v1/entdb_pb.js";
import {
  type ArchiveLocation,
  type ObjectStore,
  placeSnapshots,
  readState,
  Snapshotter,
} from "../../server/archive/index.ts";
import type { Logger } from "../../server/log.ts";
import { tenantFileName } from "../../server/store/index.ts";
import { removeDataDir, startServerProcess, tempDataDir } from "../e2e/server-process.ts";
import { T } from "../store/store-fixtures.ts";
import { createLeanClient } from "./lean-connect-client.ts";

const TENANT = "big";
const USERS_PER_PLAN = 12;
const AVATAR_BYTES = 48 * 1024;
const CLIENTS = 8;

/** Peak RSS of this process while `run` runs, sampled every 10 ms. */
async function peakRss<R>(run: () => Promise<R>): Promise<{ result: R; peak: number }> {
  let peak = process.memoryUsage.rss();
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 10);
  try {
    const result = await run();
    peak = Math.max(peak, process.memoryUsage.rss());
    return { result, peak };
  } finally {
    clearInterval(timer);
  }
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`;
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const mbps = (bytes: number, ms: number) => `${(bytes / 1e6 / (ms / 1000)).toFixed(0)} MB/s`;

/** Grows one tenant to `targetBytes` through `entdb serve`; returns its data dir and the plans sent. */
async function buildTenant(targetBytes: number): Promise<{ dataDir: string; plans: number }> {
  const dataDir = tempDataDir("entdb-archive-bench-big-");
  const server = await startServerProcess({ dataDir });
  const client = createLeanClient(server.url);
  const file = join(dataDir, "tenants", tenantFileName(TENANT));
  const size = () => {
    let n = 0;
    for (const f of [file, `${file}-wal`])
      try {
        n += statSync(f).size;
      } catch {}
    return n;
  };
  const phrase = Buffer.from("the quick brown fox jumps over the lazy dog; ".repeat(600));
  let plans = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (size() < targetBytes) {
        const first = next;
        next += USERS_PER_PLAN;
        const operations = Array.from({ length: USERS_PER_PLAN }, (_, i) => {
          const n = first + i;
          const avatar = Buffer.concat([
            randomBytes(AVATAR_BYTES / 2),
            phrase.subarray(0, AVATAR_BYTES / 2),
          ]);
          return {
            op: {
              case: "createNode" as const,
              value: {
                typeId: T.User,
                fields: {
                  1: { kind: { case: "stringValue" as const, value: `user${n}@example.com` } },
                  2: { kind: { case: "stringValue" as const, value: `User ${n}` } },
                  3: { kind: { case: "stringValue" as const, value: `user${n}` } },
                  5: { kind: { case: "bytesValue" as const, value: avatar } },
                  6: {
                    kind: {
                      case: "timestampValue" as const,
                      value: { seconds: 1_700_000_000n + BigInt(n), nanos: 0 },
                    },
                  },
                },
              },
            },
          };
        });
        await client.call(EntDbService.method.executePlan, {
          tenant: TENANT,
          idempotencyKey: `big-${first}`,
          operations,
        });
        plans++;
      }
    }),
  );
  client.close();
  await server.stop();
  return { dataDir, plans };
}

/**
 * Builds a tenant of about `targetMb` MB, snapshots it to `store` and restores it from
 * there; returns the table rows. Needs about 3.5 times the size free on the temp disk
 * (the tenant, its log, the snapshot's copy and compressed copy, the restored file).
 */
export async function benchLargeSnapshot(options: {
  readonly targetMb: number;
  readonly store: ObjectStore;
  readonly location: ArchiveLocation;
  readonly work: string;
  readonly log: Logger;
}): Promise<string[][]> {
  const { store, location, work, log } = options;
  const target = options.targetMb * 1e6;
  const free = (() => {
    const fs = statfsSync(work);
    return fs.bavail * fs.bsize;
  })();
  if (free < target * 4)
    throw new Error(
      `A ${options.targetMb} MB tenant needs about ${mb(target * 4)} free in ${work}; ${mb(free)} is free.`,
    );
  const rows: string[][] = [];
  let t = performance.now();
  const { dataDir, plans } = await buildTenant(target);
  const buildMs = performance.now() - t;
  try {
    const file = join(dataDir, "tenants", tenantFileName(TENANT));
    const state = readState(file);
    const bytes = statSync(file).size;
    rows.push([
      `build: ${plans.toLocaleString("en-US")} plans of ${USERS_PER_PLAN} Users (48 KiB avatar) through entdb serve`,
      `${mb(bytes)} tenant, partition ${state.partition}, position ${state.position}`,
      secs(buildMs),
      mbps(bytes, buildMs),
    ]);

    const db = new Database(file);
    const snapshotter = new Snapshotter({
      store,
      location,
      source: { tenants: () => [TENANT], connection: () => db },
      log,
      logIdentity: "bench",
      workDir: join(work, "big-snapshot-work"),
      intervalMs: 0,
      keep: 2,
    });
    const rssBefore = process.memoryUsage.rss();
    t = performance.now();
    const { result: taken, peak } = await peakRss(() => snapshotter.snapshot(TENANT));
    const snapshotMs = performance.now() - t;
    db.close();
    if (!taken) throw new Error("the snapshot was skipped");
    rows.push([
      "snapshot: online backup",
      mb(taken.rawBytes),
      secs(taken.ms.backup),
      mbps(taken.rawBytes, taken.ms.backup),
    ]);
    rows.push([
      "snapshot: streaming gzip + sha256",
      `${mb(taken.rawBytes)} → ${mb(taken.bytes)}`,
      secs(taken.ms.compress),
      mbps(taken.rawBytes, taken.ms.compress),
    ]);
    rows.push([
      "snapshot: multipart upload (8 MiB parts)",
      mb(taken.bytes),
      secs(taken.ms.upload),
      mbps(taken.bytes, taken.ms.upload),
    ]);
    rows.push([
      "snapshot: total",
      `peak RSS ${mb(peak)} (${mb(rssBefore)} before)`,
      secs(snapshotMs),
      mbps(taken.rawBytes, snapshotMs),
    ]);

    const placed = join(work, "big-placed");
    mkdirSync(join(placed, "tenants"), { recursive: true });
    const restoreRssBefore = process.memoryUsage.rss();
    t = performance.now();
    const { peak: restorePeak } = await peakRss(() =>
      placeSnapshots({
        store,
        location,
        dataDir: placed,
        ends: Array.from({ length: 64 }, () => Number.MAX_SAFE_INTEGER),
        identity: "bench",
      }),
    );
    const downloadMs = performance.now() - t;
    rows.push([
      "restore: streaming download + sha256 + gunzip into the file",
      `${mb(taken.bytes)} → ${mb(taken.rawBytes)}, peak RSS ${mb(restorePeak)} (${mb(restoreRssBefore)} before)`,
      secs(downloadMs),
      mbps(taken.rawBytes, downloadMs),
    ]);
    t = performance.now();
    const restored = new Database(join(placed, "tenants", tenantFileName(TENANT)), {
      readonly: true,
    });
    const check = restored.pragma("quick_check", { simple: true });
    const users = restored.prepare("SELECT COUNT(*) AS n FROM nodes").get() as { n: number };
    restored.close();
    const openMs = performance.now() - t;
    if (check !== "ok") throw new Error(`the restored tenant fails quick_check: ${String(check)}`);
    if (users.n !== plans * USERS_PER_PLAN)
      throw new Error(`the restored tenant holds ${users.n} nodes, not ${plans * USERS_PER_PLAN}`);
    rows.push([
      "restore: open + PRAGMA quick_check (the start-up check)",
      `${users.n.toLocaleString("en-US")} nodes`,
      secs(openMs),
      mbps(taken.rawBytes, openMs),
    ]);
    rows.push(["restore: total", mb(taken.rawBytes), secs(downloadMs + openMs), ""]);
  } finally {
    removeDataDir(dataDir);
  }
  return rows;
}
