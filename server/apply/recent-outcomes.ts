/**
 * The outcomes the applier committed most recently, kept in memory so the call that
 * logged a plan gets its outcome without reading it back from the tenant database.
 *
 * Guarantees:
 * - `get` returns an outcome only after the tenant transaction that recorded it
 *   committed: outcomes are staged while the transaction runs (`stage`) and kept only
 *   by `commit`; `discard` (after a rollback) drops them.
 * - What `get` returns equals what the tenant database holds for the key
 *   (`outcomeByKey`), because the applier stages the outcome as reading it back gives it.
 * - At most `capacity` outcomes are kept; the least recently committed go first.
 *   A miss (`undefined`) means only "not kept here": the caller reads the database.
 */

import type { PlanOutcome } from "../engine.ts";
import type { ApplyFailure } from "./applier.ts";

/** How many committed outcomes are kept by default. */
export const RECENT_OUTCOMES = 4096;

/** An outcome staged by the transaction under way. */
export interface KeyedOutcome {
  readonly key: string;
  readonly outcome: PlanOutcome;
  /** Set when the outcome is a recorded apply failure; reported once it commits. */
  readonly failed?: ApplyFailure;
}

/** Recently committed outcomes by tenant and idempotency key (see the module comment). */
export class RecentOutcomes {
  readonly #capacity: number;
  /** Outcomes applied in the tenant transaction under way (kept once it commits). */
  #uncommitted: KeyedOutcome[] = [];
  /**
   * The kept outcomes by tenant, then by key, each with its slot in the ring. Two maps
   * rather than one keyed by tenant and key joined: a joined key is a new string each
   * call, hashed afresh at every lookup, where a key string taken from the event keeps
   * its hash.
   */
  readonly #recent = new Map<
    string,
    Map<string, { readonly outcome: PlanOutcome; readonly slot: number }>
  >();
  /**
   * The tenant and key of each kept outcome in commit order, a ring of `capacity` slots:
   * the slot to fill next holds the least recently committed. (Evicting through a Map's
   * own order instead walks over the deleted entries at its head, a cost per commit that
   * grows with it.)
   */
  readonly #orderTenant: (string | undefined)[];
  readonly #orderKey: (string | undefined)[];
  #next = 0;

  constructor(capacity: number = RECENT_OUTCOMES) {
    this.#capacity = capacity;
    this.#orderTenant = new Array<string | undefined>(capacity).fill(undefined);
    this.#orderKey = new Array<string | undefined>(capacity).fill(undefined);
  }

  /** Whether committed outcomes are kept (a capacity above 0); otherwise only failures are reported. */
  get keeps(): boolean {
    return this.#capacity > 0;
  }

  /** Records an outcome of the transaction under way. */
  stage(outcome: KeyedOutcome): void {
    this.#uncommitted.push(outcome);
  }

  /** How many outcomes are staged; pass it to {@link rollbackTo} when rolling back a savepoint. */
  mark(): number {
    return this.#uncommitted.length;
  }

  /** Drops the outcomes staged after `mark` (their savepoint was rolled back). */
  rollbackTo(mark: number): void {
    if (this.#uncommitted.length > mark) this.#uncommitted.length = mark;
  }

  /** Drops the staged outcomes (a transaction begins, or rolled back). */
  discard(): void {
    if (this.#uncommitted.length > 0) this.#uncommitted = [];
  }

  /**
   * Keeps the staged outcomes of `tenant`'s transaction that just committed, dropping
   * the oldest beyond capacity; `onFailure` receives each recorded apply failure.
   */
  commit(tenant: string, onFailure?: (failure: ApplyFailure) => void): void {
    if (this.#uncommitted.length === 0) return;
    let kept = this.#recent.get(tenant);
    for (const { key, outcome, failed } of this.#uncommitted) {
      if (this.#capacity > 0) {
        const slot = this.#next;
        const oldestTenant = this.#orderTenant[slot];
        if (oldestTenant !== undefined) {
          const oldestKey = this.#orderKey[slot] as string;
          const byKey = this.#recent.get(oldestTenant);
          // A slot whose outcome was committed again later is stale: its entry moved on.
          if (byKey !== undefined && byKey.get(oldestKey)?.slot === slot) {
            byKey.delete(oldestKey);
            if (byKey.size === 0 && byKey !== kept) this.#recent.delete(oldestTenant);
          }
        }
        if (kept === undefined) {
          kept = new Map();
          this.#recent.set(tenant, kept);
        }
        this.#orderTenant[slot] = tenant;
        this.#orderKey[slot] = key;
        kept.set(key, { outcome, slot });
        this.#next = slot + 1 === this.#capacity ? 0 : slot + 1;
      }
      if (failed) onFailure?.(failed);
    }
    this.#uncommitted = [];
  }

  /** The outcome committed recently for `idempotencyKey` of `tenant`, if kept. */
  get(tenant: string, idempotencyKey: string): PlanOutcome | undefined {
    return this.#recent.get(tenant)?.get(idempotencyKey)?.outcome;
  }

  /** How many tenants have outcomes kept (for tests: a tenant whose outcomes all left is forgotten). */
  get tenantCount(): number {
    return this.#recent.size;
  }
}
