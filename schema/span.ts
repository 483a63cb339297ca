/**
 * Source positions. Spans are byte offsets into the UTF-8 source, half open
 * (`start` inclusive, `end` exclusive); line and column are computed only when a
 * diagnostic is rendered, by {@link LineIndex}.
 */

/** A half-open byte range `[start, end)` in a source file. */
export interface Span {
  readonly start: number;
  readonly end: number;
}

/** A schema source: its display path and its text. */
export interface SourceFile {
  readonly path: string;
  readonly text: string;
}

/** Creates a span. */
export function span(start: number, end: number): Span {
  return { start, end };
}

/** A 1-based line and column; the column counts UTF-16 code units of the line, plus one. */
export interface LineCol {
  readonly line: number;
  readonly col: number;
}

/**
 * Maps byte offsets of one UTF-8 text to 1-based line:col. Built once per file;
 * each lookup is a binary search over line starts.
 */
export class LineIndex {
  readonly #bytes: Uint8Array;
  readonly #lineStarts: number[];

  constructor(text: string) {
    this.#bytes = new TextEncoder().encode(text);
    const starts = [0];
    for (let i = 0; i < this.#bytes.length; i++) {
      if (this.#bytes[i] === 0x0a) starts.push(i + 1);
    }
    this.#lineStarts = starts;
  }

  /** The 1-based line and column of a byte offset (clamped to the text). */
  lineCol(offset: number): LineCol {
    const clamped = Math.max(0, Math.min(offset, this.#bytes.length));
    let lo = 0;
    let hi = this.#lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#lineStarts[mid]! <= clamped) lo = mid;
      else hi = mid - 1;
    }
    const lineStart = this.#lineStarts[lo]!;
    const prefix = new TextDecoder().decode(this.#bytes.subarray(lineStart, clamped));
    return { line: lo + 1, col: prefix.length + 1 };
  }

  /** The text of a 1-based line, without its line terminator. */
  lineText(line: number): string {
    const start = this.#lineStarts[line - 1];
    if (start === undefined) return "";
    const next = this.#lineStarts[line];
    let end = next === undefined ? this.#bytes.length : next - 1;
    if (end > start && this.#bytes[end - 1] === 0x0d) end--;
    return new TextDecoder().decode(this.#bytes.subarray(start, end));
  }

  /** The number of lines (a trailing newline opens one more, empty line). */
  get lineCount(): number {
    return this.#lineStarts.length;
  }
}
