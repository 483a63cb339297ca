/**
 * The records a restore's read phase already holds, handed to its appliers instead of
 * being read back from the log file the read phase wrote.
 *
 * The read phase reads and checks every archived segment and writes its records into the
 * restored log (`wal.sqlite`, which a server started on the data dir continues, so it is
 * written exactly as before). The appliers then applied that log by subscribing to it,
 * reading every record back from the file. With {@link HeldRecords} the read phase keeps
 * the records it wrote (the decompressed segments' bytes, no copy), per partition in
 * offset order, and each applier subscribes to {@link heldRecordsWal}: the same log for
 * everything else, with delivery from memory through the embedded log's own subscription
 * loop (`EmbeddedWalSubscription`: batches per partition, gaps refused). The entries are
 * those written to the file, same key, same payload bytes, same positions, so the
 * applier's results cannot differ; `tests/archive/restore-held.test.ts` compares the
 * canonical dumps of restores with and without.
 *
 * Memory: the records are held only while they stay under a budget
 * ({@link DEFAULT_HELD_RECORD_BYTES}, payload bytes plus a per-record allowance); a larger
 * restore drops them and its appliers read the log back as before.
 *
 * An apply thread other than the restore's own gets the records packed
 * ({@link packRecords}: one buffer per partition, moved to the thread, not copied), with
 * the payloads of tenants it does not write left empty, since the applier passes over
 * those without decoding them.
 */

import { isTenantId } from "../store/tenant-id.ts";
import { EmbeddedWalSubscription } from "../wal/embedded-wal-subscription.ts";
import { partitionForTenant } from "../wal/partition.ts";
import {
  type SubscribeOptions,
  type Wal,
  type WalEntry,
  WalError,
  type WalSubscription,
  withSubscribe,
} from "../wal/wal.ts";

/** Records a restore holds for its appliers at most, in bytes (see the module comment). */
export const DEFAULT_HELD_RECORD_BYTES = 512 * 1024 * 1024;
/** What holding one record costs beyond its payload, roughly (the entry, its position, its key). */
const RECORD_OVERHEAD_BYTES = 160;

/** The records of a restored log, per partition from offset 0, while they fit the budget. */
export class HeldRecords {
  readonly #budget: number;
  #partitions: WalEntry[][] | undefined;
  #bytes = 0;

  constructor(partitions: number, budget: number) {
    this.#budget = budget;
    this.#partitions = budget > 0 ? Array.from({ length: partitions }, () => []) : undefined;
  }

  /** Keeps `entry`, the next record of its partition; past the budget, drops them all. */
  add(entry: WalEntry): void {
    const partitions = this.#partitions;
    if (partitions === undefined) return;
    this.#bytes += entry.payload.byteLength + RECORD_OVERHEAD_BYTES;
    if (this.#bytes > this.#budget) {
      this.#partitions = undefined;
      return;
    }
    partitions[entry.position.partition]!.push(entry);
  }

  /** The records per partition, or undefined when they did not fit (or none were kept). */
  get records(): readonly (readonly WalEntry[])[] | undefined {
    return this.#partitions;
  }
}

/**
 * `wal` with delivery from `records` (per partition, from offset 0, dense) instead of its
 * file; everything else is `wal`'s. A subscriber that reaches the end of a partition waits
 * there until it stops, as it would at the end of a log nobody appends to.
 */
export function heldRecordsWal(wal: Wal, records: readonly (readonly WalEntry[])[]): Wal {
  return withSubscribe(wal, (options: SubscribeOptions) => subscribeHeld(records, options));
}

/** A subscription to `records` through the embedded log's own loop. */
function subscribeHeld(
  records: readonly (readonly WalEntry[])[],
  options: SubscribeOptions,
): WalSubscription {
  const source = {
    partitions: records.length,
    logStart: () => 0,
    committedEnd: (partition: number) => records[partition]?.length ?? 0,
    read: (partition: number, from: number, limit: number): Promise<WalEntry[]> =>
      Promise.resolve(records[partition]?.slice(from, from + limit) ?? []),
  };
  return new EmbeddedWalSubscription(source, options, () => {});
}

