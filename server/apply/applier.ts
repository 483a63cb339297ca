/**
 * The applier: consumes the WAL and materializes each tenant's events into its
 * database (DESIGN.md contract 4: handlers append, the applier writes).
 *
 * Exactly-once effect over at-least-once delivery. Every tenant database stores the
 * offset after its last applied event (`tenant_state`), written in the same
 * transaction as the event's effect. An event whose offset is below that is skipped,
 * so redelivery (after a crash, a restart from an older checkpoint, a rebalance)
 * changes nothing. A plan's idempotency key is recorded with its outcome in that
 * transaction too; a later event with the same key is a no-op and the first outcome
 * stands (contract 6).
 *
 * Where a partition resumes: a per-partition checkpoint in `meta.sqlite`, not the
 * minimum over the partition's tenants, because that minimum needs every tenant's
 * database opened at start and a tenant that was never opened is invisible to it.
 * The checkpoint is moved (at most every `checkpointIntervalMs`, and on stop) only
 * after the tenant databases written since the last move were checkpointed to their
 * main files (their `synchronous=NORMAL` commits are then durable), and never past the
 * first unapplied event of a parked tenant. So resuming there loses nothing, and the
 * events between the checkpoint and the log end that tenants already have are skipped
 * by the per-tenant offset.
 *
 * Batching: a delivered batch is grouped by tenant (per-tenant order kept; tenants are
 * independent) and each tenant's events are applied in one transaction. Each event
 * runs in a SAVEPOINT, and each plan in a nested one, so a rejected plan rolls back
 * alone and its failure is recorded while the others in the batch commit.
 * Consecutive plans that need no migration are first applied optimistically, in one
 * savepoint for the run and none per event (a savepoint per event costs more than a
 * small plan's own writes, and its node and outcome rows are written several to a
 * statement, store/held-rows.ts); if one of them throws, the run is rolled back, its staged
 * outcomes, queued full-text rows and counters with it, and applied again event by event
 * as above up to that plan, so the results are the same
 * (tests/apply/optimistic-run.test.ts); runs resume a little later.
 *
 * Failures, and who they stop:
 * - An undecodable payload, or an event whose tenant differs from its log key, or a
 *   tenant key that is not a valid tenant id, is recorded in `meta.sqlite`
 *   (`bad_events`) with the reason; the tenant (if valid) moves past it. Nobody stops.
 * - A plan whose apply fails in a way that is a property of the event and the state
 *   (an SQLite error that is not I/O, a TypeError in apply code: `isEnvironmentFault`
 *   in apply-failure.ts decides) is rolled back and that failure, code `internal`, is
 *   recorded as its outcome like a rejection; `onApplyFailure` reports it. The tenant
 *   goes on (DESIGN.md contract 11).
 * - A tenant whose database cannot be opened, whose schema change fails, whose schema
 *   version is unknown, or whose write fails for a reason of the environment (I/O,
 *   corruption, a full disk) is parked: reads and `waitFor` of it throw
 *   `tenant-unavailable` with the reason, its later events are held (the checkpoint
 *   stays before them, so a restart retries), `onPark` reports it, and every other
 *   tenant goes on. With `parkRetry` set, a parked tenant is retried without a restart
 *   (see {@link ParkRetry}): the subscription is started again from the checkpoint and
 *   the tenant applies from its first unapplied event, held from readers until it has
 *   applied that event; a failed retry parks it again and waits twice as long.
 * - Only a failure of `meta.sqlite` itself stops the subscription (`done` rejects).
 *
 * Schema changes: a `SchemaChange` event is recorded in `meta.sqlite` (its lock JSON
 * lets a replay rebuild the model). A tenant's database is brought to a schema
 * version (indexes, unique indexes, full-text tables) when it applies an event of
 * that tenant carrying the version — not when it is merely opened, because when a
 * tenant is opened depends on timing, and the canonical dump after a replay must not
 * (contract 8).
 *
 * What callers wait on is kept beside it: read-your-writes waits in apply-waiters.ts
 * (told of each commit and park), and the recent-outcome cache in recent-outcomes.ts
 * (outcomes staged per transaction, kept only once it commits).
 */

import { create } from "@bufbuild/protobuf";
import { type WriteFailure, WriteFailureSchema } from "../../generated/entdb/v1/entdb_pb.js";
import type { OperationResult } from "../../generated/entdb/v1/plan_pb.js";
import type { WalEvent } from "../../generated/entdb/v1/wal_pb.js";
import type { ApplyProgress, BuiltEvents, PlanOutcome } from "../engine.ts";
import { heldInsert } from "../store/held-rows.ts";
import { encodeOutcome } from "../store/outcome-codec.ts";
import type { Store } from "../store/store.ts";
import { StoreError } from "../store/store-error.ts";
import type { TenantDb, TenantState } from "../store/tenant-db.ts";
import { isTenantId, validateTenantId } from "../store/tenant-id.ts";
import type { SubscribeOptions, Wal, WalEntry, WalPosition, WalSubscription } from "../wal/wal.ts";
import { actorReads, applyAccessChange, checkPlanAccess } from "./access-ops.ts";
import { ApplyWaiters, isApplied } from "./apply-waiters.ts";
import { applyMailboxChange } from "./mailbox-ops.ts";
import { executePlan } from "./plan-executor.ts";
import { PlanRejection } from "./plan-rejection.ts";
import { type KeyedOutcome, RecentOutcomes } from "./recent-outcomes.ts";
import { decodeWalEvent, decodeWalEventLean } from "./wal-event-decode.ts";

