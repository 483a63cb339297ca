import { describe, expect, it } from "vitest";
import { parseTimestamp } from "./validate-defaults.ts";

describe("parseTimestamp", () => {
  it("normalizes offsets to UTC", () => {
    expect(parseTimestamp("2024-01-02T03:04:05Z")).toBe("2024-01-02T03:04:05Z");
    expect(parseTimestamp("2024-01-02t03:04:05z")).toBe("2024-01-02T03:04:05Z");
    expect(parseTimestamp("2024-01-01T01:30:00+02:00")).toBe("2023-12-31T23:30:00Z");
    expect(parseTimestamp("2024-02-28T23:00:00-01:30")).toBe("2024-02-29T00:30:00Z");
    expect(parseTimestamp("2024-03-01T00:30:00.500+01:00")).toBe("2024-02-29T23:30:00.5Z");
  });

  it("keeps up to six fractional digits without trailing zeros", () => {
    expect(parseTimestamp("2024-01-01T00:00:00.123456Z")).toBe("2024-01-01T00:00:00.123456Z");
    expect(parseTimestamp("2024-01-01T00:00:00.100Z")).toBe("2024-01-01T00:00:00.1Z");
    expect(parseTimestamp("2024-01-01T00:00:00.000Z")).toBe("2024-01-01T00:00:00Z");
  });

  it("handles leap years and the edges of the year range", () => {
    expect(parseTimestamp("2000-02-29T00:00:00Z")).toBe("2000-02-29T00:00:00Z");
    expect(parseTimestamp("1900-02-29T00:00:00Z")).toEqual({
      error: "day 29 does not exist in 1900-02",
    });
    expect(parseTimestamp("0000-01-01T00:00:00Z")).toBe("0000-01-01T00:00:00Z");
    expect(parseTimestamp("9999-12-31T23:59:59Z")).toBe("9999-12-31T23:59:59Z");
    expect(parseTimestamp("9999-12-31T23:59:59-00:01")).toEqual({
      error: "the instant is outside the years 0000 to 9999 in UTC",
    });
    expect(parseTimestamp("1969-12-31T23:59:59Z")).toBe("1969-12-31T23:59:59Z");
  });

  it("says what is wrong with an invalid timestamp", () => {
    expect(parseTimestamp("2024-13-01T00:00:00Z")).toEqual({ error: "month 13 does not exist" });
    expect(parseTimestamp("2024-04-31T00:00:00Z")).toEqual({
      error: "day 31 does not exist in 2024-04",
    });
    expect(parseTimestamp("2024-01-01T00:60:00Z")).toEqual({ error: "minute 60 is out of range" });
    expect(parseTimestamp("2024-01-01T00:00:61Z")).toEqual({ error: "second 61 is out of range" });
    expect(parseTimestamp("2024-01-01T00:00:00+01:60")).toEqual({
      error: "offset +01:60 is out of range",
    });
    expect(parseTimestamp("2024-01-01T00:00:00")).toEqual({
      error: "expected YYYY-MM-DDTHH:MM:SS, then 'Z' or an offset like +02:00",
    });
  });
});
