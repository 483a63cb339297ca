/**
 * A finding: one change between two versions of a schema, classified by a rule of
 * the catalog. Findings point into the new file when the changed thing exists there.
 */

import type { Span } from "../span.ts";
import { type CompatCategory, type CompatRuleId, ruleCategory } from "./compat-rules.ts";

/** One classified change. */
export interface Finding {
  /** The rule id, e.g. `FIELD_KIND_CHANGED`. */
  readonly rule: CompatRuleId;
  readonly category: CompatCategory;
  /** A full sentence stating the old and new values and, when breaking, the safe way. */
  readonly message: string;
  /** Where the change is in the new file; absent when the thing is gone from it. */
  readonly span?: Span;
}

/** A rule and its message, before a location is attached. */
export interface FindingDraft {
  readonly rule: CompatRuleId;
  readonly message: string;
}

/** Builds a finding from a draft, taking the category from the catalog. */
export function createFinding(draft: FindingDraft, span: Span | undefined): Finding {
  const base = { rule: draft.rule, category: ruleCategory(draft.rule), message: draft.message };
  return span === undefined ? base : { ...base, span };
}

/**
 * Orders findings by position in the new file (those without a position first: they
 * concern the whole schema or things that are gone), then by rule, then by message,
 * so the output is the same on every run.
 */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) =>
      (a.span?.start ?? -1) - (b.span?.start ?? -1) ||
      compare(a.rule, b.rule) ||
      compare(a.message, b.message),
  );
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