/**
 * The log key the server should append `SchemaChange` events under: not a valid tenant
 * id (so no tenant's events share it), and not empty (the embedded log refuses an
 * empty key). Any SchemaChange under a key that is not a tenant id is treated alike.
 */
export const SCHEMA_LOG_KEY = "#schema";

/** The outcome row of a plan; an optimistic run holds them (store/held-rows.ts). */
const INSERT_OUTCOME = heldInsert(
  "INSERT INTO outcomes (idempotency_key, log_partition, log_offset, schema_version, outcome) VALUES ",
  "(?, ?, ?, ?, ?)",
  5,
);

/** Default entries per delivered batch. */
export const DEFAULT_APPLY_BATCH = 512;
/** Events applied one by one after an optimistic run failed, at least, before the next run. */
const RUN_BACKOFF = 8;
/** Default interval between checkpoint moves. */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 1_000;

/**
 * When parked tenants are tried again: `firstMs` after the park, then after each failed
 * retry twice the last wait, at most `maxMs`. A retry stops the subscription, moves the
 * checkpoint, lets the store hold a tenant whose file went missing or older for a
 * rebuild (`Store.prepareRetry`), and subscribes again from the checkpoint (which is
 * before every parked tenant's first unapplied event): other tenants skip what they
 * applied by their own offsets, as after a restart.
 */
export interface ParkRetry {
  readonly firstMs: number;
  readonly maxMs: number;
}

/** The server's retries of parked tenants: after 1 s, doubling to once a minute. */
export const DEFAULT_PARK_RETRY: ParkRetry = { firstMs: 1_000, maxMs: 60_000 };

/** Options of {@link Applier}. */
export interface ApplierOptions {
  readonly wal: Wal;
  readonly store: Store;
  /** Entries per delivered batch (default {@link DEFAULT_APPLY_BATCH}). */
  readonly maxBatch?: number;
  /** Least time between checkpoint moves (default {@link DEFAULT_CHECKPOINT_INTERVAL_MS}; 0 = every batch). */
  readonly checkpointIntervalMs?: number;
  /** Called after a transaction that applied access changes of `tenant` committed or rolled back. */
  readonly onAccessChanged?: (tenant: string) => void;
  /** Called when a tenant is parked, and again each time a retry of it fails (`retries`). */
  readonly onPark?: (parked: ParkedTenant) => void;
  /** Retries parked tenants without a restart (see {@link ParkRetry}); off when unset. */
  readonly parkRetry?: ParkRetry;
  /** Called when a retried tenant applied the event it was parked at: it is served again. */
  readonly onUnpark?: (parked: ParkedTenant) => void;
  /**
   * Called once the outcome of a plan whose apply failed in a way that is a property of
   * the event (apply-failure.ts) committed; `error` carries the original as `cause`.
   */
  readonly onApplyFailure?: (failure: ApplyFailure) => void;
  /**
   * Called, synchronously after each commit, with the events of `tenant` that commit
   * applied (rejected plans included), in log order: live subscriptions start here.
   */
  readonly onCommitted?: (tenant: string, events: readonly AppliedEvent[]) => void;
  /** Events ingress built in this process, taken instead of decoding their payloads. */
  readonly builtEvents?: BuiltEvents;
  /**
   * Called, synchronously, with each `SchemaChange` event the applier reaches (after it is
   * recorded in `meta.sqlite`), repeats included: a server of a cluster learns versions
   * pushed through another server here (server/cluster/cluster-schema-log.ts).
   */
  readonly onSchemaChange?: (event: WalEvent) => void;
  /**
   * Called with a tenant's database before each of its batches, outside the transaction
   * (a restore's bulk load defers indexes here, bulk-load.ts); a throw parks the tenant.
   */
  readonly beforeTenantBatch?: (db: TenantDb) => void;
  /**
   * Called inside the transaction right after an event brought the tenant's database to a
   * new schema version (a restore's bulk load defers what the migration made, so the rest
   * of the batch does not write it); a throw fails the event as the migration's would.
   */
  readonly afterMigration?: (db: TenantDb) => void;
  /**
   * The tenants this applier writes; entries of other tenants are passed over (counted as
   * processed, not decoded). Absent: every tenant. A restore splits tenants among threads.
   */
  readonly tenants?: ReadonlySet<string>;
  /**
   * How many committed outcomes to keep in memory for callers that wait on their plans
   * (recent-outcomes.ts; default its RECENT_OUTCOMES). A restore, which has no callers, keeps none.
   */
  readonly recentOutcomes?: number;
  /**
   * Decodes creates of plain fields lean (`decodeWalEventLean`): their `fields` messages
   * are made only if something reads them. For an applier whose events go nowhere else (a
   * restore's); off by default, as `onCommitted` hands the events on.
   */
  readonly leanCreates?: boolean;
  /**
   * How the applier subscribes to the log (default `wal.subscribe`). A server of a
   * cluster subscribes as a member of the cluster's consumer group (server/cluster), so
   * it is delivered only the partitions it owns.
   */
  readonly subscribe?: (options: SubscribeOptions) => WalSubscription;
  /**
   * Throws the error to answer for a tenant this server does not serve (a server of a
   * cluster): a read-your-writes wait of such a tenant fails at once with it, and
   * `recheckWaits` ends the pending ones (apply-waiters.ts).
   */
  readonly waitGate?: (tenant: string) => void;
}

/** An event a tenant committed, with its position and the size of its logged payload. */
export interface AppliedEvent {
  readonly position: WalPosition;
  readonly event: WalEvent;
  /** Bytes of the encoded event in the log (what holding it in memory roughly costs). */
  readonly bytes: number;
}

