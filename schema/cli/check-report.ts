/**
 * How `entdb check` prints findings: `text` for people (each finding located in the new
 * schema file is followed by its source line and carets, as a compile diagnostic shows
 * them), `json` for tools, `github` for workflow annotations.
 */

import type { Finding } from "../compat/index.ts";
import { renderSpanLines } from "../render-diagnostics.ts";
import { LineIndex, type SourceFile } from "../span.ts";
import { githubAnnotation } from "./load-schema.ts";

/** The output formats of `entdb check`. */
export type CheckFormat = "text" | "json" | "github";

/** The formats, for option validation and help. */
export const CHECK_FORMATS: readonly CheckFormat[] = ["text", "json", "github"];

/** What a report is about. */
export interface CheckReportInput {
  readonly findings: readonly Finding[];
  /** Rules the user allowed with `--allow`: printed, but they do not fail the check. */
  readonly allowed: ReadonlySet<string>;
  /** The new schema, where findings are located. */
  readonly source: SourceFile;
  /** How the baseline was named on the command line. */
  readonly against: string;
}

/** One finding as JSON tools read it. `line`/`col` are null for things gone from the file. */
export interface FindingJson {
  readonly rule: string;
  readonly category: "breaking" | "safe";
  readonly allowed: boolean;
  readonly file: string;
  readonly line: number | null;
  readonly col: number | null;
  readonly message: string;
}

/** Counts of a report; `breaking` excludes allowed ones. */
export interface CheckCounts {
  readonly breaking: number;
  readonly allowed: number;
  readonly safe: number;
}

/** Counts findings by outcome. */
export function countFindings(
  findings: readonly Finding[],
  allowed: ReadonlySet<string>,
): CheckCounts {
  let breaking = 0;
  let allowedCount = 0;
  let safe = 0;
  for (const f of findings) {
    if (f.category === "safe") safe++;
    else if (allowed.has(f.rule)) allowedCount++;
    else breaking++;
  }
  return { breaking, allowed: allowedCount, safe };
}

/** Renders the findings and a summary line (text and github) or one JSON document. */
export function renderCheckReport(input: CheckReportInput, format: CheckFormat): string {
  const lines = new LineIndex(input.source.text);
  const file = input.source.path;
  const located = input.findings.map((f) => {
    const at = f.span === undefined ? undefined : lines.lineCol(f.span.start);
    const allowed = f.category === "breaking" && input.allowed.has(f.rule);
    return { finding: f, at, allowed };
  });
  const counts = countFindings(input.findings, input.allowed);
  const ok = counts.breaking === 0;

  if (format === "json") {
    const findings: FindingJson[] = located.map(({ finding: f, at, allowed }) => ({
      rule: f.rule,
      category: f.category,
      allowed,
      file,
      line: at?.line ?? null,
      col: at?.col ?? null,
      message: f.message,
    }));
    return `${JSON.stringify({ ok, schema: file, against: input.against, ...counts, findings }, null, 2)}\n`;
  }

  // Text: one block per finding, separated by blank lines as compile diagnostics are.
  const out: string[] = [];
  for (const { finding: f, at, allowed } of located) {
    if (format === "github") {
      const level = f.category === "safe" ? "notice" : allowed ? "warning" : "error";
      const props =
        at === undefined
          ? { file, title: f.rule }
          : { file, line: at.line, col: at.col, title: f.rule };
      out.push(githubAnnotation(level, props, f.message));
    } else {
      const status = allowed ? "allowed" : f.category;
      const where = at === undefined ? file : `${file}:${at.line}:${at.col}`;
      // Where it is, as a compile diagnostic shows it (nothing for what left the file).
      const snippet = f.span === undefined ? [] : renderSpanLines(lines, f.span);
      out.push([`${status}[${f.rule}] ${where}: ${f.message}`, ...snippet, ""].join("\n"));
    }
  }
  out.push(summaryLine(file, input.against, counts));
  return `${out.join("\n")}\n`;
}

/** `ok: schema.entdb is compatible with schema.lock.json (0 breaking, 0 allowed, 2 safe)`. */
export function summaryLine(file: string, against: string, counts: CheckCounts): string {
  const tally = `(${counts.breaking} breaking, ${counts.allowed} allowed, ${counts.safe} safe)`;
  return counts.breaking === 0
    ? `ok: ${file} is compatible with ${against} ${tally}`
    : `error: ${file} is not compatible with ${against} ${tally}`;
}
