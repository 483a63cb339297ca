/**
 * Local retention of the embedded log: with `--archive`, the server deletes the oldest
 * records of `wal.sqlite` once nothing can need them from there, so the file stops
 * growing. The archive keeps every record; a restore reads it, never the local file.
 *
 * A record of partition p at offset o is deleted only when o is below all of:
 * - the archived end of p (the record is in the bucket);
 * - the applier's checkpoint of p in `meta.sqlite` (a restart resumes from there) and its
 *   live position in p (a rebuild under way reads from below the checkpoint);
 * - for every tenant of p that `meta.sqlite` or `tenants/` knows, the position of its
 *   newest snapshot in the bucket, unless that snapshot already holds everything the
 *   tenant had applied at the checkpoint (then none of its records below the checkpoint
 *   is needed). A tenant without a snapshot keeps the whole partition.
 *
 * Deletes run every `intervalMs`, at most `batch` records per partition per statement,
 * with a turn of the event loop between statements, so appends are never held long.
 * The last record of a partition is never deleted (`sqlite-wal-file.ts`), so offsets go on
 * from the same end after a restart.
 *
 * What it means for the data dir: a derived file that must be rebuilt from below the
 * log start (a tenant database deleted, `meta.sqlite` lost) can no longer be rebuilt
 * locally; the start-up check refuses it by name (`store/derived-check.ts`), and
 * `entdb restore` rebuilds the data dir from the archive.
 */

import type { Logger } from "../log.ts";
import type { ArchiveLocation } from "./archive-location.ts";
import type { ObjectStore } from "./object-store.ts";
import { parseSnapshotKey, snapshotPrefix } from "./snapshot-format.ts";

/** What retention needs of the embedded log (an `EmbeddedWal` has it). */
export interface TruncatableLog {
  readonly partitions: number;
  partitionFor(tenant: string): number;
  logStart(partition: number): number;
  truncateBelow(partition: number, below: number, limit: number): Promise<number>;
}

/** Where the rest of the server is, asked at each round. */
export interface RetentionSources {
  /** One past the last archived offset of a partition. */
  archivedEnd(partition: number): number;
  /** The applier's checkpoint in `meta.sqlite` (0 if none). */
  checkpoint(partition: number): number;
  /** The applier's live position (its next offset to process). */
  processed(partition: number): number;
  /** Every tenant `meta.sqlite` knows, with its applied offset at the last checkpoint. */
  tenantPositions(): ReadonlyMap<
    string,
    { readonly partition: number; readonly appliedOffset: number }
  >;
  /** The tenants that have a database file. */
  tenantFiles(): readonly string[];
}

/** Options of {@link LogRetention}. */
export interface LogRetentionOptions {
  readonly wal: TruncatableLog;
  readonly store: ObjectStore;
  readonly location: ArchiveLocation;
  readonly sources: RetentionSources;
  readonly log: Logger;
  /** Time between rounds. */
  readonly intervalMs: number;
  /** Most records deleted per statement (default 10,000). */
  readonly batch?: number;
}

/**
 * Per partition, the offset below which records may be deleted: the minimum of the
 * bounds in the module comment. `snapshots` maps each tenant to its newest snapshot's
 * position. Pure, so the rule is tested on its own.
 */
export function retentionFloors(input: {
  readonly partitions: number;
  readonly partitionFor: (tenant: string) => number;
  readonly archivedEnd: (partition: number) => number;
  readonly checkpoint: (partition: number) => number;
  readonly processed: (partition: number) => number;
  readonly tenantPositions: ReadonlyMap<string, { readonly appliedOffset: number }>;
  readonly tenantFiles: readonly string[];
  readonly snapshots: ReadonlyMap<string, number>;
}): number[] {
  const floors = Array.from({ length: input.partitions }, (_, p) =>
    Math.min(input.archivedEnd(p), input.checkpoint(p), input.processed(p)),
  );
  const tenants = new Set([...input.tenantPositions.keys(), ...input.tenantFiles]);
  for (const tenant of tenants) {
    const p = input.partitionFor(tenant);
    const snapshot = input.snapshots.get(tenant);
    const applied = input.tenantPositions.get(tenant)?.appliedOffset;
    // Covered: the snapshot holds all it had applied at the checkpoint; its later
    // events are at or above the checkpoint, which bounds the floor already.
    if (snapshot !== undefined && applied !== undefined && snapshot >= applied) continue;
    floors[p] = Math.min(floors[p]!, snapshot ?? 0);
  }
  return floors;
}

/** The periodic local retention of the embedded log; see the module comment. */
export class LogRetention {
  readonly #options: LogRetentionOptions;
  readonly #batch: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> = Promise.resolve();
  #closed = false;
  #deleted = 0;

  constructor(options: LogRetentionOptions) {
    this.#options = options;
    this.#batch = options.batch ?? 10_000;
  }

  /** Records deleted since start. */
  get deleted(): number {
    return this.#deleted;
  }

  /** Runs a round every `intervalMs`. */
  start(): void {
    const tick = () => {
      this.#timer = setTimeout(() => {
        this.#running = this.round()
          .then(() => {})
          .catch((error: unknown) =>
            this.#options.log.warn("log retention failed; retried next round", { err: error }),
          )
          .finally(() => {
            if (!this.#closed) tick();
          });
      }, this.#options.intervalMs);
      this.#timer.unref();
    };
    tick();
  }

  /** One round: computes the floors and deletes below them. Resolves with the records deleted. */
  async round(): Promise<number> {
    const { wal, sources } = this.#options;
    const snapshots = await this.#newestSnapshots();
    // Read after the listing: a bound read earlier could be newer than the snapshots seen.
    const floors = retentionFloors({
      partitions: wal.partitions,
      partitionFor: (tenant) => wal.partitionFor(tenant),
      archivedEnd: (p) => sources.archivedEnd(p),
      checkpoint: (p) => sources.checkpoint(p),
      processed: (p) => sources.processed(p),
      tenantPositions: sources.tenantPositions(),
      tenantFiles: sources.tenantFiles(),
      snapshots,
    });
    let deleted = 0;
    for (let p = 0; p < floors.length; p++) {
      const floor = floors[p]!;
      while (!this.#closed && wal.logStart(p) < floor) {
        const n = await wal.truncateBelow(p, floor, this.#batch);
        if (n === 0) break;
        deleted += n;
        await new Promise((resolve) => setImmediate(resolve));
      }
    }
    this.#deleted += deleted;
    if (deleted > 0)
      this.#options.log.info("log records deleted after archiving", {
        deleted,
        logStart: floors.map((_, p) => wal.logStart(p)),
      });
    return deleted;
  }

  /** Stops the rounds; waits for the one under way. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  async #newestSnapshots(): Promise<Map<string, number>> {
    const { store, location } = this.#options;
    const newest = new Map<string, number>();
    for (const object of await store.list(snapshotPrefix(location))) {
      const snapshot = parseSnapshotKey(location, object.key, object.size);
      if (snapshot && snapshot.position > (newest.get(snapshot.tenant) ?? -1))
        newest.set(snapshot.tenant, snapshot.position);
    }
    return newest;
  }
}
