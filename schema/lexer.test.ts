import { describe, expect, it } from "vitest";
import { lexSchema } from "./lexer.ts";
import type { Token } from "./token.ts";

function kinds(tokens: readonly Token[]): string[] {
  return tokens.map((t) =>
    t.kind === "ident" || t.kind === "int" || t.kind === "float" ? `${t.kind}:${t.text}` : t.kind,
  );
}

describe("lexSchema", () => {
  it("splits a field declaration into tokens with byte spans", () => {
    const { tokens, diagnostics } = lexSchema("email: string = 1 [required];");
    expect(diagnostics).toEqual([]);
    expect(kinds(tokens)).toEqual([
      "ident:email",
      ":",
      "ident:string",
      "=",
      "int:1",
      "[",
      "ident:required",
      "]",
      ";",
      "eof",
    ]);
    expect(tokens.map((t) => [t.span.start, t.span.end])).toEqual([
      [0, 5],
      [5, 6],
      [7, 13],
      [14, 15],
      [16, 17],
      [18, 19],
      [19, 27],
      [27, 28],
      [28, 29],
      [29, 29],
    ]);
  });

  it("counts UTF-8 bytes, not UTF-16 units, after non-ASCII text", () => {
    // "é" is 2 bytes, "世" 3 bytes, "🌍" 4 bytes (2 UTF-16 units).
    const { tokens } = lexSchema('"é世🌍" x /* 🌍 */ y');
    expect(tokens[0]).toMatchObject({
      kind: "string",
      value: "é世🌍",
      span: { start: 0, end: 11 },
    });
    expect(tokens[1]).toMatchObject({ kind: "ident", text: "x", span: { start: 12, end: 13 } });
    expect(tokens[2]!.comments[0]!.comment.span).toEqual({ start: 14, end: 24 });
    expect(tokens[2]).toMatchObject({ kind: "ident", text: "y", span: { start: 25, end: 26 } });
  });

  it("skips a byte order mark but counts its three bytes", () => {
    const { tokens } = lexSchema("\uFEFFpackage");
    expect(tokens[0]).toMatchObject({
      kind: "ident",
      text: "package",
      span: { start: 3, end: 10 },
    });
  });

  it("reads negative, float and exponent numbers", () => {
    const { tokens, diagnostics } = lexSchema("-1 1.5 -0.25 1e9 2.5E-3 7");
    expect(diagnostics).toEqual([]);
    expect(kinds(tokens)).toEqual([
      "int:-1",
      "float:1.5",
      "float:-0.25",
      "float:1e9",
      "float:2.5E-3",
      "int:7",
      "eof",
    ]);
  });

  it("reports a number glued to letters as one malformed token", () => {
    const { tokens, diagnostics } = lexSchema("12abc 1.2.3 3");
    expect(kinds(tokens)).toEqual(["int:12abc", "float:1.2.3", "int:3", "eof"]);
    expect(tokens.map((t) => t.malformed)).toEqual([true, true, false, false]);
    expect(diagnostics.map((d) => [d.code, d.message, d.span])).toEqual([
      ["E0105", "Invalid number '12abc'.", { start: 0, end: 5 }],
      ["E0105", "Invalid number '1.2.3'.", { start: 6, end: 11 }],
    ]);
  });

  it("decodes string escapes", () => {
    const { tokens, diagnostics } = lexSchema(String.raw`"a\"b\\c\nd\te\rf\u{1F600}\u{41}"`);
    expect(diagnostics).toEqual([]);
    expect(tokens[0]!.value).toBe('a"b\\c\nd\te\rf😀A');
  });

  it("reports bad escapes and keeps them verbatim in the value", () => {
    const { tokens, diagnostics } = lexSchema(String.raw`"a\qb\u{D800}\u{110000}\u41"`);
    expect(tokens[0]!.value).toBe(String.raw`a\qb\u{D800}\u{110000}\u41`);
    expect(diagnostics.map((d) => [d.code, d.message, d.label, d.span])).toEqual([
      [
        "E0103",
        String.raw`Invalid escape '\q' in a string.`,
        "unknown escape",
        { start: 2, end: 4 },
      ],
      [
        "E0103",
        String.raw`Invalid escape '\u{D800}' in a string.`,
        "not a Unicode scalar value",
        { start: 5, end: 13 },
      ],
      [
        "E0103",
        String.raw`Invalid escape '\u{110000}' in a string.`,
        "not a Unicode scalar value",
        { start: 13, end: 23 },
      ],
      [
        "E0103",
        String.raw`Invalid escape '\u' in a string.`,
        "expected '{' after '\\u'",
        { start: 23, end: 25 },
      ],
    ]);
  });

  it("ends an unterminated string at the end of its line and marks it malformed", () => {
    const { tokens, diagnostics } = lexSchema('"abc\r\nnext');
    expect(tokens[0]).toMatchObject({
      kind: "string",
      value: "abc",
      malformed: true,
      span: { start: 0, end: 4 },
    });
    expect(tokens[1]).toMatchObject({ kind: "ident", text: "next", newlinesBefore: 1 });
    expect(diagnostics.map((d) => [d.code, d.span])).toEqual([["E0102", { start: 0, end: 4 }]]);
  });

  it("groups a run of unexpected characters into one diagnostic", () => {
    const { tokens, diagnostics } = lexSchema("a @$% b \u00A0c");
    expect(kinds(tokens)).toEqual(["ident:a", "ident:b", "ident:c", "eof"]);
    expect(diagnostics.map((d) => [d.code, d.message, d.span])).toEqual([
      ["E0101", "Unexpected characters '@$%'.", { start: 2, end: 5 }],
      ["E0101", "Unexpected character '\\u{A0}'.", { start: 8, end: 10 }],
    ]);
  });

  it("skips the rest of a line after '#', with a hint to use '//'", () => {
    const { tokens, diagnostics } = lexSchema("# not a comment\nnode");
    expect(kinds(tokens)).toEqual(["ident:node", "eof"]);
    expect(diagnostics.map((d) => [d.code, d.notes])).toEqual([
      ["E0101", ["help: comments start with '//'"]],
    ]);
  });

  it("keeps non-ASCII letters inside one name token and reports it", () => {
    const { tokens, diagnostics } = lexSchema("nöte: x");
    expect(kinds(tokens)).toEqual(["ident:nöte", ":", "ident:x", "eof"]);
    expect(diagnostics.map((d) => [d.code, d.span])).toEqual([["E0106", { start: 0, end: 5 }]]);
  });

  it("attaches comments to the next token with the line breaks around them", () => {
    const source = "a // one\r\n\n/// doc\n//// four\n/* b\n */ b";
    const { tokens } = lexSchema(source);
    expect(tokens[1]!.text).toBe("b");
    expect(
      tokens[1]!.comments.map((c) => [
        c.comment.kind,
        c.comment.text,
        c.newlinesBefore,
        c.isDocLine,
      ]),
    ).toEqual([
      ["line", "// one", 0, false],
      ["line", "/// doc", 2, true],
      ["line", "//// four", 1, false],
      ["block", "/* b\n */", 1, false],
    ]);
    expect(tokens[1]!.newlinesBefore).toBe(0);
  });

  it("reports an unterminated block comment and keeps it as a comment", () => {
    const { tokens, diagnostics } = lexSchema("a /* never");
    expect(tokens[1]).toMatchObject({ kind: "eof" });
    expect(tokens[1]!.comments[0]!.comment.text).toBe("/* never");
    expect(diagnostics.map((d) => [d.code, d.span])).toEqual([["E0104", { start: 2, end: 4 }]]);
  });

  it("lexes a long input in linear time", () => {
    const field = '  field_name: list<ref<Target>> = 12345 [required, default = "x"]; // note\n';
    const source = field.repeat(20_000);
    const started = performance.now();
    const { tokens } = lexSchema(source);
    const elapsed = performance.now() - started;
    expect(tokens.length).toBe(20_000 * 19 + 1);
    expect(elapsed).toBeLessThan(2_000);
  });
});
