/**
 * Hands each tenant's committed events to the live subscriptions of that tenant. The
 * applier calls {@link ChangeFeed.publish} synchronously after every commit; each
 * subscription holds a bounded queue of events it has not yet sent.
 *
 * Back-pressure: a queue never holds more than its bound. Events are shared between
 * subscribers (a queue holds references, not copies), so an idle subscriber costs its
 * queue object and nothing per event. A subscriber whose client reads slower than the
 * tenant writes is cut off when its queue is full (`overflowed`), and resumes from the
 * last position it received: server memory stays bounded whatever the client does.
 *
 * The bound is in events and in bytes (a plan may be megabytes). Since every queue of a
 * tenant holds a suffix of the same stream of shared events, what all of them hold
 * together is at most what the longest holds: one bound, whatever the subscriber count.
 */

import type { AppliedEvent } from "../apply/index.ts";

/** Events a subscription may hold unsent before it is cut off. */
export const DEFAULT_SUBSCRIBER_BUFFER = 10_000;
/** Bytes of logged events a subscription may hold unsent before it is cut off. */
export const DEFAULT_SUBSCRIBER_BYTES = 64 * 1024 * 1024;
/** Milliseconds of quiet after which a live subscription is sent a checkpoint. */
export const DEFAULT_SUBSCRIBER_HEARTBEAT_MS = 15_000;

/** One subscription's queue of committed events, in log order. */
export class SubscriberQueue {
  readonly #limit: number;
  readonly #maxBytes: number;
  #bytes = 0;
  readonly #onClose: (queue: SubscriberQueue) => void;
  #items: AppliedEvent[] = [];
  #wake: (() => void) | undefined;
  #overflowed = false;
  #closed = false;
  #recheck = false;

  constructor(limit: number, maxBytes: number, onClose: (queue: SubscriberQueue) => void) {
    this.#limit = limit;
    this.#maxBytes = maxBytes;
    this.#onClose = onClose;
  }

  /** True once more than the bound was queued; the queue then holds nothing more. */
  get overflowed(): boolean {
    return this.#overflowed;
  }

  /** Events waiting to be sent. */
  get size(): number {
    return this.#items.length;
  }

  /** Appends committed events (called by the feed). */
  push(events: readonly AppliedEvent[]): void {
    if (this.#overflowed || this.#closed) return;
    let bytes = this.#bytes;
    for (const e of events) bytes += e.bytes;
    if (this.#items.length + events.length > this.#limit || bytes > this.#maxBytes) {
      this.#overflowed = true;
      this.#items = [];
      this.#bytes = 0;
    } else {
      for (const e of events) this.#items.push(e);
      this.#bytes = bytes;
    }
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /**
   * Wakes the subscription's {@link wait} to check again whether its tenant is still
   * served here (a server of a cluster lost partitions); {@link takeRecheck} tells it so.
   */
  recheck(): void {
    if (this.#closed) return;
    this.#recheck = true;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  /** True once after {@link recheck} was called. */
  takeRecheck(): boolean {
    const recheck = this.#recheck;
    this.#recheck = false;
    return recheck;
  }

  /** Takes every queued event (possibly none) without waiting. */
  drain(): AppliedEvent[] {
    const items = this.#items;
    this.#items = [];
    this.#bytes = 0;
    return items;
  }

  /**
   * Resolves once an event is queued, the queue overflowed, `signal` aborted or
   * `timeoutMs` passed; at once if one of the first three holds already.
   */
  wait(signal: AbortSignal, timeoutMs?: number): Promise<void> {
    if (this.#items.length > 0 || this.#overflowed || this.#recheck || signal.aborted)
      return Promise.resolve();
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        signal.removeEventListener("abort", done);
        clearTimeout(timer);
        if (this.#wake === done) this.#wake = undefined;
        resolve();
      };
      signal.addEventListener("abort", done, { once: true });
      if (timeoutMs !== undefined) timer = setTimeout(done, timeoutMs);
      this.#wake = done;
    });
  }

  /** Stops receiving events; the feed forgets the queue. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#items = [];
    this.#bytes = 0;
    this.#onClose(this);
  }
}

/** The live subscriptions of every tenant. */
export class ChangeFeed {
  readonly #byTenant = new Map<string, Set<SubscriberQueue>>();
  readonly #limit: number;
  readonly #maxBytes: number;

  constructor(limit = DEFAULT_SUBSCRIBER_BUFFER, maxBytes = DEFAULT_SUBSCRIBER_BYTES) {
    this.#limit = limit;
    this.#maxBytes = maxBytes;
  }

  /** The number of open subscriptions (all tenants). */
  get size(): number {
    let n = 0;
    for (const set of this.#byTenant.values()) n += set.size;
    return n;
  }

  /**
   * A queue that receives every event `tenant` commits from now on. Call it in the same
   * synchronous step as reading the tenant's applied offset: every event at or past that
   * offset then reaches the queue, and none before it does.
   */
  listen(tenant: string): SubscriberQueue {
    let set = this.#byTenant.get(tenant);
    if (!set) {
      set = new Set();
      this.#byTenant.set(tenant, set);
    }
    const queue = new SubscriberQueue(this.#limit, this.#maxBytes, (q) => {
      const current = this.#byTenant.get(tenant);
      if (!current) return;
      current.delete(q);
      if (current.size === 0) this.#byTenant.delete(tenant);
    });
    set.add(queue);
    return queue;
  }

  /** Wakes every subscription to check whether its tenant is still served here. */
  recheckAll(): void {
    for (const set of this.#byTenant.values()) for (const queue of set) queue.recheck();
  }

  /** Called by the applier after each commit of `tenant`. */
  publish(tenant: string, events: readonly AppliedEvent[]): void {
    if (events.length === 0) return;
    const set = this.#byTenant.get(tenant);
    if (!set) return;
    for (const queue of set) queue.push(events);
  }
}
