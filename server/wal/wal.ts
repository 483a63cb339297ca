/**
 * The write-ahead log: the source of truth of every tenant's data. Handlers append
 * events; the applier subscribes and materializes them. Backends: the embedded
 * SQLite-file log (`embedded-wal.ts`, the default), Kafka (`kafka-wal.ts`) and Kinesis
 * (`kinesis-wal.ts`).
 * Every backend passes the contract suite in `wal-contract.ts`.
 *
 * Guarantees every backend gives:
 * - `append` resolves only when its records are durable (fsync for the embedded log,
 *   `acks=all` for Kafka, a successful `PutRecords` for Kinesis); if it rejects, none, some or all of the records may still
 *   be in the log (the caller's idempotency key makes a retry safe).
 * - Records of one tenant land in one partition, in append order; a single `append`
 *   call's records of one tenant are contiguous and in order.
 * - A subscriber sees each partition's records in offset order, at least once.
 * - After a failure a backend may hold an acknowledged record twice (Kafka: a batch
 *   re-sent during a leader move); `append` reports the first copy's positions. So
 *   consumers must be idempotent, as the applier is (by idempotency key).
 */

/** Where a record sits: a partition and an offset within it. */
export interface WalPosition {
  readonly partition: number;
  /**
   * Offset within the partition. Numbers are exact up to 2^53, which a log would
   * reach after ~285 years at a million records a second; backends reject larger.
   */
  readonly offset: number;
}

/** What is appended: a tenant key and an opaque payload (an encoded `WalEvent`). */
export interface WalRecord {
  readonly tenant: string;
  readonly payload: Uint8Array;
}

/** A record read back, with its position. */
export interface WalEntry extends WalRecord {
  readonly position: WalPosition;
}

/** Receives batches of one partition's entries, in order. */
export type WalHandler = (entries: readonly WalEntry[]) => Promise<void>;

/** Options for {@link Wal.subscribe}. */
export interface SubscribeOptions {
  /**
   * The next offset to read in a partition, asked when this subscriber is given
   * that partition (at start, or after a rebalance). Return 0 to read from the start.
   */
  readonly startOffset: (partition: number) => Promise<number> | number;
  /**
   * Called with consecutive entries of one partition. The next batch of that
   * partition is not delivered until the returned promise resolves; if it rejects,
   * the subscription stops and `WalSubscription.done` rejects with that error.
   */
  readonly handler: WalHandler;
  /** Upper bound on entries per handler call. */
  readonly maxBatch?: number;
}

/** A running subscription. */
export interface WalSubscription {
  /** Stops delivery; resolves after the current handler call (if any) finished. */
  stop(): Promise<void>;
  /** Settles when the subscription ends: resolves after `stop`, rejects on a handler or log error. */
  readonly done: Promise<void>;
}

/** The log. Implementations document what they assume beyond this contract. */
export interface Wal {
  /**
   * A stable identity of this log: the same across reopens of the same log, different
   * for another log (another embedded file, another Kafka cluster or topic). Derived
   * files record it, so one made from another log is told apart and rebuilt.
   */
  readonly identity: string;
  /** Number of partitions; tenants are spread over them by {@link Wal.partitionFor}. */
  readonly partitions: number;
  /**
   * The partition a tenant's records go to: `partitionForTenant(tenant, partitions)`
   * (`partition.ts`, Kafka's murmur2) in every backend, so all logs agree.
   */
  partitionFor(tenant: string): number;
  /** Appends records; resolves with their positions (same order) once they are durable. */
  append(records: readonly WalRecord[]): Promise<WalPosition[]>;
  /**
   * The log end of a partition: one past its last durable record, so every offset below
   * it can be read. Records of appends still in flight are not counted (for Kafka, this
   * is the high watermark).
   */
  endOffset(partition: number): Promise<number>;
  /**
   * Why the log refuses every append right now, or undefined while it accepts them. Set
   * while a backend recovers from a failure that is not a property of one call (the
   * embedded log after a failed commit: disk full, I/O error); operators see it on
   * `/ready` and `/health`. A backend whose failures are per call (Kafka) never sets it.
   */
  readonly failure: WalError | undefined;
  /**
   * The lowest offset `partition` still holds, for a log that deletes old records (the
   * embedded log's local retention, a Kafka topic's retention); 0 when unset.
   */
  logStart?(partition: number): number;
  /** What deleted the records below `logStart` (default: the embedded log's local retention). */
  readonly logStartCause?: string;
  /** Delivers records from the given offsets, then new ones as they are appended. */
  subscribe(options: SubscribeOptions): WalSubscription;
  /**
   * Settles, now, the appends whose records a backend's other thread has already made
   * durable, instead of when the event loop takes that thread's answer in a later turn.
   * Cheap enough to call at every request (an atomic load while nothing is done); the
   * caller must not be inside the log's own code. Backends without such a thread omit it.
   */
  takeCompletions?(): void;
  /**
   * Flushes, stops subscriptions and releases the backend. Appends after close reject
   * with code `closed`. Idempotent: a second call resolves like the first.
   */
  close(): Promise<void>;
}

/** What went wrong, from the caller's point of view. */
export type WalErrorCode = "closed" | "unavailable" | "corrupt" | "too-large" | "invalid";

/** `wal` with its subscriptions made by `subscribe`; everything else is `wal`'s own. */
export function withSubscribe(wal: Wal, subscribe: Wal["subscribe"]): Wal {
  return {
    get identity() {
      return wal.identity;
    },
    get partitions() {
      return wal.partitions;
    },
    get failure() {
      return wal.failure;
    },
    partitionFor: (tenant) => wal.partitionFor(tenant),
    append: (batch) => wal.append(batch),
    endOffset: (partition) => wal.endOffset(partition),
    subscribe,
    close: () => wal.close(),
  };
}

/** Errors a WAL backend raises. `code` says what the caller can do about it. */
export class WalError extends Error {
  override readonly name = "WalError";
  readonly code: WalErrorCode;
  /** For `too-large` refusals of a record's size: its bytes and the most the log takes. */
  readonly size: { readonly bytes: number; readonly maxBytes: number } | undefined;

  constructor(
    code: WalErrorCode,
    message: string,
    options?: { cause?: unknown; size?: { readonly bytes: number; readonly maxBytes: number } },
  ) {
    super(message, options);
    this.code = code;
    this.size = options?.size;
  }
}
