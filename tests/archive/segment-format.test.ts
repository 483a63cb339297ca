/**
 * The segment decoder against its encoder: tenant keys in runs, alternating keys of one
 * length (the decoder reuses a run's key only when its bytes are the same), multi-byte
 * UTF-8 keys, empty payloads; and a body cut short, refused with the key in the message.
 */

import { gunzipSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { decodeSegment, encodeSegment, sha256Hex } from "../../server/archive/segment-format.ts";
import type { WalEntry } from "../../server/wal/index.ts";

const KEY = "bench/log/p0/00000000000000000007-00000000000000000015.seg";

function entries(tenants: readonly string[]): WalEntry[] {
  return tenants.map((tenant, i) => ({
    tenant,
    payload: Uint8Array.from({ length: i % 5 }, (_, k) => (i * 7 + k) & 0xff),
    position: { partition: 0, offset: 7 + i },
  }));
}

function plain(list: readonly WalEntry[]) {
  return list.map((e) => ({ tenant: e.tenant, payload: [...e.payload], position: e.position }));
}

describe("decodeSegment", () => {
  it("gives back every record's key, payload and position as encoded", () => {
    const written = entries([
      "tenant-1",
      "tenant-1",
      "tenant-2",
      "tenant-1",
      "tenant-2",
      "tenant-2",
      "tënant-2",
      "tënant-2",
      "tenant-12",
      "__schema__",
      "tenant-1",
    ]);
    const segment = encodeSegment("embedded:test", written);
    const read = decodeSegment(KEY, segment.range, segment.body, segment.metadata);
    expect(plain(read)).toEqual(plain(written));
    expect(read.map((e) => e.tenant)).toEqual(written.map((e) => e.tenant));
  });

  it("refuses a body whose last record is cut short, naming the key", () => {
    const written = entries(["tenant-1", "tenant-1"]);
    const { range, body } = encodeSegment("embedded:test", written);
    // The same body less its last byte, compressed and checksummed again: only the
    // record bounds can find it.
    const cut = gzipSync(gunzipSync(body).subarray(0, -1));
    const metadata = {
      sha256: sha256Hex(cut),
      partition: "0",
      first: String(range.first),
      end: String(range.end),
    };
    expect(() => decodeSegment(KEY, range, cut, metadata)).toThrow(
      `The archived segment ${KEY} is corrupt: record 1 is cut short.`,
    );
  });
});
