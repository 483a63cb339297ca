/**
 * Delivery for {@link KafkaWal.subscribe}: one kafkajs consumer in the WAL's consumer
 * group, positioned by the subscriber, not by Kafka's committed offsets.
 *
 * Invariants:
 * - On every assignment (group join, rebalance, restart after a crash) each assigned
 *   partition is paused synchronously inside kafkajs's GROUP_JOIN event, before any
 *   fetch of the new generation can start; it is resumed only after
 *   `startOffset(partition)` answered and a seek to that offset was queued. So no batch
 *   from a committed offset (which may lag or lead the subscriber) is ever delivered.
 * - Batches of one partition are handed over in offset order and never overlap: kafkajs
 *   runs one batch per partition at a time and the handler is awaited before the offset
 *   is resolved. Each delivered batch continues exactly at the expected offset; records
 *   already delivered in this generation (a re-fetch) are dropped, and a gap ends the
 *   subscription with `corrupt` (the topic lost records, e.g. to retention).
 * - A start offset outside the partition's [log start, log end] is refused with
 *   `corrupt` before anything is delivered: the log and the subscriber disagree.
 * - Offsets committed to Kafka are advisory (lag monitoring only): the subscriber's own
 *   `startOffset` is the position of record, so a lost or stale commit costs nothing.
 */

import type { Admin, Assigner, Consumer, EachBatchPayload, Kafka, KafkaMessage } from "kafkajs";
import type { KafkaWalLog } from "./kafka-wal-errors.ts";
import { describeKafkaError, isRestartable, kafkaOffsetToNumber } from "./kafka-wal-errors.ts";
import type { SubscribeOptions, WalEntry, WalSubscription } from "./wal.ts";
import { WalError } from "./wal.ts";

/** Default upper bound on entries per handler call. */
export const DEFAULT_KAFKA_MAX_BATCH = 256;

/** How long `stop` waits for kafkajs to start and leave the group before giving up on it. */
const STOP_TIMEOUT_MS = 15_000;

/** Wait before a crashed consumer of a private group is replaced (kafkajs's cap between retries). */
const RESTART_DELAY_MS = 1_000;

const EMPTY = new Uint8Array(0);

/** What a subscription needs from the log that created it. */
export interface KafkaSubscriptionSource {
  readonly kafka: Kafka;
  /** Every partition's log start (`low`) and end (`high`); rejects with a `WalError`. */
  readonly offsets: () => Promise<Awaited<ReturnType<Admin["fetchTopicOffsets"]>>>;
  readonly topic: string;
  readonly groupId: string;
  /** Commit delivered offsets to Kafka (advisory, for lag monitoring in shared groups). */
  readonly commitOffsets: boolean;
  /** The members' session timeout in ms (`KafkaWalOptions.groupSessionTimeoutMs` for a shared group). */
  readonly sessionTimeoutMs: number;
  readonly partitions: number;
  /** Partitions whose batches may be processed at once (kafkajs `partitionsConsumedConcurrently`). */
  readonly concurrency: number;
  readonly log: KafkaWalLog | undefined;
  /** A cluster's group (`KafkaWal.subscribeInGroup`); absent for every other subscription. */
  readonly member?: KafkaGroupMember;
}

/**
 * A subscription that is one member of a cluster's consumer group: the group's session
 * timeout and partition assigner, and what the member is told about its assignment.
 */
export interface KafkaGroupMember {
  /** How long the coordinator waits for a heartbeat before it gives the member's partitions away. */
  readonly sessionTimeoutMs: number;
  /** Assigns partitions and carries each member's metadata (its advertised URL). */
  readonly assigner: Assigner;
  /**
   * This member's partitions of a new generation, called inside kafkajs's GROUP_JOIN
   * event, before any record of the generation is delivered.
   */
  onAssigned(partitions: readonly number[], memberId: string): void;
  /**
   * The member's partitions may be moving: a rebalance began, or the consumer crashed or
   * stopped. Called before anything of a next generation.
   */
  onUnassigned(): void;
  /** The coordinator answered a heartbeat: the member's session was renewed. */
  onHeartbeat(): void;
}

interface PartitionState {
  /** The assignment generation this state belongs to. */
  readonly generation: number;
  /** Next offset to deliver; undefined while the start offset is being asked and sought. */
  next: number | undefined;
}

