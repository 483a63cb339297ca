/**
 * Compares enums. Enums carry no id, so an old enum is matched to a new one by name,
 * and through every field that held the old enum and now holds the new one (a rename,
 * or a field switched to another enum). Each pair is compared once, value by number:
 * what matters is which numbers a stored value may hold and what they mean.
 */

import type { EnumType, EnumValue } from "../model.ts";
import type { CompatContext } from "./compat-context.ts";
import { enumValueSubject, compatMessages as msg } from "./compat-messages.ts";
import { matchById } from "./match-by-id.ts";

/** One enum link found through a field: old enum name, new enum name. */
export interface EnumLink {
  readonly oldName: string;
  readonly newName: string;
}

/** Compares enums matched by name and by the fields in `links`. */
export function compareEnums(ctx: CompatContext, links: readonly EnumLink[]): void {
  const oldEnums = new Map(ctx.oldSchema.enums.map((e) => [e.name, e]));
  const newEnums = new Map(ctx.newSchema.enums.map((e) => [e.name, e]));
  const pairs = new Map<string, { readonly old: EnumType; readonly new: EnumType }>();
  const addPair = (oldName: string, newName: string): void => {
    const before = oldEnums.get(oldName);
    const after = newEnums.get(newName);
    if (before !== undefined && after !== undefined) {
      pairs.set(`${oldName}\u0000${newName}`, { old: before, new: after });
    }
  };
  for (const name of newEnums.keys()) addPair(name, name);
  for (const link of links) addPair(link.oldName, link.newName);

  const pairedOld = new Set([...pairs.values()].map((p) => p.old.name));
  const pairedNew = new Set([...pairs.values()].map((p) => p.new.name));
  for (const e of ctx.newSchema.enums) {
    if (!pairedNew.has(e.name)) ctx.report(msg.enumAdded(e.name), e.span);
  }
  for (const e of ctx.oldSchema.enums) {
    if (!pairedOld.has(e.name)) ctx.report(msg.enumRemoved(e.name), undefined);
  }
  for (const { old, new: e } of pairs.values()) {
    if (old.name !== e.name && !newEnums.has(old.name) && !oldEnums.has(e.name)) {
      ctx.report(msg.enumRenamed(old.name, e.name), e.span);
    }
    compareValues(ctx, old, e);
  }
}

function compareValues(ctx: CompatContext, before: EnumType, after: EnumType): void {
  const label =
    before.name === after.name
      ? `Enum '${after.name}'`
      : `Enum '${after.name}' (was '${before.name}')`;
  const m = matchById<EnumValue>({
    oldItems: before.values,
    newItems: after.values,
    oldReserved: before.reservedNumbers,
    newReserved: after.reservedNumbers,
    oldRetired: before.retiredNumbers,
    idOf: (v) => v.number,
    nameOf: (v) => v.name,
  });
  for (const { old, new: v } of m.moved) {
    ctx.report(msg.enumValueRenumbered(label, v.name, old.number, v.number), v.span);
  }
  for (const v of m.added) ctx.report(msg.enumValueAdded(label, v.name, v.number), v.span);
  for (const v of m.reused) {
    ctx.report(
      msg.reservedIdReused(enumValueSubject(label, v.name, v.number), "number", v.number),
      v.span,
    );
  }
  for (const v of m.reusedRetired) {
    ctx.report(
      msg.retiredIdReused(enumValueSubject(label, v.name, v.number), "number", v.number),
      v.span,
    );
  }
  for (const v of m.removed) ctx.report(msg.enumValueRemoved(label, v.name, v.number), after.span);
  for (const v of m.retired) ctx.report(msg.enumValueRetired(label, v.name, v.number), after.span);
  if (m.reservationsRemoved.length > 0) {
    ctx.report(msg.reservationRemoved(label, "number", m.reservationsRemoved), after.span);
  }
  if (m.reservationsAdded.length > 0) {
    ctx.report(msg.reservationAdded(label, "number", m.reservationsAdded), after.span);
  }
  for (const { old, new: v } of m.pairs) {
    if (old.name !== v.name) {
      ctx.report(msg.enumValueRenamed(label, old.name, v.name, v.number), v.span);
    }
    if (old.deprecated !== v.deprecated) {
      ctx.report(
        msg.deprecationChanged(enumValueSubject(label, v.name, v.number), v.deprecated),
        v.span,
      );
    }
  }
}
