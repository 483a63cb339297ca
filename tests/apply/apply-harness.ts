/**
 * A store, an applier and an embedded log, each in a temp dir, driven synchronously:
 * `run` appends records to the log and applies them at once through
 * `Applier.applyBatch`, so tests read the outcome on the next line.
 *
 * The log's `append` only tells the positions once the records are durable, a turn of
 * the event loop later, and tests that read on the next line cannot wait for that. So
 * `run` appends each record in its own call, which makes the log assign offsets in call
 * order from the partition end, hands the applier those positions at once, and `close`
 * checks that the log assigned exactly them.
 */

import { join } from "node:path";
import { expect } from "vitest";
import type { Operation } from "../../generated/entdb/v1/plan_pb.js";
import { Applier, type ApplierOptions } from "../../server/apply/applier.ts";
import type { PlanOutcome, ServedSchema, TenantReader } from "../../server/engine.ts";
import { openStore, type Store } from "../../server/store/store.ts";
import { createTenantReader } from "../../server/store/store-reader.ts";
import { EmbeddedWal } from "../../server/wal/embedded-wal.ts";
import type { WalEntry, WalPosition, WalRecord } from "../../server/wal/wal.ts";
import { openInlineWalWriter } from "../../server/wal/wal-writer.ts";
import {
  type EventActor,
  lookupOf,
  planEvent,
  served,
  TRACKER_V1,
  tempDir,
} from "../store/store-fixtures.ts";

/** See the module comment. */
export interface Harness {
  readonly dataDir: string;
  readonly wal: EmbeddedWal;
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
    options?: { schemaVersion?: number; atMs?: number } & EventActor,
  ): { position: WalPosition; outcome: PlanOutcome | undefined };
  /** Resolves once every record `run` appended is in the log (appends are asynchronous). */
  appended(): Promise<void>;
  /**
   * Closes the store and the log, checks that the log made every record durable at the
   * position `run` returned, and removes the temp dirs.
   */
  close(): Promise<void>;
}

/** Opens a harness serving the tracker schema as version 1 unless told otherwise. */
export function openHarness(
  options: {
    schemas?: ServedSchema[];
    maxOpenTenants?: number;
    partitions?: number;
    dataDir?: string;
    /** Put the temp data dir on tmpfs (see `tempDir`). */
    inMemory?: boolean;
    /** Told after a transaction that applied access changes of a tenant ended. */
    onAccessChanged?: (tenant: string) => void;
    /** Told after each commit, as the server's change feed and node cache are. */
    onCommitted?: ApplierOptions["onCommitted"];
    /** Decodes creates lean, as a restore's appliers do (`ApplierOptions.leanCreates`). */
    leanCreates?: boolean;
  } = {},
): Harness {
  const dir =
    options.dataDir === undefined ? tempDir("store", options.inMemory ?? false) : undefined;
  const dataDir = options.dataDir ?? dir!.path;
  const walDir = tempDir("wal");
  // What `openEmbeddedWal` does for the inline writer, without its promise: the harness
  // opens synchronously because its callers do.
  const walOptions = {
    path: join(walDir.path, "wal.sqlite"),
    partitions: options.partitions ?? 2,
    writer: "inline",
  } as const;
  const wal = new EmbeddedWal(walOptions, openInlineWalWriter(walOptions));
  // A fresh log: every partition starts at offset 0.
  const next = Array.from({ length: wal.partitions }, () => 0);
  const expected: WalPosition[] = [];
  const appended: Promise<WalPosition | string>[] = [];
  const store = openStore({
    dataDir,
    schemas: lookupOf(...(options.schemas ?? [served(1, TRACKER_V1)])),
    ...(options.maxOpenTenants === undefined ? {} : { maxOpenTenants: options.maxOpenTenants }),
  });
  const applier = new Applier({
    wal,
    store,
    checkpointIntervalMs: 0,
    ...(options.onAccessChanged ? { onAccessChanged: options.onAccessChanged } : {}),
    ...(options.onCommitted ? { onCommitted: options.onCommitted } : {}),
    ...(options.leanCreates ? { leanCreates: true } : {}),
  });
  const reader = createTenantReader(store);
  const run = (records: readonly WalRecord[]): WalPosition[] => {
    const positions = records.map((record) => {
      const partition = wal.partitionFor(record.tenant);
      const offset = next[partition]!;
      next[partition] = offset + 1;
      return { partition, offset };
    });
    for (const record of records) {
      // Settled into a value now, so a refused append fails `close`, not the process.
      appended.push(
        wal.append([record]).then(
          ([position]) => position!,
          (error: unknown) => String(error),
        ),
      );
    }
    expected.push(...positions);
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
    async appended() {
      await Promise.all(appended);
    },
    async close() {
      store.close();
      try {
        // Closing commits every queued append first, so all of them have settled after it.
        await wal.close();
        expect(await Promise.all(appended)).toEqual(expected);
      } finally {
        walDir.remove();
        dir?.remove();
      }
    },
  };
}

/** Starts `applier`, waits until it processed the whole log (polled every 2 ms, 5,000 times at most), and stops it. */
export async function applyWholeLog(applier: Applier): Promise<void> {
  applier.start();
  for (let i = 0; i < 5_000 && !(await applier.caughtUp()); i++)
    await new Promise((r) => setTimeout(r, 2));
  await applier.stop();
}
