/**
 * The writer of one shard of the Kinesis log. Calls' records get the shard's next
 * offsets when they are queued and are sent in call order, one `PutRecords` at a time
 * (group commit: everything queued while a request runs goes in the next one, up to
 * Kinesis's 500 records and 5 MiB per request).
 *
 * Invariants (see `kinesis-wal-record.ts` for why they make readers see dense offsets):
 * - A record is acknowledged only when it is in the accepted prefix of a response: the
 *   longest run from the request's first record whose records all succeeded, in this
 *   shard, with increasing sequence numbers. Everything after the prefix is re-sent,
 *   so a tenant's records are never reordered by a partial failure or by Kinesis
 *   ordering one request's records differently.
 * - An offset is given to another record only if no copy of its record can be in the
 *   stream: a record that was part of a request whose outcome is unknown (a timeout, a
 *   cut connection, a 5xx) is re-sent until accepted, even after its call was rejected.
 *   Records refused for certain (a per-record error, a 4xx, a refused connection) whose
 *   calls have been rejected are dropped from the tail of the queue.
 * - Throttling (`ProvisionedThroughputExceededException`, per record or per request) and
 *   outages are retried with exponential backoff; a call not acknowledged within
 *   `appendTimeoutMs` rejects with `unavailable`.
 * - A record that Kinesis put in another shard means the stream was resharded: the
 *   writer stops for good (`failure`) and rejects every queued call.
 */

import {
  type KinesisClient,
  PutRecordsCommand,
  type PutRecordsCommandOutput,
  type PutRecordsRequestEntry,
} from "@aws-sdk/client-kinesis";
import { backoffMs, classifyKinesisError, pause } from "./kinesis-wal-errors.ts";
import { encodeKinesisRecord, type SequenceIndex } from "./kinesis-wal-record.ts";
import { type KinesisShardInfo, reshardedMessage } from "./kinesis-wal-stream.ts";
import type { WalRecord } from "./wal.ts";
import { WalError } from "./wal.ts";

/** Kinesis's limits of one `PutRecords` request. */
const MAX_REQUEST_RECORDS = 500;
const MAX_REQUEST_BYTES = 5 * 1024 * 1024;

/** Settings shared by a log's shard writers. */
export interface KinesisWriterSettings {
  readonly client: KinesisClient;
  readonly streamName: string;
  /** This writer's epoch (`kinesis-wal-record.ts`), stamped on every record. */
  readonly epoch: number;
  readonly appendTimeoutMs: number;
  readonly retryBaseMs: number;
  readonly retryMaxMs: number;
  /** Called when the writer sees the stream was resharded; the log refuses appends from then on. */
  readonly onResharded: (error: WalError) => void;
  /** Called after records were acknowledged, so local readers poll at once. */
  readonly onAccepted: (partition: number) => void;
  /** Diagnostics (retries, throttling). */
  readonly warn: (message: string, fields: Readonly<Record<string, unknown>>) => void;
}

/** One call's records in this shard. */
interface Part {
  readonly first: number;
  readonly count: number;
  readonly resolve: (first: number) => void;
  readonly reject: (error: WalError) => void;
  acknowledged: number;
  settled: boolean;
  timer: NodeJS.Timeout | undefined;
}

interface Outgoing {
  readonly offset: number;
  readonly entry: PutRecordsRequestEntry;
  readonly bytes: number;
  readonly part: Part;
  /** A request holding this record may have been carried out. */
  maybeWritten: boolean;
  /** A request holding this record is in flight. */
  sending: boolean;
}

/** Sends one shard's records; see the invariants at the top of the file. */
export class KinesisShardWriter {
  readonly #settings: KinesisWriterSettings;
  readonly #shard: KinesisShardInfo;
  readonly #index: SequenceIndex;
  readonly #queue: Outgoing[] = [];
  #accepted: number;
  #next: number;
  #running: Promise<void> | undefined;
  #stopped: WalError | undefined;
  #closing = false;
  /** Ends the current retry backoff early; set while the writer waits in one. */
  #wake: (() => void) | undefined;
  #lastProblem = "no answer yet";

  constructor(
    settings: KinesisWriterSettings,
    shard: KinesisShardInfo,
    index: SequenceIndex,
    end: number,
  ) {
    this.#settings = settings;
    this.#shard = shard;
    this.#index = index;
    this.#accepted = end;
    this.#next = end;
  }

  /** One past the last acknowledged offset. */
  get end(): number {
    return this.#accepted;
  }

