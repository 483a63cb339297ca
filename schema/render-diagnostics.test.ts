import { describe, expect, it } from "vitest";
import type { Diagnostic } from "./diagnostic.ts";
import { displayWidth, renderDiagnostics } from "./render-diagnostics.ts";
import type { SourceFile } from "./span.ts";

function diag(start: number, end: number, extra: Partial<Diagnostic> = {}): Diagnostic {
  return {
    code: "E0402",
    severity: "error",
    message: "Unknown type 'X'.",
    span: { start, end },
    ...extra,
  };
}

/** The byte offset of the first `needle` in `text`. */
function byteAt(text: string, needle: string): number {
  return Buffer.byteLength(text.slice(0, text.indexOf(needle)), "utf8");
}

describe("renderDiagnostics (text)", () => {
  it("renders a diagnostic with its source line, caret, label and notes, then a summary", () => {
    const source: SourceFile = {
      path: "s.entdb",
      text: "package p;\nnode N = 1 {\n  a: Strng = 1;\n}\n",
    };
    const at = byteAt(source.text, "Strng");
    const out = renderDiagnostics(
      [
        diag(at, at + 5, {
          message: "Unknown type 'Strng'.",
          label: "not a type",
          notes: ["help: did you mean 'string'?", "note: x"],
        }),
      ],
      source,
    );
    expect(out).toBe(
      [
        "error[E0402]: Unknown type 'Strng'.",
        " --> s.entdb:3:6",
        "  |",
        "3 |   a: Strng = 1;",
        "  |      ^^^^^ not a type",
        "  |",
        "  = help: did you mean 'string'?",
        "  = note: x",
        "",
        "error: could not compile 's.entdb' (1 error)",
        "",
      ].join("\n"),
    );
  });

  it("widens the gutter to the line number", () => {
    const text = `${"\n".repeat(99)}abc`;
    const out = renderDiagnostics([diag(99, 102)], { path: "s", text });
    expect(out.split("\n").slice(0, 5)).toEqual([
      "error[E0402]: Unknown type 'X'.",
      "   --> s:100:1",
      "    |",
      "100 | abc",
      "    | ^^^",
    ]);
  });

  it("aligns carets under wide, combining and tab characters", () => {
    const text = 'a: "世界e\u0301🌍"\tStrng';
    const at = byteAt(text, "Strng");
    const out = renderDiagnostics([diag(at, at + 5)], { path: "s", text });
    const lines = out.split("\n");
    expect(lines[1]).toBe(" --> s:1:13");
    expect(lines[3]).toBe('1 | a: "世界e\u0301🌍"    Strng');
    // a: " (4) + 世界 (4) + é (1) + 🌍 (2) + " (1) + tab (4) = 16 columns before the name.
    expect(lines[4]).toBe(`  | ${" ".repeat(16)}^^^^^`);
  });

  it("underlines a character a multi-byte span covers with as many carets as it is wide", () => {
    const text = "x 世界 y";
    const out = renderDiagnostics([diag(2, 8)], { path: "s", text });
    expect(out.split("\n")[4]).toBe("  |   ^^^^");
  });

  it("draws one caret for an empty span and underlines only the first line of a long span", () => {
    const text = "ab\ncd\n";
    const empty = renderDiagnostics([diag(2, 2)], { path: "s", text }).split("\n");
    expect(empty.slice(3, 5)).toEqual(["1 | ab", "  |   ^"]);
    const long = renderDiagnostics([diag(1, 4)], { path: "s", text }).split("\n");
    expect(long.slice(3, 5)).toEqual(["1 | ab", "  |  ^"]);
  });

  it("separates diagnostics by a blank line and counts errors and warnings", () => {
    const text = "abc";
    const out = renderDiagnostics(
      [diag(0, 1), diag(1, 2, { severity: "warning", code: "E0617", message: "W." }), diag(2, 3)],
      { path: "s", text },
    );
    expect(out).toBe(
      [
        "error[E0402]: Unknown type 'X'.",
        " --> s:1:1",
        "  |",
        "1 | abc",
        "  | ^",
        "",
        "warning[E0617]: W.",
        " --> s:1:2",
        "  |",
        "1 | abc",
        "  |  ^",
        "",
        "error[E0402]: Unknown type 'X'.",
        " --> s:1:3",
        "  |",
        "1 | abc",
        "  |   ^",
        "",
        "error: could not compile 's' (2 errors, 1 warning)",
        "",
      ].join("\n"),
    );
  });

  it("summarizes warnings only as a successful compile", () => {
    const out = renderDiagnostics([diag(0, 1, { severity: "warning" })], { path: "s", text: "a" });
    expect(out.endsWith("\n\nwarning: 's' compiled with 1 warning\n")).toBe(true);
  });

  it("renders nothing when there is nothing to report", () => {
    expect(renderDiagnostics([], { path: "s", text: "a" })).toBe("");
  });

  it("colors severity, gutter and message when asked", () => {
    const out = renderDiagnostics(
      [diag(0, 1, { label: "here" })],
      { path: "s", text: "a" },
      { color: true },
    );
    expect(out.split("\n").slice(0, 5)).toEqual([
      "\x1b[1;31merror[E0402]\x1b[0m\x1b[1m: Unknown type 'X'.\x1b[0m",
      " \x1b[1;34m-->\x1b[0m s:1:1",
      "\x1b[1;34m  |\x1b[0m",
      "\x1b[1;34m1 |\x1b[0m a",
      "\x1b[1;34m  |\x1b[0m \x1b[1;31m^ here\x1b[0m",
    ]);
  });
});

describe("renderDiagnostics (json)", () => {
  it("prints an array with 1-based positions, an exclusive end, label and notes", () => {
    const text = "ab\nc世d\n";
    const at = byteAt(text, "世");
    const out = renderDiagnostics(
      [diag(at, at + 3, { label: "l", notes: ["help: h"] }), diag(0, 4, { severity: "warning" })],
      { path: "s.entdb", text },
      { format: "json" },
    );
    expect(JSON.parse(out)).toEqual([
      {
        code: "E0402",
        severity: "error",
        message: "Unknown type 'X'.",
        file: "s.entdb",
        line: 2,
        col: 2,
        endLine: 2,
        endCol: 3,
        label: "l",
        notes: ["help: h"],
      },
      {
        code: "E0402",
        severity: "warning",
        message: "Unknown type 'X'.",
        file: "s.entdb",
        line: 1,
        col: 1,
        endLine: 2,
        endCol: 2,
      },
    ]);
    expect(renderDiagnostics([], { path: "s", text }, { format: "json" })).toBe("[]\n");
  });
});

describe("displayWidth", () => {
  it("counts terminal columns", () => {
    expect(displayWidth("abc")).toBe(3);
    expect(displayWidth("世界")).toBe(4);
    expect(displayWidth("e\u0301")).toBe(1);
    expect(displayWidth("🌍")).toBe(2);
    expect(displayWidth("\t")).toBe(4);
  });
});
