import { describe, expect, it } from "vitest";
import { idempotencyKeyFor, newIdempotencyKey } from "./idempotency-key.ts";

const UUID_V7 = /^([0-9a-f]{8})-([0-9a-f]{4})-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("newIdempotencyKey", () => {
  it("is a UUIDv7 carrying the time it was made", () => {
    const key = newIdempotencyKey(0x0123_4567_89ab);
    expect(key).toMatch(UUID_V7);
    expect(key.slice(0, 13)).toBe("01234567-89ab");
    const m = UUID_V7.exec(newIdempotencyKey(2 ** 48 - 1));
    expect(m?.[1]).toBe("ffffffff");
    expect(m?.[2]).toBe("ffff");
  });

  it("ascends with the time and is random within a millisecond", () => {
    const now = Date.now();
    const same = Array.from({ length: 1000 }, () => newIdempotencyKey(now));
    expect(new Set(same).size).toBe(1000);
    const later = newIdempotencyKey(now + 1);
    for (const key of same) expect(key < later).toBe(true);
  });
});

describe("idempotencyKeyFor", () => {
  it("keeps the caller's key, and mints one for none or an empty one", () => {
    expect(idempotencyKeyFor("import-42")).toBe("import-42");
    expect(idempotencyKeyFor(undefined)).toMatch(UUID_V7);
    expect(idempotencyKeyFor("")).toMatch(UUID_V7);
  });

  it("refuses a key the encoder would alter (a lone surrogate)", () => {
    expect(() => idempotencyKeyFor("key-\uD800")).toThrow(
      new TypeError(
        "The idempotency key holds a lone UTF-16 surrogate (\\uD800 at index 4), which UTF-8 cannot carry; pass well-formed Unicode text (pair the surrogate or drop it).",
      ),
    );
    expect(idempotencyKeyFor("key-\uD83D\uDE00")).toBe("key-\uD83D\uDE00");
  });
});
