/**
 * Which tenants may not be served yet because their database is being rebuilt from the
 * log (DESIGN.md contract 8: a derived file that is missing, stale, foreign or corrupt is
 * rebuilt, never served). `derived-check.ts` fills it at start; the applier reports how
 * far it has read each partition; readers ask it before they touch a tenant.
 *
 * Three kinds of hold, each lifted once the applier has processed its partition up to
 * the offset recorded with it (the log end found at start, so every event logged before
 * the restart is in the tenant again):
 * - a tenant whose database was missing, set aside, or older than `meta.sqlite` records;
 * - every tenant of a partition, when `meta.sqlite` itself was rebuilt (nothing says
 *   which tenant files are current); persisted in `meta.sqlite` until lifted, so a crash
 *   during the replay does not lift it;
 * - a tenant without a database, until its partition has been read to the log end found
 *   at start: before that, "no database" may mean "not replayed yet", not "no data".
 *
 * Assumes one applier feeds it (offsets only grow per partition). Does not check files;
 * that is `derived-check.ts`.
 */

import type { Logger } from "../log.ts";
import { StoreError } from "./store-error.ts";

/** Why and until when a tenant (or a partition's tenants) is held. */
interface Hold {
  readonly partition: number;
  /** Served again once the applier processed the partition up to here (exclusive). */
  readonly untilOffset: number;
  readonly reason: string;
  readonly since: number;
}

/** Options of {@link RebuildGate}. */
export interface RebuildGateOptions {
  /** The log partition of a tenant's events. */
  readonly partitionFor: (tenant: string) => number;
  readonly logger: Logger;
  /** Called when a partition-wide hold is lifted (to forget it in `meta.sqlite`). */
  readonly partitionDone?: (partition: number) => void;
  /**
   * Test hook: a partition with a rebuild under way starts reading only after this
   * resolves, so a test can observe a tenant while it is held. Never set in production.
   */
  readonly hold?: () => Promise<void>;
}

/** The holds of a store. See the module comment. */
export class RebuildGate {
  readonly #options: RebuildGateOptions;
  readonly #tenants = new Map<string, Hold>();
  /**
   * The held tenants of each partition: a server of a cluster keeps the holds of
   * partitions it does not own (lifted only if it is given them), so a partition's
   * progress must not walk every hold.
   */
  readonly #tenantsIn = new Map<number, Set<string>>();
  readonly #partitions = new Map<number, Hold>();
  /** Per partition, the log end at start: a tenant without a database waits for it. */
  readonly #absent = new Map<number, number>();
  /** Per partition, the earliest offset a rebuild needs read again. */
  readonly #starts = new Map<number, number>();

  constructor(options: RebuildGateOptions) {
    this.#options = options;
  }

  /** Holds `tenant` until its partition is processed up to `untilOffset`; replays from `from`. */
  holdTenant(tenant: string, partition: number, untilOffset: number, from: number, reason: string) {
    const before = this.#tenants.get(tenant);
    if (before) this.#tenantsIn.get(before.partition)?.delete(tenant);
    this.#tenants.set(tenant, { partition, untilOffset, reason, since: Date.now() });
    let held = this.#tenantsIn.get(partition);
    if (!held) {
      held = new Set();
      this.#tenantsIn.set(partition, held);
    }
    held.add(tenant);
    this.#needFrom(partition, from);
  }

  /** Holds every tenant of `partition` until it is processed up to `untilOffset`; replays from 0. */
  holdPartition(partition: number, untilOffset: number, reason: string): void {
    this.#partitions.set(partition, { partition, untilOffset, reason, since: Date.now() });
    this.#needFrom(partition, 0);
  }

  /** A tenant of `partition` without a database is held until the partition reaches `logEnd`. */
  holdAbsent(partition: number, logEnd: number): void {
    if (logEnd > 0) this.#absent.set(partition, logEnd);
  }

