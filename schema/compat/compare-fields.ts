/**
 * Compares the fields of one node type (or the properties of one edge type) that
 * exists in both versions, and a node type's composite constraints. Fields pair by id.
 */

import {
  type CompositeConstraint,
  type DefaultValue,
  type EdgeType,
  type ElementType,
  enumByName,
  type Field,
  type FieldType,
  type NodeType,
  nodeById,
  type Schema,
} from "../model.ts";
import type { CompatContext } from "./compat-context.ts";
import {
  fieldSubject,
  compatMessages as msg,
  type TypeLabel,
  typeSubject,
} from "./compat-messages.ts";
import { matchById } from "./match-by-id.ts";

/**
 * Compares the fields of a type present in both versions. `owner` labels the type
 * with its new name; findings about removed fields point at the new type.
 */
export function compareFields(
  ctx: CompatContext,
  owner: TypeLabel,
  before: NodeType | EdgeType,
  after: NodeType | EdgeType,
): void {
  const m = matchById<Field>({
    oldItems: before.fields,
    newItems: after.fields,
    oldReserved: before.reservedIds,
    newReserved: after.reservedIds,
    oldRetired: before.retiredIds,
    idOf: (f) => f.id,
    nameOf: (f) => f.name,
  });
  for (const { old, new: f } of m.moved) {
    ctx.report(msg.fieldIdChanged(owner, f.name, old.id, f.id), f.span);
  }
  for (const f of m.added) {
    // Required even with a default: a default fills creates, never what is already stored.
    const draft = f.required
      ? msg.fieldAddedRequired(owner, f.name, f.id, f.default !== undefined)
      : msg.fieldAdded(owner, f.name, f.id);
    ctx.report(draft, f.span);
  }
  for (const f of m.reused) {
    ctx.report(msg.reservedIdReused(fieldSubject(owner, f.name, f.id), "field id", f.id), f.span);
  }
  for (const f of m.reusedRetired) {
    ctx.report(msg.retiredIdReused(fieldSubject(owner, f.name, f.id), "field id", f.id), f.span);
  }
  for (const f of m.removed) ctx.report(msg.fieldRemoved(owner, f.name, f.id), after.span);
  for (const f of m.retired) ctx.report(msg.fieldRetired(owner, f.name, f.id), after.span);
  if (m.reservationsRemoved.length > 0) {
    ctx.report(
      msg.reservationRemoved(typeSubject(owner), "field id", m.reservationsRemoved),
      after.span,
    );
  }
  if (m.reservationsAdded.length > 0) {
    ctx.report(
      msg.reservationAdded(typeSubject(owner), "field id", m.reservationsAdded),
      after.span,
    );
  }
  for (const pair of m.pairs) compareField(ctx, owner, pair.old, pair.new);
}

/** Compares the composite uniques and indexes of a node type present in both versions. */
export function compareComposites(
  ctx: CompatContext,
  owner: TypeLabel,
  before: NodeType,
  after: NodeType,
): void {
  const oldFieldIds = new Set(before.fields.map((f) => f.id));
  const names = (c: CompositeConstraint): string[] =>
    c.fieldIds.map(
      (id) =>
        after.fields.find((f) => f.id === id)?.name ??
        before.fields.find((f) => f.id === id)?.name ??
        `#${id}`,
    );
  // A unique is a set of fields; an index is a sequence (its order decides what it serves).
  const uniqueKey = (c: CompositeConstraint): string =>
    [...c.fieldIds].sort((a, b) => a - b).join(",");
  const indexKey = (c: CompositeConstraint): string => c.fieldIds.join(",");

  const oldUniques = new Set(before.uniques.map(uniqueKey));
  const newUniques = new Set(after.uniques.map(uniqueKey));
  for (const c of after.uniques) {
    // Over a field that did not exist, every existing node holds no value, and no
    // values do not collide: only a unique over existing fields can fail on old data.
    if (!oldUniques.has(uniqueKey(c)) && c.fieldIds.every((id) => oldFieldIds.has(id))) {
      ctx.report(msg.compositeUniqueAdded(owner, names(c)), c.span ?? after.span);
    }
  }
  for (const c of before.uniques) {
    if (!newUniques.has(uniqueKey(c))) {
      ctx.report(msg.compositeUniqueRemoved(owner, names(c)), after.span);
    }
  }

  const oldIndexes = new Set(before.indexes.map(indexKey));
  const newIndexes = new Set(after.indexes.map(indexKey));
  for (const c of after.indexes) {
    if (!oldIndexes.has(indexKey(c))) {
      ctx.report(msg.compositeIndexAdded(owner, names(c)), c.span ?? after.span);
    }
  }
  for (const c of before.indexes) {
    if (!newIndexes.has(indexKey(c))) {
      ctx.report(msg.compositeIndexRemoved(owner, names(c)), after.span);
    }
  }
}

