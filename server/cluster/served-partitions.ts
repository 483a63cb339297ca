/**
 * The partitions a server of a cluster serves now, in memory its serving threads share
 * (`--serve-threads`), so a read on a serving thread checks ownership as the main thread's
 * `ClusterMembership.check` does, for the cost of two atomic loads:
 *
 * - per partition, a flag: set by the main thread once the partition is assigned here,
 *   applied up to where the log ended when it was (the catch-up), and no tenant of it is
 *   held while it is rebuilt (rebuild-gate.ts); cleared for every partition when a
 *   rebalance begins or another assignment arrives. It stands in for the threads' global
 *   `rebuilding` flag, which on a server of a cluster never clears: the holds of a
 *   partition it does not own are never lifted, as it never reads that partition;
 * - the lease: the monotonic time (`process.hrtime`, one clock for every thread of the
 *   process) until which the member's session is known to be alive, moved on by the main
 *   thread at each answered heartbeat. A serving thread compares it with the clock itself,
 *   so it stops serving when the lease runs out even while the main thread is busy.
 *
 * A serving thread serves a tenant only while both hold; otherwise it hands the call to
 * the main thread, which answers it as it answers any call (the redirect, UNAVAILABLE, or
 * the tenant's data once it serves it). Loaded by the serving threads on their own (no
 * kafkajs).
 */

/** Bytes before the flags: the lease, one 64-bit word. */
const LEASE_BYTES = 8;

/** The shared ownership of one server's partitions, viewed from any of its threads. */
export class ServedPartitions {
  readonly buffer: SharedArrayBuffer;
  readonly #lease: BigInt64Array;
  readonly #flags: Int32Array;

  /** A new view for `partitions` partitions (main thread), or a thread's view of `buffer`. */
  constructor(partitionsOrBuffer: number | SharedArrayBuffer) {
    this.buffer =
      typeof partitionsOrBuffer === "number"
        ? new SharedArrayBuffer(LEASE_BYTES + 4 * partitionsOrBuffer)
        : partitionsOrBuffer;
    this.#lease = new BigInt64Array(this.buffer, 0, 1);
    this.#flags = new Int32Array(this.buffer, LEASE_BYTES);
  }

  /** Main thread: `partition` is assigned here and caught up. */
  serve(partition: number): void {
    Atomics.store(this.#flags, partition, 1);
  }

  /** Main thread: no partition is served here (a rebalance began, an assignment arrived). */
  clear(): void {
    for (let p = 0; p < this.#flags.length; p++) Atomics.store(this.#flags, p, 0);
  }

  /** Main thread: the session is known to be alive for `ms` more milliseconds. */
  renew(ms: number): void {
    Atomics.store(
      this.#lease,
      0,
      process.hrtime.bigint() + BigInt(Math.max(0, Math.floor(ms * 1e6))),
    );
  }

  /** Whether this server serves the tenants of `partition` now (any thread). */
  serves(partition: number): boolean {
    return (
      Atomics.load(this.#flags, partition) === 1 &&
      process.hrtime.bigint() < Atomics.load(this.#lease, 0)
    );
  }
}