/** A running subscription of the Kafka log. */
export class KafkaWalSubscription implements WalSubscription {
  readonly done: Promise<void>;
  readonly #source: KafkaSubscriptionSource;
  readonly #options: SubscribeOptions;
  readonly #maxBatch: number;
  #consumer: Consumer;
  /** Consumers started so far: the private group of the next one is named after it. */
  #consumers = 1;
  /** A crashed consumer's replacement, due after {@link RESTART_DELAY_MS}. */
  #restartTimer: NodeJS.Timeout | undefined;
  readonly #states = new Map<number, PartitionState>();
  #generation = 0;
  #stopped = false;
  #failure: { readonly error: unknown } | undefined;
  #stopping: Promise<void> | undefined;
  /** Settles once the consumer has joined its group for the first time (or failed to). */
  #starting: Promise<void> = Promise.resolve();
  #settle: (() => void) | undefined;

  /** Starts the consumer at once; `onEnd` runs when the subscription has ended. */
  static start(
    source: KafkaSubscriptionSource,
    options: SubscribeOptions,
    onEnd: () => void,
  ): WalSubscription {
    const maxBatch = options.maxBatch ?? DEFAULT_KAFKA_MAX_BATCH;
    if (!Number.isSafeInteger(maxBatch) || maxBatch < 1) {
      // Later, not now: the caller has not stored the returned subscription yet.
      queueMicrotask(onEnd);
      return failedSubscription(
        new WalError("invalid", `maxBatch must be a positive integer, got ${maxBatch}.`),
      );
    }
    const subscription = new KafkaWalSubscription(source, options);
    subscription.done.then(onEnd, onEnd);
    return subscription;
  }

  private constructor(source: KafkaSubscriptionSource, options: SubscribeOptions) {
    this.#options = options;
    this.#maxBatch = options.maxBatch ?? DEFAULT_KAFKA_MAX_BATCH;
    const ended = new Promise<void>((resolve) => {
      this.#settle = resolve;
    });
    this.done = ended.then(() => {
      if (this.#failure !== undefined) throw this.#failure.error;
    });
    this.#source = source;
    this.#consumer = this.#newConsumer(source.groupId);
    this.#starting = this.#run(this.#consumer);
  }

  /**
   * A consumer in `groupId`. After a retriable crash kafkajs restarts a consumer of a
   * shared group in place. A private group's crashed consumer is replaced by one in a
   * new private group instead ({@link #replace}): restarted in place it would join as a
   * new member while the group still holds its old one (an outage stops it from leaving),
   * and the coordinator would hold the join until that member's session (30 s) expired,
   * so the applier would stand still for 30 s after the brokers came back.
   */
  #newConsumer(groupId: string): Consumer {
    const member = this.#source.member;
    return this.#source.kafka.consumer({
      groupId,
      allowAutoTopicCreation: false,
      // The handler may run long (it writes tenant databases); heartbeats are sent
      // between handler calls, so the session must outlast one call. A shared group's
      // restart in place waits out its old member's session (groupSessionTimeoutMs); a
      // cluster's member gives its partitions away after it (--cluster-session-timeout).
      sessionTimeout: this.#source.sessionTimeoutMs,
      rebalanceTimeout: 60_000,
      heartbeatInterval: Math.min(3_000, Math.floor(this.#source.sessionTimeoutMs / 4)),
      ...(member === undefined ? {} : { partitionAssigners: [() => member.assigner] }),
      // The broker answers a fetch as soon as records arrive, so this bounds only idle
      // polls; but kafkajs's stop waits out a poll in flight, and a fetch round with
      // every partition paused (while start offsets are asked) sleeps this long.
      maxWaitTimeInMs: 250,
      // Asked only for a retriable crash, after the consumer disconnected.
      retry: {
        restartOnFailure: async () => {
          if (this.#stopped) return false;
          if (this.#source.commitOffsets) return true;
          this.#replace();
          return false;
        },
      },
    });
  }

  /** Starts a consumer in a new private group after a delay; see {@link #newConsumer}. */
  #replace(): void {
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      if (this.#stopped) return;
      // The crashed consumer's assignment is gone: its batches (none come after its
      // disconnect) and its pending seeks are of an older generation.
      this.#generation++;
      this.#states.clear();
      this.#consumers++;
      this.#consumer = this.#newConsumer(`${this.#source.groupId}-${this.#consumers}`);
      this.#starting = this.#run(this.#consumer);
    }, RESTART_DELAY_MS);
  }

