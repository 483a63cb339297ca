/**
 * A store, an applier and an in-memory log in a temp dir, driven synchronously: `run`
 * appends records and applies them at once through `Applier.applyBatch`, so tests read
 * the outcome on the next line.
 */

import type { Operation } from "../../generated/entdb/v1/plan_pb.js";
import { Applier } from "../../server/apply/applier.ts";
import type { PlanOutcome, ServedSchema, TenantReader } from "../../server/engine.ts";
import { openStore, type Store } from "../../server/store/store.ts";
import { createTenantReader } from "../../server/store/store-reader.ts";
import type { WalEntry, WalPosition, WalRecord } from "../../server/wal/wal.ts";
import { lookupOf, planEvent, served, TRACKER_V1, tempDir } from "../store/store-fixtures.ts";
import { MemoryWal } from "./memory-wal.ts";

/** See the module comment. */
export interface Harness {
  readonly dataDir: string;
  readonly wal: MemoryWal;
  readonly store: Store;
  readonly applier: Applier;
  readonly reader: TenantReader;
  /** Appends and applies; returns the positions. Entries of one partition go in one batch. */
  run(records: readonly WalRecord[]): WalPosition[];
  /** Appends and applies one plan; returns its position and recorded outcome. */
  plan(
    tenant: string,
    key: string,
    operations: Operation[],
    options?: { schemaVersion?: number; atMs?: number; actor?: string },
  ): { position: WalPosition; outcome: PlanOutcome | undefined };
  /** Closes the store and removes the temp dir (unless `keep`). */
  close(keep?: boolean): void;
}

/** Opens a harness serving the tracker schema as version 1 unless told otherwise. */
export function openHarness(
  options: {
    schemas?: ServedSchema[];
    maxOpenTenants?: number;
    partitions?: number;
    dataDir?: string;
    wal?: MemoryWal;
    /** Put the temp data dir on tmpfs (see `tempDir`). */
    inMemory?: boolean;
  } = {},
): Harness {
  const dir =
    options.dataDir === undefined ? tempDir("store", options.inMemory ?? false) : undefined;
  const dataDir = options.dataDir ?? dir!.path;
  const wal = options.wal ?? new MemoryWal(options.partitions ?? 2);
  const store = openStore({
    dataDir,
    schemas: lookupOf(...(options.schemas ?? [served(1, TRACKER_V1)])),
    ...(options.maxOpenTenants === undefined ? {} : { maxOpenTenants: options.maxOpenTenants }),
  });
  const applier = new Applier({ wal, store, checkpointIntervalMs: 0 });
  const reader = createTenantReader(store);
  const run = (records: readonly WalRecord[]): WalPosition[] => {
    const positions = wal.appendNow(records);
    const byPartition = new Map<number, WalEntry[]>();
    records.forEach((r, i) => {
      const position = positions[i]!;
      const list = byPartition.get(position.partition) ?? [];
      list.push({ ...r, position });
      byPartition.set(position.partition, list);
    });
    for (const entries of byPartition.values()) applier.applyBatch(entries);
    return positions;
  };
  return {
    dataDir,
    wal,
    store,
    applier,
    reader,
    run,
    plan(tenant, key, operations, planOptions = {}) {
      const [position] = run([
        { tenant, payload: planEvent(tenant, key, operations, planOptions) },
      ]);
      return { position: position!, outcome: reader.outcomeByKey(tenant, key) };
    },
    close(keep = false) {
      store.close();
      if (!keep) dir?.remove();
    },
  };
}