  /**
   * Queues one call's records of this shard (contiguous offsets, in order) and resolves
   * with the first one's offset once all are acknowledged.
   */
  write(records: readonly WalRecord[]): Promise<number> {
    if (this.#stopped !== undefined) return Promise.reject(this.#stopped);
    return new Promise<number>((resolve, reject) => {
      const part: Part = {
        first: this.#next,
        count: records.length,
        resolve,
        reject,
        acknowledged: 0,
        settled: false,
        timer: undefined,
      };
      part.timer = setTimeout(() => {
        this.#settle(
          part,
          new WalError(
            "unavailable",
            `Kinesis did not accept the records for shard ${this.#shard.shardId} of stream "${this.#settings.streamName}" within ${this.#settings.appendTimeoutMs} ms (last problem: ${this.#lastProblem}); retry with the same idempotency key.`,
          ),
        );
        // Give the offsets back now, so a call queued next does not wait behind records
        // that will never be sent.
        this.#dropAbandoned();
      }, this.#settings.appendTimeoutMs);
      // A call that finds nothing queued does not wait out the backoff of calls that
      // were rejected and dropped before it: it is tried at once.
      const fresh = this.#queue.length === 0;
      for (const record of records) {
        const offset = this.#next++;
        const data = encodeKinesisRecord(
          this.#settings.epoch,
          offset,
          record.tenant,
          record.payload,
        );
        const partitionKey = String(this.#shard.partition);
        this.#queue.push({
          offset,
          part,
          maybeWritten: false,
          sending: false,
          bytes: data.byteLength + partitionKey.length,
          entry: { Data: data, PartitionKey: partitionKey, ExplicitHashKey: this.#shard.hashKey },
        });
      }
      if (fresh) this.#wake?.();
      this.#running ??= this.#run().finally(() => {
        this.#running = undefined;
      });
    });
  }

  /** Resolves when nothing is queued (every call acknowledged or rejected and dropped). */
  async idle(): Promise<void> {
    while (this.#running !== undefined) await this.#running;
  }

  /**
   * Lets the writer finish once every queued call is acknowledged or rejected, instead
   * of re-sending records whose outcome is unknown for as long as the process lives.
   */
  close(): void {
    this.#closing = true;
  }

  /** Rejects every queued call with `error` and refuses new ones. */
  stop(error: WalError): void {
    this.#stopped ??= error;
    for (const item of this.#queue) this.#settle(item.part, error);
    this.#queue.length = 0;
    this.#next = this.#accepted;
  }

  #settle(part: Part, error?: WalError): void {
    if (part.settled) return;
    part.settled = true;
    clearTimeout(part.timer);
    if (error === undefined) part.resolve(part.first);
    else part.reject(error);
  }

  /** Drops the queue's tail of rejected calls' records that cannot be in the stream. */
  #dropAbandoned(): void {
    for (;;) {
      const last = this.#queue.at(-1);
      if (last === undefined || !last.part.settled || last.maybeWritten || last.sending) return;
      this.#queue.pop();
      this.#next--;
    }
  }

  async #run(): Promise<void> {
    let failures = 0;
    for (;;) {
      this.#dropAbandoned();
      if (this.#queue.length === 0 || this.#stopped !== undefined) return;
      if (this.#closing && this.#queue.every((item) => item.part.settled)) return;
      // Once every queued call was rejected, only records that may be in the stream are
      // left; keep re-sending them (their offsets cannot be given away) while calls wait.
      const batch: Outgoing[] = [];
      let bytes = 0;
      for (const item of this.#queue) {
        if (
          batch.length === MAX_REQUEST_RECORDS ||
          (batch.length > 0 && bytes + item.bytes > MAX_REQUEST_BYTES)
        )
          break;
        batch.push(item);
        bytes += item.bytes;
      }
      const problem = await this.#send(batch);
      if (problem === undefined) {
        failures = 0;
        continue;
      }
      this.#lastProblem = problem;
      if (this.#stopped !== undefined) return;
      failures++;
      const wait = backoffMs(failures - 1, this.#settings.retryBaseMs, this.#settings.retryMaxMs);
      this.#settings.warn("Kinesis write failed; retrying", {
        shard: this.#shard.shardId,
        problem,
        attempt: failures,
        backoffMs: wait,
      });
      const woken = new AbortController();
      this.#wake = () => woken.abort();
      await pause(wait, woken.signal);
      this.#wake = undefined;
      if (woken.signal.aborted) failures = 0;
    }
  }

  /** Sends one request; returns a description of what went wrong, or undefined if all was accepted. */
  async #send(batch: Outgoing[]): Promise<string | undefined> {
    let response: PutRecordsCommandOutput;
    for (const item of batch) item.sending = true;
    try {
      response = await this.#settings.client.send(
        new PutRecordsCommand({
          StreamName: this.#settings.streamName,
          Records: batch.map((b) => b.entry),
        }),
      );
    } catch (error) {
      for (const item of batch) item.sending = false;
      const failure = classifyKinesisError(error);
      if (failure.maybeWritten) for (const item of batch) item.maybeWritten = true;
      return failure.description;
    }
    for (const item of batch) item.sending = false;
    if (this.#stopped !== undefined) return this.#stopped.message;
    const results = response.Records ?? [];
    let accepted = 0;
    let previous: bigint | undefined;
    let problem: string | undefined;
    for (const [i, result] of results.entries()) {
      if (i >= batch.length) break;
      if (result.ErrorCode !== undefined) {
        problem = `${result.ErrorCode}: ${result.ErrorMessage ?? ""}`;
        break;
      }
      if (result.ShardId !== this.#shard.shardId) {
        const error = new WalError(
          "unavailable",
          reshardedMessage(
            this.#settings.streamName,
            `a record for shard ${this.#shard.shardId} went to ${result.ShardId ?? "no shard"}`,
          ),
        );
        this.#settings.onResharded(error);
        this.stop(error);
        return error.message;
      }
      const sequence = BigInt(result.SequenceNumber ?? "0");
      if (previous !== undefined && sequence <= previous) {
        problem = "Kinesis ordered one request's records differently from the request";
        break;
      }
      previous = sequence;
      accepted++;
    }
    if (accepted === 0 && problem === undefined) problem = "PutRecords answered no records";
    const done = this.#queue.splice(0, accepted);
    done.forEach((item, i) => {
      this.#index.add(item.offset, results[i]!.SequenceNumber!, this.#settings.epoch);
      item.part.acknowledged++;
      if (item.part.acknowledged === item.part.count) this.#settle(item.part);
    });
    this.#accepted += accepted;
    if (accepted > 0) this.#settings.onAccepted(this.#shard.partition);
    return accepted === batch.length ? undefined : problem;
  }
}
