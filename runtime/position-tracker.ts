/**
 * Read-your-writes bookkeeping: the highest log position a client has seen in a
 * receipt, per tenant. Reads send it as `after_position`, so the server answers only
 * once the tenant has applied the client's own writes. A tenant's events all live in
 * one partition, so within a partition a larger offset is later; a receipt from a
 * different partition (the tenant moved) replaces the old position.
 */

/** A place in the write-ahead log. */
export interface LogPosition {
  readonly partition: number;
  readonly offset: bigint;
}

/** Highest seen position per tenant. Share one between clients to share their writes. */
export class PositionTracker {
  readonly #positions = new Map<string, LogPosition>();

  /** Records a position from a receipt; keeps the later of the known and the new one. */
  observe(tenant: string, position: LogPosition): void {
    const known = this.#positions.get(tenant);
    if (
      known === undefined ||
      known.partition !== position.partition ||
      position.offset > known.offset
    ) {
      this.#positions.set(tenant, { partition: position.partition, offset: position.offset });
    }
  }

  /** The position reads of `tenant` should wait for, if the client wrote anything. */
  get(tenant: string): LogPosition | undefined {
    return this.#positions.get(tenant);
  }

  /** Forgets everything (e.g. after switching users). */
  clear(): void {
    this.#positions.clear();
  }
}
