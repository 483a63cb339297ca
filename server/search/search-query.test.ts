import { describe, expect, it } from "vitest";
import { MAX_SEARCH_TERMS, SearchQueryError, toFtsMatch } from "./search-query.ts";

function refusal(query: string): { message: string; position: number } {
  try {
    toFtsMatch(query);
  } catch (err) {
    if (err instanceof SearchQueryError) return { message: err.message, position: err.position };
    throw err;
  }
  throw new Error(`accepted ${JSON.stringify(query)}`);
}

describe("toFtsMatch", () => {
  it("quotes every term and makes AND explicit", () => {
    expect(toFtsMatch("printer fire")).toBe('("printer" AND "fire")');
    expect(toFtsMatch("printer AND fire")).toBe('("printer" AND "fire")');
    expect(toFtsMatch("printer")).toBe('"printer"');
  });

  it("keeps phrases, prefixes, OR, NOT and parentheses", () => {
    expect(toFtsMatch('"paper jam" OR print*')).toBe('("paper jam" OR "print" *)');
    expect(toFtsMatch("printer NOT fire NOT smoke")).toBe('("printer" NOT "fire" NOT "smoke")');
    expect(toFtsMatch("(printer OR scanner) AND NOT (fire OR smoke)")).toBe(
      '(("printer" OR "scanner") NOT ("fire" OR "smoke"))',
    );
    expect(toFtsMatch('"paper ja"*')).toBe('"paper ja" *');
  });

  it("reads FTS5 syntax in user text as plain characters", () => {
    expect(toFtsMatch("title:fire")).toBe('"title:fire"');
    expect(toFtsMatch("NEAR(a b)")).toBe('("NEAR" AND ("a" AND "b"))');
    expect(toFtsMatch("^start and or not")).toBe('("^start" AND "and" AND "or" AND "not")');
    expect(toFtsMatch('{f1 f2}: "x" -y')).toBe('("{f1" AND "f2}:" AND "x" AND "-y")');
  });

  it("splits CJK text into characters searched as a phrase", () => {
    expect(toFtsMatch("東京")).toBe('"\u200b東\u200b\u200b京\u200b"');
    expect(toFtsMatch("東京*")).toBe('"\u200b東\u200b\u200b京\u200b" *');
  });

  it("refuses an unclosed quote, naming where it opens", () => {
    expect(refusal('printer "unclosed')).toEqual({
      message: "A '\"' is never closed (at position 8)",
      position: 8,
    });
  });

  it("refuses operators without operands", () => {
    expect(refusal("printer AND AND fire")).toEqual({
      message: "AND is followed by AND (at position 12)",
      position: 12,
    });
    expect(refusal("AND fire").message).toBe(
      "AND needs a word or phrase on its left (at position 0)",
    );
    expect(refusal("fire OR").message).toBe("OR needs a word or phrase after it (at position 5)");
    expect(refusal("NOT fire").message).toBe(
      "NOT needs something to subtract from: write `printer NOT fire`, not `NOT fire` alone (at position 0)",
    );
    expect(refusal("a OR NOT b").position).toBe(5);
  });

  it("refuses a lone or leading '*'", () => {
    expect(refusal("*")).toEqual({
      message: "A '*' must directly follow a word or phrase, as in `print*` (at position 0)",
      position: 0,
    });
    expect(refusal("printer *fire").position).toBe(8);
    expect(refusal("print**").position).toBe(6);
  });

  it("refuses unbalanced or empty parentheses", () => {
    expect(refusal("(printer fire").message).toBe("A '(' is never closed (at position 0)");
    expect(refusal("printer)").message).toBe("A ')' closes no '(' (at position 7)");
    expect(refusal("a ()").message).toBe("Empty parentheses (at position 2)");
    expect(refusal(`${"(".repeat(17)}a${")".repeat(17)}`).message).toBe(
      "Parentheses nest deeper than 16 levels (at position 16)",
    );
  });

  it("refuses too many terms, naming the first one over", () => {
    const words = Array.from({ length: 10_000 }, (_, i) => `w${i}`);
    expect(refusal(words.slice(0, MAX_SEARCH_TERMS + 1).join(" "))).toEqual({
      message: `The query has more than ${MAX_SEARCH_TERMS} terms (at position ${words.slice(0, MAX_SEARCH_TERMS).join(" ").length + 1})`,
      position: words.slice(0, MAX_SEARCH_TERMS).join(" ").length + 1,
    });
    expect(refusal(words.join(" ")).message).toBe(
      "The query is 58889 characters long; the limit is 1000 (at position 1000)",
    );
    expect(() => toFtsMatch(words.slice(0, MAX_SEARCH_TERMS).join(" "))).not.toThrow();
  });

  it("refuses control characters, inside words and phrases too", () => {
    expect(refusal("printer\u0000fire")).toEqual({
      message: "Control character U+0000 is not allowed in a query (at position 7)",
      position: 7,
    });
    expect(refusal('"paper \u001b jam"').position).toBe(7);
    expect(refusal("a\u007f").message).toBe(
      "Control character U+007F is not allowed in a query (at position 1)",
    );
    expect(toFtsMatch("printer\tfire\n")).toBe('("printer" AND "fire")');
  });

  it("refuses empty queries and terms with nothing to search for", () => {
    expect(refusal("   ").message).toBe(
      "The query is empty; give at least one word or phrase (at position 0)",
    );
    expect(refusal('fire ""').message).toBe(
      'Phrase "" has no letter or digit to search for (at position 5)',
    );
    expect(refusal("fire !!!").message).toBe(
      'Word "!!!" has no letter or digit to search for (at position 5)',
    );
  });
});
