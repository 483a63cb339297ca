/**
 * Tombstones: the lock keeps every id ever used. When a new lock replaces an old one,
 * each id the old lock used (or already remembered) that the new schema neither uses
 * nor reserves is kept as retired. A removal without `reserved` is breaking and
 * refused unless accepted; once accepted, this is what keeps a later reuse of the id
 * from passing `entdb check` as a brand-new field.
 */

import { rangesOfIds, subtractRanges } from "./compat/id-ranges.ts";
import { normalizeRanges } from "./fingerprint.ts";
import type { EdgeType, EnumType, IdRange, NodeType, Schema } from "./model.ts";

/** `next` with the tombstones it inherits from `previous` (the lock it replaces). */
export function withTombstones(next: Schema, previous: Schema): Schema {
  const prevTypes = new Map<number, NodeType | EdgeType>();
  for (const t of [...previous.nodes, ...previous.edges]) prevTypes.set(t.id, t);
  const prevEnums = new Map(previous.enums.map((e) => [e.name, e]));
  const typeIds = [...next.nodes, ...next.edges].map((t) => t.id);
  const inherit = <T extends NodeType | EdgeType>(t: T): T => {
    const before = prevTypes.get(t.id);
    if (before === undefined) return t;
    return withRetired(
      t,
      "retiredIds",
      retiredOf(
        before.fields.map((f) => f.id),
        before.retiredIds,
        t.fields.map((f) => f.id),
        t.reservedIds,
      ),
    );
  };
  const inheritEnum = (e: EnumType): EnumType => {
    const before = prevEnums.get(e.name);
    if (before === undefined) return e;
    return withRetired(
      e,
      "retiredNumbers",
      retiredOf(
        before.values.map((v) => v.number),
        before.retiredNumbers,
        e.values.map((v) => v.number),
        e.reservedNumbers,
      ),
    );
  };
  return withRetired(
    {
      ...next,
      nodes: next.nodes.map(inherit),
      edges: next.edges.map(inherit),
      enums: next.enums.map(inheritEnum),
    },
    "retiredIds",
    retiredOf([...prevTypes.keys()], previous.retiredIds, typeIds, next.reservedIds),
  );
}

/** (ids used before ∪ retired before) − ids used now − ids reserved now. */
function retiredOf(
  usedBefore: readonly number[],
  retiredBefore: readonly IdRange[] | undefined,
  usedNow: readonly number[],
  reservedNow: readonly IdRange[],
): IdRange[] {
  const before = normalizeRanges([...rangesOfIds(usedBefore), ...(retiredBefore ?? [])]);
  return subtractRanges(subtractRanges(before, rangesOfIds(usedNow)), reservedNow);
}

function withRetired<T extends object, K extends string>(
  item: T,
  key: K,
  ranges: readonly IdRange[],
): T {
  if (ranges.length === 0) {
    if (!(key in item)) return item;
    const { [key]: _dropped, ...rest } = item as T & Record<K, unknown>;
    return rest as unknown as T;
  }
  return { ...item, [key]: ranges };
}
