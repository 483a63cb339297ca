/**
 * The messages of the compatibility rules: one named constructor per rule (or per
 * shape of a rule). Every message states the old and the new value; a breaking one
 * also says what to do instead. Names are quoted; ids follow in parentheses.
 */

import type { IdRange } from "../model.ts";
import type { FindingDraft } from "./finding.ts";
import { coversSeveral, formatRanges } from "./id-ranges.ts";

/** A node or edge type, as named in a message. */
export interface TypeLabel {
  readonly kind: "node" | "edge";
  readonly id: number;
  readonly name: string;
}

/** `Node type 'Task' (id 4)` or `Edge type 'AssignedTo' (id 101)`. */
export function typeSubject(t: TypeLabel): string {
  return `${t.kind === "node" ? "Node" : "Edge"} type '${t.name}' (id ${t.id})`;
}

/** `Field 'Task.title' (id 3)` or, on an edge, `Property 'AssignedTo.share' (id 2)`. */
export function fieldSubject(owner: TypeLabel, name: string, id: number): string {
  return `${owner.kind === "node" ? "Field" : "Property"} '${owner.name}.${name}' (id ${id})`;
}

/** `Enum 'TaskStatus' value 'done' (4)`. */
export function enumValueSubject(enumLabel: string, name: string, number: number): string {
  return `${enumLabel} value '${name}' (${number})`;
}

/** `Existing 'Task' nodes` or `Existing 'AssignedTo' edges`. */
function existing(owner: TypeLabel): string {
  return `Existing '${owner.name}' ${owner.kind === "node" ? "nodes" : "edges"}`;
}

function kindWord(owner: TypeLabel): string {
  return owner.kind === "node" ? "field" : "property";
}