  /** Where the applier must start reading `partition`, given its checkpoint. */
  replayStart(partition: number, checkpoint: number): number {
    return Math.min(checkpoint, this.#starts.get(partition) ?? checkpoint);
  }

  /** Waits on the test hook if `partition` has a rebuild under way. */
  async beforeReading(partition: number): Promise<void> {
    if (this.#options.hold === undefined || !this.#starts.has(partition)) return;
    await this.#options.hold();
  }

  /** The applier processed `partition` up to `offset` (exclusive); lifts the holds this satisfies. */
  processed(partition: number, offset: number): void {
    // Not only forward: a retry of a parked tenant (Store.prepareRetry) reads a partition
    // again from below what was processed, and its hold is lifted on the way.
    if (!this.holdsAny()) return;
    const log = this.#options.logger;
    const held = this.#tenantsIn.get(partition);
    for (const tenant of held ?? []) {
      const hold = this.#tenants.get(tenant);
      if (!hold || offset < hold.untilOffset) continue;
      this.#tenants.delete(tenant);
      held?.delete(tenant);
      log.info("tenant rebuilt from the log", {
        tenant,
        reason: hold.reason,
        position: `${partition}:${offset}`,
        ms: Date.now() - hold.since,
      });
    }
    const whole = this.#partitions.get(partition);
    if (whole && offset >= whole.untilOffset) {
      this.#partitions.delete(partition);
      this.#options.partitionDone?.(partition);
      log.info("partition rebuilt from the log", {
        partition,
        reason: whole.reason,
        position: `${partition}:${offset}`,
        ms: Date.now() - whole.since,
      });
    }
    const absent = this.#absent.get(partition);
    if (absent !== undefined && offset >= absent) this.#absent.delete(partition);
    if (!this.#holds(partition)) this.#starts.delete(partition);
  }

  /**
   * Why `tenant` may not be served now (`tenant-unavailable`), or `undefined` if it may.
   * `exists` says whether it has a database file.
   */
  check(tenant: string, exists: boolean): StoreError | undefined {
    if (this.#tenants.size === 0 && this.#partitions.size === 0 && this.#absent.size === 0)
      return undefined;
    const partition = this.#options.partitionFor(tenant);
    const hold = this.#tenants.get(tenant) ?? this.#partitions.get(partition);
    if (hold) {
      return new StoreError(
        "tenant-unavailable",
        `Tenant ${JSON.stringify(tenant)} is being rebuilt from the log (${hold.reason}); ` +
          `it is served again once the log is applied up to ${hold.partition}:${hold.untilOffset}. Retry shortly.`,
      );
    }
    const absent = this.#absent.get(partition);
    if (!exists && absent !== undefined) {
      return new StoreError(
        "tenant-unavailable",
        `Tenant ${JSON.stringify(tenant)} has no database yet and the server is still applying the log ` +
          `up to ${partition}:${absent} (the end found at start); retry shortly.`,
      );
    }
    return undefined;
  }

  /** Whether `tenant`'s database is being rebuilt or caught up from the log now. */
  rebuilds(tenant: string): boolean {
    return this.#tenants.has(tenant) || this.#partitions.has(this.#options.partitionFor(tenant));
  }

  /** Whether any tenant may be held now (every hold is lifted once its partition is read far enough). */
  holdsAny(): boolean {
    return this.#tenants.size > 0 || this.#partitions.size > 0 || this.#absent.size > 0;
  }

  /** Whether any tenant of `partition` may be held now. */
  holdsIn(partition: number): boolean {
    if (this.#partitions.has(partition) || this.#absent.has(partition)) return true;
    return (this.#tenantsIn.get(partition)?.size ?? 0) > 0;
  }

  /** Tenants held now, with the reason (for tests and logs). */
  heldTenants(): Map<string, string> {
    return new Map([...this.#tenants].map(([tenant, hold]) => [tenant, hold.reason]));
  }

  #holds(partition: number): boolean {
    return this.#partitions.has(partition) || (this.#tenantsIn.get(partition)?.size ?? 0) > 0;
  }

  #needFrom(partition: number, from: number): void {
    this.#starts.set(partition, Math.min(from, this.#starts.get(partition) ?? from));
  }
}
