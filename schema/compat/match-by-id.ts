/**
 * Matches the items of one id space (types, the fields of a type, the values of an
 * enum) between an old and a new version. Ids are identity, so items pair by id; a
 * name that shows up under another id is a move (the old id is not reserved) and is
 * reported as such instead of as a rename on one side and a removal on the other. Ids
 * are paired whatever moved: the item that declares an old id now is what stored data and
 * old clients get under it, so it is compared with the old one.
 */

import { type IdRange, inRanges } from "../model.ts";
import { rangesOfIds, subtractRanges } from "./id-ranges.ts";

/** What the matcher needs to know about an item. */
export interface MatchScope<T> {
  readonly oldItems: readonly T[];
  readonly newItems: readonly T[];
  readonly oldReserved: readonly IdRange[];
  readonly newReserved: readonly IdRange[];
  /** Tombstones of the old version: ids used once and dropped without a reservation. */
  readonly oldRetired?: readonly IdRange[] | undefined;
  /** The item's id (for enum values, its number). */
  readonly idOf: (item: T) => number;
  readonly nameOf: (item: T) => string;
  /** For spaces shared by several kinds (node and edge types): the item's kind. */
  readonly kindOf?: (item: T) => string;
}

/** An old item and the new item it corresponds to. */
export interface MatchedPair<T> {
  readonly old: T;
  readonly new: T;
}

/** How the items of the two versions correspond. */
export interface IdMatch<T> {
  /** Same id and kind on both sides: compare them (names may differ: a rename). */
  readonly pairs: readonly MatchedPair<T>[];
  /** Same id, but a different kind of thing on each side. */
  readonly kindChanged: readonly MatchedPair<T>[];
  /** Same name and kind, another id, and the old id was not reserved. */
  readonly moved: readonly MatchedPair<T>[];
  /** New ids that were neither used nor reserved before. */
  readonly added: readonly T[];
  /** New ids that were reserved before. */
  readonly reused: readonly T[];
  /** New ids that the old version kept as tombstones (used once, dropped unreserved). */
  readonly reusedRetired: readonly T[];
  /** Old ids that are gone and not reserved. */
  readonly removed: readonly T[];
  /** Old ids that are gone and now reserved. */
  readonly retired: readonly T[];
  /** Ids reserved before that are neither reserved nor used now. */
  readonly reservationsRemoved: readonly IdRange[];
  /** Ids reserved now that were neither reserved nor used before. */
  readonly reservationsAdded: readonly IdRange[];
}

/** Pairs the items of one id space; see {@link IdMatch}. */
export function matchById<T>(scope: MatchScope<T>): IdMatch<T> {
  const { idOf, nameOf } = scope;
  const kindOf = scope.kindOf ?? (() => "");
  const oldById = new Map(scope.oldItems.map((item) => [idOf(item), item]));
  const newById = new Map(scope.newItems.map((item) => [idOf(item), item]));
  const oldByName = new Map(scope.oldItems.map((item) => [nameOf(item), item]));

  const moved: MatchedPair<T>[] = [];
  const movedNew = new Set<T>();
  const movedOldIds = new Set<number>();
  for (const item of scope.newItems) {
    const before = oldByName.get(nameOf(item));
    if (
      before !== undefined &&
      idOf(before) !== idOf(item) &&
      kindOf(before) === kindOf(item) &&
      !inRanges(scope.newReserved, idOf(before))
    ) {
      moved.push({ old: before, new: item });
      movedNew.add(item);
      movedOldIds.add(idOf(before));
    }
  }

  const pairs: MatchedPair<T>[] = [];
  const kindChanged: MatchedPair<T>[] = [];
  const added: T[] = [];
  const reused: T[] = [];
  const reusedRetired: T[] = [];
  // A move is reported, and the id it moved to is still judged by what it held: stored
  // data and old clients use ids, so a rule allowed for the move (or for a swap of two
  // names) must not let a changed kind, a reused reservation or the like go unreported.
  for (const item of scope.newItems) {
    const before = oldById.get(idOf(item));
    if (before === undefined) {
      if (inRanges(scope.oldReserved, idOf(item))) reused.push(item);
      else if (inRanges(scope.oldRetired ?? [], idOf(item))) reusedRetired.push(item);
      else if (!movedNew.has(item)) added.push(item);
    } else if (kindOf(before) !== kindOf(item)) {
      kindChanged.push({ old: before, new: item });
    } else {
      pairs.push({ old: before, new: item });
    }
  }

  const removed: T[] = [];
  const retired: T[] = [];
  for (const item of scope.oldItems) {
    if (movedOldIds.has(idOf(item)) || newById.has(idOf(item))) continue;
    (inRanges(scope.newReserved, idOf(item)) ? retired : removed).push(item);
  }

  const oldIds = rangesOfIds(oldById.keys());
  const newIds = rangesOfIds(newById.keys());
  return {
    pairs,
    kindChanged,
    moved,
    added,
    reused,
    reusedRetired,
    removed,
    retired,
    reservationsRemoved: subtractRanges(
      subtractRanges(scope.oldReserved, scope.newReserved),
      newIds,
    ),
    reservationsAdded: subtractRanges(subtractRanges(scope.newReserved, scope.oldReserved), oldIds),
  };
}