/**
 * The restored log as `records` alone (per partition, from offset 0, dense), for an apply
 * thread other than the restore's own: the same identity, partitions, ends and delivery
 * as the log file the read phase wrote, without a copy of that file to open (the file
 * takes an exclusive lock, so each thread had one). Nothing can be appended to it.
 */
export function heldRecordsLog(
  identity: string,
  records: readonly (readonly WalEntry[])[],
): Wal & { logStart(partition: number): number } {
  const partitions = records.length;
  return {
    identity,
    partitions,
    failure: undefined,
    logStart: () => 0,
    partitionFor: (tenant) => partitionForTenant(tenant, partitions),
    append: () =>
      Promise.reject(new WalError("closed", "A restore's held records cannot be appended to.")),
    endOffset: (partition) => Promise.resolve(records[partition]?.length ?? 0),
    subscribe: (options) => subscribeHeld(records, options),
    close: () => Promise.resolve(),
  };
}

/** One partition's records packed for another thread (see {@link packRecords}). */
export interface PackedPartition {
  /** The payloads, one after the other. */
  readonly payloads: Uint8Array;
  /** Per record, where its payload ends in `payloads`. */
  readonly ends: Uint32Array;
  /** Per record, its key's index in `keys`. */
  readonly keyIndex: Uint32Array;
  readonly keys: readonly string[];
}

/**
 * The records packed for an apply thread that writes `tenants`: every record is there
 * (offsets stay dense), with an empty payload where its key is a tenant id not in
 * `tenants`. Structured cloning moves the buffers ({@link transferList}).
 */
export function packRecords(
  records: readonly (readonly WalEntry[])[],
  tenants: ReadonlySet<string>,
): PackedPartition[] {
  return records.map((entries) => {
    const keys: string[] = [];
    // Per key index, whether its payloads are kept: decided once per key, not per record.
    const kept: boolean[] = [];
    const indexOf = new Map<string, number>();
    const keyIndex = new Uint32Array(entries.length);
    const ends = new Uint32Array(entries.length);
    let size = 0;
    let last = "";
    let lastIndex = -1;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      // Runs of one key are the common case: its index is looked up once per run.
      let k = entry.tenant === last ? lastIndex : indexOf.get(entry.tenant);
      if (k === undefined) {
        k = keys.length;
        keys.push(entry.tenant);
        kept.push(tenants.has(entry.tenant) || !isTenantId(entry.tenant));
        indexOf.set(entry.tenant, k);
      }
      last = entry.tenant;
      lastIndex = k;
      keyIndex[i] = k;
      if (kept[k]) size += entry.payload.byteLength;
      ends[i] = size;
    }
    const payloads = new Uint8Array(size);
    let at = 0;
    for (let i = 0; i < entries.length; i++) {
      if (!kept[keyIndex[i]!]) continue;
      const payload = entries[i]!.payload;
      payloads.set(payload, at);
      at += payload.byteLength;
    }
    return { payloads, ends, keyIndex, keys };
  });
}

/** The buffers of `packed`, to move rather than copy to the thread. */
export function transferList(packed: readonly PackedPartition[]): ArrayBuffer[] {
  return packed.flatMap((p) => [
    p.payloads.buffer as ArrayBuffer,
    p.ends.buffer as ArrayBuffer,
    p.keyIndex.buffer as ArrayBuffer,
  ]);
}

/** The records of {@link packRecords}, as entries again. */
export function unpackRecords(packed: readonly PackedPartition[]): WalEntry[][] {
  return packed.map((p, partition) => {
    const entries = new Array<WalEntry>(p.ends.length);
    let start = 0;
    for (let i = 0; i < p.ends.length; i++) {
      const end = p.ends[i]!;
      entries[i] = {
        tenant: p.keys[p.keyIndex[i]!]!,
        payload: p.payloads.subarray(start, end),
        position: { partition, offset: i },
      };
      start = end;
    }
    return entries;
  });
}
