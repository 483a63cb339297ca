/**
 * Reads one partition's records between two offsets through the public {@link Wal}
 * interface, so it works for every backend: the history a live subscription replays
 * before it switches to the applier's commits (api/subscribe-service.ts).
 *
 * Pull-based: the log's delivery waits until the caller asked for the next batch, so a
 * slow reader holds at most one batch in memory.
 */

import type { Wal, WalEntry } from "./wal.ts";

/**
 * The entries of `partition` with offsets in [`from`, `to`), in batches in offset order.
 * `to` must not be past the partition's end. Breaking out of the loop stops the read.
 */
export async function* readRange(
  wal: Wal,
  partition: number,
  from: number,
  to: number,
  maxBatch = 256,
): AsyncGenerator<readonly WalEntry[]> {
  if (from >= to) return;
  // A single-slot hand-off between the log's handler and this generator.
  let pending: { entries: readonly WalEntry[]; taken: () => void } | undefined;
  let wake: (() => void) | undefined;
  let finished = false;
  const signal = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const subscription = wal.subscribe({
    maxBatch,
    startOffset: async (p) => (p === partition ? from : await wal.endOffset(p)),
    handler: async (entries) => {
      if (finished || entries[0]?.position.partition !== partition) return;
      const wanted = entries.filter((e) => e.position.offset < to);
      if (wanted.length === 0) return;
      await new Promise<void>((taken) => {
        pending = { entries: wanted, taken };
        signal();
      });
    },
  });
  let failure: { error: unknown } | undefined;
  subscription.done.then(
    () => signal(),
    (error: unknown) => {
      failure = { error };
      signal();
    },
  );
  /** Releases the handler of the batch being read (so `stop` can finish). */
  let release: (() => void) | undefined;
  try {
    let next = from;
    while (next < to) {
      while (pending === undefined) {
        if (failure) throw failure.error;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
      }
      const { entries, taken } = pending;
      pending = undefined;
      release = taken;
      next = entries.at(-1)!.position.offset + 1;
      yield entries;
      release = undefined;
      taken();
    }
  } finally {
    finished = true;
    release?.();
    pending?.taken();
    await subscription.stop();
  }
}
