/**
 * The catalog of compatibility rules: every change `entdb check` can report, with a
 * stable id (what `--allow` and CI annotations name) and whether it breaks stored
 * data or old clients. Messages are built in `compat-messages.ts`.
 */

/** Whether a change breaks stored data or deployed clients. */
export type CompatCategory = "breaking" | "safe";

/** One rule of the catalog. */
export interface CompatRule {
  readonly category: CompatCategory;
  /** One line for `--help` and docs. */
  readonly summary: string;
}

/** Every rule, by id. Ids are stable: CI configurations name them. */
export const COMPAT_RULES = {
  PACKAGE_CHANGED: { category: "breaking", summary: "The package name changed." },
  NODE_REMOVED: {
    category: "breaking",
    summary: "A node type was removed without reserving its id.",
  },
  EDGE_REMOVED: {
    category: "breaking",
    summary: "An edge type was removed without reserving its id.",
  },
  TYPE_ID_CHANGED: {
    category: "breaking",
    summary: "A node or edge type kept its name but moved to another id.",
  },
  TYPE_ID_KIND_CHANGED: {
    category: "breaking",
    summary: "A type id that named a node type now names an edge type, or the reverse.",
  },
  FIELD_REMOVED: {
    category: "breaking",
    summary: "A field or edge property was removed without reserving its id.",
  },
  FIELD_ID_CHANGED: {
    category: "breaking",
    summary: "A field or edge property kept its name but moved to another id.",
  },
  FIELD_KIND_CHANGED: {
    category: "breaking",
    summary: "A field's kind changed (including a list's element kind).",
  },
  FIELD_ENUM_SWITCHED: {
    category: "breaking",
    summary:
      "A field now holds another enum (both exist in both versions) under which stored numbers mean something else.",
  },
  REF_TARGET_CHANGED: {
    category: "breaking",
    summary: "A ref field now points to another node type.",
  },
  FIELD_REQUIRED_ADDED: { category: "breaking", summary: "An existing field became required." },
  FIELD_ADDED_REQUIRED: {
    category: "breaking",
    summary:
      "A required field was added to an existing type, with or without a default: what is stored has no value for it.",
  },
  FIELD_UNIQUE_ADDED: { category: "breaking", summary: "An existing field became unique." },
  COMPOSITE_UNIQUE_ADDED: {
    category: "breaking",
    summary: "A composite unique over existing fields was added.",
  },
  EDGE_ENDPOINT_CHANGED: {
    category: "breaking",
    summary: "An edge type's from or to node type changed.",
  },
  EDGE_UNIQUE_PER_FROM_ADDED: {
    category: "breaking",
    summary: "An existing edge type became unique_per_from.",
  },
  ENUM_VALUE_REMOVED: {
    category: "breaking",
    summary: "An enum value was removed without reserving its number.",
  },
  ENUM_VALUE_RENUMBERED: {
    category: "breaking",
    summary: "An enum value kept its name but moved to another number.",
  },
  RESERVED_ID_REUSED: {
    category: "breaking",
    summary: "A reserved type id, field id or enum number is used again.",
  },
  RETIRED_ID_REUSED: {
    category: "breaking",
    summary:
      "A type id, field id or enum number that an earlier version dropped without reserving it is used again.",
  },
  RESERVATION_REMOVED: {
    category: "breaking",
    summary: "A reserved id or enum number is no longer reserved.",
  },
  INHERIT_ACCESS_REMOVED: {
    category: "breaking",
    summary:
      "A ref field no longer has inherit_access: its nodes fall back to their type's visibility.",
  },
  NODE_VISIBILITY_LOOSENED: {
    category: "breaking",
    summary:
      "A node type's visibility was widened (private → tenant → public): nodes written as private would be read by others.",
  },
  NODE_SEARCH_REMOVED: {
    category: "breaking",
    summary:
      "A node type lost its last searchable field, and with it the Search RPC of its service.",
  },

  NODE_ADDED: { category: "safe", summary: "A node type was added." },
  EDGE_ADDED: { category: "safe", summary: "An edge type was added." },
  FIELD_ADDED: { category: "safe", summary: "A field or edge property was added." },
  ENUM_ADDED: { category: "safe", summary: "An enum was added." },
  ENUM_VALUE_ADDED: { category: "safe", summary: "An enum value was added." },
  NODE_RENAMED: { category: "safe", summary: "A node type was renamed (same id)." },
  EDGE_RENAMED: { category: "safe", summary: "An edge type was renamed (same id)." },
  FIELD_RENAMED: { category: "safe", summary: "A field or edge property was renamed (same id)." },
  ENUM_RENAMED: { category: "safe", summary: "An enum was renamed." },
  ENUM_VALUE_RENAMED: { category: "safe", summary: "An enum value was renamed (same number)." },
  NODE_RETIRED: { category: "safe", summary: "A node type was removed and its id reserved." },
  EDGE_RETIRED: { category: "safe", summary: "An edge type was removed and its id reserved." },
  FIELD_RETIRED: { category: "safe", summary: "A field was removed and its id reserved." },
  ENUM_VALUE_RETIRED: {
    category: "safe",
    summary: "An enum value was removed and its number reserved.",
  },
  ENUM_REMOVED: { category: "safe", summary: "An enum no field uses any more was removed." },
  FIELD_REQUIRED_REMOVED: { category: "safe", summary: "A field is no longer required." },
  FIELD_UNIQUE_REMOVED: { category: "safe", summary: "A field is no longer unique." },
  COMPOSITE_UNIQUE_REMOVED: { category: "safe", summary: "A composite unique was dropped." },
  EDGE_UNIQUE_PER_FROM_REMOVED: {
    category: "safe",
    summary: "An edge type is no longer unique_per_from.",
  },
  FIELD_INDEX_CHANGED: { category: "safe", summary: "A field's index was added or dropped." },
  FIELD_SEARCHABLE_CHANGED: {
    category: "safe",
    summary: "A field was added to or dropped from full-text search.",
  },
  FIELD_SEARCH_WEIGHT_CHANGED: {
    category: "safe",
    summary: "A searchable field's ranking weight changed (nothing stored changes).",
  },
  COMPOSITE_INDEX_ADDED: { category: "safe", summary: "A composite index was added." },
  COMPOSITE_INDEX_REMOVED: { category: "safe", summary: "A composite index was dropped." },
  FIELD_DEFAULT_CHANGED: { category: "safe", summary: "A field's default changed." },
  DEPRECATION_CHANGED: {
    category: "safe",
    summary: "A type, field or enum value was deprecated or undeprecated.",
  },
  INHERIT_ACCESS_ADDED: {
    category: "safe",
    summary: "A ref field gained inherit_access: its nodes are read as the node it names is.",
  },
  NODE_VISIBILITY_CHANGED: {
    category: "safe",
    summary: "A node type's visibility was narrowed (public → tenant → private).",
  },
  EDGE_INVERSE_CHANGED: {
    category: "safe",
    summary: "An edge type's inverse name changed.",
  },
  EDGE_MAILBOX_CHANGED: {
    category: "safe",
    summary:
      "An edge type started or stopped delivering to mailboxes, or reads the recipient from another field; items already delivered stay.",
  },
  RESERVATION_ADDED: {
    category: "safe",
    summary: "Ids or enum numbers were reserved without removing anything.",
  },
} as const satisfies Readonly<Record<string, CompatRule>>;

/** The id of a compatibility rule, e.g. `FIELD_KIND_CHANGED`. */
export type CompatRuleId = keyof typeof COMPAT_RULES;

/** All rule ids, breaking ones first, in catalog order. */
export const COMPAT_RULE_IDS: readonly CompatRuleId[] = Object.keys(COMPAT_RULES) as CompatRuleId[];

/** Whether `name` is a rule id (for validating `--allow`). */
export function isCompatRuleId(name: string): name is CompatRuleId {
  return Object.hasOwn(COMPAT_RULES, name);
}

/** The category of a rule. */
export function ruleCategory(rule: CompatRuleId): CompatCategory {
  return COMPAT_RULES[rule].category;
}