  /** Stops delivery; resolves once no handler call is running (even if `done` rejects). */
  stop(): Promise<void> {
    this.#stopping ??= this.#shutdown();
    return this.#stopping;
  }

  async #run(consumer: Consumer): Promise<void> {
    const { topic } = this.#source;
    const member = this.#source.member;
    consumer.on(consumer.events.GROUP_JOIN, (event) => {
      const partitions = event.payload.memberAssignment[topic] ?? [];
      member?.onAssigned(this.#stopped ? [] : partitions, event.payload.memberId);
      this.#assign(consumer, partitions);
    });
    if (member !== undefined) {
      consumer.on(consumer.events.HEARTBEAT, () => member.onHeartbeat());
      consumer.on(consumer.events.REBALANCING, () => member.onUnassigned());
    }
    consumer.on(consumer.events.CRASH, (event) => {
      member?.onUnassigned();
      if (event.payload.restart || this.#stopped || this.#restartTimer !== undefined) return;
      this.#fail(
        new WalError(
          "unavailable",
          `The Kafka consumer of topic "${topic}" stopped: ${describeKafkaError(event.payload.error)}.`,
          { cause: event.payload.error },
        ),
      );
    });
    try {
      // Each step checks for a `stop` that came meanwhile: a consumer started after
      // `stop` disconnected it would run on, unseen.
      await consumer.connect();
      if (this.#stopped) return;
      await consumer.subscribe({ topic, fromBeginning: true });
      if (this.#stopped) return;
      await consumer.run({
        eachBatchAutoResolve: false,
        autoCommit: this.#source.commitOffsets,
        autoCommitInterval: 5_000,
        partitionsConsumedConcurrently: this.#source.concurrency,
        eachBatch: (payload) => this.#eachBatch(payload),
      });
    } catch (error) {
      // A replacement (#replace) that cannot start while the brokers are still down is
      // replaced again, as kafkajs restarts a consumer again; a first start fails.
      if (this.#consumers > 1 && !this.#stopped && isRestartable(error)) {
        await consumer.disconnect().catch(() => {});
        this.#replace();
        return;
      }
      this.#fail(
        new WalError(
          "unavailable",
          `Could not start a Kafka consumer for topic "${topic}": ${describeKafkaError(error)}.`,
          { cause: error },
        ),
      );
    }
  }

  /**
   * A new assignment: forget all positions, pause the assigned partitions (this runs
   * inside kafkajs's synchronous event, before the first fetch of the generation), then
   * ask the subscriber where to start and seek there.
   */
  #assign(consumer: Consumer, partitions: readonly number[]): void {
    const generation = ++this.#generation;
    this.#states.clear();
    if (this.#stopped || partitions.length === 0) return;
    const { topic } = this.#source;
    for (const partition of partitions)
      this.#states.set(partition, { generation, next: undefined });
    consumer.pause([{ topic, partitions: [...partitions] }]);
    void this.#position(consumer, generation, partitions).catch((error: unknown) =>
      this.#fail(error),
    );
  }

