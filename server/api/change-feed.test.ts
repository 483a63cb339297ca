import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { WalEventSchema } from "../../generated/entdb/v1/wal_pb.js";
import type { AppliedEvent } from "../apply/index.ts";
import { ChangeFeed } from "./change-feed.ts";

function events(tenant: string, from: number, count: number, bytes = 100): AppliedEvent[] {
  return Array.from({ length: count }, (_, i) => ({
    position: { partition: 0, offset: from + i },
    event: create(WalEventSchema, { tenant }),
    bytes,
  }));
}

describe("ChangeFeed", () => {
  it("hands a tenant's commits to that tenant's queues only, the same event objects to each", () => {
    const feed = new ChangeFeed(10);
    const a1 = feed.listen("a");
    const a2 = feed.listen("a");
    const b = feed.listen("b");
    const batch = events("a", 0, 3);
    feed.publish("a", batch);
    const [one, two] = [a1.drain(), a2.drain()];
    expect(one.map((e) => e.position.offset)).toEqual([0, 1, 2]);
    expect(two[1]).toBe(one[1]);
    expect(b.drain()).toEqual([]);
  });

  it("drops a queue's events and marks it overflowed past its bound, and wakes its reader", async () => {
    const feed = new ChangeFeed(5);
    const queue = feed.listen("a");
    const woken = queue.wait(new AbortController().signal);
    feed.publish("a", events("a", 0, 4));
    await woken;
    expect(queue.overflowed).toBe(false);
    feed.publish("a", events("a", 4, 2));
    expect(queue.overflowed).toBe(true);
    expect(queue.size).toBe(0);
    feed.publish("a", events("a", 6, 1));
    expect(queue.size).toBe(0);
  });

  it("also overflows past its bound in bytes, counting only what it still holds", () => {
    const feed = new ChangeFeed(100, 1_000);
    const queue = feed.listen("a");
    feed.publish("a", events("a", 0, 2, 400));
    expect(queue.drain()).toHaveLength(2);
    feed.publish("a", events("a", 2, 2, 400));
    expect(queue.overflowed).toBe(false);
    feed.publish("a", events("a", 4, 1, 400));
    expect(queue.overflowed).toBe(true);
  });

  it("forgets a closed queue, and a wait ends when its signal aborts", async () => {
    const feed = new ChangeFeed(5);
    const queue = feed.listen("a");
    expect(feed.size).toBe(1);
    const abort = new AbortController();
    const waiting = queue.wait(abort.signal);
    abort.abort();
    await waiting;
    queue.close();
    queue.close();
    expect(feed.size).toBe(0);
    feed.publish("a", events("a", 0, 1));
    expect(queue.drain()).toEqual([]);
  });

  it("wakes every waiting queue to recheck, once, without an event", async () => {
    const feed = new ChangeFeed(10);
    const a = feed.listen("a");
    const b = feed.listen("b");
    const never = new AbortController().signal;
    const woken = Promise.all([a.wait(never, 60_000), b.wait(never, 60_000)]);
    feed.recheckAll();
    await woken;
    expect([a.takeRecheck(), b.takeRecheck()]).toEqual([true, true]);
    expect([a.takeRecheck(), a.size]).toEqual([false, 0]);
    a.close();
    feed.recheckAll();
    expect(a.takeRecheck()).toBe(false);
  });
});