/** A plan whose apply failed deterministically; its failure is its recorded outcome. */
export interface ApplyFailure {
  readonly tenant: string;
  readonly position: WalPosition;
  readonly idempotencyKey: string;
  readonly error: PlanRejection;
}

/** A tenant that stopped applying, and why. */
export interface ParkedTenant {
  readonly tenant: string;
  /** The first event it did not apply. */
  readonly position: WalPosition;
  readonly error: StoreError;
  /** Retries of it that failed since it was parked at this position (0 at the park). */
  readonly retries: number;
  /** When it is tried again (ms since the epoch), with `parkRetry` set. */
  readonly retryAt?: number;
  /**
   * Parked because an open found its file missing or older than what it applied, not at
   * an event of its own ({@link Applier.parkLost}): `position` is then its last applied
   * event, which its file must hold again.
   */
  readonly lost?: boolean;
}

/** Counters since start. */
export interface ApplierStats {
  /** Plans applied (committed or rejected with a recorded outcome). */
  readonly plans: number;
  /** Of those, rejected by a decision. */
  readonly rejected: number;
  /** Plans whose idempotency key was already recorded (no-ops). */
  readonly duplicates: number;
  /** Events skipped because their tenant had applied them already. */
  readonly skipped: number;
  /** Entries recorded as bad events. */
  readonly bad: number;
  /** Of the plans, those whose apply failed and was recorded as the outcome (code internal). */
  readonly applyFailures: number;
  /** Optimistic runs of plans applied without a savepoint per event. */
  readonly runs: number;
  /** Of those, runs in which a plan threw: rolled back, applied event by event up to that plan. */
  readonly runsRedone: number;
}

type Item =
  | { readonly entry: WalEntry; readonly event: WalEvent }
  | { readonly entry: WalEntry; readonly bad: string };