  async #position(
    consumer: Consumer,
    generation: number,
    partitions: readonly number[],
  ): Promise<void> {
    const { topic } = this.#source;
    const starts = await Promise.all(
      partitions.map(async (partition) => {
        const start = await this.#options.startOffset(partition);
        if (!Number.isSafeInteger(start) || start < 0) {
          throw new WalError(
            "invalid",
            `startOffset(${partition}) returned ${start}; expected a non-negative integer.`,
          );
        }
        return start;
      }),
    );
    const bounds = await this.#source.offsets();
    if (generation !== this.#generation || this.#stopped) return;
    partitions.forEach((partition, index) => {
      const start = starts[index]!;
      const bound = bounds.find((b) => b.partition === partition);
      const low = kafkaOffsetToNumber(bound?.low, `log start of partition ${partition}`);
      const high = kafkaOffsetToNumber(bound?.high, `log end of partition ${partition}`);
      if (start > high) {
        throw new WalError(
          "corrupt",
          `The subscriber asks for partition ${partition} of topic "${topic}" from offset ${start}, ` +
            `but the log ends at ${high}: the topic lost records or was recreated.`,
        );
      }
      if (start < low) {
        throw new WalError(
          "corrupt",
          `The subscriber asks for partition ${partition} of topic "${topic}" from offset ${start}, ` +
            `but the log starts at ${low}: retention deleted records that were never applied.`,
        );
      }
    });
    partitions.forEach((partition, index) => {
      const state = this.#states.get(partition);
      if (state === undefined || state.generation !== generation) return;
      state.next = starts[index]!;
      consumer.seek({ topic, partition, offset: String(starts[index]) });
    });
    consumer.resume([{ topic, partitions: [...partitions] }]);
  }

  async #eachBatch(payload: EachBatchPayload): Promise<void> {
    const { batch, resolveOffset, heartbeat, isRunning, isStale } = payload;
    const { partition } = batch;
    const state = this.#states.get(partition);
    if (this.#stopped || state === undefined || state.next === undefined) return;
    const entries = this.#entries(batch.messages, partition, state.next);
    if (entries instanceof WalError) {
      // Ended here, not thrown: kafkajs would retry the batch, then restart the consumer.
      this.#fail(entries);
      return;
    }
    for (let from = 0; from < entries.length; from += this.#maxBatch) {
      if (this.#stopped || !isRunning() || isStale() || state.generation !== this.#generation) {
        return;
      }
      const chunk = entries.slice(from, from + this.#maxBatch);
      try {
        await this.#options.handler(chunk);
      } catch (error) {
        this.#fail(error);
        return;
      }
      const last = chunk[chunk.length - 1]!.position.offset;
      state.next = last + 1;
      resolveOffset(String(last));
      await heartbeat();
    }
  }

  /**
   * The batch's entries from offset `next` on, or why the batch cannot be delivered.
   * Records below `next` were delivered before (a re-fetch) and are dropped.
   */
  #entries(
    messages: readonly KafkaMessage[],
    partition: number,
    next: number,
  ): WalEntry[] | WalError {
    const entries: WalEntry[] = [];
    for (const message of messages) {
      let offset: number;
      try {
        offset = kafkaOffsetToNumber(message.offset, `an offset in partition ${partition}`);
      } catch (error) {
        return error as WalError;
      }
      const expected = next + entries.length;
      if (offset < expected) continue;
      if (offset !== expected) {
        return new WalError(
          "corrupt",
          `Partition ${partition} of topic "${this.#source.topic}" jumps from offset ` +
            `${expected} to ${offset}: records are missing.`,
        );
      }
      entries.push(this.#toEntry(message, partition, offset));
    }
    return entries;
  }

  /**
   * The entry for a Kafka record. A record without key or value (never written by this
   * log, but possible in a shared topic) is delivered with tenant "" and an empty
   * payload, so its offset is accounted for; the applier refuses it like any other
   * undecodable event.
   */
  #toEntry(message: KafkaMessage, partition: number, offset: number): WalEntry {
    if (message.key === null || message.value === null) {
      this.#source.log?.({
        level: "warn",
        message: `Record without ${message.key === null ? "key" : "value"} in the WAL topic.`,
        fields: { topic: this.#source.topic, partition, offset },
      });
    }
    return {
      tenant: message.key === null ? "" : message.key.toString("utf8"),
      // A copy: kafkajs's Buffers are views into a shared response buffer.
      payload: message.value === null ? EMPTY : new Uint8Array(message.value),
      position: { partition, offset },
    };
  }

  #fail(error: unknown): void {
    this.#failure ??= { error };
    void this.stop();
  }

  async #shutdown(): Promise<void> {
    this.#stopped = true;
    this.#source.member?.onUnassigned();
    clearTimeout(this.#restartTimer);
    // disconnect = stop (waits for the running handler call) + leave the group; after a
    // start in progress has finished, so the consumer cannot come up after it.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, STOP_TIMEOUT_MS);
    });
    const disconnect = this.#starting.then(() => this.#consumer.disconnect()).catch(() => {});
    await Promise.race([disconnect, timeout]);
    clearTimeout(timer);
    this.#settle?.();
  }
}

/** A subscription that ended before it started (bad options, closed log). */
export function failedSubscription(error: WalError): WalSubscription {
  const done = Promise.reject(error);
  // The caller may never look at `done`; that must not be an unhandled rejection.
  done.catch(() => {});
  return { done, stop: () => Promise.resolve() };
}
