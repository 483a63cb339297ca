import { describe, expect, it } from "vitest";
import {
  DenseOffsetFilter,
  decodeKinesisRecord,
  encodeKinesisRecord,
  KINESIS_HEADER_BYTES,
  type KinesisLogRecord,
  SequenceIndex,
} from "./kinesis-wal-record.ts";
import { WalError } from "./wal.ts";

const encoder = new TextEncoder();

function record(epoch: number, offset: number, fence = false): KinesisLogRecord {
  return { epoch, offset, fence, tenant: "acme", payload: new Uint8Array() };
}

/** The offsets a filter starting at `expected` (epoch `epoch`) takes from `records`. */
function taken(records: KinesisLogRecord[], expected = 0, epoch = 0): string[] {
  const filter = new DenseOffsetFilter(expected, epoch);
  return records.filter((r) => filter.take(r)).map((r) => `${r.epoch}/${r.offset}`);
}

describe("kinesis record format", () => {
  it("round-trips epoch, offset, tenant and payload behind an 18-byte header", () => {
    const payload = encoder.encode("payload");
    const data = encodeKinesisRecord(7, 2 ** 53 - 1, "tenant-ü", payload);
    expect(data.byteLength).toBe(KINESIS_HEADER_BYTES + 9 + 7);
    expect(KINESIS_HEADER_BYTES).toBe(18);
    expect(decodeKinesisRecord(data, "r")).toEqual({
      fence: false,
      epoch: 7,
      offset: 2 ** 53 - 1,
      tenant: "tenant-ü",
      payload,
    });
    expect(decodeKinesisRecord(encodeKinesisRecord(3, 5, "", new Uint8Array(), true), "f")).toEqual(
      {
        fence: true,
        epoch: 3,
        offset: 5,
        tenant: "",
        payload: new Uint8Array(),
      },
    );
  });

  it("rejects a record it did not write as corrupt, saying where and why", () => {
    const foreign = () =>
      decodeKinesisRecord(encoder.encode('{"hello":1}'), "Record 49 of shard s-0");
    expect(foreign).toThrow(WalError);
    expect(foreign).toThrow("Record 49 of shard s-0 is not an EntDB log record (no EntDB header).");
    const data = encodeKinesisRecord(1, 0, "acme", new Uint8Array());
    expect(() => decodeKinesisRecord(data.subarray(0, data.byteLength - 1), "r")).toThrow(
      "r is not an EntDB log record (tenant id runs past the end).",
    );
    const huge = encodeKinesisRecord(1, 0, "a", new Uint8Array());
    new DataView(huge.buffer).setBigUint64(8, 2n ** 53n);
    expect(() => decodeKinesisRecord(huge, "r")).toThrow(
      "r is not an EntDB log record (offset 9007199254740992 exceeds 2^53).",
    );
  });
});

describe("dense offset filter", () => {
  it("takes each offset once, skipping duplicates and orphans", () => {
    // 0 ok, 1 failed, 2 orphan; then 1 and 2 re-sent; then a duplicate of 2.
    expect(
      taken([record(1, 0), record(1, 2), record(1, 1), record(1, 2), record(1, 2), record(1, 3)]),
    ).toEqual(["1/0", "1/1", "1/2", "1/3"]);
  });

  it("skips fences and every record of an older epoch once a newer one was seen", () => {
    expect(
      taken([
        record(1, 0),
        record(2, 1, true),
        record(1, 1),
        record(2, 1),
        record(1, 2),
        record(2, 2),
      ]),
    ).toEqual(["1/0", "2/1", "2/2"]);
  });

  it("starts at a known taken copy with its epoch", () => {
    expect(taken([record(2, 5), record(1, 6), record(2, 6)], 5, 2)).toEqual(["2/5", "2/6"]);
  });
});

describe("sequence index", () => {
  it("finds the nearest indexed offset at or below, and the last one", () => {
    const index = new SequenceIndex(4);
    expect(index.floor(3)).toBeUndefined();
    for (let offset = 0; offset < 10; offset++) index.add(offset, `s${offset}`, 1);
    expect(index.floor(3)).toEqual({ offset: 0, sequence: "s0", epoch: 1 });
    expect(index.floor(4)).toEqual({ offset: 4, sequence: "s4", epoch: 1 });
    expect(index.floor(7)).toEqual({ offset: 4, sequence: "s4", epoch: 1 });
    expect(index.floor(8)).toEqual({ offset: 8, sequence: "s8", epoch: 1 });
    expect(index.floor(9)).toEqual({ offset: 9, sequence: "s9", epoch: 1 });
    expect(index.floor(100)).toEqual({ offset: 9, sequence: "s9", epoch: 1 });
    expect(index.last).toEqual({ offset: 9, sequence: "s9", epoch: 1 });
  });
});
