/**
 * Set arithmetic on inclusive id ranges, for comparing reservations. Works on
 * ranges, never on expanded ids: `reserved 1 to 500000000;` must stay cheap.
 */

import { normalizeRanges } from "../fingerprint.ts";
import type { IdRange } from "../model.ts";

/** The ids in `a` that are not in `b`, as sorted, merged ranges. */
export function subtractRanges(a: readonly IdRange[], b: readonly IdRange[]): IdRange[] {
  let rest = normalizeRanges(a);
  for (const cut of normalizeRanges(b)) {
    const next: IdRange[] = [];
    for (const r of rest) {
      if (cut.last < r.first || cut.first > r.last) {
        next.push(r);
        continue;
      }
      if (cut.first > r.first) next.push({ first: r.first, last: cut.first - 1 });
      if (cut.last < r.last) next.push({ first: cut.last + 1, last: r.last });
    }
    rest = next;
  }
  return rest;
}

/** Single ids as sorted, merged ranges. */
export function rangesOfIds(ids: Iterable<number>): IdRange[] {
  return normalizeRanges([...ids].map((id) => ({ first: id, last: id })));
}

/** `11`, `11 to 12`, `3, 7 to 9`: how the DSL writes them after `reserved`. */
export function formatRanges(ranges: readonly IdRange[]): string {
  return ranges
    .map((r) => (r.first === r.last ? `${r.first}` : `${r.first} to ${r.last}`))
    .join(", ");
}

/** Whether the ranges cover more than one id (for "id" versus "ids"). */
export function coversSeveral(ranges: readonly IdRange[]): boolean {
  return ranges.length > 1 || (ranges[0] !== undefined && ranges[0].last > ranges[0].first);
}
