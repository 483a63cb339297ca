import { describe, expect, it } from "vitest";
import { type SearchSnapshot, SearchSnapshots } from "./search-snapshots.ts";

const owner = { tenant: "acme", request: "q1", actor: "user:ada" };

function snapshot(hits: number): SearchSnapshot {
  return {
    seqs: BigInt64Array.from({ length: hits }, (_, i) => BigInt(i + 1)),
    scores: Float64Array.from({ length: hits }, (_, i) => hits - i),
  };
}

describe("search snapshots", () => {
  it("finds a snapshot only for the tenant, request and caller it was made for", () => {
    const snapshots = new SearchSnapshots();
    const s = snapshot(3);
    const id = snapshots.put(owner, s);
    expect(snapshots.get(id, owner)).toBe(s);
    expect(snapshots.get(id, { ...owner, tenant: "other" })).toBeUndefined();
    expect(snapshots.get(id, { ...owner, request: "q2" })).toBeUndefined();
    expect(snapshots.get(id, { ...owner, actor: "user:bob" })).toBeUndefined();
    expect(snapshots.get("nope", owner)).toBeUndefined();
  });

  it("expires a snapshot its time to live after its last use", () => {
    let now = 1_000;
    const snapshots = new SearchSnapshots({ ttlMs: 100, now: () => now });
    const id = snapshots.put(owner, snapshot(3));
    now += 99;
    expect(snapshots.get(id, owner)).toBeDefined();
    now += 99; // 198 ms after it was made, 99 after its last use
    expect(snapshots.get(id, owner)).toBeDefined();
    now += 100;
    expect(snapshots.get(id, owner)).toBeUndefined();
    expect(snapshots.bytes).toBe(0);
  });

  it("holds at most its bytes, dropping the least recently used first", () => {
    // 1,000 hits are 16,000 bytes plus bookkeeping: two fit in 40,000, three do not.
    const snapshots = new SearchSnapshots({ maxBytes: 40_000 });
    const a = snapshots.put(owner, snapshot(1_000));
    const b = snapshots.put(owner, snapshot(1_000));
    expect(snapshots.get(a, owner)).toBeDefined(); // a is now the most recently used
    const c = snapshots.put(owner, snapshot(1_000));
    expect(snapshots.get(b, owner)).toBeUndefined();
    expect(snapshots.get(a, owner)).toBeDefined();
    expect(snapshots.get(c, owner)).toBeDefined();
    expect(snapshots.bytes).toBeLessThanOrEqual(40_000);
  });
});
