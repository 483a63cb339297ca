/**
 * code-block-writer's idea of whether the text written so far ends inside a string,
 * template literal, comment or regular expression, followed character by character the
 * way it does, quirks included (a quote string ends at the end of its line, a `/`
 * after most characters starts a "regular expression" that only a later `/` or line
 * start ends). It decides whether a line is indented and whether a comment must be
 * closed, so the client printer must follow it exactly to print what ts-morph prints.
 */

const BACK_SLASH = 0x5c;
const SLASH = 0x2f;
const LF = 0x0a;
const CR = 0x0d;
const ASTERISK = 0x2a;
const DOUBLE_QUOTE = 0x22;
const SINGLE_QUOTE = 0x27;
const BACK_TICK = 0x60;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const DOLLAR = 0x24;
/** No character (before the start of the text). */
const NONE = -1;

/** The characters that can change the state; all others are skipped. */
const STATE_CHARS = new Uint8Array(128);
for (const code of [
  BACK_SLASH,
  SLASH,
  LF,
  CR,
  ASTERISK,
  DOUBLE_QUOTE,
  SINGLE_QUOTE,
  BACK_TICK,
  OPEN_BRACE,
  CLOSE_BRACE,
]) {
  STATE_CHARS[code] = 1;
}

const COMMENT_NONE = 0;
const COMMENT_LINE = 1;
const COMMENT_STAR = 2;
type CommentState = typeof COMMENT_NONE | typeof COMMENT_LINE | typeof COMMENT_STAR;

/** The string, comment and regex state of a text being written. */
export class LiteralTracker {
  private commentState: CommentState = COMMENT_NONE;
  /** Open quotes and template `${` braces, innermost last. */
  private readonly stack: number[] = [];
  private inRegEx = false;

  /** Whether the text ends inside a string or template literal (not in a `${}` in one). */
  isInString(): boolean {
    const n = this.stack.length;
    return n > 0 && this.stack[n - 1] !== OPEN_BRACE;
  }

  /** The comment the text ends in, if any. */
  comment(): "line" | "block" | undefined {
    if (this.commentState === COMMENT_LINE) return "line";
    if (this.commentState === COMMENT_STAR) return "block";
    return undefined;
  }

  /**
   * A line break is written after `last`: it ends a line comment, and a quote string
   * unless the line ends in a backslash.
   */
  lineEnds(last: number): void {
    if (this.commentState === COMMENT_LINE) this.commentState = COMMENT_NONE;
    const top = this.stack.length === 0 ? NONE : this.stack[this.stack.length - 1];
    if ((top === DOUBLE_QUOTE || top === SINGLE_QUOTE) && last !== BACK_SLASH) this.stack.pop();
  }

  /**
   * Follows `text` (without `\n`), about to be appended right after the character codes
   * `beforeLast` and `last` (-1 where the text is shorter).
   */
  scan(text: string, last: number, beforeLast: number): void {
    const n = text.length;
    let i = 0;
    while (i < n) {
      if (this.commentState === COMMENT_LINE) return; // only a line break ends it
      if (this.commentState === COMMENT_STAR) {
        // Only `*` + `/` ends it; strings and regexes are not followed in a comment.
        let end: number; // the `/` that ends it, which changes nothing else
        if (i === 0 && last === ASTERISK && text.charCodeAt(0) === SLASH) {
          end = 0;
        } else {
          const at = text.indexOf("*/", i === 0 ? 0 : i - 1);
          if (at === -1) return;
          end = at + 1;
        }
        this.commentState = COMMENT_NONE;
        i = end + 1;
        continue;
      }
      let code = text.charCodeAt(i);
      while (code >= 128 || STATE_CHARS[code] === 0) {
        if (++i === n) return;
        code = text.charCodeAt(i);
      }
      this.scanAt(text, i, code, last, beforeLast);
      i++;
    }
  }

  /** The state change of character `code` at `i` in `text` (one that can change it). */
  private scanAt(text: string, i: number, code: number, last: number, beforeLast: number): void {
    const past = i === 0 ? last : text.charCodeAt(i - 1);
    const pastPast = i === 0 ? beforeLast : i === 1 ? last : text.charCodeAt(i - 2);
    if (this.inRegEx) {
      if ((past === SLASH && pastPast !== BACK_SLASH) || past === LF) this.inRegEx = false;
      else return;
    } else if (!this.isInString() && isRegExStart(code, past, pastPast)) {
      this.inRegEx = true;
      return;
    }
    if (past === SLASH && !this.isInString()) {
      if (code === SLASH) {
        this.commentState = COMMENT_LINE;
        return;
      }
      if (code === ASTERISK) {
        this.commentState = COMMENT_STAR;
        return;
      }
    }
    const stack = this.stack;
    const top = stack.length === 0 ? NONE : stack[stack.length - 1];
    if (
      past !== BACK_SLASH &&
      (code === DOUBLE_QUOTE || code === SINGLE_QUOTE || code === BACK_TICK)
    ) {
      if (top === code) stack.pop();
      else if (top === OPEN_BRACE || top === NONE) stack.push(code);
    } else if (
      pastPast !== BACK_SLASH &&
      past === DOLLAR &&
      code === OPEN_BRACE &&
      top === BACK_TICK
    ) {
      stack.push(code);
    } else if (code === CLOSE_BRACE && top === OPEN_BRACE) {
      stack.pop();
    }
  }
}

function isRegExStart(code: number, past: number, pastPast: number): boolean {
  return (
    past === SLASH &&
    code !== SLASH &&
    code !== ASTERISK &&
    pastPast !== ASTERISK &&
    pastPast !== SLASH
  );
}
