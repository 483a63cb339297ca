/**
 * A streamed restore: the appliers start while the archive is still being read, instead
 * of after it. The read phase of a restore waits on its downloads for much of its time
 * and the apply threads wait for the read phase; streaming overlaps the two.
 *
 * What an applier needs of a tenant before its first event: the thread that writes it
 * (tenants are split among the threads by their event counts), the schema version of its
 * first event (its file's template, first-versions.ts) and whether it is small (at most
 * `smallTenantEvents` events: its file is copied from a built template and keeps its
 * indexes per event, restore-apply.ts). The first is known from its first record, the
 * others only once enough of its records were read: a tenant is *decided* when more than
 * `smallTenantEvents` of its records were read (it cannot be small), or when the read
 * ends. A decided tenant goes to the thread with the fewest events so far (counting
 * every record of its tenants read since), the rest at the end as `splitTenants` splits
 * them.
 *
 * Each partition's records are released to the appliers ({@link ReleasedRecords}) up to
 * the first one of a tenant not yet decided; records under keys that are no tenant id
 * (schema changes, bad events) are released as they come, every applier handles them.
 * An applier therefore never passes a record of a tenant before it knows whether the
 * tenant is its own, and the order each tenant's events are applied in is the log's, as
 * when the whole log is read first; `tests/archive/restore-stream.test.ts` compares the
 * two.
 */

import { SCHEMA_LOG_KEY } from "../apply/index.ts";
import { isTenantId } from "../store/index.ts";
import type { WalEntry } from "../wal/index.ts";
import { FirstVersions } from "./first-versions.ts";
import { ReleasedRecords } from "./restore-records.ts";

/** What changed since a thread was last told (`RestoreStream.changesFor`). */
export interface StreamChanges {
  /** Per partition that grew, its records from `from` on. */
  readonly records: readonly {
    readonly partition: number;
    readonly from: number;
    readonly entries: readonly WalEntry[];
  }[];
  /** Per partition, how many of its records are released. */
  readonly released: readonly number[];
  /** Tenants given to the thread since: id, first schema version (0: none), small. */
  readonly tenants: readonly (readonly [string, number, boolean])[];
  /** Whether the read phase ended: every record is released, every tenant given. */
  readonly ended: boolean;
}

/** Where a thread stands in the stream: records sent per partition, tenants given. */
export interface StreamCursor {
  readonly sent: number[];
  given: number;
}

/** The read phase's side of a streamed restore (see the module comment). */
export class RestoreStream {
  /** The records read so far, and how many are released, for this thread's applier. */
  readonly held: ReleasedRecords;
  /** Each tenant's first schema version, as the read phase finds it. */
  readonly firstVersions = new FirstVersions();
  /** Per thread, the tenants given to it (this thread's is shard 0's, live). */
  readonly tenants: Set<string>[];
  /** Tenants given as small (at most `smallTenantEvents` events), once the read ended. */
  readonly small = new Set<string>();
  /** Records per log key. */
  readonly events = new Map<string, number>();
  readonly #smallTenantEvents: number;
  /** Per tenant given to a thread, the thread. */
  readonly #owner = new Map<string, number>();
  /** Per thread, the records of its tenants read so far. */
  readonly #loads: number[];
  /** Tenants in the order they were given, for the threads' cursors. */
  readonly #given: string[] = [];
  /** Per key, whether it is a tenant id. */
  readonly #tenantKey = new Map<string, boolean>();
  /** Told after every change: a segment read, the read's end. */
  readonly #listeners: (() => void)[] = [];
  #ended = false;

  constructor(partitions: number, threads: number, smallTenantEvents: number) {
    this.held = new ReleasedRecords(Array.from({ length: partitions }, () => []));
    this.tenants = Array.from({ length: threads }, () => new Set<string>());
    this.#loads = new Array<number>(threads).fill(0);
    this.#smallTenantEvents = smallTenantEvents;
  }

