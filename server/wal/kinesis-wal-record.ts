/**
 * How a WAL record sits in a Kinesis record, and how a shard's records become dense
 * offsets. Kinesis numbers records with sparse 128-bit sequence numbers and may hold a
 * record twice or out of call order after a partial `PutRecords` failure, so the writer
 * stamps each record with its offset and its writer's epoch, and readers keep exactly
 * one copy of each offset, in offset order:
 *
 * - A record of an older epoch than one already seen is stale (sent by a writer that a
 *   newer one replaced) and skipped; so are fence records (below).
 * - The taken copy of offset `n` is the first record with offset `n` that follows the
 *   taken copy of `n - 1` in sequence-number order (the first record with offset
 *   `start` when reading from `start`).
 * - A record with a lower offset is a duplicate (a re-sent copy of a record already
 *   taken); a record with a higher offset is an orphan (a later record of a batch whose
 *   earlier record failed; the writer re-sends it after the failed one). Both are skipped.
 *
 * This holds because the writer of a shard (one process, see `kinesis-wal.ts`) sends one
 * request at a time, re-sends a failed record together with everything after it, and
 * gives an offset away again only when no copy of its record can be in the stream.
 *
 * Epochs and fences make a restart safe against a dead writer's last request still in
 * flight: a new writer takes the next epoch, writes a fence record into every shard and
 * reads each shard up to its fence before it counts the shard's end. A request of the
 * old writer that lands before the fence is read and counted; one that lands after it
 * is stale and skipped by every reader (it was never acknowledged: its writer died
 * first), so it cannot take an offset the new writer hands out.
 */

import { WalError } from "./wal.ts";

/** `E`, `K`, format version 1. */
const MAGIC = [0x45, 0x4b, 0x01] as const;
const KIND_RECORD = 0;
const KIND_FENCE = 1;
/** Magic, kind byte, 4-byte epoch, 8-byte offset, 2-byte tenant length. */
export const KINESIS_HEADER_BYTES = MAGIC.length + 1 + 4 + 8 + 2;
const AT_KIND = MAGIC.length;
const AT_EPOCH = AT_KIND + 1;
const AT_OFFSET = AT_EPOCH + 4;
const AT_TENANT_LENGTH = AT_OFFSET + 8;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** A decoded Kinesis record of the log. */
export interface KinesisLogRecord {
  /** A fence marks where a writer of `epoch` took over; it holds no WAL record. */
  readonly fence: boolean;
  readonly epoch: number;
  readonly offset: number;
  readonly tenant: string;
  readonly payload: Uint8Array;
}

/** The Kinesis `Data` of the record at `offset`, written by the writer of `epoch`. */
export function encodeKinesisRecord(
  epoch: number,
  offset: number,
  tenant: string,
  payload: Uint8Array,
  fence = false,
): Uint8Array {
  const tenantBytes = encoder.encode(tenant);
  const out = new Uint8Array(KINESIS_HEADER_BYTES + tenantBytes.byteLength + payload.byteLength);
  out.set(MAGIC, 0);
  const view = new DataView(out.buffer);
  view.setUint8(AT_KIND, fence ? KIND_FENCE : KIND_RECORD);
  view.setUint32(AT_EPOCH, epoch);
  view.setBigUint64(AT_OFFSET, BigInt(offset));
  view.setUint16(AT_TENANT_LENGTH, tenantBytes.byteLength);
  out.set(tenantBytes, KINESIS_HEADER_BYTES);
  out.set(payload, KINESIS_HEADER_BYTES + tenantBytes.byteLength);
  return out;
}

/**
 * Decodes a record's `Data`; a record this backend did not write fails with `corrupt`
 * (only EntDB writes the stream, so a foreign record means the stream is not the log).
 */
export function decodeKinesisRecord(data: Uint8Array, where: string): KinesisLogRecord {
  const bad = (why: string) =>
    new WalError("corrupt", `${where} is not an EntDB log record (${why}).`);
  if (data.byteLength < KINESIS_HEADER_BYTES || MAGIC.some((b, i) => data[i] !== b)) {
    throw bad("no EntDB header");
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const kind = view.getUint8(AT_KIND);
  if (kind !== KIND_RECORD && kind !== KIND_FENCE) throw bad(`unknown kind ${kind}`);
  const offset = view.getBigUint64(AT_OFFSET);
  if (offset > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(`offset ${offset} exceeds 2^53`);
  const tenantLength = view.getUint16(AT_TENANT_LENGTH);
  const tenantEnd = KINESIS_HEADER_BYTES + tenantLength;
  if (tenantEnd > data.byteLength) throw bad("tenant id runs past the end");
  let tenant: string;
  try {
    tenant = decoder.decode(data.subarray(KINESIS_HEADER_BYTES, tenantEnd));
  } catch {
    throw bad("tenant id is not UTF-8");
  }
  return {
    fence: kind === KIND_FENCE,
    epoch: view.getUint32(AT_EPOCH),
    offset: Number(offset),
    tenant,
    payload: data.slice(tenantEnd),
  };
}

/**
 * Keeps the taken copy of each offset from a shard's records in sequence-number order
 * (the rules at the top of this file). Its state is the next offset it expects and the
 * newest epoch seen.
 */
export class DenseOffsetFilter {
  #expected: number;
  #epoch: number;

  constructor(expected: number, epoch: number) {
    this.#expected = expected;
    this.#epoch = epoch;
  }

  /** The next offset a taken record will have. */
  get expected(): number {
    return this.#expected;
  }

  /** The newest writer epoch seen. */
  get epoch(): number {
    return this.#epoch;
  }

  /** Whether `record` is the taken copy of its offset (and if so, moves on past it). */
  take(record: KinesisLogRecord): boolean {
    if (record.epoch < this.#epoch) return false;
    this.#epoch = record.epoch;
    if (record.fence || record.offset !== this.#expected) return false;
    this.#expected++;
    return true;
  }
}

/** A known taken copy: its offset, sequence number and writer epoch. */
export interface IndexMark {
  readonly offset: number;
  readonly sequence: string;
  readonly epoch: number;
}

/**
 * A sparse map from offsets to the sequence numbers of their taken copies, so a reader
 * can start near any offset with `AT_SEQUENCE_NUMBER` instead of reading the shard from
 * its start. Every `every`th offset is kept, and the last one.
 */
export class SequenceIndex {
  readonly #every: number;
  readonly #marks: IndexMark[] = [];
  #last: IndexMark | undefined;

  constructor(every = 1024) {
    this.#every = every;
  }

  /** Records that offset `offset` was taken at `sequence`, written in `epoch`; in offset order. */
  add(offset: number, sequence: string, epoch: number): void {
    const mark = { offset, sequence, epoch };
    if (offset % this.#every === 0) this.#marks.push(mark);
    this.#last = mark;
  }

  /** The taken copy of the last offset, if any. */
  get last(): IndexMark | undefined {
    return this.#last;
  }

  /** The known offset at or below `offset` closest to it, if any. */
  floor(offset: number): IndexMark | undefined {
    if (this.#last !== undefined && this.#last.offset <= offset) return this.#last;
    let lo = 0;
    let hi = this.#marks.length - 1;
    let found: IndexMark | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const mark = this.#marks[mid]!;
      if (mark.offset <= offset) {
        found = mark;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }
}
