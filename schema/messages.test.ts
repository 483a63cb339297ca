import { describe, expect, it } from "vitest";
import * as messages from "./messages.ts";
import { DIAGNOSTIC_CATALOG } from "./messages.ts";

describe("the diagnostic catalog", () => {
  const entries = Object.entries(DIAGNOSTIC_CATALOG);

  it("gives every entry a unique code of the form E0xxx", () => {
    const codes = entries.map(([, e]) => e.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const code of codes) expect(code).toMatch(/^E0\d{3}$/);
  });

  it("has a constructor named after every entry", () => {
    const exported = new Set(Object.keys(messages));
    expect(entries.map(([name]) => name).filter((name) => !exported.has(name))).toEqual([]);
  });

  it("writes summaries as one sentence each", () => {
    for (const [, e] of entries) expect(e.summary).toMatch(/^[A-Z`].*\.$/);
  });

  it("builds diagnostics with the entry's code and severity and only defined notes", () => {
    const span = { start: 1, end: 4 };
    expect(
      messages.unknownType("Stauts", span, "not a scalar kind, enum or node type", "Status"),
    ).toEqual({
      code: "E0402",
      severity: "error",
      message: "Unknown type 'Stauts'.",
      span,
      label: "not a scalar kind, enum or node type",
      notes: ["help: did you mean 'Status'?"],
    });
    expect(messages.unknownType("X", span, "l")).toEqual({
      code: "E0402",
      severity: "error",
      message: "Unknown type 'X'.",
      span,
      label: "l",
    });
    expect(messages.redundantIndex(span).severity).toBe("warning");
  });
});
