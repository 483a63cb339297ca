/**
 * A tiny in-memory `Wal` for applier tests: records live in arrays, delivery follows
 * the interface (per partition, in order, the next batch only after the handler
 * resolved). Not durable and test-only; the real backends live in `server/wal`.
 */

import { partitionForTenant } from "../../server/wal/partition.ts";
import type {
  SubscribeOptions,
  Wal,
  WalEntry,
  WalPosition,
  WalRecord,
  WalSubscription,
} from "../../server/wal/wal.ts";

/** The in-memory log. */
export class MemoryWal implements Wal {
  readonly partitions: number;
  readonly logs: WalEntry[][];
  readonly #wakers = new Set<() => void>();
  readonly #stops = new Set<() => Promise<void>>();

  constructor(partitions = 2) {
    this.partitions = partitions;
    this.logs = Array.from({ length: partitions }, () => []);
  }

  partitionFor(tenant: string): number {
    return partitionForTenant(tenant, this.partitions);
  }

  /** Appends synchronously (the tests want positions at once); also available as `append`. */
  appendNow(records: readonly WalRecord[]): WalPosition[] {
    const positions = records.map((r) => {
      const partition = this.partitionFor(r.tenant);
      const log = this.logs[partition]!;
      const position = { partition, offset: log.length };
      log.push({ tenant: r.tenant, payload: r.payload, position });
      return position;
    });
    for (const wake of [...this.#wakers]) wake();
    return positions;
  }

  async append(records: readonly WalRecord[]): Promise<WalPosition[]> {
    return this.appendNow(records);
  }

  async endOffset(partition: number): Promise<number> {
    return this.logs[partition]!.length;
  }

  subscribe(options: SubscribeOptions): WalSubscription {
    let stopped = false;
    let wake: (() => void) | undefined;
    const maxBatch = options.maxBatch ?? 256;
    const loop = async () => {
      const next: number[] = [];
      for (let p = 0; p < this.partitions; p++) next.push(await options.startOffset(p));
      while (!stopped) {
        let progressed = false;
        for (let p = 0; p < this.partitions && !stopped; p++) {
          const from = next[p]!;
          const batch = this.logs[p]!.slice(from, from + maxBatch);
          if (batch.length === 0) continue;
          await options.handler(batch);
          next[p] = from + batch.length;
          progressed = true;
        }
        if (!progressed && !stopped) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            this.#wakers.add(resolve);
          });
          if (wake) this.#wakers.delete(wake);
        }
      }
    };
    const done = loop();
    const stop = async () => {
      stopped = true;
      wake?.();
      await done.catch(() => undefined);
      this.#stops.delete(stop);
    };
    this.#stops.add(stop);
    return { done, stop };
  }

  /** Ends every subscription behind its subscriber's back, as a crash would. */
  async dropSubscriptions(): Promise<void> {
    await Promise.all([...this.#stops].map((stop) => stop()));
  }

  async close(): Promise<void> {}
}
