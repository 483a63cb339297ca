/**
 * The compatibility check: compares an old version of a schema (usually read from
 * the committed lock file) with a new one and classifies every difference by a rule
 * of the catalog. Identity is by id, so renames are safe and reported as such.
 */

import type { Schema } from "../model.ts";
import { compareEnums, type EnumLink } from "./compare-enums.ts";
import { compareTypes } from "./compare-types.ts";
import type { CompatContext } from "./compat-context.ts";
import { compatMessages as msg } from "./compat-messages.ts";
import { createFinding, type Finding, sortFindings } from "./finding.ts";

/**
 * Every difference between `oldSchema` and `newSchema`, breaking and safe, sorted by
 * position in the new file, then rule. An empty list means nothing in the contract
 * changed (doc comments and layout are not part of it).
 */
export function checkCompat(oldSchema: Schema, newSchema: Schema): Finding[] {
  const findings: Finding[] = [];
  const links: EnumLink[] = [];
  const ctx: CompatContext = {
    oldSchema,
    newSchema,
    report: (draft, span) => findings.push(createFinding(draft, span)),
    linkEnums: (oldName, newName) => links.push({ oldName, newName }),
  };
  if (oldSchema.package !== newSchema.package) {
    ctx.report(msg.packageChanged(oldSchema.package, newSchema.package), undefined);
  }
  compareTypes(ctx);
  compareEnums(ctx, links);
  return sortFindings(findings);
}

/** Whether any finding is breaking and not in `allowed`. */
export function hasBreaking(
  findings: readonly Finding[],
  allowed: ReadonlySet<string> = new Set(),
): boolean {
  return findings.some((f) => f.category === "breaking" && !allowed.has(f.rule));
}