  /** Whether the read phase ended. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Calls `listener` after each change. */
  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** Takes `entry`, the next record of its partition (read, checked, written to the log). */
  add(entry: WalEntry): void {
    const key = entry.tenant;
    this.held.records[entry.position.partition]!.push(entry);
    const count = (this.events.get(key) ?? 0) + 1;
    this.events.set(key, count);
    this.firstVersions.note(key, entry.payload);
    const owner = this.#owner.get(key);
    if (owner !== undefined) this.#loads[owner]!++;
    else if (count > this.#smallTenantEvents && this.#isTenant(key)) this.#give(key, count, false);
  }

  /** After a segment of `partition` was added: releases what can be, tells the listeners. */
  segmentRead(partition: number): void {
    this.#releaseDecided(partition);
    for (const listener of this.#listeners) listener();
  }

  /** The read phase ended: the tenants left are split and given, and every record released. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    const rest = new Map<string, number>();
    for (const [key, count] of this.events)
      if (!this.#owner.has(key) && this.#isTenant(key)) rest.set(key, count);
    const shards = splitTenants(rest, this.tenants.length, this.#loads);
    shards.forEach((tenants, shard) => {
      for (const tenant of tenants) {
        const count = rest.get(tenant)!;
        this.#give(tenant, count, count <= this.#smallTenantEvents, shard);
      }
    });
    for (let p = 0; p < this.held.records.length; p++)
      this.held.release(p, this.held.records[p]!.length);
    for (const listener of this.#listeners) listener();
  }

  /** A cursor for a thread told nothing yet. */
  cursor(): StreamCursor {
    return { sent: new Array<number>(this.held.records.length).fill(0), given: 0 };
  }

  /** What `shard` was not told yet, by its `cursor` (moved past it). */
  changesFor(shard: number, cursor: StreamCursor): StreamChanges {
    const records: { partition: number; from: number; entries: WalEntry[] }[] = [];
    this.held.records.forEach((entries, partition) => {
      const from = cursor.sent[partition]!;
      if (entries.length === from) return;
      records.push({ partition, from, entries: entries.slice(from) });
      cursor.sent[partition] = entries.length;
    });
    const tenants: [string, number, boolean][] = [];
    for (; cursor.given < this.#given.length; cursor.given++) {
      const tenant = this.#given[cursor.given]!;
      if (this.#owner.get(tenant) !== shard) continue;
      tenants.push([tenant, this.firstVersions.versions.get(tenant) ?? 0, this.small.has(tenant)]);
    }
    return {
      records,
      released: this.held.records.map((_, p) => this.held.released(p)),
      tenants,
      ended: this.#ended,
    };
  }

  /** Whether records of `key` may be sent without their payload to a thread other than `shard`'s. */
  foreign(key: string, shard: number): boolean {
    const owner = this.#owner.get(key);
    return owner !== undefined && owner !== shard;
  }

  #isTenant(key: string): boolean {
    let is = this.#tenantKey.get(key);
    if (is === undefined) {
      is = key !== SCHEMA_LOG_KEY && isTenantId(key);
      this.#tenantKey.set(key, is);
    }
    return is;
  }

  /** Gives `tenant` (with `count` records read) to `shard`, or to the least loaded thread. */
  #give(tenant: string, count: number, small: boolean, shard?: number): void {
    let to = shard ?? 0;
    if (shard === undefined)
      for (let s = 1; s < this.#loads.length; s++) if (this.#loads[s]! < this.#loads[to]!) to = s;
    this.#owner.set(tenant, to);
    this.#loads[to]! += count;
    this.tenants[to]!.add(tenant);
    if (small) this.small.add(tenant);
    this.#given.push(tenant);
  }

  /** Releases `partition`'s records up to the first of a tenant not given yet. */
  #releaseDecided(partition: number): void {
    const records = this.held.records[partition]!;
    let end = this.held.released(partition);
    while (end < records.length) {
      const key = records[end]!.tenant;
      if (!this.#owner.has(key) && this.#isTenant(key)) break;
      end++;
    }
    this.held.release(partition, end);
  }
}

/**
 * Tenants in `shards` groups of about equal event counts: the largest first, each to
 * the group with the fewest events so far (ties by group order, so the split is stable),
 * the groups starting at `loads` (default none).
 */
export function splitTenants(
  events: ReadonlyMap<string, number>,
  shards: number,
  loads?: readonly number[],
): string[][] {
  const groups = Array.from({ length: shards }, (_, i) => ({
    tenants: [] as string[],
    events: loads?.[i] ?? 0,
  }));
  const order = [...events].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  for (const [tenant, count] of order) {
    let least = groups[0]!;
    for (const g of groups) if (g.events < least.events) least = g;
    least.tenants.push(tenant);
    least.events += count;
  }
  return groups.map((g) => g.tenants);
}
