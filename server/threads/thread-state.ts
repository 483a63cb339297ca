/**
 * What the main thread tells the serving threads (`--serve-threads`) without a message,
 * in memory they share (a SharedArrayBuffer), so a read on a serving thread can check it
 * for the cost of a few atomic loads:
 *
 * - per tenant slot, a commit counter: the main thread bumps it after the applier
 *   committed a transaction of a tenant (or changed its access) and before any waiter of
 *   that commit resumes, so before the write is acknowledged. A serving thread compares
 *   it with the count it last saw before it trusts anything it keeps of the tenant (its
 *   file's state, node, edge and access caches);
 * - per tenant slot, a hold: set when the main thread parks the tenant or marks it
 *   unavailable; a serving thread then hands the tenant's reads to the main thread, which
 *   answers them as it answers them without threads. Lifted when the tenant is served
 *   again (a retry unparked it, a file's open succeeded after a failure) and no other
 *   tenant of the slot is held. The word counts holds and lifts (odd: held), so a thread
 *   reopens a handle it opened before a hold: the file may have been replaced since;
 * - the served schema version, set by the main thread before a push is acknowledged: a
 *   serving thread whose own version differs hands every call to the main thread until it
 *   has loaded that version;
 * - whether the main thread holds tenants being rebuilt (rebuild-gate.ts): while it does,
 *   every tenant's reads go to the main thread.
 *
 * A slot is `hash(tenant) mod slots`. Two tenants in one slot share a counter and a hold:
 * a collision only costs a cache drop, or a read served by the main thread instead.
 */

/** Tenant slots: 4096 counters and 4096 holds, 32 KB shared. */
export const TENANT_SLOTS = 4096;

const SERVED_VERSION = 0;
const REBUILDING = 1;
const HEADER = 2;
const COMMITS = HEADER;
const HOLDS = HEADER + TENANT_SLOTS;

/** The shared memory of one server's threads, viewed from any of them. */
export class ThreadState {
  readonly buffer: SharedArrayBuffer;
  readonly #words: Int32Array;

  constructor(buffer?: SharedArrayBuffer) {
    this.buffer = buffer ?? new SharedArrayBuffer((HEADER + 2 * TENANT_SLOTS) * 4);
    this.#words = new Int32Array(this.buffer);
  }

  /** The slot of `tenant` (FNV-1a over its UTF-16 code units). */
  static slot(tenant: string): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < tenant.length; i++) {
      h ^= tenant.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    return (h >>> 0) % TENANT_SLOTS;
  }

  /** Main thread: a transaction of the tenant in `slot` committed, or its access changed. */
  bumpCommits(slot: number): void {
    Atomics.add(this.#words, COMMITS + slot, 1);
  }

  /** The commit count of `slot` (wraps; compare for equality only). */
  commits(slot: number): number {
    return Atomics.load(this.#words, COMMITS + slot);
  }

  /** Main thread: the tenant in `slot` is parked or unavailable; its reads are the main thread's. */
  hold(slot: number): void {
    const word = Atomics.load(this.#words, HOLDS + slot);
    if ((word & 1) === 0) Atomics.store(this.#words, HOLDS + slot, word + 1);
  }

  /** Main thread: no tenant in `slot` is parked or unavailable any more. */
  release(slot: number): void {
    const word = Atomics.load(this.#words, HOLDS + slot);
    if ((word & 1) === 1) Atomics.store(this.#words, HOLDS + slot, word + 1);
  }

  /** Changes with every hold and release of `slot` (compare for equality only). */
  holds(slot: number): number {
    return Atomics.load(this.#words, HOLDS + slot);
  }

  /** Whether reads of the tenant in `slot` are the main thread's. */
  held(slot: number): boolean {
    return (Atomics.load(this.#words, HOLDS + slot) & 1) !== 0;
  }

  /** Main thread: the version every call is served by from now on. */
  setServedVersion(version: number): void {
    Atomics.store(this.#words, SERVED_VERSION, version);
  }

  get servedVersion(): number {
    return Atomics.load(this.#words, SERVED_VERSION);
  }

  /** Main thread: whether tenants are held while they are rebuilt from the log. */
  setRebuilding(rebuilding: boolean): void {
    Atomics.store(this.#words, REBUILDING, rebuilding ? 1 : 0);
  }

  get rebuilding(): boolean {
    return Atomics.load(this.#words, REBUILDING) !== 0;
  }
}
