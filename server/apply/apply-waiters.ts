/**
 * Read-your-writes waits: a call that logged an event for a tenant waits here until
 * that tenant has applied it, so its answer reflects its own write.
 *
 * Guarantees:
 * - `waitFor` resolves `true` once the tenant's database has applied the event: at
 *   once if it already has, otherwise when the applier reports the commit that applied
 *   it (`notify`), before any later batch is applied.
 * - It resolves `false` when `timeoutMs` passes first (at once when `timeoutMs <= 0`
 *   and the event is not applied yet), and when the applier stops (`releaseAll`).
 * - It rejects with the tenant's `tenant-unavailable` error when the tenant is parked,
 *   whether before the call (the store knows it) or while waiting (`fail`), and with
 *   `invalid-tenant` when the tenant id is not valid.
 * - It rejects with `signal`'s reason when the signal aborts before it settles (a
 *   call's deadline passed or its client went away), and leaves no waiter behind.
 * - With a `gate` (a server of a cluster: whether it still serves the tenant), a wait
 *   that would block rejects at once with the gate's error, and `recheck` rejects every
 *   pending wait of a tenant the gate now refuses: a wait on a partition the server lost
 *   ends with the answer a new call gets instead of running to its timeout.
 * - Every wait settles exactly once, and its timer is cleared when it settles.
 *
 * It assumes "applied" means what `TenantState` records: an event at `position` is
 * applied when the tenant reads that partition and its applied offset is past it. It
 * does not check that the position was ever logged; a wait for one that never will be
 * ends at its timeout.
 */

import type { Store } from "../store/store.ts";
import type { TenantState } from "../store/tenant-db.ts";
import { validateTenantId } from "../store/tenant-id.ts";
import type { WalPosition } from "../wal/wal.ts";

interface Waiter {
  readonly position: WalPosition;
  readonly resolve: (reached: boolean) => void;
  readonly reject: (error: unknown) => void;
  readonly timer: ReturnType<typeof setTimeout>;
  /** Stops listening to the caller's signal; called when the wait settles. */
  readonly release: () => void;
}

/** Pending read-your-writes waits, by tenant. The applier owns one and reports to it. */
export class ApplyWaiters {
  readonly #store: Store;
  readonly #gate: ((tenant: string) => void) | undefined;
  readonly #waiters = new Map<string, Set<Waiter>>();

  /** `gate` throws the error to answer for a tenant this server no longer serves. */
  constructor(store: Store, gate?: (tenant: string) => void) {
    this.#store = store;
    this.#gate = gate;
  }

  /** Waits until `tenant` has applied the event at `position` (see the module comment). */
  async waitFor(
    tenant: string,
    position: WalPosition,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    const id = validateTenantId(tenant);
    const down = this.#store.unavailable(id);
    if (down) throw down;
    if (this.#reached(id, position)) return true;
    if (timeoutMs <= 0) return false;
    signal?.throwIfAborted();
    this.#gate?.(id);
    return new Promise<boolean>((resolve, reject) => {
      let set = this.#waiters.get(id);
      if (!set) {
        set = new Set();
        this.#waiters.set(id, set);
      }
      const waiters = set;
      const leave = (): void => {
        waiters.delete(waiter);
        if (waiters.size === 0 && this.#waiters.get(id) === waiters) this.#waiters.delete(id);
      };
      const onAbort = (): void => {
        clearTimeout(waiter.timer);
        leave();
        reject(signal?.reason);
      };
      const waiter: Waiter = {
        position,
        resolve: (reached) => {
          waiter.release();
          resolve(reached);
        },
        reject: (error) => {
          waiter.release();
          reject(error);
        },
        timer: setTimeout(() => {
          waiter.release();
          leave();
          resolve(false);
        }, timeoutMs),
        release: () => signal?.removeEventListener("abort", onAbort),
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      waiters.add(waiter);
    });
  }

  /** Resolves the waits `state` satisfies; called once a transaction of `tenant` committed. */
  notify(tenant: string, state: TenantState): void {
    const set = this.#waiters.get(tenant);
    if (!set) return;
    for (const w of set) {
      if (!isApplied(state, w.position)) continue;
      clearTimeout(w.timer);
      set.delete(w);
      w.resolve(true);
    }
    if (set.size === 0) this.#waiters.delete(tenant);
  }

  /** Rejects every wait of `tenant` with `error`; called when the tenant is parked. */
  fail(tenant: string, error: unknown): void {
    const set = this.#waiters.get(tenant);
    if (!set) return;
    this.#waiters.delete(tenant);
    for (const w of set) {
      clearTimeout(w.timer);
      w.reject(error);
    }
  }

  /**
   * Rejects the pending waits of every tenant the gate now refuses, each with the gate's
   * error; called when what this server serves shrank (a rebalance, a lost lease).
   */
  recheck(): void {
    const gate = this.#gate;
    if (gate === undefined) return;
    for (const tenant of [...this.#waiters.keys()]) {
      try {
        gate(tenant);
      } catch (err) {
        this.fail(tenant, err);
      }
    }
  }

  /** Resolves every pending wait with `false`; called when the applier stops. */
  releaseAll(): void {
    for (const set of this.#waiters.values()) {
      for (const w of set) {
        clearTimeout(w.timer);
        w.resolve(false);
      }
    }
    this.#waiters.clear();
  }

  #reached(tenant: string, position: WalPosition): boolean {
    const db = this.#store.tenant(tenant, false);
    return db !== undefined && isApplied(db.state, position);
  }
}

/** Whether a tenant in `state` has applied the event at `position`. */
export function isApplied(state: TenantState, position: WalPosition): boolean {
  return state.partition === position.partition && position.offset < state.appliedOffset;
}
