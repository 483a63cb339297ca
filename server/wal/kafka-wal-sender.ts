/**
 * The Kafka log's write path: a FIFO queue of validated `append` calls, sent in groups
 * (group commit) by one idempotent kafkajs producer, one group at a time.
 *
 * Invariants:
 * - At most one `sendBatch` is in flight: partition order across calls, and kafkajs's
 *   per-partition sequence numbers, hold only because groups are sent serially.
 * - A producer that saw any failed send is never used again: kafkajs rolled its
 *   sequence numbers back, and a batch that reached the broker unacknowledged would make
 *   the broker take a later batch with the same numbers for its duplicate (see
 *   `docs/kafka.md`). The next group first starts a new producer (new producer id).
 * - A group's positions come from each partition's base offset: a partition's records
 *   of one send are one record batch, numbered contiguously by Kafka.
 */

import { type Kafka, Partitioners, type Producer, type RecordMetadata } from "kafkajs";
import { type KafkaWalLog, kafkaOffsetToNumber, toWalError } from "./kafka-wal-errors.ts";
import type { WalPosition, WalRecord } from "./wal.ts";
import { WalError } from "./wal.ts";
import { groupLength } from "./wal-record-checks.ts";

/** How often a group's partitions that kafkajs left out of its answer are sent again. */
const SEND_ROUNDS = 3;

/** One validated `append` call, planned: per partition, its records in send order. */
export type AppendPlan = ReadonlyMap<
  number,
  readonly { readonly index: number; readonly record: WalRecord }[]
>;

interface PendingAppend {
  readonly plan: AppendPlan;
  readonly count: number;
  readonly bytes: number;
  readonly resolve: (positions: WalPosition[]) => void;
  readonly reject: (error: unknown) => void;
}

/** Options of a {@link KafkaWalSender}. */
export interface KafkaWalSenderOptions {
  readonly topic: string;
  /** How long a leader waits for the in-sync replicas (the produce `timeout`). */
  readonly ackTimeoutMs: number;
  /** Byte budget of one group; a single larger call is sent alone. */
  readonly maxGroupBytes: number;
  readonly log: KafkaWalLog | undefined;
}

/** Sends planned appends to the topic; see the invariants at the top of this file. */
export class KafkaWalSender {
  readonly topic: string;
  readonly #kafka: Kafka;
  readonly #ackTimeoutMs: number;
  readonly #maxGroupBytes: number;
  readonly #log: KafkaWalLog | undefined;
  readonly #queue: PendingAppend[] = [];
  #producer: Producer | undefined;
  /** Set after a failed send: the next send first replaces the producer. */
  #tainted = false;
  #sending = false;
  #idleWaiters: (() => void)[] = [];

  constructor(kafka: Kafka, options: KafkaWalSenderOptions) {
    this.#kafka = kafka;
    this.topic = options.topic;
    this.#ackTimeoutMs = options.ackTimeoutMs;
    this.#maxGroupBytes = options.maxGroupBytes;
    this.#log = options.log;
  }

  /** Starts the producer now (gets a producer id), so that open fails fast. */
  async connect(): Promise<void> {
    await this.#connectProducer();
  }

  /**
   * Queues a call; resolves with its positions (in call order) once every partition
   * acknowledged it, rejects with a `WalError` if any of its partitions failed.
   */
  send(plan: AppendPlan, count: number, bytes: number): Promise<WalPosition[]> {
    return new Promise<WalPosition[]>((resolve, reject) => {
      this.#queue.push({ plan, count, bytes, resolve, reject });
      this.#scheduleSend();
    });
  }

