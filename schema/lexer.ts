/**
 * Turns `.entdb` source text into tokens in one linear pass. It never throws: a
 * malformed character, string, escape or number is reported as a diagnostic and
 * lexing goes on, so the parser still sees a usable token stream.
 *
 * The source is a JS string (UTF-16) but spans are UTF-8 byte offsets, so the lexer
 * tracks both positions as it walks; only characters inside strings, comments and
 * (invalid) names can be non-ASCII.
 */

import type { Comment } from "./ast.ts";
import type { Diagnostic } from "./diagnostic.ts";
import {
  hashComment,
  invalidEscape,
  invalidNumber,
  nonAsciiName,
  unexpectedCharacter,
  unterminatedComment,
  unterminatedString,
} from "./messages.ts";
import type { CommentToken, PunctuationKind, Token, TokenKind } from "./token.ts";

/** Tokens (ending with one `eof` token that carries the file's last comments) and lexical diagnostics. */
export interface LexResult {
  readonly tokens: readonly Token[];
  readonly diagnostics: readonly Diagnostic[];
}

const NO_COMMENTS: readonly CommentToken[] = [];

const PUNCTUATION: ReadonlyMap<number, PunctuationKind> = new Map(
  (["{", "}", "[", "]", "(", ")", "<", ">", ";", ":", ",", ".", "="] as const).map((p) => [
    p.charCodeAt(0),
    p,
  ]),
);

// Sticky, single-character class: a constant-time test at one position, no backtracking.
const UNICODE_NAME_CHAR = /[\p{L}\p{N}\p{M}]/uy;

const BACKSLASH = 92;
const QUOTE = 34;
const NEWLINE = 10;
const RETURN = 13;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isHexDigit(c: number): boolean {
  return isDigit(c) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102);
}

