/**
 * The text writer the client printer prints through: the part of code-block-writer's
 * `CodeBlockWriter` (the writer ts-morph prints structures with) that the client
 * generator and its printer call, with the same output to the byte, including its
 * quirks: a line that starts inside what it takes for a string literal is not indented,
 * and `write("")` at the start of a line still writes the indentation.
 *
 * code-block-writer walks its array of pieces back whenever it asks about the end of
 * the text (the last character, a blank line, a `}`), splits every text with a regular
 * expression and looks each character up in a set, which grows costly with the size of a
 * large schema's client. Here the answers about the end of the text are kept up to date in
 * fields, a text without a line break is written as one piece (with its indentation),
 * only the characters that can change the string or comment state are looked at
 * (literal-tracker.ts), and the pieces are joined once at the end.
 *
 * Settings are fixed to the ones the generated client is printed with: two-space
 * indentation, `\n` line breaks, double quotes.
 */

import { LiteralTracker } from "./literal-tracker.ts";

/**
 * What a statement writer may call: a subset of `CodeBlockWriter`. ts-morph's writer
 * satisfies it too, so a statement writer prints through ts-morph unchanged (the
 * byte-identity test relies on that).
 */
export interface CodeWriter {
  /** Writes text; lines after a line break in it are indented. */
  write(text: string): CodeWriter;
  /** Writes text on a line of its own (starting one if needed) and ends the line. */
  writeLine(text: string): CodeWriter;
  /** Ends the line. */
  newLine(): CodeWriter;
  /** Writes `{`, the block one level deeper on new lines, then `}` on a line of its own. */
  inlineBlock(block: () => void): CodeWriter;
  /** Ends the line and leaves one blank line, unless the text already ends with one. */
  blankLineIfLastNot(): CodeWriter;
}

/** A statement printed by code rather than described by a structure. */
export type StatementWriter = (writer: CodeWriter) => void;

const INDENT = "  ";
const NEW_LINE = "\n";
const QUOTE = '"';

const LF = 0x0a;
const CR = 0x0d;
const CLOSE_BRACE = 0x7d;
const SPACE = 0x20;
/** No character (before the start of the text). */
const NONE = -1;

/**
 * Whether `text` (from `from` up to `to`) is empty or all white space, by ts-morph's
 * set (space, `\t`, `\n`, `\v`, `\f`, `\r`, no-break space, line and paragraph
 * separators), as ts-morph decides whether to print a type or a name.
 */
export function isWhitespaceText(text: string, from = 0, to = text.length): boolean {
  for (let i = from; i < to; i++) {
    if (!isWhitespaceCode(text.charCodeAt(i))) return false;
  }
  return true;
}

/**
 * A `CodeBlockWriter` work-alike that builds its text in memory. Besides `CodeWriter`,
 * it has the methods the structure printer needs. code-block-writer's `block`,
 * `indent` and `hangingIndentUnlessBlock` are left out (nothing here calls them), so a
 * line break is never pending between writes.
 */
export class TextCodeWriter implements CodeWriter {
  private readonly pieces: string[] = [];
  private length = 0;
  /** The last character code written, and the one before it (`NONE` before the start). */
  private last = NONE;
  private beforeLast = NONE;
  /** Line feeds in the run of `\n` and `\r` the text ends with. */
  private trailingLineFeeds = 0;
  /** The last character code written that is not white space. */
  private lastNonWhitespace = NONE;
  private indentation = 0;
  private queuedIndentation: number | undefined = undefined;
  private readonly literals = new LiteralTracker();
  private onFirstLineOfBlock = true;

  write(text: string): this {
    if (text.indexOf("\n") === -1) this.writeLinePart(text);
    else this.writeLines(text);
    return this;
  }

  /** `write` for a text the caller knows has no `\n` (saves looking for one). */
  writeWithoutLineFeed(text: string): this {
    this.writeLinePart(text);
    return this;
  }

  writeLine(text: string): this {
    if (this.length > 0) this.newLineIfLastNot();
    this.write(text);
    this.newLine();
    return this;
  }

  newLine(): this {
    this.literals.lineEnds(this.last);
    this.pieces.push(NEW_LINE);
    this.length++;
    this.beforeLast = this.last;
    this.last = LF;
    this.trailingLineFeeds++;
    this.onFirstLineOfBlock = false;
    if (this.queuedIndentation !== undefined) {
      this.indentation = this.queuedIndentation;
      this.queuedIndentation = undefined;
    }
    return this;
  }

  /** Ends the line unless the text already ends with a line break. */
  newLineIfLastNot(): this {
    if (!this.isLastNewLine()) this.newLine();
    return this;
  }

  /** Ends the line and leaves one blank line. */
  blankLine(): this {
    return this.newLineIfLastNot().newLine();
  }

  blankLineIfLastNot(): this {
    if (!this.isLastBlankLine()) this.blankLine();
    return this;
  }

  /** Writes a space. */
  space(): this {
    this.writeLinePart(" ");
    return this;
  }

  /** Writes a space unless the last character is one. */
  spaceIfLastNot(): this {
    if (this.last !== SPACE) this.writeLinePart(" ");
    return this;
  }

  /** Writes `text` as a double-quoted string literal, escaped as code-block-writer does. */
  quote(text: string): this {
    return this.write(QUOTE + escapeWithinString(text) + QUOTE);
  }

  inlineBlock(block: () => void): this {
    this.writeLinePart("{");
    if (this.length > 0) this.newLineIfLastNot();
    this.indentation++;
    this.onFirstLineOfBlock = true;
    block();
    this.onFirstLineOfBlock = false;
    this.indentation = Math.max(0, this.indentation - 1);
    this.newLineIfLastNot();
    this.writeLinePart("}");
    return this;
  }