function compareField(ctx: CompatContext, owner: TypeLabel, before: Field, after: Field): void {
  const span = after.span;
  const { id, name } = after;
  if (before.name !== after.name) ctx.report(msg.fieldRenamed(owner, before.name, name, id), span);

  if (!compareFieldType(ctx, owner, before, after)) return;

  if (before.required !== after.required) {
    ctx.report(
      after.required
        ? msg.fieldRequiredAdded(owner, name, id)
        : msg.fieldRequiredRemoved(owner, name, id),
      span,
    );
  }
  if (before.unique !== after.unique) {
    ctx.report(
      after.unique
        ? msg.fieldUniqueAdded(owner, name, id)
        : msg.fieldUniqueRemoved(owner, name, id),
      span,
    );
  }
  if (before.index !== after.index) {
    ctx.report(msg.fieldIndexChanged(owner, name, id, after.index), span);
  }
  if (before.searchable !== after.searchable) {
    ctx.report(msg.fieldSearchableChanged(owner, name, id, after.searchable), span);
  } else if (after.searchable && (before.searchWeight ?? 1) !== (after.searchWeight ?? 1)) {
    const was = before.searchWeight ?? 1;
    ctx.report(msg.fieldSearchWeightChanged(owner, name, id, was, after.searchWeight ?? 1), span);
  }
  if ((before.inheritAccess ?? false) !== (after.inheritAccess ?? false)) {
    ctx.report(
      after.inheritAccess
        ? msg.inheritAccessAdded(owner, name, id)
        : msg.inheritAccessRemoved(owner, name, id),
      span,
    );
  }
  if (!sameDefault(ctx, before, after)) {
    ctx.report(
      msg.fieldDefaultChanged(
        owner,
        name,
        id,
        formatDefault(before.default),
        formatDefault(after.default),
      ),
      span,
    );
  }
  if (before.deprecated !== after.deprecated) {
    ctx.report(msg.deprecationChanged(fieldSubject(owner, name, id), after.deprecated), span);
  }
}

/**
 * Reports a kind or ref target change; links enums the field holds on both sides.
 * Returns false when the kind changed, since option changes on top of a new kind
 * say nothing more (the advice is a new field either way).
 */
function compareFieldType(
  ctx: CompatContext,
  owner: TypeLabel,
  before: Field,
  after: Field,
): boolean {
  const oldElement = elementOf(before.type);
  const newElement = elementOf(after.type);
  const describe = (): [string, string] => [
    describeType(before.type, ctx.oldSchema),
    describeType(after.type, ctx.newSchema),
  ];
  if (
    (before.type.kind === "list") !== (after.type.kind === "list") ||
    oldElement.kind !== newElement.kind
  ) {
    ctx.report(msg.fieldKindChanged(owner, after.name, after.id, ...describe()), after.span);
    return false;
  }
  if (oldElement.kind === "enum" && newElement.kind === "enum") {
    const from = oldElement.enumName;
    const to = newElement.enumName;
    // Both enums exist on both sides: the field switched enums (nothing was renamed), so
    // what counts is how the stored numbers read under the other enum.
    if (from !== to && enumByName(ctx.newSchema, from) && enumByName(ctx.oldSchema, to)) {
      const changed = renumberedMeanings(
        enumByName(ctx.oldSchema, from)?.values ?? [],
        enumByName(ctx.newSchema, to)?.values ?? [],
      );
      if (changed.length > 0) {
        ctx.report(
          msg.fieldEnumSwitched(owner, after.name, after.id, from, to, changed),
          after.span,
        );
      }
    } else {
      ctx.linkEnums(from, to);
    }
  }
  if (
    oldElement.kind === "ref" &&
    newElement.kind === "ref" &&
    oldElement.targetId !== newElement.targetId
  ) {
    const [oldType, newType] = describe();
    ctx.report(
      msg.refTargetChanged(
        owner,
        after.name,
        after.id,
        `${oldType} (node type id ${oldElement.targetId})`,
        `${newType} (node type id ${newElement.targetId})`,
      ),
      after.span,
    );
  }
  return true;
}

/** How each stored number of the old enum reads under the new one, where that changed. */
function renumberedMeanings(
  before: readonly { readonly number: number; readonly name: string }[],
  after: readonly { readonly number: number; readonly name: string }[],
): string[] {
  const byNumber = new Map(after.map((v) => [v.number, v.name]));
  const out: string[] = [];
  for (const v of before) {
    const now = byNumber.get(v.number);
    if (now === undefined) out.push(`${v.number} ('${v.name}') has no value`);
    else if (now !== v.name) out.push(`${v.number} ('${v.name}') would read as '${now}'`);
  }
  return out;
}

function elementOf(type: FieldType): ElementType {
  return type.kind === "list" ? type.element : type;
}

/** A type as the message shows it: `string`, `enum 'TaskStatus'`, `ref<User>`, `list<ref<User>>`. */
export function describeType(type: FieldType, schema: Schema): string {
  if (type.kind === "list") return `list<${dslType(type.element, schema)}>`;
  if (type.kind === "enum") return `enum '${type.enumName}'`;
  return dslType(type, schema);
}

function dslType(type: ElementType, schema: Schema): string {
  switch (type.kind) {
    case "enum":
      return type.enumName;
    case "ref":
      return `ref<${nodeById(schema, type.targetId)?.name ?? `#${type.targetId}`}>`;
    default:
      return type.kind;
  }
}

/**
 * Enum defaults compare by number, so renaming the default's enum value is not a
 * default change; every other default compares by value.
 */
function sameDefault(ctx: CompatContext, before: Field, after: Field): boolean {
  const a = before.default;
  const b = after.default;
  if (a === undefined || b === undefined) return a === b;
  if (a.kind === "enum" && b.kind === "enum") {
    const number = (schema: Schema, type: FieldType, value: string): number | undefined => {
      const element = elementOf(type);
      if (element.kind !== "enum") return undefined;
      return enumByName(schema, element.enumName)?.values.find((v) => v.name === value)?.number;
    };
    const oldNumber = number(ctx.oldSchema, before.type, a.value);
    const newNumber = number(ctx.newSchema, after.type, b.value);
    return oldNumber === undefined ? a.value === b.value : oldNumber === newNumber;
  }
  return a.kind === b.kind && formatDefault(a) === formatDefault(b);
}

function formatDefault(value: DefaultValue | undefined): string | undefined {
  if (value === undefined) return undefined;
  switch (value.kind) {
    case "string":
    case "timestamp":
      return JSON.stringify(value.value);
    case "int":
      return value.value.toString(10);
    default:
      return String(value.value);
  }
}