function isNameStart(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

function isNamePart(c: number): boolean {
  return isNameStart(c) || isDigit(c);
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === NEWLINE || c === RETURN;
}

/** Lexes a whole source text. */
export function lexSchema(text: string): LexResult {
  return new Lexer(text).run();
}

class Lexer {
  readonly #text: string;
  readonly #tokens: Token[] = [];
  readonly #diagnostics: Diagnostic[] = [];
  /** Position in UTF-16 code units. */
  #pos = 0;
  /** The same position in UTF-8 bytes. */
  #byte = 0;
  /** Line breaks since the last token or comment. */
  #newlines = 0;
  #comments: CommentToken[] = [];

  constructor(text: string) {
    this.#text = text;
  }

  run(): LexResult {
    const text = this.#text;
    const n = text.length;
    // A byte order mark is not part of the schema.
    if (n > 0 && text.charCodeAt(0) === 0xfeff) {
      this.#pos = 1;
      this.#byte = 3;
    }
    while (this.#pos < n) {
      const c = text.charCodeAt(this.#pos);
      if (c === NEWLINE) {
        this.#newlines++;
        this.#pos++;
        this.#byte++;
      } else if (c === 32 || c === 9 || c === RETURN) {
        this.#pos++;
        this.#byte++;
      } else if (c === 47 && text.charCodeAt(this.#pos + 1) === 47) {
        this.#lineComment();
      } else if (c === 47 && text.charCodeAt(this.#pos + 1) === 42) {
        this.#blockComment();
      } else if (isNameStart(c) || (c >= 0x80 && this.#isUnicodeNameChar())) {
        this.#name();
      } else if (isDigit(c) || (c === 45 && isDigit(text.charCodeAt(this.#pos + 1)))) {
        this.#number();
      } else if (c === QUOTE) {
        this.#string();
      } else {
        const punctuation = PUNCTUATION.get(c);
        if (punctuation === undefined) {
          this.#unexpected();
        } else {
          const startPos = this.#pos;
          const startByte = this.#byte;
          this.#pos++;
          this.#byte++;
          this.#push(punctuation, startPos, startByte);
        }
      }
    }
    this.#push("eof", this.#pos, this.#byte);
    return { tokens: this.#tokens, diagnostics: this.#diagnostics };
  }

  #push(
    kind: TokenKind,
    startPos: number,
    startByte: number,
    value?: string,
    malformed = false,
  ): void {
    const text = this.#text.slice(startPos, this.#pos);
    this.#tokens.push({
      kind,
      text,
      value: value ?? text,
      span: { start: startByte, end: this.#byte },
      newlinesBefore: this.#newlines,
      comments: this.#comments.length === 0 ? NO_COMMENTS : this.#comments,
      malformed,
    });
    this.#newlines = 0;
    if (this.#comments.length > 0) this.#comments = [];
  }

  /** Advances over one character (a surrogate pair counts as one), keeping the byte offset right. */
  #step(): void {
    const c = this.#text.charCodeAt(this.#pos);
    if (c < 0x80) {
      this.#pos++;
      this.#byte++;
    } else if (c < 0x800) {
      this.#pos++;
      this.#byte += 2;
    } else if (c >= 0xd800 && c <= 0xdbff && isLowSurrogate(this.#text.charCodeAt(this.#pos + 1))) {
      this.#pos += 2;
      this.#byte += 4;
    } else {
      // Other BMP characters, and lone surrogates, which UTF-8 encoding turns into U+FFFD.
      this.#pos++;
      this.#byte += 3;
    }
  }

  #isUnicodeNameChar(): boolean {
    UNICODE_NAME_CHAR.lastIndex = this.#pos;
    return UNICODE_NAME_CHAR.test(this.#text);
  }

  #addComment(
    kind: Comment["kind"],
    startPos: number,
    startByte: number,
    endPos: number,
    endByte: number,
  ): void {
    const text = this.#text.slice(startPos, endPos);
    this.#comments.push({
      comment: { kind, text, span: { start: startByte, end: endByte } },
      newlinesBefore: this.#newlines,
      isDocLine: kind === "line" && text.startsWith("///") && !text.startsWith("////"),
    });
    this.#newlines = 0;
  }

  #lineComment(): void {
    const text = this.#text;
    const startPos = this.#pos;
    const startByte = this.#byte;
    const newline = text.indexOf("\n", startPos);
    this.#pos = newline < 0 ? text.length : newline;
    this.#byte += utf8Length(text, startPos, this.#pos);
    let endPos = this.#pos;
    let endByte = this.#byte;
    // A CRLF line ending is not part of the comment text.
    if (text.charCodeAt(endPos - 1) === RETURN) {
      endPos--;
      endByte--;
    }
    this.#addComment("line", startPos, startByte, endPos, endByte);
  }

  #blockComment(): void {
    const text = this.#text;
    const startPos = this.#pos;
    const startByte = this.#byte;
    const close = text.indexOf("*/", startPos + 2);
    const closed = close >= 0;
    this.#pos = closed ? close + 2 : text.length;
    this.#byte += utf8Length(text, startPos, this.#pos);
    if (!closed)
      this.#diagnostics.push(unterminatedComment({ start: startByte, end: startByte + 2 }));
    this.#addComment("block", startPos, startByte, this.#pos, this.#byte);
  }

  #name(): void {
    const text = this.#text;
    const startPos = this.#pos;
    const startByte = this.#byte;
    let nonAscii = false;
    while (this.#pos < text.length) {
      const c = text.charCodeAt(this.#pos);
      if (isNamePart(c)) {
        this.#pos++;
        this.#byte++;
      } else if (c >= 0x80 && this.#isUnicodeNameChar()) {
        nonAscii = true;
        this.#step();
      } else {
        break;
      }
    }
    if (nonAscii) {
      this.#diagnostics.push(
        nonAsciiName(text.slice(startPos, this.#pos), { start: startByte, end: this.#byte }),
      );
    }
    this.#push("ident", startPos, startByte);
  }

  #digits(): void {
    while (isDigit(this.#text.charCodeAt(this.#pos))) {
      this.#pos++;
      this.#byte++;
    }
  }

  #number(): void {
    const text = this.#text;
    const startPos = this.#pos;
    const startByte = this.#byte;
    if (text.charCodeAt(this.#pos) === 45) {
      this.#pos++;
      this.#byte++;
    }
    this.#digits();
    let isFloat = false;
    if (text.charCodeAt(this.#pos) === 46 && isDigit(text.charCodeAt(this.#pos + 1))) {
      isFloat = true;
      this.#pos++;
      this.#byte++;
      this.#digits();
    }
    const e = text.charCodeAt(this.#pos);
    if (e === 101 || e === 69) {
      const s = text.charCodeAt(this.#pos + 1);
      const signed = (s === 43 || s === 45) && isDigit(text.charCodeAt(this.#pos + 2));
      if (isDigit(s) || signed) {
        isFloat = true;
        const skip = signed ? 2 : 1;
        this.#pos += skip;
        this.#byte += skip;
        this.#digits();
      }
    }
    // Letters or another fraction glued to the number (`12abc`, `1.2.3`) make one bad token,
    // so the parser does not see a number followed by a surprise name.
    let malformed = false;
    for (;;) {
      const c = text.charCodeAt(this.#pos);
      if (isNamePart(c) || (c === 46 && isDigit(text.charCodeAt(this.#pos + 1)))) {
        malformed = true;
        this.#pos++;
        this.#byte++;
      } else {
        break;
      }
    }
    if (malformed) {
      this.#diagnostics.push(
        invalidNumber(text.slice(startPos, this.#pos), { start: startByte, end: this.#byte }),
      );
    }
    this.#push(isFloat ? "float" : "int", startPos, startByte, undefined, malformed);
  }

  #string(): void {
    const text = this.#text;
    const startPos = this.#pos;
    const startByte = this.#byte;
    this.#pos++;
    this.#byte++;
    const parts: string[] = [];
    let segmentStart = this.#pos;
    let closed = false;
    while (this.#pos < text.length) {
      const c = text.charCodeAt(this.#pos);
      if (c === QUOTE) {
        parts.push(text.slice(segmentStart, this.#pos));
        this.#pos++;
        this.#byte++;
        closed = true;
        break;
      }
      if (c === NEWLINE || c === RETURN) break;
      if (c === BACKSLASH) {
        parts.push(text.slice(segmentStart, this.#pos));
        parts.push(this.#escape());
        segmentStart = this.#pos;
        continue;
      }
      this.#step();
    }
    if (!closed) {
      parts.push(text.slice(segmentStart, this.#pos));
      this.#diagnostics.push(unterminatedString({ start: startByte, end: this.#byte }));
    }
    // An unclosed string swallowed the rest of its line; the parser must not complain about that again.
    this.#push("string", startPos, startByte, parts.join(""), !closed);
  }

  /** Reads one escape at a backslash and returns what it stands for (the raw text when invalid). */
  #escape(): string {
    const text = this.#text;
    const startPos = this.#pos;
    const startByte = this.#byte;
    this.#pos++;
    this.#byte++;
    const c = text.charCodeAt(this.#pos);
    const simple = SIMPLE_ESCAPES.get(c);
    if (simple !== undefined) {
      this.#pos++;
      this.#byte++;
      return simple;
    }
    if (c === 117 /* u */) return this.#unicodeEscape(startPos, startByte);
    if (this.#pos < text.length && c !== NEWLINE && c !== RETURN) this.#step();
    const raw = text.slice(startPos, this.#pos);
    this.#diagnostics.push(
      invalidEscape(raw, raw.length === 1 ? "a lone backslash" : "unknown escape", {
        start: startByte,
        end: this.#byte,
      }),
    );
    return raw;
  }

  #unicodeEscape(startPos: number, startByte: number): string {
    const text = this.#text;
    this.#pos++;
    this.#byte++;
    let reason: string | undefined;
    let value = "";
    if (text.charCodeAt(this.#pos) !== 123) {
      reason = "expected '{' after '\\u'";
    } else {
      this.#pos++;
      this.#byte++;
      const digitsStart = this.#pos;
      while (isHexDigit(text.charCodeAt(this.#pos))) {
        this.#pos++;
        this.#byte++;
      }
      const hex = text.slice(digitsStart, this.#pos);
      if (text.charCodeAt(this.#pos) !== 125) {
        reason = "expected hex digits and a closing '}'";
      } else {
        this.#pos++;
        this.#byte++;
        const cp = hex.length > 0 && hex.length <= 6 ? Number.parseInt(hex, 16) : -1;
        if (cp < 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
          reason = "not a Unicode scalar value";
        } else {
          value = String.fromCodePoint(cp);
        }
      }
    }
    if (reason === undefined) return value;
    const raw = text.slice(startPos, this.#pos);
    this.#diagnostics.push(invalidEscape(raw, reason, { start: startByte, end: this.#byte }));
    return raw;
  }

  /** Reports a run of characters that start no token, as one diagnostic. */
  #unexpected(): void {
    const text = this.#text;
    const startPos = this.#pos;
    const startByte = this.#byte;
    if (text.charCodeAt(startPos) === 35 /* # */) {
      // Someone used a shell-style comment: skip the line so its words are not parsed.
      this.#step();
      this.#diagnostics.push(hashComment({ start: startByte, end: this.#byte }));
      while (this.#pos < text.length && text.charCodeAt(this.#pos) !== NEWLINE) this.#step();
      return;
    }
    this.#step();
    while (this.#pos < text.length && !this.#startsToken()) this.#step();
    this.#diagnostics.push(
      unexpectedCharacter(text.slice(startPos, this.#pos), { start: startByte, end: this.#byte }),
    );
  }

  #startsToken(): boolean {
    const text = this.#text;
    const c = text.charCodeAt(this.#pos);
    const next = text.charCodeAt(this.#pos + 1);
    return (
      isSpace(c) ||
      isNamePart(c) ||
      c === QUOTE ||
      PUNCTUATION.has(c) ||
      (c === 47 && (next === 47 || next === 42)) ||
      (c === 45 && isDigit(next)) ||
      (c >= 0x80 && this.#isUnicodeNameChar())
    );
  }
}

const SIMPLE_ESCAPES: ReadonlyMap<number, string> = new Map([
  [QUOTE, '"'],
  [BACKSLASH, "\\"],
  [110, "\n"],
  [116, "\t"],
  [114, "\r"],
]);

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** UTF-8 bytes of `text[from, to)`; a lone surrogate counts 3 (it is encoded as U+FFFD). */
function utf8Length(text: string, from: number, to: number): number {
  let bytes = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < to && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else bytes += 3;
  }
  return bytes;
}
