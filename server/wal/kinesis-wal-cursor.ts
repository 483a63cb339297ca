/**
 * Reads one shard of the Kinesis log from an offset: finds the nearest known sequence
 * number at or below it (`SequenceIndex`), starts there with `AT_SEQUENCE_NUMBER` (or
 * `AFTER_SEQUENCE_NUMBER` past the last known record, `TRIM_HORIZON` with none), and
 * turns `GetRecords` pages into the dense entries of `kinesis-wal-record.ts`, skipping
 * what lies below the wanted offset. An expired iterator is renewed after the last
 * record seen, so a slow handler loses nothing.
 */

import {
  ExpiredIteratorException,
  GetRecordsCommand,
  type GetRecordsCommandOutput,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
  type KinesisClient,
} from "@aws-sdk/client-kinesis";
import {
  DenseOffsetFilter,
  decodeKinesisRecord,
  type SequenceIndex,
} from "./kinesis-wal-record.ts";
import type { KinesisShardInfo } from "./kinesis-wal-stream.ts";
import type { WalEntry } from "./wal.ts";

/** One `GetRecords` page, filtered. */
export interface KinesisPage {
  /** Entries from the wanted offset on, in offset order. */
  readonly entries: WalEntry[];
  /** The sequence number of each entry's taken copy (same order as `entries`). */
  readonly sequences: string[];
  /** The writer epoch of each entry (same order as `entries`). */
  readonly epochs: number[];
  /** The reader is at the shard's tip: nothing more to read right now. */
  readonly caughtUp: boolean;
  /** The shard is closed and fully read (it was resharded): no page will follow. */
  readonly closed: boolean;
}

/** Where a cursor starts. */
export interface KinesisCursorStart {
  /** The first offset to deliver. */
  readonly offset: number;
  /**
   * The offset `TRIM_HORIZON` starts at: 0 for a stream that never dropped a record; for
   * one older than its retention, undefined (the first record's offset).
   */
  readonly horizonOffset: number | undefined;
}

/** Reads one shard; not safe for concurrent `next` calls. */
export class KinesisShardCursor {
  readonly #client: KinesisClient;
  readonly #streamName: string;
  readonly #shard: KinesisShardInfo;
  readonly #want: number;
  #filter: DenseOffsetFilter | undefined;
  #iterator: string | undefined;
  /** The last record seen (taken or skipped): where an expired iterator resumes. */
  #lastSeen: string | undefined;
  #initial: GetShardIteratorCommandInput;
  #closed = false;

  constructor(
    client: KinesisClient,
    streamName: string,
    shard: KinesisShardInfo,
    index: SequenceIndex,
    start: KinesisCursorStart,
  ) {
    this.#client = client;
    this.#streamName = streamName;
    this.#shard = shard;
    this.#want = start.offset;
    const base = { StreamName: streamName, ShardId: shard.shardId };
    const last = index.last;
    const floor = index.floor(start.offset);
    if (last !== undefined && start.offset > last.offset) {
      this.#initial = {
        ...base,
        ShardIteratorType: "AFTER_SEQUENCE_NUMBER",
        StartingSequenceNumber: last.sequence,
      };
      this.#filter = new DenseOffsetFilter(last.offset + 1, last.epoch);
    } else if (floor !== undefined) {
      this.#initial = {
        ...base,
        ShardIteratorType: "AT_SEQUENCE_NUMBER",
        StartingSequenceNumber: floor.sequence,
      };
      this.#filter = new DenseOffsetFilter(floor.offset, floor.epoch);
    } else {
      this.#initial = { ...base, ShardIteratorType: "TRIM_HORIZON" };
      this.#filter =
        start.horizonOffset === undefined
          ? undefined
          : new DenseOffsetFilter(start.horizonOffset, 0);
    }
  }

  /** The next offset this cursor would take (once it has seen a record, for a trimmed stream). */
  get expected(): number | undefined {
    return this.#filter?.expected;
  }

  /** The newest writer epoch seen (0 before any record). */
  get epoch(): number {
    return this.#filter?.epoch ?? 0;
  }

  /** The sequence number of the last record read, taken or skipped. */
  get lastSeen(): string | undefined {
    return this.#lastSeen;
  }

  /** Reads one page of at most `limit` Kinesis records. Throws SDK errors as they are. */
  async next(limit: number): Promise<KinesisPage> {
    if (this.#closed)
      return { entries: [], sequences: [], epochs: [], caughtUp: true, closed: true };
    if (this.#iterator === undefined) this.#iterator = await this.#getIterator(this.#initial);
    let page: GetRecordsCommandOutput;
    try {
      page = await this.#client.send(
        new GetRecordsCommand({ ShardIterator: this.#iterator, Limit: limit }),
      );
    } catch (error) {
      if (!(error instanceof ExpiredIteratorException)) throw error;
      this.#iterator = await this.#getIterator(
        this.#lastSeen === undefined
          ? this.#initial
          : {
              StreamName: this.#streamName,
              ShardId: this.#shard.shardId,
              ShardIteratorType: "AFTER_SEQUENCE_NUMBER",
              StartingSequenceNumber: this.#lastSeen,
            },
      );
      return { entries: [], sequences: [], epochs: [], caughtUp: false, closed: false };
    }
    const entries: WalEntry[] = [];
    const sequences: string[] = [];
    const epochs: number[] = [];
    const records = page.Records ?? [];
    for (const record of records) {
      const sequence = record.SequenceNumber ?? "";
      const decoded = decodeKinesisRecord(
        record.Data ?? new Uint8Array(),
        `Record ${sequence} of shard ${this.#shard.shardId} in stream "${this.#streamName}"`,
      );
      this.#lastSeen = sequence;
      this.#filter ??= new DenseOffsetFilter(decoded.offset, decoded.epoch);
      if (!this.#filter.take(decoded) || decoded.offset < this.#want) continue;
      entries.push({
        tenant: decoded.tenant,
        payload: decoded.payload,
        position: { partition: this.#shard.partition, offset: decoded.offset },
      });
      sequences.push(sequence);
      epochs.push(decoded.epoch);
    }
    this.#iterator = page.NextShardIterator;
    if (this.#iterator === undefined || this.#iterator === null) {
      this.#closed = true;
      return { entries, sequences, epochs, caughtUp: true, closed: true };
    }
    const caughtUp = records.length === 0 && (page.MillisBehindLatest ?? 0) === 0;
    return { entries, sequences, epochs, caughtUp, closed: false };
  }

  async #getIterator(input: GetShardIteratorCommandInput): Promise<string> {
    const out = await this.#client.send(new GetShardIteratorCommand(input));
    if (out.ShardIterator === undefined)
      throw new Error(`GetShardIterator answered no iterator for ${this.#shard.shardId}.`);
    return out.ShardIterator;
  }
}
