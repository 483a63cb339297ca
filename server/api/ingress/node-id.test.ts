import { describe, expect, it } from "vitest";
import { isNodeId, mintNodeId } from "./node-id.ts";

describe("mintNodeId", () => {
  it("mints UUIDv7 ids whose first 48 bits are the time in milliseconds", () => {
    for (const now of [
      0,
      1,
      0xffff_ffff,
      0x1_0000_0000,
      Date.UTC(2026, 11, 6, 15, 30),
      2 ** 48 - 1,
    ]) {
      const id = mintNodeId(now);
      expect(isNodeId(id)).toBe(true);
      const hex = id.replaceAll("-", "");
      expect(Number.parseInt(hex.slice(0, 12), 16)).toBe(now);
      expect(hex[12]).toBe("7");
      expect("89ab").toContain(hex[16]);
    }
  });

  it("draws the other 74 bits at random, so ids minted in one millisecond differ", () => {
    const now = Date.UTC(2026, 11, 6);
    const ids = new Set(Array.from({ length: 2_000 }, () => mintNodeId(now)));
    expect(ids.size).toBe(2_000);
    // Every position of the random part takes more than one digit.
    const seen = Array.from({ length: 32 }, () => new Set<string>());
    for (const id of ids) {
      const hex = id.replaceAll("-", "");
      for (let i = 0; i < hex.length; i++) seen[i]!.add(hex[i]!);
    }
    expect(seen.slice(13).filter((s, i) => i !== 3 && s.size < 4)).toEqual([]);
  });
});
