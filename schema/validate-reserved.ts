/**
 * `reserved` statements: checks the ranges and names of one scope (top level, one
 * node or edge, one enum) and answers "is this id / name reserved, and where?".
 * Ranges come out sorted and merged (`11, 12` and `11 to 12` are the same
 * reservation), so the model and the lock file have one canonical form.
 */

import type { ReservedDecl } from "./ast.ts";
import {
  duplicateReservedName,
  invalidReservedRange,
  overlappingReservedRanges,
  reservedIdOutOfRange,
} from "./messages.ts";
import type { IdRange } from "./model.ts";
import type { Span } from "./span.ts";
import type { ValidationContext } from "./validate-context.ts";

/** What a scope's `reserved` statements reserve. */
export interface ReservedSet {
  /** Sorted, merged ranges. */
  readonly ranges: readonly IdRange[];
  /** Sorted names, each once. */
  readonly names: readonly string[];
  /** The line reserving `id`, if it is reserved. */
  lineOfId(id: number): number | undefined;
  /** The line reserving `name`, if it is reserved. */
  lineOfName(name: string): number | undefined;
}

/** Which ids a scope's reservations are about: "type id", "field id" or "enum number". */
export interface ReservedScope {
  readonly what: string;
  readonly max: number;
}

interface Entry {
  readonly first: number;
  readonly last: number;
  readonly span: Span;
}

/** Checks the `reserved` statements of one scope and collects what they reserve. */
export function collectReserved(
  decls: readonly ReservedDecl[],
  scope: ReservedScope,
  ctx: ValidationContext,
): ReservedSet {
  const entries: Entry[] = [];
  const names = new Map<string, Span>();
  for (const decl of decls) {
    for (const item of decl.items) {
      if (item.kind === "ReservedName") {
        const earlier = names.get(item.name.value);
        if (earlier === undefined) names.set(item.name.value, item.span);
        else {
          ctx.report(
            duplicateReservedName(
              item.name.value,
              item.span,
              ctx.line(item.span.start),
              ctx.line(earlier.start),
            ),
          );
        }
        continue;
      }
      const first = item.first.value;
      const last = item.last?.value ?? first;
      if (first > last) {
        ctx.report(invalidReservedRange(first, last, item.span));
        continue;
      }
      if (first < 1n) {
        ctx.report(reservedIdOutOfRange(first, scope.what, scope.max, item.first.span));
        continue;
      }
      if (last > BigInt(scope.max)) {
        const bad = item.last ?? item.first;
        ctx.report(reservedIdOutOfRange(last, scope.what, scope.max, bad.span));
        continue;
      }
      entries.push({ first: Number(first), last: Number(last), span: item.span });
    }
  }

  const sorted = [...entries].sort((a, b) => a.first - b.first || a.span.start - b.span.start);
  let widest: Entry | undefined;
  for (const entry of sorted) {
    if (widest !== undefined && entry.first <= widest.last) {
      // Report the one written later, pointing back at the other.
      const [later, earlier] =
        entry.span.start > widest.span.start ? [entry, widest] : [widest, entry];
      ctx.report(
        overlappingReservedRanges(
          later,
          earlier,
          later.span,
          ctx.line(later.span.start),
          ctx.line(earlier.span.start),
        ),
      );
    }
    if (widest === undefined || entry.last > widest.last) widest = entry;
  }

  const ranges: IdRange[] = [];
  for (const entry of sorted) {
    const previous = ranges[ranges.length - 1];
    if (previous !== undefined && entry.first <= previous.last + 1) {
      ranges[ranges.length - 1] = {
        first: previous.first,
        last: Math.max(previous.last, entry.last),
      };
    } else {
      ranges.push({ first: entry.first, last: entry.last });
    }
  }

  return {
    ranges,
    names: [...names.keys()].sort(),
    lineOfId(id: number): number | undefined {
      if (!inSortedRanges(ranges, id)) return undefined;
      const entry = entries.find((e) => id >= e.first && id <= e.last);
      return entry === undefined ? undefined : ctx.line(entry.span.start);
    },
    lineOfName(name: string): number | undefined {
      const at = names.get(name);
      return at === undefined ? undefined : ctx.line(at.start);
    },
  };
}

/** Binary search over sorted, disjoint ranges. */
function inSortedRanges(ranges: readonly IdRange[], id: number): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const range = ranges[mid]!;
    if (id < range.first) hi = mid - 1;
    else if (id > range.last) lo = mid + 1;
    else return true;
  }
  return false;
}
