/**
 * The archive as `entdb serve` runs it: the store from the configuration (S3 or a
 * directory, made if missing), the
 * archiver, and its gauges on the server's `/metrics`. `server.ts` calls
 * {@link startServerArchive} once the log is open and closes it before the log.
 */

import { join } from "node:path";
import { Gauge, type Registry } from "prom-client";
import type { Logger } from "../log.ts";
import { listTenantIds, type Store } from "../store/index.ts";
import type { Wal } from "../wal/index.ts";
import { parseArchiveUrl } from "./archive-location.ts";
import { Archiver } from "./archiver.ts";
import { LogRetention, type TruncatableLog } from "./log-retention.ts";
import { openObjectStore } from "./open-object-store.ts";
import { Snapshotter } from "./snapshotter.ts";

/** `--archive`, `--s3-endpoint` and `--snapshot-*`. */
export interface ArchiveConfig {
  /** `s3://bucket/prefix`, or a directory's absolute path. */
  readonly url: string;
  readonly endpoint?: string | undefined;
  /** `--archive-lock-days`: lock each segment in compliance mode for this many days. */
  readonly lockDays?: number;
  readonly snapshots: {
    readonly intervalSeconds: number;
    readonly keep: number;
    readonly maxAgeSeconds: number;
  };
}

/** A running server archive. */
export interface ServerArchive {
  readonly archiver: Archiver;
  /** Adds `entdb_archive_lag_records` and `entdb_archive_segments_uploaded` to `registry`. */
  registerMetrics(registry: Registry): void;
  /** Starts periodic snapshots of the store's tenants (once the store is open). */
  startSnapshots(store: Store, dataDir: string): Snapshotter;
  /**
   * Starts the local retention of an embedded log (once the applier runs; `processed` is
   * its live position). Undefined for another log, or with `ENTDB_LOG_RETENTION_INTERVAL_MS=0`.
   */
  startRetention(store: Store, processed: (partition: number) => number): LogRetention | undefined;
  /** Uploads what was committed, then releases the store. */
  close(): Promise<void>;
}

/** Starts archiving `wal` as `config` says. Throws `ArchiveError` when it cannot start. */
export async function startServerArchive(
  config: ArchiveConfig,
  wal: Wal,
  log: Logger,
): Promise<ServerArchive> {
  const location = parseArchiveUrl(config.url);
  const store = await openObjectStore(location, { endpoint: config.endpoint, create: true });
  const env = process.env;
  let archiver: Archiver;
  try {
    archiver = await Archiver.start({
      wal,
      store,
      location,
      log: log.child({ component: "archiver" }),
      ...(config.lockDays === undefined ? {} : { lockDays: config.lockDays }),
      ...(env["ENTDB_ARCHIVE_FLUSH_MS"]
        ? { flushIntervalMs: Number(env["ENTDB_ARCHIVE_FLUSH_MS"]) }
        : {}),
      ...(env["ENTDB_ARCHIVE_DEGRADED_AFTER_MS"]
        ? { degradedAfterMs: Number(env["ENTDB_ARCHIVE_DEGRADED_AFTER_MS"]) }
        : {}),
    });
  } catch (error) {
    store.close();
    throw error;
  }
  let snapshotter: Snapshotter | undefined;
  let retention: LogRetention | undefined;
  return {
    archiver,
    startSnapshots(tenants, dataDir) {
      snapshotter = new Snapshotter({
        store,
        location,
        log: log.child({ component: "snapshots" }),
        logIdentity: wal.identity,
        workDir: join(dataDir, "snapshot-work"),
        intervalMs: config.snapshots.intervalSeconds * 1000,
        keep: config.snapshots.keep,
        maxAgeMs: config.snapshots.maxAgeSeconds * 1000,
        source: {
          tenants: () => listTenantIds(tenants.tenantsDir),
          connection: (tenant) => {
            try {
              return tenants.tenant(tenant, false)?.db;
            } catch {
              return undefined; // parked, being rebuilt, or the store is closing
            }
          },
        },
      });
      snapshotter.start();
      return snapshotter;
    },
    startRetention(tenants, processed) {
      const intervalMs = Number(env["ENTDB_LOG_RETENTION_INTERVAL_MS"] ?? 60_000);
      if (!isTruncatable(wal) || !(intervalMs > 0)) return undefined;
      retention = new LogRetention({
        wal,
        store,
        location,
        log: log.child({ component: "log-retention" }),
        intervalMs,
        sources: {
          archivedEnd: (p) => archiver.archivedEnd(p),
          checkpoint: (p) => tenants.meta.checkpoint(p) ?? 0,
          processed,
          tenantPositions: () => tenants.meta.tenantPositions(),
          tenantFiles: () => listTenantIds(tenants.tenantsDir),
        },
      });
      retention.start();
      return retention;
    },
    registerMetrics(registry) {
      new Gauge({
        name: "entdb_archive_lag_records",
        help: "Records committed to the log but not yet archived, by partition.",
        labelNames: ["partition"] as const,
        registers: [registry],
        async collect() {
          const lag = await archiver.lag();
          this.reset();
          for (const [partition, n] of lag) this.set({ partition: String(partition) }, n);
        },
      });
      new Gauge({
        name: "entdb_archive_snapshots_uploaded",
        help: "Tenant snapshots uploaded since the server started.",
        registers: [registry],
        collect() {
          this.set(snapshotter?.taken ?? 0);
        },
      });
      new Gauge({
        name: "entdb_archive_segments_uploaded",
        help: "Archive segments uploaded since the server started.",
        registers: [registry],
        collect() {
          this.set(archiver.uploaded.segments);
        },
      });
    },
    async close() {
      try {
        await retention?.close();
        await snapshotter?.close();
        await archiver.close();
      } finally {
        store.close();
      }
    },
  };
}

/** Whether `wal` can delete its oldest records (the embedded log). */
function isTruncatable(wal: Wal): wal is Wal & TruncatableLog {
  return "truncateBelow" in wal && "logStart" in wal;
}
