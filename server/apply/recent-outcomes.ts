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
  /** The last `capacity` committed outcomes, oldest first. */
  readonly #recent = new Map<string, PlanOutcome>();

  constructor(capacity: number = RECENT_OUTCOMES) {
    this.#capacity = capacity;
  }

  /** Records an outcome of the transaction under way. */
  stage(outcome: KeyedOutcome): void {
    this.#uncommitted.push(outcome);
  }

  /** Drops the staged outcomes (a transaction begins, or rolled back). */
  discard(): void {
    this.#uncommitted = [];
  }

  /**
   * Keeps the staged outcomes of `tenant`'s transaction that just committed, dropping
   * the oldest beyond capacity; `onFailure` receives each recorded apply failure.
   */
  commit(tenant: string, onFailure?: (failure: ApplyFailure) => void): void {
    for (const { key, outcome, failed } of this.#uncommitted) {
      const id = outcomeId(tenant, key);
      this.#recent.delete(id);
      this.#recent.set(id, outcome);
      if (failed) onFailure?.(failed);
    }
    this.#uncommitted = [];
    while (this.#recent.size > this.#capacity) {
      const oldest = this.#recent.keys().next().value as string;
      this.#recent.delete(oldest);
    }
  }

  /** The outcome committed recently for `idempotencyKey` of `tenant`, if kept. */
  get(tenant: string, idempotencyKey: string): PlanOutcome | undefined {
    return this.#recent.get(outcomeId(tenant, idempotencyKey));
  }
}

function outcomeId(tenant: string, key: string): string {
  return `${tenant}\u0000${key}`;
}
