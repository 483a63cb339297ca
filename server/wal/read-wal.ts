/**
 * Reads a log's contents up to its current end through the public {@link Wal} interface,
 * so it works for every backend. For tests, tools and verification, not for the applier
 * (which subscribes and keeps going).
 */

import type { Wal, WalEntry } from "./wal.ts";

/**
 * Every entry below each partition's `endOffset` at the time of the call, per partition
 * (index = partition), in offset order. Records appended meanwhile are left out.
 * Rejects with the subscription's error if delivery fails.
 */
export async function readWalToEnd(
  wal: Wal,
  options: { readonly maxBatch?: number } = {},
): Promise<WalEntry[][]> {
  const partitions = Array.from({ length: wal.partitions }, (_, partition) => partition);
  const ends = await Promise.all(partitions.map((partition) => wal.endOffset(partition)));
  const result = partitions.map((): WalEntry[] => []);
  let unfinished = ends.filter((end) => end > 0).length;
  if (unfinished === 0) return result;
  let finish = (): void => {};
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  const subscription = wal.subscribe({
    startOffset: () => 0,
    ...(options.maxBatch === undefined ? {} : { maxBatch: options.maxBatch }),
    handler: async (entries) => {
      const partition = entries[0]?.position.partition;
      if (partition === undefined) return;
      const into = result[partition]!;
      const end = ends[partition]!;
      if (into.length >= end) return;
      for (const entry of entries) if (entry.position.offset < end) into.push(entry);
      if (into.length >= end && --unfinished === 0) finish();
    },
  });
  try {
    await Promise.race([finished, subscription.done]);
  } finally {
    await subscription.stop();
  }
  await subscription.done;
  return result;
}