  /** Runs `action` so that lines it breaks onto are indented one level deeper. */
  hangingIndent(action: () => void): this {
    const indentation = this.indentation;
    const queued = this.queuedIndentation;
    this.queuedIndentation = indentation + 1;
    try {
      action();
    } finally {
      this.indentation = indentation;
      this.queuedIndentation = queued;
    }
    return this;
  }

  /** Ends a comment the text is still in (`*\/` or a line break). */
  closeComment(): this {
    const comment = this.literals.comment();
    if (comment === "line") {
      this.newLine();
    } else if (comment === "block") {
      if (!this.isLastNewLine()) this.spaceIfLastNot();
      this.write("*/");
    }
    return this;
  }

  /** Whether nothing but indentation was written since a block (or the text) started. */
  isAtStartOfFirstLineOfBlock(): boolean {
    return this.onFirstLineOfBlock && (this.length === 0 || this.isLastNewLine());
  }

  /** Whether the text ends with a line break (`\r` counts, as in code-block-writer). */
  isLastNewLine(): boolean {
    return this.last === LF || this.last === CR;
  }

  /** Whether the text ends with a blank line (two line feeds, `\r` not counted). */
  isLastBlankLine(): boolean {
    return this.trailingLineFeeds >= 2;
  }

  /** Whether the last character other than white space is `}`. */
  isLastNonWhitespaceCloseBrace(): boolean {
    return this.lastNonWhitespace === CLOSE_BRACE;
  }

  /** The number of characters written. */
  getLength(): number {
    return this.length;
  }

  /** The text written from position `start` on. */
  textSince(start: number): string {
    return this.toString().slice(start);
  }

  /**
   * Inserts `text` at each of `positions` (ascending, all before the last character
   * other than white space) without changing the writer's state, as code-block-writer's
   * `unsafeInsert` does.
   */
  insertBefore(positions: readonly number[], text: string): void {
    if (positions.length === 0) return;
    const all = this.toString();
    let out = "";
    let from = 0;
    for (const position of positions) {
      out += all.slice(from, position) + text;
      from = position;
    }
    out += all.slice(from);
    this.pieces[0] = out;
    this.length = out.length;
  }

  /** The text written so far. */
  toString(): string {
    if (this.pieces.length > 1) {
      const text = this.pieces.join("");
      this.pieces.length = 0;
      this.pieces.push(text);
    }
    return this.pieces[0] ?? "";
  }

  /** Writes text with line breaks: each line part as `writeLinePart`, `\r\n` as `\n`. */
  private writeLines(text: string): void {
    const parts = text.split(/\r?\n/);
    for (let i = 0; i < parts.length; i++) {
      if (i > 0) this.newLine();
      const part = parts[i] ?? "";
      if (part.length > 0) this.writeLinePart(part);
    }
  }

  /**
   * Writes text without line feeds, indented when it starts a line outside a string
   * (even when empty: `write("")` writes the indentation).
   */
  private writeLinePart(text: string): void {
    let indent = "";
    if (
      (this.last === LF || this.last === CR || this.length === 0) &&
      !this.literals.isInString()
    ) {
      indent = indentation(this.indentation);
      if (indent.length > 0) {
        // Indentation is spaces: it ends any run of line breaks.
        this.beforeLast = indent.length > 1 ? SPACE : this.last;
        this.last = SPACE;
        this.trailingLineFeeds = 0;
      }
    }
    if (text.length === 0) {
      if (indent.length > 0) this.push(indent);
      return;
    }
    this.literals.scan(text, this.last, this.beforeLast);
    this.push(indent.length > 0 ? indent + text : text);
    this.track(text);
  }

  private push(text: string): void {
    this.pieces.push(text);
    this.length += text.length;
  }

  /** Updates the last characters and what the tail of the text is, after `text` was added. */
  private track(text: string): void {
    const n = text.length;
    this.beforeLast = n > 1 ? text.charCodeAt(n - 2) : this.last;
    this.last = text.charCodeAt(n - 1);
    // Keep what `isLastBlankLine` and `isLastNonWhitespaceCloseBrace` ask about.
    let i = n - 1;
    let lineFeeds = 0;
    for (; i >= 0; i--) {
      const code = text.charCodeAt(i);
      if (code === LF) lineFeeds++;
      else if (code !== CR) break;
    }
    this.trailingLineFeeds = i < 0 ? this.trailingLineFeeds + lineFeeds : lineFeeds;
    for (i = n - 1; i >= 0; i--) {
      const code = text.charCodeAt(i);
      if (!isWhitespaceCode(code)) {
        this.lastNonWhitespace = code;
        break;
      }
    }
  }
}

const INDENTS: string[] = [];

/** The indentation text of `level` (cached: a level is asked for on every line). */
function indentation(level: number): string {
  let text = INDENTS[level];
  if (text === undefined) {
    text = INDENT.repeat(level);
    INDENTS[level] = text;
  }
  return text;
}

function isWhitespaceCode(code: number): boolean {
  return (
    code === SPACE ||
    (code >= 0x09 && code <= 0x0d) ||
    code === 0xa0 ||
    code === 0x2028 ||
    code === 0x2029
  );
}

/** Escapes text for a double-quoted literal as code-block-writer does (line breaks continue with `\`). */
function escapeWithinString(text: string): string {
  let result = "";
  for (let i = 0; i < text.length; i++) {
    const char = text.charAt(i);
    if (char === QUOTE) {
      result += "\\";
    } else if (char === "\r" && text.charAt(i + 1) === "\n") {
      result += "\\r\\n\\";
      i++;
    } else if (char === "\n") {
      result += "\\n\\";
    } else if (char === "\\") {
      result += "\\";
    }
    result += text.charAt(i);
  }
  return result;
}