  /** Resolves once every queued call has been sent (or has failed). */
  idle(): Promise<void> {
    if (!this.#sending && this.#queue.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Disconnects the producer. Must be called when idle. */
  async disconnect(): Promise<void> {
    await this.#producer?.disconnect().catch(() => {});
    this.#producer = undefined;
  }

  async #connectProducer(): Promise<void> {
    const producer = this.#kafka.producer({
      idempotent: true,
      // kafkajs requires 1 for idempotence; we send one request at a time anyway.
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Never used (every message names its partition); set to silence kafkajs's warning.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    await producer.connect();
    this.#producer = producer;
    this.#tainted = false;
  }

  /** Sends on the next turn, so that every append of this turn joins the group. */
  #scheduleSend(): void {
    if (this.#sending) return;
    this.#sending = true;
    setImmediate(() => void this.#sendLoop());
  }

  /**
   * Sends queued calls, one group at a time, until the queue is empty. Must be the only
   * sender: partition order across calls holds only because groups are sent serially.
   */
  async #sendLoop(): Promise<void> {
    while (this.#queue.length > 0) {
      const group = this.#queue.splice(0, groupLength(this.#queue, this.#maxGroupBytes));
      let outcomes: (WalPosition[] | WalError)[];
      try {
        outcomes = await this.#send(group);
      } catch (error) {
        const failure = toWalError(error, `Could not send to the Kafka log "${this.topic}"`);
        outcomes = group.map(() => failure);
      }
      for (const [i, pending] of group.entries()) {
        const outcome = outcomes[i]!;
        if (outcome instanceof WalError) pending.reject(outcome);
        else pending.resolve(outcome);
      }
    }
    this.#sending = false;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /**
   * Sends a group in one `sendBatch` (kafkajs makes one produce request per leader
   * broker; a partition's records are one record batch, so their offsets are base + i).
   * kafkajs can resolve without some partitions when their leader moved during its
   * retries (see docs/kafka.md): those are sent again, up to {@link SEND_ROUNDS} times.
   * Returns, per call, its positions or why it failed; a call fails if any of its
   * partitions failed, and its other partitions may then hold its records.
   */
  async #send(group: readonly PendingAppend[]): Promise<(WalPosition[] | WalError)[]> {
    if (this.#producer === undefined || this.#tainted) {
      await this.#producer?.disconnect().catch(() => {});
      this.#producer = undefined;
      await this.#connectProducer();
    }
    const producer = this.#producer!;
    const byPartition = new Map<number, WalRecord[]>();
    for (const pending of group) {
      for (const [partition, list] of pending.plan) {
        const records = byPartition.get(partition) ?? [];
        for (const { record } of list) records.push(record);
        byPartition.set(partition, records);
      }
    }
    const base = new Map<number, number | WalError>();
    let unsent = [...byPartition.keys()];
    for (let round = 0; round < SEND_ROUNDS && unsent.length > 0; round++) {
      if (round > 0) {
        this.#log?.({
          level: "warn",
          message: "kafkajs resolved a send without some partitions; sending them again.",
          fields: { topic: this.topic, partitions: unsent, round },
        });
      }
      const outcome = await this.#sendPartitions(producer, unsent, byPartition);
      for (const [partition, result] of outcome) base.set(partition, result);
      unsent = unsent.filter((partition) => !base.has(partition));
    }
    for (const partition of unsent) {
      base.set(
        partition,
        new WalError(
          "unavailable",
          `Kafka did not acknowledge partition ${partition} of topic "${this.topic}" in ${SEND_ROUNDS} sends.`,
        ),
      );
    }
    if ([...base.values()].some((result) => result instanceof WalError)) {
      // A failed batch may have reached the broker: its sequence numbers must not be
      // reused by other records, so the next send starts a new producer.
      this.#tainted = true;
    }
    const next = new Map<number, number>();
    return group.map((pending) => {
      const positions = new Array<WalPosition>(pending.count);
      for (const [partition, list] of pending.plan) {
        const start = base.get(partition)!;
        if (start instanceof WalError) return start;
        let offset = next.get(partition) ?? start;
        for (const { index } of list) positions[index] = { partition, offset: offset++ };
        next.set(partition, offset);
      }
      return positions;
    });
  }

  /**
   * One `sendBatch` of the given partitions' records. Returns each partition's base
   * offset or error; a partition missing from kafkajs's answer is missing here too.
   */
  async #sendPartitions(
    producer: Producer,
    partitions: readonly number[],
    byPartition: ReadonlyMap<number, readonly WalRecord[]>,
  ): Promise<Map<number, number | WalError>> {
    const result = new Map<number, number | WalError>();
    let response: RecordMetadata[];
    try {
      response = await producer.sendBatch({
        topicMessages: [
          {
            topic: this.topic,
            messages: partitions.flatMap((partition) =>
              byPartition.get(partition)!.map((record) => ({
                key: record.tenant,
                value: Buffer.from(
                  record.payload.buffer,
                  record.payload.byteOffset,
                  record.payload.byteLength,
                ),
                partition,
              })),
            ),
          },
        ],
        acks: -1,
        timeout: this.#ackTimeoutMs,
      });
    } catch (error) {
      const count = partitions.reduce((n, p) => n + byPartition.get(p)!.length, 0);
      const failure = toWalError(
        error,
        `Kafka did not acknowledge ${count} records for partitions ${partitions.join(", ")} ` +
          `of topic "${this.topic}"`,
      );
      for (const partition of partitions) result.set(partition, failure);
      return result;
    }
    for (const partition of partitions) {
      const answers = response.filter(
        (m) => m.topicName === this.topic && m.partition === partition,
      );
      if (answers.length === 0) continue;
      if (answers.some((a) => a.errorCode !== 0)) {
        result.set(
          partition,
          new WalError(
            "corrupt",
            `kafkajs reported partition ${partition} of topic "${this.topic}" with an error code in an ` +
              `acknowledged send: ${JSON.stringify(answers)}.`,
          ),
        );
        continue;
      }
      // Sent twice: during a leader move kafkajs can re-send a batch that had already
      // been written, and both copies are acknowledged. The records are then in the log
      // twice, each copy whole and in order. The first copy is the position we report;
      // a subscriber meets the second copy later, which the contract allows (delivery is
      // at least once) and the applier ignores (a recorded idempotency key is a no-op).
      // (A missing base offset sorts first and is then refused by kafkaOffsetToNumber.)
      const offsetOf = (a: (typeof answers)[number]) => BigInt(a.baseOffset ?? "-1");
      const meta = answers.reduce((first, a) => (offsetOf(a) < offsetOf(first) ? a : first));
      if (answers.length > 1) {
        this.#log?.({
          level: "warn",
          message: "kafkajs wrote a batch twice during a leader move; the first copy counts.",
          fields: { topic: this.topic, partition, baseOffsets: answers.map((a) => a.baseOffset) },
        });
      }
      try {
        const base = kafkaOffsetToNumber(meta.baseOffset, `base offset of partition ${partition}`);
        const count = byPartition.get(partition)!.length;
        kafkaOffsetToNumber(
          BigInt(base) + BigInt(count - 1),
          `last offset written to partition ${partition}`,
        );
        result.set(partition, base);
      } catch (error) {
        result.set(partition, toWalError(error, `Bad produce response`));
      }
    }
    return result;
  }
}
