import { describe, expect, it } from "vitest";
import { jsonDepth, loneSurrogateAt, utf8Length } from "./value-limits.ts";

describe("jsonDepth", () => {
  it("counts nested arrays and objects, a scalar being depth 0", () => {
    expect(jsonDepth("1", 32)).toBe(0);
    expect(jsonDepth('"text"', 32)).toBe(0);
    expect(jsonDepth("[]", 32)).toBe(1);
    expect(jsonDepth('[{"a":[1,{"b":{}}]},[]]', 32)).toBe(5);
    expect(jsonDepth('{"a":[],"b":[[]]}', 32)).toBe(3);
  });

  it("ignores brackets inside strings, escaped quotes included", () => {
    expect(jsonDepth('["[[[", "\\"[[", "\\\\", {"]":"{"}]', 32)).toBe(2);
  });

  it("stops one past the limit", () => {
    const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
    expect(jsonDepth(deep, 32)).toBe(33);
    expect(jsonDepth(`${"[".repeat(32)}${"]".repeat(32)}`, 32)).toBe(32);
  });
});

describe("utf8Length", () => {
  it("counts UTF-8 bytes, a lone surrogate as U+FFFD", () => {
    expect(utf8Length("abc")).toBe(3);
    expect(utf8Length("é")).toBe(2);
    expect(utf8Length("😀")).toBe(4);
    expect(utf8Length("\ud800")).toBe(3);
  });
});

describe("loneSurrogateAt", () => {
  it("finds a high or low surrogate without its partner, and passes pairs", () => {
    expect(loneSurrogateAt("plain text, é, 😀")).toBe(-1);
    expect(loneSurrogateAt("x\ud800y")).toBe(1);
    expect(loneSurrogateAt("\udc00")).toBe(0);
    expect(loneSurrogateAt("ab\ud83d")).toBe(2);
    expect(loneSurrogateAt("😀\ude00")).toBe(2);
    expect(loneSurrogateAt("\ud83d\ude00\ud83d\ude00")).toBe(-1);
  });
});
