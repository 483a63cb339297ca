import { describe, expect, it } from "vitest";
import { autoIdempotencyKey } from "./idempotency.ts";

const AUTO_KEY = /^auto:([0-9a-f]{8})-([0-9a-f]{4})-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The Unix millisecond time in an automatic key's UUIDv7. */
function millisOf(key: string): number {
  const m = AUTO_KEY.exec(key);
  if (!m) throw new Error(`not an automatic key: ${key}`);
  return Number.parseInt(m[1]! + m[2]!, 16);
}

describe("autoIdempotencyKey", () => {
  it("is auto: and a UUIDv7 of the time it was minted", () => {
    const before = Date.now();
    const key = autoIdempotencyKey();
    const after = Date.now();
    expect(key).toMatch(AUTO_KEY);
    expect(millisOf(key)).toBeGreaterThanOrEqual(before);
    expect(millisOf(key)).toBeLessThanOrEqual(after);
  });

  it("mints distinct keys that ascend from one millisecond to the next", async () => {
    const first = Array.from({ length: 1000 }, () => autoIdempotencyKey());
    expect(new Set(first).size).toBe(1000);
    await new Promise((resolve) => setTimeout(resolve, 3));
    const later = autoIdempotencyKey();
    for (const key of first) expect(key < later).toBe(true);
  });
});
