/**
 * Prints diagnostics for people (rustc-style text with the source line and a caret
 * underline) or for tools (a JSON array). Line and column are computed here, from
 * byte spans, and nowhere earlier.
 */

import type { Diagnostic } from "./diagnostic.ts";
import { LineIndex, type SourceFile, type Span } from "./span.ts";

/** How to render. */
export interface RenderOptions {
  /** `text` (default) for terminals, `json` for tools. */
  readonly format?: "text" | "json";
  /** ANSI colors in text output (default false). */
  readonly color?: boolean;
}

/**
 * One diagnostic in `--format json` output. Lines and columns are 1-based (columns in
 * UTF-16 code units, as {@link LineIndex} counts them); `endLine:endCol` is exclusive.
 * Each note starts with `note: ` or `help: `.
 */
export interface JsonDiagnostic {
  readonly code: string;
  readonly severity: Diagnostic["severity"];
  readonly message: string;
  readonly file: string;
  readonly line: number;
  readonly col: number;
  readonly endLine: number;
  readonly endCol: number;
  readonly label?: string;
  readonly notes?: readonly string[];
}

/**
 * Renders diagnostics of one source. Text output separates diagnostics by a blank
 * line and ends with a summary line (nothing at all when there are no diagnostics);
 * JSON output is an array of {@link JsonDiagnostic}.
 */
export function renderDiagnostics(
  diagnostics: readonly Diagnostic[],
  source: SourceFile,
  options: RenderOptions = {},
): string {
  const index = new LineIndex(source.text);
  if (options.format === "json") {
    return `${JSON.stringify(
      diagnostics.map((d) => toJson(d, source.path, index)),
      null,
      2,
    )}\n`;
  }
  if (diagnostics.length === 0) return "";
  const style = options.color === true ? ANSI : PLAIN;
  const blocks = diagnostics.map((d) => renderOne(d, source.path, index, style));
  blocks.push(summary(diagnostics, source.path, style));
  return `${blocks.join("\n\n")}\n`;
}

/** Converts one diagnostic to its JSON form. */
export function toJson(diagnostic: Diagnostic, file: string, index: LineIndex): JsonDiagnostic {
  const start = index.lineCol(diagnostic.span.start);
  const end = index.lineCol(diagnostic.span.end);
  return {
    code: diagnostic.code,
    severity: diagnostic.severity,
    message: diagnostic.message,
    file,
    line: start.line,
    col: start.col,
    endLine: end.line,
    endCol: end.col,
    ...(diagnostic.label !== undefined ? { label: diagnostic.label } : {}),
    ...(diagnostic.notes !== undefined ? { notes: diagnostic.notes } : {}),
  };
}

interface Style {
  readonly error: (s: string) => string;
  readonly warning: (s: string) => string;
  readonly gutter: (s: string) => string;
  readonly bold: (s: string) => string;
}

const PLAIN: Style = { error: (s) => s, warning: (s) => s, gutter: (s) => s, bold: (s) => s };

const ANSI: Style = {
  error: (s) => `\x1b[1;31m${s}\x1b[0m`,
  warning: (s) => `\x1b[1;33m${s}\x1b[0m`,
  gutter: (s) => `\x1b[1;34m${s}\x1b[0m`,
  bold: (s) => `\x1b[1m${s}\x1b[0m`,
};

/** How {@link renderSpanLines} styles its lines; plain text when a function is absent. */
export interface SpanLinesStyle {
  /** Printed after the carets. */
  readonly label?: string | undefined;
  /** Styles the carets and the label. */
  readonly mark?: (s: string) => string;
  /** Styles the gutter (`12 |`). */
  readonly gutter?: (s: string) => string;
}

/**
 * The source lines that show where `span` is, as a diagnostic prints them under its
 * `-->` line: an empty gutter line, the span's first source line (tabs expanded) and
 * carets under the span on that line (one at least), then `label`:
 *
 * ```text
 *    |
 * 48 |   description: int = 3;
 *    |   ^^^^^^^^^^^^^^^^^^^^^
 * ```
 */
