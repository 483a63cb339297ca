/**
 * "Did you mean …?" suggestions: the closest known name by edit distance, plus the
 * names people bring from other languages for the scalar kinds (`integer`, `boolean`).
 */

import type { ScalarKind } from "./model.ts";

/**
 * Edit distance with adjacent transpositions (optimal string alignment), so
 * `Stauts` → `Status` and `requried` → `required` are one edit each.
 */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  const width = b.length + 1;
  let prevPrev = new Array<number>(width).fill(0);
  let prev = Array.from({ length: width }, (_, j) => j);
  let row = new Array<number>(width).fill(0);
  for (let i = 1; i <= a.length; i++) {
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, prevPrev[j - 2]! + 1);
      }
      row[j] = best;
    }
    [prevPrev, prev, row] = [prev, row, prevPrev];
  }
  return prev[b.length]!;
}

/**
 * The candidate closest to `name`, if one is close enough: at most a third of the
 * name's length in edits (at least one), ignoring case. Ties go to the candidate
 * that also matches case better, then to the earlier candidate.
 */
export function closestName(name: string, candidates: Iterable<string>): string | undefined {
  const lower = name.toLowerCase();
  const limit = Math.max(1, Math.floor(name.length / 3));
  let best: string | undefined;
  let bestScore = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    if (candidate === name || Math.abs(candidate.length - name.length) > limit) continue;
    const distance = editDistance(lower, candidate.toLowerCase());
    if (distance > limit) continue;
    // Case differences only break ties: `string` beats `strings` for `String`.
    const score = distance * 1000 + Math.min(999, editDistance(name, candidate));
    if (score < bestScore) {
      best = candidate;
      bestScore = score;
    }
  }
  return best;
}

const KIND_ALIASES: ReadonlyMap<string, ScalarKind> = new Map<string, ScalarKind>([
  ["str", "string"],
  ["text", "string"],
  ["varchar", "string"],
  ["integer", "int"],
  ["int32", "int"],
  ["int64", "int"],
  ["i32", "int"],
  ["i64", "int"],
  ["long", "int"],
  ["bigint", "int"],
  ["double", "float"],
  ["float64", "float"],
  ["f64", "float"],
  ["real", "float"],
  ["boolean", "bool"],
  ["datetime", "timestamp"],
  ["date", "timestamp"],
  ["time", "timestamp"],
  ["instant", "timestamp"],
  ["blob", "bytes"],
  ["binary", "bytes"],
  ["bytea", "bytes"],
  ["object", "json"],
  ["jsonb", "json"],
  ["map", "json"],
]);

/** The scalar kind another language calls `name` (e.g. `integer` → `int`), if any. */
export function kindAlias(name: string): ScalarKind | undefined {
  return KIND_ALIASES.get(name.toLowerCase());
}