/** Applies the WAL to the store and tracks progress. `start` it; `stop` it before closing the store. */
export class Applier implements ApplyProgress {
  readonly #wal: Wal;
  readonly #store: Store;
  readonly #maxBatch: number;
  readonly #checkpointIntervalMs: number;
  readonly #onAccessChanged: ((tenant: string) => void) | undefined;
  #subscription: WalSubscription | undefined;
  /** Settles when the applier stops, or rejects when a subscription of it failed ({@link done}). */
  #done: Promise<void> | undefined;
  #ended: { resolve: () => void; reject: (err: unknown) => void } | undefined;
  #stopped = false;
  readonly #parkRetry: ParkRetry | undefined;
  readonly #onUnpark: ((parked: ParkedTenant) => void) | undefined;
  /** Parked tenants the current subscription applies again. */
  readonly #retrying = new Set<string>();
  #retryTimer: NodeJS.Timeout | undefined;
  /** A retry under way (it stops and starts the subscription). */
  #retry: Promise<void> | undefined;
  /** The tenant whose file the applier itself is opening (its failures park it here). */
  #opening: string | undefined;
  /** Partitions this applier was given, with the next offset it will process. */
  readonly #processed = new Map<number, number>();
  readonly #parked = new Map<string, ParkedTenant>();
  /** Tenant databases written since the last checkpoint move. */
  readonly #dirty = new Set<TenantDb>();
  /** Read-your-writes waits (apply-waiters.ts). */
  readonly #waiters: ApplyWaiters;
  #lastFlush = 0;
  #stats = {
    plans: 0,
    rejected: 0,
    duplicates: 0,
    skipped: 0,
    bad: 0,
    applyFailures: 0,
    runs: 0,
    runsRedone: 0,
  };
  readonly #onPark: ((parked: ParkedTenant) => void) | undefined;
  readonly #onApplyFailure: ((failure: ApplyFailure) => void) | undefined;
  readonly #onCommitted: ((tenant: string, events: readonly AppliedEvent[]) => void) | undefined;
  readonly #onSchemaChange: ((event: WalEvent) => void) | undefined;
  readonly #beforeTenantBatch: ((db: TenantDb) => void) | undefined;
  readonly #afterMigration: ((db: TenantDb) => void) | undefined;
  readonly #tenants: ReadonlySet<string> | undefined;
  /** Outcomes of recent commits, and of the transaction under way (recent-outcomes.ts). */
  readonly #recent: RecentOutcomes;
  readonly #built: BuiltEvents | undefined;
  readonly #decode: (bytes: Uint8Array) => WalEvent;
  readonly #subscribeTo: (options: SubscribeOptions) => WalSubscription;

  constructor(options: ApplierOptions) {
    this.#wal = options.wal;
    this.#subscribeTo = options.subscribe ?? ((o) => options.wal.subscribe(o));
    this.#store = options.store;
    this.#maxBatch = options.maxBatch ?? DEFAULT_APPLY_BATCH;
    this.#checkpointIntervalMs = options.checkpointIntervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS;
    this.#onPark = options.onPark;
    this.#parkRetry = options.parkRetry;
    this.#onUnpark = options.onUnpark;
    this.#onApplyFailure = options.onApplyFailure;
    this.#onAccessChanged = options.onAccessChanged;
    this.#onCommitted = options.onCommitted;
    this.#onSchemaChange = options.onSchemaChange;
    this.#beforeTenantBatch = options.beforeTenantBatch;
    this.#afterMigration = options.afterMigration;
    this.#tenants = options.tenants;
    this.#waiters = new ApplyWaiters(options.store, options.waitGate);
    this.#built = options.builtEvents;
    this.#decode = options.leanCreates === true ? decodeWalEventLean : decodeWalEvent;
    this.#recent = new RecentOutcomes(options.recentOutcomes);
  }

  /** Subscribes to the log. A second call does nothing. */
  start(): void {
    if (this.#done) return;
    this.#done = new Promise((resolve, reject) => {
      this.#ended = { resolve, reject };
    });
    // Whoever reads `done` sees a failure; nobody reading it is not an unhandled rejection.
    this.#done.catch(() => {});
    this.#subscribe();
  }

  #subscribe(): void {
    this.#lastFlush = Date.now();
    const subscription = this.#subscribeTo({
      // The checkpoint, or earlier where a tenant database is being rebuilt from the log
      // (server/store/derived-check.ts); tenants that have the events skip them.
      startOffset: async (partition) => {
        const offset = this.#store.replayStart(partition);
        this.#processed.set(partition, offset);
        await this.#store.beforeReading(partition);
        this.#store.noteProcessed(partition, offset);
        return offset;
      },
      handler: async (entries) => {
        this.applyBatch(entries);
        const last = entries.at(-1);
        if (last) this.#store.noteProcessed(last.position.partition, last.position.offset + 1);
        if (Date.now() - this.#lastFlush >= this.#checkpointIntervalMs) this.flush();
      },
      maxBatch: this.#maxBatch,
    });
    this.#subscription = subscription;
    // A subscription a retry stopped is not the applier ending.
    subscription.done.then(
      () => {
        if (this.#subscription === subscription) this.#ended?.resolve();
      },
      (err: unknown) => {
        if (this.#subscription === subscription) this.#ended?.reject(err);
      },
    );
  }

  /** Settles when the applier stops (rejects if the applier itself failed). */
  get done(): Promise<void> {
    return this.#done ?? Promise.resolve();
  }

  /** Stops consuming, moves the checkpoint, and resolves pending waits with `false`. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    const sub = this.#subscription;
    if (sub) await sub.stop();
    await this.#retry;
    this.flush();
    this.#waiters.releaseAll();
    // A retry may have stopped the subscription that would have settled it.
    this.#ended?.resolve();
  }

  /** Counters since start. */
  get stats(): ApplierStats {
    return { ...this.#stats };
  }

  /**
   * The next offset this applier will process in `partition` (every event below it was
   * applied, skipped, recorded as bad or held for a parked tenant); 0 if not assigned.
   */
  processedOffset(partition: number): number {
    return this.#processed.get(partition) ?? 0;
  }

  /** Tenants that stopped applying, with the reason. */
  parkedTenants(): ParkedTenant[] {
    return [...this.#parked.values()];
  }

  /**
   * Applies consecutive entries of one partition (what the subscription delivers).
   * Public so benchmarks and tests can drive the applier without a subscription.
   * Runs synchronously: no read can observe a half-applied batch.
   */
  applyBatch(entries: readonly WalEntry[]): void {
    const byTenant = new Map<string, Item[]>();
    for (const entry of entries) {
      // Keys that are no tenant id (schema changes, bad events) go to every applier.
      if (this.#tenants && !this.#tenants.has(entry.tenant) && isTenantId(entry.tenant)) continue;
      const item = decodeEntry(entry, this.#built, this.#decode);
      if ("event" in item && item.event.body.case === "schemaChange") {
        const change = item.event.body.value;
        this.#store.meta.recordSchema({
          version: change.version,
          fingerprint: change.fingerprint,
          lockJson: change.lockJson,
        });
        this.#store.noteSchemaVersion(change.version);
        this.#onSchemaChange?.(item.event);
        // Logged under a key that is no tenant id (such as SCHEMA_LOG_KEY), it announces
        // the version to everyone; tenants adopt it with their next event of that version.
        if (!isTenantId(entry.tenant)) continue;
      }
      if ("bad" in item) this.#recordBad(entry, item.bad);
      const list = byTenant.get(entry.tenant);
      if (list) list.push(item);
      else byTenant.set(entry.tenant, [item]);
    }
    for (const [tenant, items] of byTenant) this.#applyTenant(tenant, items);
    for (const entry of entries) {
      const { partition, offset } = entry.position;
      if ((this.#processed.get(partition) ?? 0) < offset + 1)
        this.#processed.set(partition, offset + 1);
    }
  }

  /**
   * Makes the written tenant databases durable and moves each partition's checkpoint
   * to what was processed (held back before parked tenants' first unapplied events).
   */
  flush(): void {
    for (const db of this.#dirty) {
      if (!db.isOpen) continue; // closing checkpointed it already
      // Another connection reading the file (an operator's sqlite3 shell) can keep a
      // checkpoint from finishing; then leave the resume point where it is and try
      // again at the next flush.
      try {
        const [result] = db.db.pragma("wal_checkpoint(PASSIVE)") as {
          busy: bigint | number;
          log: bigint | number;
          checkpointed: bigint | number;
        }[];
        // Held back by a reader, a passive checkpoint answers busy 0 with fewer frames
        // checkpointed than logged: the rest are not in the database file yet.
        if (
          result === undefined ||
          Number(result.busy) !== 0 ||
          Number(result.checkpointed) < Number(result.log)
        )
          return;
      } catch {
        return;
      }
    }
    this.#dirty.clear();
    const offsets = new Map<number, number>();
    for (const [partition, next] of this.#processed) {
      let offset = next;
      for (const p of this.#parked.values()) {
        if (p.position.partition === partition) offset = Math.min(offset, p.position.offset);
      }
      offsets.set(partition, offset);
    }
    if (offsets.size > 0) this.#store.meta.setCheckpoints(offsets);
    this.#lastFlush = Date.now();
  }

  waitFor(
    tenant: string,
    position: WalPosition,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<boolean> {
    return this.#waiters.waitFor(tenant, position, timeoutMs, signal);
  }

  /** Ends the waits of the tenants `waitGate` now refuses, with its error. */
  recheckWaits(): void {
    this.#waiters.recheck();
  }

  async caughtUp(): Promise<boolean> {
    if (this.#processed.size === 0) return false;
    for (const [partition, next] of this.#processed) {
      if (next < (await this.#wal.endOffset(partition))) return false;
    }
    return true;
  }

  // ------------------------------------------------------------------ applying

  #applyTenant(tenantKey: string, items: readonly Item[]): void {
    let tenant: string;
    try {
      tenant = validateTenantId(tenantKey);
    } catch (err) {
      for (const item of items) {
        if (!("bad" in item))
          this.#recordBad(item.entry, `the log key is not a valid tenant id: ${message(err)}`);
      }
      return;
    }
    const parked = this.#parked.get(tenant);
    if (parked !== undefined) {
      if (this.#retrying.has(tenant)) this.#retryTenant(tenant, items, parked);
      return;
    }
    this.#applyTenantItems(tenant, items);
  }

  /**
   * Applies `items` of a parked tenant under retry. Readers stay out (the store's mark is
   * lifted only inside this synchronous call) until the tenant has applied the event it
   * was parked at; then it is unparked. A failure parks it again.
   */
  #retryTenant(tenant: string, items: readonly Item[], parked: ParkedTenant): void {
    this.#store.clearUnavailable(tenant);
    this.#applyTenantItems(tenant, items);
    if (this.#parked.get(tenant) !== parked) return; // parked again
    let state: TenantState | undefined;
    this.#opening = tenant;
    try {
      state = this.#store.tenant(tenant, false)?.state;
    } catch {
      state = undefined;
    } finally {
      this.#opening = undefined;
    }
    const { partition, offset } = parked.position;
    if (state === undefined || state.partition !== partition || state.appliedOffset <= offset) {
      this.#store.markUnavailable(tenant, parked.error);
      return;
    }
    this.#unpark(parked);
  }

  #unpark(parked: ParkedTenant): void {
    this.#parked.delete(parked.tenant);
    this.#retrying.delete(parked.tenant);
    this.#store.clearUnavailable(parked.tenant);
    this.#onUnpark?.(parked);
  }

  #applyTenantItems(tenant: string, items: readonly Item[]): void {
    const first = items[0]!.entry.position;
    let db: TenantDb;
    this.#opening = tenant;
    try {
      db = this.#store.tenant(tenant, true)!;
    } catch (err) {
      this.#park(tenant, first, err);
      return;
    } finally {
      this.#opening = undefined;
    }
    const start = db.state;
    const todo = items.filter((it) => !isApplied(start, it.entry.position));
    this.#stats.skipped += items.length - todo.length;
    if (todo.length === 0) return;

    const sql = db.db;
    let state = start;
    let stoppedAt: { position: WalPosition; error: unknown } | undefined;
    this.#recent.discard();
    try {
      this.#beforeTenantBatch?.(db);
      sql.exec("BEGIN IMMEDIATE");
      // Items below this index are applied event by event (a run threw there).
      let guardedUntil = 0;
      for (let i = 0; i < todo.length; ) {
        const end = i < guardedUntil ? i : this.#runEnd(todo, i, state.schemaVersion);
        if (end - i > 1) {
          const run = this.#applyRun(db, todo, i, end, state);
          if ("state" in run) {
            state = run.state;
            i = end;
            continue;
          }
          // The run up to the plan that threw goes event by event, and as many events
          // again after it (at least RUN_BACKOFF) before the next run: a failed run costs
          // its events once more, so where plans fail often this stays within half again
          // the cost of the event-by-event path; where they fail rarely, runs resume.
          guardedUntil = run.threwAt + 1 + Math.max(run.threwAt - i, RUN_BACKOFF);
        }
        const item = todo[i]!;
        try {
          state = this.#applyItem(db, item, state);
        } catch (error) {
          stoppedAt = { position: item.entry.position, error };
          break;
        }
        i++;
      }
      // SQLite rolls the whole transaction back on some errors (SQLITE_FULL, I/O): then
      // nothing of the batch is written, and the tenant stops at its first event.
      if (stoppedAt && !sql.inTransaction) throw stoppedAt.error;
      db.ftsWrites.flush(db);
      if (state !== start) db.writeState(state);
      sql.exec("COMMIT");
      this.#recent.commit(tenant, (failed) => this.#onApplyFailure?.(failed));
    } catch (err) {
      this.#recent.discard();
      db.ftsWrites.clear();
      db.clearHeld();
      if (sql.open && sql.inTransaction) sql.exec("ROLLBACK");
      if (sql.open) db.reloadSchemaObjects();
      this.#park(tenant, todo[0]!.entry.position, err);
      if (this.#onAccessChanged !== undefined && todo.some(isAccessItem))
        this.#onAccessChanged(tenant);
      return;
    }
    db.commitState(state);
    if (this.#onAccessChanged !== undefined && todo.some(isAccessItem))
      this.#onAccessChanged(tenant);
    this.#dirty.add(db);
    this.#waiters.notify(tenant, state);
    if (this.#onCommitted) this.#onCommitted(tenant, committedEvents(todo, state));
    if (stoppedAt) {
      db.reloadSchemaObjects();
      this.#park(tenant, stoppedAt.position, stoppedAt.error);
    }
  }

  /**
   * One past the last of the items from `from` on that an optimistic run may hold: plans
   * (and bad entries, which write nothing) of a schema version the tenant has.
   */
  #runEnd(items: readonly Item[], from: number, version: number): number {
    let end = from;
    while (end < items.length) {
      const item = items[end]!;
      if (
        "event" in item &&
        (item.event.body.case !== "plan" || item.event.schemaVersion > version)
      )
        break;
      end++;
    }
    return end;
  }

  /**
   * Applies `items[from..to)` in one savepoint and none per event; returns the tenant's
   * state after them, or, when one of them threw, the index of that item, with
   * everything the run did undone (rows, staged outcomes, queued full-text rows,
   * counters): the caller then applies the run up to that item event by event. The
   * run's node and outcome rows are held and written several to a statement
   * (store/held-rows.ts): a held row that fails throws at a later item, or at `to` from
   * the write at the end, and the items up to there go event by event all the same.
   * Throws only when SQLite rolled the whole transaction back itself.
   */
  #applyRun(
    db: TenantDb,
    items: readonly Item[],
    from: number,
    to: number,
    state: TenantState,
  ): { readonly state: TenantState } | { readonly threwAt: number } {
    this.#stats.runs++;
    const stats = { ...this.#stats };
    const ftsMark = db.ftsWrites.mark();
    const recentMark = this.#recent.mark();
    db.stmt("SAVEPOINT run").run();
    let i = from;
    try {
      let after = state;
      for (; i < to; i++) after = this.#applyItem(db, items[i]!, after, false);
      db.writeHeld();
      db.stmt("RELEASE run").run();
      return { state: after };
    } catch (err) {
      db.clearHeld();
      if (!db.db.inTransaction) throw err;
      db.stmt("ROLLBACK TO run").run();
      db.stmt("RELEASE run").run();
      db.ftsWrites.rollbackTo(ftsMark);
      this.#recent.rollbackTo(recentMark);
      this.#stats = stats;
      this.#stats.runsRedone++;
      return { threwAt: i };
    }
  }

  /**
   * Applies one event in its own savepoint (`guarded`), or with none inside an
   * optimistic run (#applyRun), where any throw, a rejection included, ends the run;
   * returns the tenant's state after it.
   */
  #applyItem(db: TenantDb, item: Item, state: TenantState, guarded = true): TenantState {
    const pos = item.entry.position;
    if ("bad" in item)
      return {
        partition: pos.partition,
        appliedOffset: pos.offset + 1,
        schemaVersion: state.schemaVersion,
      };
    const event = item.event;
    if (!guarded) {
      // A plan of a version the tenant has (#runEnd): no migration.
      this.#store.noteSchemaVersion(event.schemaVersion);
      const outcome = this.#applyPlan(db, event, pos, false, false);
      if (outcome !== undefined) this.#recent.stage(outcome);
      return {
        partition: pos.partition,
        appliedOffset: pos.offset + 1,
        schemaVersion: state.schemaVersion,
      };
    }
    const ftsMark = db.ftsWrites.mark();
    db.stmt("SAVEPOINT event").run();
    try {
      let version = state.schemaVersion;
      const wanted =
        event.body.case === "schemaChange" ? event.body.value.version : event.schemaVersion;
      this.#store.noteSchemaVersion(wanted);
      const migrates = wanted > version;
      if (migrates) {
        db.migrateTo(this.#model(wanted));
        version = wanted;
        this.#afterMigration?.(db);
      }
      const outcome =
        event.body.case === "plan" || event.body.case === "access" || event.body.case === "mailbox"
          ? this.#applyPlan(db, event, pos, migrates)
          : undefined;
      db.stmt("RELEASE event").run();
      if (outcome !== undefined) this.#recent.stage(outcome);
      return { partition: pos.partition, appliedOffset: pos.offset + 1, schemaVersion: version };
    } catch (err) {
      if (db.db.inTransaction) {
        db.stmt("ROLLBACK TO event").run();
        db.stmt("RELEASE event").run();
      }
      db.ftsWrites.rollbackTo(ftsMark);
      throw err;
    }
  }

  /**
   * Applies a plan event inside the event's savepoint. A rejected plan must roll back
   * alone and leave its outcome. When the event also migrated the tenant, the plan gets
   * a savepoint of its own, so the migration stays. Otherwise the event's savepoint
   * holds exactly the plan's effects, and rolling back to it is enough: two statements
   * fewer per plan. Not `guarded` (an optimistic run), there is no savepoint and any
   * throw, a rejection included, is the run's to handle.
   */
  #applyPlan(
    db: TenantDb,
    event: WalEvent,
    pos: WalPosition,
    migrated: boolean,
    guarded = true,
  ): KeyedOutcome | undefined {
    const body = event.body;
    if (body.case !== "plan" && body.case !== "access" && body.case !== "mailbox") return undefined;
    const key = event.idempotencyKey;
    // Inside an optimistic run a retried key is not looked up: its outcome row's INSERT
    // below fails on the primary key, which ends the run, and the event-by-event path
    // that applies it again looks the key up first (one lookup an event fewer).
    if (
      guarded &&
      key !== "" &&
      db.stmt("SELECT 1 FROM outcomes WHERE idempotency_key = ?").get(key)
    ) {
      this.#stats.duplicates++;
      return undefined;
    }
    const schema = this.#model(event.schemaVersion);
    let results: ReturnType<typeof executePlan> = [];
    let failure: PlanRejection["failure"] | undefined;
    let failed: ApplyFailure | undefined;
    const ftsMark = db.ftsWrites.mark();
    if (migrated) db.stmt("SAVEPOINT plan").run();
    try {
      if (body.case === "access") {
        applyAccessChange(db, event, body.value, ingressMicros(event), schema);
      } else if (body.case === "mailbox") {
        const reads = actorReads(db, event, schema, ingressMicros(event));
        applyMailboxChange(db, event.actor, body.value, reads);
      } else {
        const nowMicros = ingressMicros(event);
        const checkOperation = checkPlanAccess(db, event, schema, nowMicros);
        results = executePlan(
          {
            db,
            schema,
            actor: event.actor,
            nowMicros,
            holdRows: !guarded,
            checkOperation,
          },
          body.value,
        );
      }
      if (migrated) db.stmt("RELEASE plan").run();
    } catch (err) {
      // Gone when SQLite rolled the transaction back itself; the error then parks.
      if (!guarded || !db.db.inTransaction) throw err;
      if (migrated) {
        db.stmt("ROLLBACK TO plan").run();
        db.stmt("RELEASE plan").run();
      } else {
        db.stmt("ROLLBACK TO event").run();
      }
      db.ftsWrites.rollbackTo(ftsMark);
      if (!(err instanceof PlanRejection)) throw err;
      failure = err.failure;
      this.#stats.rejected++;
      if (err.code === "internal") {
        this.#stats.applyFailures++;
        failed = { tenant: event.tenant, position: pos, idempotencyKey: key, error: err };
      }
    }
    this.#stats.plans++;
    // A plan logged without a key has nowhere to keep its outcome (the API always sets one).
    if (key === "") return undefined;
    const d = event.planDigest;
    // A view of the digest's bytes, not a copy (`Buffer.from` of an array copies).
    const digest =
      d.length > 0 ? Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString("hex") : undefined;
    const stored = encodeOutcome(results, failure, digest, event.actor);
    // In an optimistic run the row is held and written with others (store/held-rows.ts):
    // one that fails throws later, and the run is applied again event by event.
    if (guarded)
      db.stmt(INSERT_OUTCOME.one).run(key, pos.partition, pos.offset, event.schemaVersion, stored);
    else db.hold(INSERT_OUTCOME, key, pos.partition, pos.offset, event.schemaVersion, stored);
    // Nothing keeps the outcome (a restore's appliers): only a failure is staged, to be reported.
    if (!this.#recent.keeps && !failed) return undefined;
    return {
      key,
      outcome: storedOutcome(results, failure, pos, event.schemaVersion, digest, event.actor),
      ...(failed ? { failed } : {}),
    };
  }

  /**
   * The outcome recorded for `idempotencyKey` if this applier committed it recently,
   * equal to what the tenant database holds for the key (`outcomeByKey`); otherwise
   * `undefined`, and the caller reads the database.
   */
  recentOutcome(tenant: string, idempotencyKey: string): PlanOutcome | undefined {
    return this.#recent.get(tenant, idempotencyKey);
  }

  #model(version: number) {
    const model = this.#store.model(version);
    if (!model) {
      throw new StoreError(
        "tenant-unavailable",
        `Schema version ${version} is unknown: the server has not registered it and the log holds no SchemaChange for it.`,
      );
    }
    return model;
  }

  // ------------------------------------------------------------------ failures and progress

  #recordBad(entry: WalEntry, reason: string): void {
    this.#stats.bad++;
    this.#store.meta.recordBadEvent({
      partition: entry.position.partition,
      offset: entry.position.offset,
      tenant: entry.tenant,
      error: reason,
    });
  }

  /**
   * Parks a tenant whose file an open (a read's, ingress's) found missing or older than
   * `applied`, the position this server knows it applied (`StoreOptions.onLost`): with
   * `parkRetry`, its retry rebuilds it from the log. Without an event of the tenant to
   * park at, it parks at its last applied event, which the rebuilt file must hold. Does
   * nothing for a tenant parked already, one the applier is opening itself (it parks it
   * at its event), or without `parkRetry`.
   */
  parkLost(
    tenant: string,
    error: StoreError,
    applied: { readonly partition: number; readonly appliedOffset: number },
  ): void {
    if (this.#parkRetry === undefined || this.#stopped) return;
    if (this.#parked.has(tenant) || this.#opening === tenant) return;
    if (applied.appliedOffset <= 0) return;
    this.#park(
      tenant,
      { partition: applied.partition, offset: applied.appliedOffset - 1 },
      error,
      true,
    );
  }

  #park(
    tenant: string,
    position: WalPosition,
    err: unknown,
    lost = false,
    beyondLog = false,
  ): void {
    const why = beyondLog
      ? "is parked: its database cannot be used, and the log cannot rebuild it"
      : lost
        ? "is parked until a retry rebuilds its database from the log"
        : `stopped applying the log at ${position.partition}:${position.offset}`;
    // A full disk: which file's disk needs room, and how much, for the retry to succeed.
    const room = this.#store.roomToRecover(tenant, err);
    const error = new StoreError(
      "tenant-unavailable",
      `Tenant ${JSON.stringify(tenant)} ${why}: ${message(err)}${room === undefined ? "" : `. ${room}`}`,
      { cause: err },
    );
    const prior = this.#parked.get(tenant);
    const retries =
      prior !== undefined &&
      prior.position.partition === position.partition &&
      prior.position.offset === position.offset
        ? prior.retries + 1
        : 0;
    const retry = this.#parkRetry;
    const parked: ParkedTenant = {
      tenant,
      position,
      error,
      retries,
      ...(retry && { retryAt: Date.now() + Math.min(retry.maxMs, retry.firstMs * 2 ** retries) }),
      ...((lost || (prior?.lost === true && retries > 0)) && { lost: true }),
    };
    this.#parked.set(tenant, parked);
    this.#retrying.delete(tenant);
    this.#store.markUnavailable(tenant, error);
    this.#onPark?.(parked);
    this.#waiters.fail(tenant, error);
    this.#scheduleRetry();
  }

  /** Sets the timer for the next parked tenant's retry (with `parkRetry`). */
  #scheduleRetry(): void {
    if (this.#parkRetry === undefined || this.#stopped || this.#retry !== undefined) return;
    let next = Number.POSITIVE_INFINITY;
    for (const p of this.#parked.values()) {
      if (!this.#retrying.has(p.tenant) && p.retryAt !== undefined)
        next = Math.min(next, p.retryAt);
    }
    clearTimeout(this.#retryTimer);
    if (next === Number.POSITIVE_INFINITY) return;
    this.#retryTimer = setTimeout(
      () => {
        this.#retryTimer = undefined;
        this.#retry = this.#retryDue().finally(() => {
          this.#retry = undefined;
          this.#scheduleRetry();
        });
      },
      Math.max(0, next - Date.now()),
    );
    this.#retryTimer.unref();
  }

  /** Retries the parked tenants whose time has come: see {@link ParkRetry}. */
  async #retryDue(): Promise<void> {
    const subscription = this.#subscription;
    if (this.#stopped || subscription === undefined) return;
    const now = Date.now();
    const due = [...this.#parked.values()].filter(
      (p) => !this.#retrying.has(p.tenant) && (p.retryAt ?? Number.POSITIVE_INFINITY) <= now,
    );
    if (due.length === 0) return;
    this.#subscription = undefined;
    try {
      await subscription.stop();
      if (this.#stopped) return;
      this.flush();
      for (const p of due) {
        const { partition } = p.position;
        const file = this.#store.prepareRetry(p.tenant, {
          partition,
          untilOffset: p.position.offset + 1,
          logStart: this.#wal.logStart?.(partition) ?? 0,
          ...(this.#wal.logStartCause !== undefined && { logStartCause: this.#wal.logStartCause }),
        });
        if (typeof file === "object") {
          // Retention deleted what a rebuild reads: only a file put back can end this.
          this.#park(p.tenant, p.position, file.beyondLog, p.lost, true);
          continue;
        }
        if (p.lost && file !== "rebuilding") {
          // No event of its own is coming: decide now.
          if (file === "current") this.#unpark(p);
          else this.#park(p.tenant, p.position, p.error.cause ?? p.error, true);
          continue;
        }
        this.#retrying.add(p.tenant);
      }
      this.#subscribe();
    } catch (err) {
      this.#ended?.reject(err);
    }
  }
}

/** The events of `items` below the committed state's offset (the rest were not applied). */
function committedEvents(items: readonly Item[], state: TenantState): AppliedEvent[] {
  const out: AppliedEvent[] = [];
  for (const item of items) {
    if (item.entry.position.offset >= state.appliedOffset) break;
    if ("event" in item)
      out.push({
        position: item.entry.position,
        event: item.event,
        bytes: item.entry.payload.length,
      });
  }
  return out;
}

function isAccessItem(item: Item): boolean {
  return "event" in item && item.event.body.case === "access";
}

function decodeEntry(
  entry: WalEntry,
  built: BuiltEvents | undefined,
  decode: (bytes: Uint8Array) => WalEvent,
): Item {
  let event: WalEvent;
  try {
    event = built?.take(entry.tenant, entry.payload) ?? decode(entry.payload);
  } catch (err) {
    return { entry, bad: `the payload is not a WalEvent: ${message(err)}` };
  }
  if (event.tenant !== entry.tenant) {
    return {
      entry,
      bad: `the event names tenant ${JSON.stringify(event.tenant)} but is logged under ${JSON.stringify(entry.tenant)}`,
    };
  }
  switch (event.body.case) {
    case "plan":
      if (event.schemaVersion === 0) return { entry, bad: "the plan has no schema version" };
      return { entry, event };
    case "schemaChange":
      if (event.body.value.version === 0) return { entry, bad: "the schema change has no version" };
      return { entry, event };
    case "access":
      if (event.schemaVersion === 0)
        return { entry, bad: "the access change has no schema version" };
      return { entry, event };
    case "mailbox":
      if (event.schemaVersion === 0)
        return { entry, bad: "the mailbox change has no schema version" };
      return { entry, event };
    default:
      return {
        entry,
        bad: "the event has no plan, schema change, access change or mailbox change",
      };
  }
}

/** The event's ingress time in microseconds (sub-microsecond nanos are dropped). */
function ingressMicros(event: WalEvent): bigint {
  const t = event.ingressTime;
  if (!t) return 0n;
  return t.seconds * 1_000_000n + BigInt(Math.floor(t.nanos / 1000));
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * An outcome as reading it back from the database gives it: fresh messages with only the
 * stored fields (see outcome-codec.ts), so a live answer and a replayed one are equal.
 */
function storedOutcome(
  results: readonly OperationResult[],
  failure: WriteFailure | undefined,
  position: WalPosition,
  schemaVersion: number,
  planDigest: string | undefined,
  actor: string,
): PlanOutcome {
  const base = {
    position: { partition: position.partition, offset: position.offset },
    schemaVersion,
    // Made by `result` (plan-run.ts) with exactly the stored fields: no copy needed.
    results: [...results],
    ...(planDigest === undefined ? {} : { planDigest }),
    actor,
  };
  if (failure === undefined) return base;
  return {
    ...base,
    failure: create(WriteFailureSchema, {
      code: failure.code,
      reason: failure.reason,
      message: failure.message,
      operationIndex: failure.operationIndex,
      typeId: failure.typeId,
      fieldId: failure.fieldId,
    }),
  };
}