export function renderSpanLines(
  index: LineIndex,
  span: Span,
  style: SpanLinesStyle = {},
): readonly string[] {
  const mark = style.mark ?? PLAIN.error;
  const gutter = style.gutter ?? PLAIN.gutter;
  const start = index.lineCol(span.start);
  const end = index.lineCol(span.end);
  const lineText = index.lineText(start.line);
  const prefix = lineText.slice(0, start.col - 1);
  const underlined =
    end.line === start.line
      ? lineText.slice(start.col - 1, end.col - 1)
      : lineText.slice(start.col - 1);
  const carets = "^".repeat(Math.max(1, displayWidth(underlined)));
  const number = String(start.line);
  const bar = gutter(`${" ".repeat(number.length)} |`);
  return [
    bar,
    `${gutter(`${number} |`)} ${expandTabs(lineText)}`.trimEnd(),
    `${bar} ${" ".repeat(displayWidth(prefix))}${mark(
      style.label === undefined ? carets : `${carets} ${style.label}`,
    )}`,
  ];
}

function renderOne(diagnostic: Diagnostic, path: string, index: LineIndex, style: Style): string {
  const severityStyle = diagnostic.severity === "error" ? style.error : style.warning;
  const start = index.lineCol(diagnostic.span.start);
  const pad = " ".repeat(String(start.line).length);
  const bar = style.gutter(`${pad} |`);
  const lines = [
    `${severityStyle(`${diagnostic.severity}[${diagnostic.code}]`)}${style.bold(`: ${diagnostic.message}`)}`,
    `${pad}${style.gutter("-->")} ${path}:${start.line}:${start.col}`,
    ...renderSpanLines(index, diagnostic.span, {
      label: diagnostic.label,
      mark: severityStyle,
      gutter: style.gutter,
    }),
  ];
  const notes = diagnostic.notes ?? [];
  if (notes.length > 0) lines.push(bar);
  for (const note of notes) {
    const [kind, text] = note.startsWith("help: ")
      ? ["help", note.slice(6)]
      : ["note", note.replace(/^note: /, "")];
    lines.push(`${pad} ${style.gutter("=")} ${style.bold(`${kind}:`)} ${text}`);
  }
  return lines.join("\n");
}

function summary(diagnostics: readonly Diagnostic[], path: string, style: Style): string {
  const errors = diagnostics.filter((d) => d.severity === "error").length;
  const warnings = diagnostics.length - errors;
  const count = (n: number, word: string): string => `${n} ${word}${n === 1 ? "" : "s"}`;
  if (errors === 0)
    return `${style.warning("warning")}: '${path}' compiled with ${count(warnings, "warning")}`;
  const parts = [count(errors, "error"), ...(warnings > 0 ? [count(warnings, "warning")] : [])];
  return `${style.error("error")}: could not compile '${path}' (${parts.join(", ")})`;
}

const TAB_WIDTH = 4;

function expandTabs(text: string): string {
  return text.includes("\t") ? text.replaceAll("\t", " ".repeat(TAB_WIDTH)) : text;
}

// One character class per test, no quantifiers: constant time per character.
const ZERO_WIDTH = /[\p{Mn}\p{Me}\p{Cf}]/u;

/** Terminal columns a text takes: wide East Asian characters and emoji count two, combining marks none. */
export function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    if (cp === 9) width += TAB_WIDTH;
    else if (cp < 0x20 || cp === 0x7f) width += 0;
    else if (cp < 0x300) width += 1;
    else if (ZERO_WIDTH.test(ch)) width += 0;
    else width += isWide(cp) ? 2 : 1;
  }
  return width;
}

function isWide(cp: number): boolean {
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f680 && cp <= 0x1f6ff) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}