/** Builds the messages; grouped by what they are about. */
export const compatMessages = {
  packageChanged(oldName: string, newName: string): FindingDraft {
    return {
      rule: "PACKAGE_CHANGED",
      message: `Package changed from '${oldName}' to '${newName}'. The package is the proto package and part of every RPC path, so deployed clients stop working; keep '${oldName}'.`,
    };
  },

  typeRemoved(t: TypeLabel): FindingDraft {
    return {
      rule: t.kind === "node" ? "NODE_REMOVED" : "EDGE_REMOVED",
      message: `${typeSubject(t)} was removed without reserving its id. Stored data and old clients still use id ${t.id}; keep the type and mark it deprecated, or reserve its id: 'reserved ${t.id};'.`,
    };
  },

  typeRetired(t: TypeLabel): FindingDraft {
    return {
      rule: t.kind === "node" ? "NODE_RETIRED" : "EDGE_RETIRED",
      message: `${typeSubject(t)} was removed; its id is reserved.`,
    };
  },

  typeAdded(t: TypeLabel): FindingDraft {
    return {
      rule: t.kind === "node" ? "NODE_ADDED" : "EDGE_ADDED",
      message: `${typeSubject(t)} was added.`,
    };
  },

  typeRenamed(before: TypeLabel, newName: string): FindingDraft {
    return {
      rule: before.kind === "node" ? "NODE_RENAMED" : "EDGE_RENAMED",
      message: `${typeSubject(before)} was renamed to '${newName}'.`,
    };
  },

  typeIdChanged(after: TypeLabel, oldId: number): FindingDraft {
    const what = after.kind === "node" ? "Node" : "Edge";
    return {
      rule: "TYPE_ID_CHANGED",
      message: `${what} type '${after.name}' changed id from ${oldId} to ${after.id}. Ids are identity: stored data and old clients know it as ${oldId}; change it back to ${oldId}, or reserve ${oldId} if you mean to replace the type.`,
    };
  },

  typeIdKindChanged(before: TypeLabel, after: TypeLabel): FindingDraft {
    const word = (t: TypeLabel): string => (t.kind === "node" ? "node" : "edge");
    return {
      rule: "TYPE_ID_KIND_CHANGED",
      message: `Type id ${after.id} was ${word(before)} type '${before.name}' and is now ${word(after)} type '${after.name}'. Stored data under id ${after.id} would be read as the wrong kind of thing; give '${after.name}' an unused id and reserve ${after.id}.`,
    };
  },

  fieldRemoved(owner: TypeLabel, name: string, id: number): FindingDraft {
    return {
      rule: "FIELD_REMOVED",
      message: `${fieldSubject(owner, name, id)} was removed without reserving its id. Stored data and old clients still use id ${id}; keep the ${kindWord(owner)} and mark it deprecated, or reserve its id: 'reserved ${id};'.`,
    };
  },

  fieldRetired(owner: TypeLabel, name: string, id: number): FindingDraft {
    return {
      rule: "FIELD_RETIRED",
      message: `${fieldSubject(owner, name, id)} was removed; its id is reserved.`,
    };
  },

  fieldAdded(owner: TypeLabel, name: string, id: number): FindingDraft {
    return { rule: "FIELD_ADDED", message: `${fieldSubject(owner, name, id)} was added.` };
  },

  fieldAddedRequired(
    owner: TypeLabel,
    name: string,
    id: number,
    withDefault: boolean,
  ): FindingDraft {
    return {
      rule: "FIELD_ADDED_REQUIRED",
      message: withDefault
        ? `${fieldSubject(owner, name, id)} was added as required. ${existing(owner)} have no value for it (a default fills only what is created from now on), yet clients generated from this schema read it as always set; add it without 'required' (the default still fills new ones).`
        : `${fieldSubject(owner, name, id)} was added as required without a default. ${existing(owner)} have no value for it and old clients cannot set it; add it without 'required'.`,
    };
  },

  fieldRenamed(owner: TypeLabel, oldName: string, newName: string, id: number): FindingDraft {
    return {
      rule: "FIELD_RENAMED",
      message: `${fieldSubject(owner, oldName, id)} was renamed to '${newName}'.`,
    };
  },

  fieldIdChanged(owner: TypeLabel, name: string, oldId: number, newId: number): FindingDraft {
    const word = owner.kind === "node" ? "Field" : "Property";
    return {
      rule: "FIELD_ID_CHANGED",
      message: `${word} '${owner.name}.${name}' changed id from ${oldId} to ${newId}. Ids are identity: stored values and old clients use ${oldId}; change it back to ${oldId}, or reserve ${oldId} if you mean to replace the ${kindWord(owner)}.`,
    };
  },

  fieldKindChanged(
    owner: TypeLabel,
    name: string,
    id: number,
    oldType: string,
    newType: string,
  ): FindingDraft {
    return {
      rule: "FIELD_KIND_CHANGED",
      message: `${fieldSubject(owner, name, id)} changed kind from ${oldType} to ${newType}. Changing a kind breaks stored data and old clients; add a new ${kindWord(owner)} with a new id and deprecate this one.`,
    };
  },

  /** `changes`: "2 ('blue') has no value", "1 ('red') would read as 'happy'". */
  fieldEnumSwitched(
    owner: TypeLabel,
    name: string,
    id: number,
    oldEnum: string,
    newEnum: string,
    changes: readonly string[],
  ): FindingDraft {
    return {
      rule: "FIELD_ENUM_SWITCHED",
      message: `${fieldSubject(owner, name, id)} switched from enum '${oldEnum}' to enum '${newEnum}'. Under '${newEnum}', stored ${changes.join(", ")}; add a new ${kindWord(owner)} with a new id and deprecate this one.`,
    };
  },

  refTargetChanged(
    owner: TypeLabel,
    name: string,
    id: number,
    oldType: string,
    newType: string,
  ): FindingDraft {
    return {
      rule: "REF_TARGET_CHANGED",
      message: `${fieldSubject(owner, name, id)} changed its target from ${oldType} to ${newType}. Stored values point to nodes of the old type; add a new ${kindWord(owner)} with a new id and deprecate this one.`,
    };
  },

  fieldRequiredAdded(owner: TypeLabel, name: string, id: number): FindingDraft {
    return {
      rule: "FIELD_REQUIRED_ADDED",
      message: `${fieldSubject(owner, name, id)} became required. ${existing(owner)} may have no value and old clients may leave it out; keep it optional and check it in application code.`,
    };
  },

  fieldRequiredRemoved(owner: TypeLabel, name: string, id: number): FindingDraft {
    return {
      rule: "FIELD_REQUIRED_REMOVED",
      message: `${fieldSubject(owner, name, id)} is no longer required.`,
    };
  },

  fieldUniqueAdded(owner: TypeLabel, name: string, id: number): FindingDraft {
    return {
      rule: "FIELD_UNIQUE_ADDED",
      message: `${fieldSubject(owner, name, id)} became unique. ${existing(owner)} may already share values, and writes old clients make today would start failing; add a new unique ${kindWord(owner)} and fill it instead.`,
    };
  },

  fieldUniqueRemoved(owner: TypeLabel, name: string, id: number): FindingDraft {
    return {
      rule: "FIELD_UNIQUE_REMOVED",
      message: `${fieldSubject(owner, name, id)} is no longer unique.`,
    };
  },

  fieldIndexChanged(owner: TypeLabel, name: string, id: number, now: boolean): FindingDraft {
    return {
      rule: "FIELD_INDEX_CHANGED",
      message: `${fieldSubject(owner, name, id)} is ${now ? "now" : "no longer"} indexed.`,
    };
  },

  fieldSearchableChanged(owner: TypeLabel, name: string, id: number, now: boolean): FindingDraft {
    return {
      rule: "FIELD_SEARCHABLE_CHANGED",
      message: `${fieldSubject(owner, name, id)} is ${now ? "now" : "no longer"} searchable.`,
    };
  },

  fieldSearchWeightChanged(
    owner: TypeLabel,
    name: string,
    id: number,
    before: number,
    after: number,
  ): FindingDraft {
    return {
      rule: "FIELD_SEARCH_WEIGHT_CHANGED",
      message: `${fieldSubject(owner, name, id)} changed search weight from ${before} to ${after}.`,
    };
  },

  searchRemoved(node: TypeLabel): FindingDraft {
    return {
      rule: "NODE_SEARCH_REMOVED",
      message: `${typeSubject(node)} has no searchable field any more: its service loses Search, which deployed clients may call.`,
    };
  },

  inheritAccessAdded(owner: TypeLabel, name: string, id: number): FindingDraft {
    return {
      rule: "INHERIT_ACCESS_ADDED",
      message: `${fieldSubject(owner, name, id)} now inherits access: its nodes are read by whoever reads the node it names.`,
    };
  },

  inheritAccessRemoved(owner: TypeLabel, name: string, id: number): FindingDraft {
    return {
      rule: "INHERIT_ACCESS_REMOVED",
      message: `${fieldSubject(owner, name, id)} no longer inherits access: its nodes would fall back to their type's visibility and could be read by principals that cannot read the node it names. Keep inherit_access, or make the type private first.`,
    };
  },

  fieldDefaultChanged(
    owner: TypeLabel,
    name: string,
    id: number,
    before: string | undefined,
    after: string | undefined,
  ): FindingDraft {
    const subject = fieldSubject(owner, name, id);
    const message =
      before === undefined
        ? `${subject} now has default ${after}.`
        : after === undefined
          ? `${subject} no longer has a default (was ${before}).`
          : `${subject} changed its default from ${before} to ${after}.`;
    return { rule: "FIELD_DEFAULT_CHANGED", message };
  },

  compositeUniqueAdded(owner: TypeLabel, fields: readonly string[]): FindingDraft {
    return {
      rule: "COMPOSITE_UNIQUE_ADDED",
      message: `${typeSubject(owner)} gained unique (${fields.join(", ")}). ${existing(owner)} may already share these values, and writes old clients make today would start failing; check it in application code, or make it unique over a newly added field.`,
    };
  },

  compositeUniqueRemoved(owner: TypeLabel, fields: readonly string[]): FindingDraft {
    return {
      rule: "COMPOSITE_UNIQUE_REMOVED",
      message: `${typeSubject(owner)} dropped unique (${fields.join(", ")}).`,
    };
  },

  compositeIndexAdded(owner: TypeLabel, fields: readonly string[]): FindingDraft {
    return {
      rule: "COMPOSITE_INDEX_ADDED",
      message: `${typeSubject(owner)} gained index (${fields.join(", ")}).`,
    };
  },

  compositeIndexRemoved(owner: TypeLabel, fields: readonly string[]): FindingDraft {
    return {
      rule: "COMPOSITE_INDEX_REMOVED",
      message: `${typeSubject(owner)} dropped index (${fields.join(", ")}).`,
    };
  },

  edgeEndpointChanged(
    edge: TypeLabel,
    end: "from" | "to",
    oldNode: { readonly name: string; readonly id: number },
    newNode: { readonly name: string; readonly id: number },
  ): FindingDraft {
    // The same name on both sides: the node types swapped ids, which only the ids show.
    const same = oldNode.name === newNode.name;
    const show = (n: { readonly name: string; readonly id: number }) =>
      same ? `'${n.name}' (id ${n.id})` : `'${n.name}'`;
    return {
      rule: "EDGE_ENDPOINT_CHANGED",
      message: `${typeSubject(edge)} changed its '${end}' node type from ${show(oldNode)} to ${show(newNode)}. Stored edges connect ${show(oldNode)} nodes; add a new edge type with a new id and deprecate this one.`,
    };
  },

  uniquePerFromAdded(edge: TypeLabel, fromNode: string): FindingDraft {
    return {
      rule: "EDGE_UNIQUE_PER_FROM_ADDED",
      message: `${typeSubject(edge)} became unique_per_from. Existing '${fromNode}' nodes may already have several such edges, and old clients may add more; add a new edge type instead.`,
    };
  },

  uniquePerFromRemoved(edge: TypeLabel): FindingDraft {
    return {
      rule: "EDGE_UNIQUE_PER_FROM_REMOVED",
      message: `${typeSubject(edge)} is no longer unique_per_from.`,
    };
  },

  edgeInverseChanged(
    edge: TypeLabel,
    before: string | undefined,
    after: string | undefined,
  ): FindingDraft {
    const subject = typeSubject(edge);
    const message =
      before === undefined
        ? `${subject} now has inverse '${after}'.`
        : after === undefined
          ? `${subject} no longer has an inverse (was '${before}').`
          : `${subject} changed its inverse from '${before}' to '${after}'.`;
    return { rule: "EDGE_INVERSE_CHANGED", message };
  },

  edgeMailboxChanged(
    edge: TypeLabel,
    before: string | undefined,
    after: string | undefined,
  ): FindingDraft {
    const subject = typeSubject(edge);
    const message =
      before === undefined
        ? `${subject} now delivers to the mailbox named by field '${after}'; edges created before are not delivered.`
        : after === undefined
          ? `${subject} no longer delivers to mailboxes; items already delivered stay.`
          : `${subject} now reads the recipient from field '${after}' instead of '${before}'.`;
    return { rule: "EDGE_MAILBOX_CHANGED", message };
  },

  visibilityChanged(node: TypeLabel, before: string, after: string): FindingDraft {
    return {
      rule: "NODE_VISIBILITY_CHANGED",
      message: `${typeSubject(node)} changed visibility from ${before} to ${after}.`,
    };
  },

  visibilityLoosened(node: TypeLabel, before: string, after: string): FindingDraft {
    return {
      rule: "NODE_VISIBILITY_LOOSENED",
      message: `${typeSubject(node)} widened its visibility from ${before} to ${after}: nodes stored while it was ${before} would be read by principals they were hidden from. Keep it ${before}, or add a new type and move the data deliberately.`,
    };
  },

  deprecationChanged(subject: string, now: boolean): FindingDraft {
    return {
      rule: "DEPRECATION_CHANGED",
      message: `${subject} is ${now ? "now" : "no longer"} deprecated.`,
    };
  },

  enumAdded(name: string): FindingDraft {
    return { rule: "ENUM_ADDED", message: `Enum '${name}' was added.` };
  },

  enumRemoved(name: string): FindingDraft {
    return { rule: "ENUM_REMOVED", message: `Enum '${name}' was removed; no field uses it.` };
  },

  enumRenamed(oldName: string, newName: string): FindingDraft {
    return { rule: "ENUM_RENAMED", message: `Enum '${oldName}' was renamed to '${newName}'.` };
  },

  enumValueRemoved(enumLabel: string, name: string, number: number): FindingDraft {
    return {
      rule: "ENUM_VALUE_REMOVED",
      message: `${enumValueSubject(enumLabel, name, number)} was removed without reserving its number. Stored values and old clients still use ${number}; keep the value and mark it deprecated, or reserve its number: 'reserved ${number};'.`,
    };
  },

  enumValueRetired(enumLabel: string, name: string, number: number): FindingDraft {
    return {
      rule: "ENUM_VALUE_RETIRED",
      message: `${enumValueSubject(enumLabel, name, number)} was removed; its number is reserved.`,
    };
  },

  enumValueAdded(enumLabel: string, name: string, number: number): FindingDraft {
    return {
      rule: "ENUM_VALUE_ADDED",
      message: `${enumValueSubject(enumLabel, name, number)} was added.`,
    };
  },

  enumValueRenamed(
    enumLabel: string,
    oldName: string,
    newName: string,
    number: number,
  ): FindingDraft {
    return {
      rule: "ENUM_VALUE_RENAMED",
      message: `${enumValueSubject(enumLabel, oldName, number)} was renamed to '${newName}'.`,
    };
  },

  enumValueRenumbered(
    enumLabel: string,
    name: string,
    oldNumber: number,
    newNumber: number,
  ): FindingDraft {
    return {
      rule: "ENUM_VALUE_RENUMBERED",
      message: `${enumLabel} value '${name}' changed number from ${oldNumber} to ${newNumber}. Stored values and old clients use ${oldNumber} for '${name}'; change it back to ${oldNumber}.`,
    };
  },

  /** `what` is "type id", "field id" or "number"; `subject` names the user of it. */
  reservedIdReused(subject: string, what: string, id: number): FindingDraft {
    return {
      rule: "RESERVED_ID_REUSED",
      message: `${subject} uses ${what} ${id}, which was reserved. Stored data and old clients may still carry ${id} with its old meaning; use an unused ${what}.`,
    };
  },

  /** Like {@link reservedIdReused}, for an id the lock keeps as a tombstone. */
  retiredIdReused(subject: string, what: string, id: number): FindingDraft {
    return {
      rule: "RETIRED_ID_REUSED",
      message: `${subject} uses ${what} ${id}, which an earlier version used and dropped without reserving it (the lock keeps it as retired). Stored data and old clients may still carry ${id} with its old meaning; use an unused ${what}, and add 'reserved ${id};'.`,
    };
  },

  /** `scope` is "The schema", a type subject or an enum label; `what` as above. */
  reservationRemoved(scope: string, what: string, ranges: readonly IdRange[]): FindingDraft {
    const list = formatRanges(ranges);
    return {
      rule: "RESERVATION_REMOVED",
      message: `${scope} no longer reserves ${plural(what, ranges)} ${list}. A reservation keeps a retired id from being reused with a new meaning; restore 'reserved ${list};'.`,
    };
  },

  reservationAdded(scope: string, what: string, ranges: readonly IdRange[]): FindingDraft {
    return {
      rule: "RESERVATION_ADDED",
      message: `${scope} now reserves ${plural(what, ranges)} ${formatRanges(ranges)}.`,
    };
  },
} as const;

function plural(what: string, ranges: readonly IdRange[]): string {
  return coversSeveral(ranges) ? `${what}s` : what;
}
