import { describe, expect, it } from "vitest";
import { ServedPartitions } from "./served-partitions.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("the partitions a server of a cluster serves, shared with its serving threads", () => {
  it("serves a partition only while it is flagged and the lease runs", async () => {
    const main = new ServedPartitions(4);
    // Another thread's view of the same memory.
    const thread = new ServedPartitions(main.buffer);
    expect([0, 1, 2, 3].map((p) => thread.serves(p))).toEqual([false, false, false, false]);
    main.serve(1);
    main.serve(3);
    expect([0, 1, 2, 3].map((p) => thread.serves(p))).toEqual([false, false, false, false]);
    main.renew(60_000);
    expect([0, 1, 2, 3].map((p) => thread.serves(p))).toEqual([false, true, false, true]);
    main.clear();
    expect([0, 1, 2, 3].map((p) => thread.serves(p))).toEqual([false, false, false, false]);
    main.serve(2);
    main.renew(30);
    expect(thread.serves(2)).toBe(true);
    await sleep(60);
    expect(thread.serves(2)).toBe(false);
  });
});
