/**
 * Prometheus metrics of one server process, served as text on the HTTP port's
 * `/metrics`: requests by method and code, request latency, WAL append latency,
 * applier lag, open tenant databases, parked tenants, apply failures and the history
 * Subscribe streams read back.
 */

import { Counter, collectDefaultMetrics, Gauge, Registry } from "prom-client";
import { LeanCounter, LeanHistogram } from "./lean-metrics.ts";

/** The metrics a server updates. One instance per server (tests start several). */
export interface ServerMetrics {
  readonly registry: Registry;
  /** Updated on every call: bind a child per method and code once (lean-metrics.ts). */
  readonly requests: LeanCounter<"method" | "code">;
  readonly requestSeconds: LeanHistogram<"method">;
  readonly walAppendSeconds: LeanHistogram<never>;
  readonly applierLag: Gauge<"partition">;
  readonly openTenantDbs: Gauge;
  readonly parkedTenants: Gauge;
  /** Plans whose apply failed and was recorded as their outcome (code internal). */
  readonly applyFailures: Counter;
  /** Log records read back by Subscribe streams catching up on history. */
  readonly subscribeHistoryRecords: Counter;
}

/** Creates a metrics set; `sample` is called at scrape time for gauges read from elsewhere. */
export function createServerMetrics(sample: {
  applierLag(): Promise<ReadonlyMap<number, number>>;
  openTenantDbs(): number;
  parkedTenants(): number;
}): ServerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "entdb_" });
  const latencyBuckets = [
    0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
  ];
  const applierLag = new Gauge({
    name: "entdb_applier_lag_events",
    help: "Events logged but not yet applied, by partition.",
    labelNames: ["partition"] as const,
    registers: [registry],
    async collect() {
      const lag = await sample.applierLag();
      this.reset();
      for (const [partition, n] of lag) this.set({ partition: String(partition) }, n);
    },
  });
  return {
    registry,
    requests: new LeanCounter(
      "entdb_requests_total",
      "RPCs handled, by method and Connect code ('ok' on success).",
      ["method", "code"],
      registry,
    ),
    requestSeconds: new LeanHistogram(
      "entdb_request_duration_seconds",
      "RPC latency, by method.",
      ["method"],
      latencyBuckets,
      registry,
    ),
    walAppendSeconds: new LeanHistogram(
      "entdb_wal_append_duration_seconds",
      "Time from append to durable acknowledgement.",
      [],
      latencyBuckets,
      registry,
    ),
    applierLag,
    openTenantDbs: new Gauge({
      name: "entdb_open_tenant_databases",
      help: "Tenant databases currently open.",
      registers: [registry],
      collect() {
        this.set(sample.openTenantDbs());
      },
    }),
    parkedTenants: new Gauge({
      name: "entdb_parked_tenants",
      help: "Tenants that stopped applying the log (I/O or another fault of the environment); see /ready and the error log.",
      registers: [registry],
      collect() {
        this.set(sample.parkedTenants());
      },
    }),
    applyFailures: new Counter({
      name: "entdb_apply_failures_total",
      help: "Plans logged whose apply failed and was recorded as their outcome (INTERNAL): ingress should have refused them.",
      registers: [registry],
    }),
    subscribeHistoryRecords: new Counter({
      name: "entdb_subscribe_history_records_total",
      help: "Log records read back by Subscribe streams catching up on history (every tenant's of the partition read; a stream stops reading when its call ends).",
      registers: [registry],
    }),
  };
}
