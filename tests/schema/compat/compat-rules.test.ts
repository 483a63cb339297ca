/**
 * Every compatibility rule, table-driven: for each breaking rule at least one case
 * that triggers it and a safe counterpart (the way the message recommends), and for
 * each safe rule a case that reports it. Each case asserts the exact findings: category,
 * rule, line:col in the new source ("-" when the thing is gone) and message.
 */

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  COMPAT_RULE_IDS,
  COMPAT_RULES,
  type CompatRuleId,
  checkCompat,
} from "../../../schema/compat/index.ts";
import { compileSchema } from "../../../schema/compile.ts";
import { lockFromSchema, modelFromLock } from "../../../schema/lock.ts";
import { withTombstones } from "../../../schema/lock-tombstones.ts";
import type { Schema } from "../../../schema/model.ts";
import { renderDiagnostics } from "../../../schema/render-diagnostics.ts";
import { LineIndex } from "../../../schema/span.ts";

interface Case {
  readonly title: string;
  readonly old: string;
  /**
   * A version between `old` and `new`, locked over `old` (a breaking change that was
   * accepted): the baseline is then that lock, tombstones included, read back.
   */
  readonly via?: string;
  readonly new: string;
  readonly expected: readonly string[];
}

interface RuleCases {
  /** Cases that must report the rule as breaking (empty for safe rules). */
  readonly breaking: readonly Case[];
  /** For a breaking rule: the safe way. For a safe rule: cases that report it. */
  readonly safe: readonly Case[];
}

/** A schema source in package `acme.test`; line 1 is the package, `lines` start on line 2. */
function src(...lines: string[]): string {
  return `${["package acme.test;", ...lines].join("\n")}\n`;
}

function compile(text: string, path: string): Schema {
  const source = { path, text };
  const { schema, diagnostics } = compileSchema(source);
  if (schema === undefined || diagnostics.some((d) => d.severity === "error")) {
    throw new Error(`test schema does not compile:\n${renderDiagnostics(diagnostics, source, {})}`);
  }
  return schema;
}

/** Findings as `category RULE line:col message`. */
function findings(oldText: string, newText: string, viaText?: string): string[] {
  const lines = new LineIndex(newText);
  const old = compile(oldText, "old.entdb");
  const baseline =
    viaText === undefined
      ? old
      : modelFromLock(lockFromSchema(withTombstones(compile(viaText, "via.entdb"), old)), "lock");
  return checkCompat(baseline, compile(newText, "new.entdb")).map((f) => {
    const at =
      f.span === undefined
        ? "-"
        : `${lines.lineCol(f.span.start).line}:${lines.lineCol(f.span.start).col}`;
    return `${f.category} ${f.rule} ${at} ${f.message}`;
  });
}

const USER = ["node User = 1 {", "  email: string = 1;", "}"];
const USER_NAME = ["node User = 1 {", "  email: string = 1;", "  name: string = 2;", "}"];
const USER_TEAM = [...USER, "node Team = 2 {", "  name: string = 1;", "}"];
const STATUS_TASK = (...values: string[]): string[] => [
  "enum Status {",
  ...values.map((v) => `  ${v}`),
  "}",
  "node Task = 1 {",
  "  status: Status = 1;",
  "}",
];
const PROJECT = (...members: string[]): string[] => [
  "node Project = 1 {",
  "  team: string = 1;",
  "  key: string = 2;",
  ...members,
  "}",
];
const FOLLOWS = (...body: string[]): string[] =>
  body.length === 0
    ? ["edge Follows = 10 from User to User;"]
    : ["edge Follows = 10 from User to User {", ...body, "}"];

const RULES: Readonly<Record<CompatRuleId, RuleCases>> = {
  PACKAGE_CHANGED: {
    breaking: [
      {
        title: "renaming the package",
        old: src(...USER),
        new: `package acme.other;\n${USER.join("\n")}\n`,
        expected: [
          "breaking PACKAGE_CHANGED - Package changed from 'acme.test' to 'acme.other'. The package is the proto package and part of every RPC path, so deployed clients stop working; keep 'acme.test'.",
        ],
      },
    ],
    safe: [
      {
        title: "doc comments, comments and layout are not part of the contract",
        old: src(...USER),
        new: src(
          "// People.",
          "/// A person.",
          "node User = 1 {",
          "  /// Where we write.",
          "  email:   string   = 1;",
          "}",
        ),
        expected: [],
      },
    ],
  },

  NODE_REMOVED: {
    breaking: [
      {
        title: "deleting a node type",
        old: src(...USER_TEAM),
        new: src(...USER),
        expected: [
          "breaking NODE_REMOVED - Node type 'Team' (id 2) was removed without reserving its id. Stored data and old clients still use id 2; keep the type and mark it deprecated, or reserve its id: 'reserved 2;'.",
        ],
      },
    ],
    safe: [
      {
        title: "deleting a node type and reserving its id",
        old: src(...USER_TEAM),
        new: src(...USER, "reserved 2;"),
        expected: ["safe NODE_RETIRED - Node type 'Team' (id 2) was removed; its id is reserved."],
      },
    ],
  },

  EDGE_REMOVED: {
    breaking: [
      {
        title: "deleting an edge type",
        old: src(...USER, ...FOLLOWS()),
        new: src(...USER),
        expected: [
          "breaking EDGE_REMOVED - Edge type 'Follows' (id 10) was removed without reserving its id. Stored data and old clients still use id 10; keep the type and mark it deprecated, or reserve its id: 'reserved 10;'.",
        ],
      },
    ],
    safe: [
      {
        title: "deleting an edge type and reserving its id",
        old: src(...USER, ...FOLLOWS()),
        new: src(...USER, "reserved 10;"),
        expected: [
          "safe EDGE_RETIRED - Edge type 'Follows' (id 10) was removed; its id is reserved.",
        ],
      },
    ],
  },

  TYPE_ID_CHANGED: {
    breaking: [
      {
        title: "swapping the ids of two node types",
        old: src(...USER_TEAM),
        new: src(
          "node User = 2 {",
          "  email: string = 1;",
          "}",
          "node Team = 1 {",
          "  name: string = 1;",
          "}",
        ),
        // Each id is also compared with what it held: stored data is read by id.
        expected: [
          "safe NODE_RENAMED 2:1 Node type 'Team' (id 2) was renamed to 'User'.",
          "breaking TYPE_ID_CHANGED 2:1 Node type 'User' changed id from 1 to 2. Ids are identity: stored data and old clients know it as 1; change it back to 1, or reserve 1 if you mean to replace the type.",
          "safe FIELD_RENAMED 3:3 Field 'User.name' (id 1) was renamed to 'email'.",
          "safe NODE_RENAMED 5:1 Node type 'User' (id 1) was renamed to 'Team'.",
          "breaking TYPE_ID_CHANGED 5:1 Node type 'Team' changed id from 2 to 1. Ids are identity: stored data and old clients know it as 2; change it back to 2, or reserve 2 if you mean to replace the type.",
          "safe FIELD_RENAMED 6:3 Field 'Team.email' (id 1) was renamed to 'name'.",
        ],
      },
      {
        title: "renaming a type and giving its old name to a new type",
        old: src(...USER_TEAM),
        new: src(
          ...USER,
          "node Squad = 2 {",
          "  name: int = 1;",
          "}",
          "node Team = 3 {",
          "  name: string = 1;",
          "}",
        ),
        // What id 2 holds now is compared with what it held, so allowing TYPE_ID_CHANGED
        // cannot let the changed kind of the field stored under 2/1 through unreported.
        expected: [
          "safe NODE_RENAMED 5:1 Node type 'Team' (id 2) was renamed to 'Squad'.",
          "breaking FIELD_KIND_CHANGED 6:3 Field 'Squad.name' (id 1) changed kind from string to int. Changing a kind breaks stored data and old clients; add a new field with a new id and deprecate this one.",
          "breaking TYPE_ID_CHANGED 8:1 Node type 'Team' changed id from 2 to 3. Ids are identity: stored data and old clients know it as 2; change it back to 2, or reserve 2 if you mean to replace the type.",
        ],
      },
      {
        title: "swapping the ids of a node type and an edge type",
        old: src(...USER_TEAM, "edge Follows = 3 from User to User;"),
        new: src(
          ...USER,
          "node Team = 3 {",
          "  name: string = 1;",
          "}",
          "edge Follows = 2 from User to User;",
        ),
        expected: [
          "breaking TYPE_ID_CHANGED 5:1 Node type 'Team' changed id from 2 to 3. Ids are identity: stored data and old clients know it as 2; change it back to 2, or reserve 2 if you mean to replace the type.",
          "breaking TYPE_ID_KIND_CHANGED 5:1 Type id 3 was edge type 'Follows' and is now node type 'Team'. Stored data under id 3 would be read as the wrong kind of thing; give 'Team' an unused id and reserve 3.",
          "breaking TYPE_ID_CHANGED 8:1 Edge type 'Follows' changed id from 3 to 2. Ids are identity: stored data and old clients know it as 3; change it back to 3, or reserve 3 if you mean to replace the type.",
          "breaking TYPE_ID_KIND_CHANGED 8:1 Type id 2 was node type 'Team' and is now edge type 'Follows'. Stored data under id 2 would be read as the wrong kind of thing; give 'Follows' an unused id and reserve 2.",
        ],
      },
      {
        title: "moving an edge type to a new id",
        old: src(...USER, ...FOLLOWS()),
        new: src(...USER, "edge Follows = 11 from User to User;"),
        expected: [
          "breaking TYPE_ID_CHANGED 5:1 Edge type 'Follows' changed id from 10 to 11. Ids are identity: stored data and old clients know it as 10; change it back to 10, or reserve 10 if you mean to replace the type.",
        ],
      },
    ],
    safe: [
      {
        title: "replacing a type: reserve the old id, declare the name under a new one",
        old: src(...USER_TEAM),
        new: src(
          "node User = 3 {",
          "  email: string = 1;",
          "}",
          "node Team = 2 {",
          "  name: string = 1;",
          "}",
          "reserved 1;",
        ),
        expected: [
          "safe NODE_RETIRED - Node type 'User' (id 1) was removed; its id is reserved.",
          "safe NODE_ADDED 2:1 Node type 'User' (id 3) was added.",
        ],
      },
    ],
  },

  TYPE_ID_KIND_CHANGED: {
    breaking: [
      {
        title: "a node type id now names an edge type",
        old: src(...USER_TEAM),
        new: src(...USER, "edge Follows = 2 from User to User;"),
        expected: [
          "breaking TYPE_ID_KIND_CHANGED 5:1 Type id 2 was node type 'Team' and is now edge type 'Follows'. Stored data under id 2 would be read as the wrong kind of thing; give 'Follows' an unused id and reserve 2.",
        ],
      },
    ],
    safe: [
      {
        title: "reserving the node type's id and giving the edge a new one",
        old: src(...USER_TEAM),
        new: src(...USER, "edge Follows = 3 from User to User;", "reserved 2;"),
        expected: [
          "safe NODE_RETIRED - Node type 'Team' (id 2) was removed; its id is reserved.",
          "safe EDGE_ADDED 5:1 Edge type 'Follows' (id 3) was added.",
        ],
      },
    ],
  },

  FIELD_REMOVED: {
    breaking: [
      {
        title: "deleting a node field",
        old: src(...USER_NAME),
        new: src(...USER),
        expected: [
          "breaking FIELD_REMOVED 2:1 Field 'User.name' (id 2) was removed without reserving its id. Stored data and old clients still use id 2; keep the field and mark it deprecated, or reserve its id: 'reserved 2;'.",
        ],
      },
      {
        title: "deleting an edge property",
        old: src(...USER, ...FOLLOWS("  since: timestamp = 1;", "  note: string = 2;")),
        new: src(...USER, ...FOLLOWS("  since: timestamp = 1;")),
        expected: [
          "breaking FIELD_REMOVED 5:1 Property 'Follows.note' (id 2) was removed without reserving its id. Stored data and old clients still use id 2; keep the property and mark it deprecated, or reserve its id: 'reserved 2;'.",
        ],
      },
    ],
    safe: [
      {
        title: "deleting a node field and reserving its id",
        old: src(...USER_NAME),
        new: src("node User = 1 {", "  email: string = 1;", "  reserved 2;", "}"),
        expected: [
          "safe FIELD_RETIRED 2:1 Field 'User.name' (id 2) was removed; its id is reserved.",
        ],
      },
      {
        title: "deleting an edge property and reserving its id",
        old: src(...USER, ...FOLLOWS("  since: timestamp = 1;", "  note: string = 2;")),
        new: src(...USER, ...FOLLOWS("  since: timestamp = 1;", "  reserved 2;")),
        expected: [
          "safe FIELD_RETIRED 5:1 Property 'Follows.note' (id 2) was removed; its id is reserved.",
        ],
      },
    ],
  },

  FIELD_ID_CHANGED: {
    breaking: [
      {
        title: "swapping the ids of two fields of the same kind",
        old: src(...USER_NAME),
        new: src("node User = 1 {", "  email: string = 2;", "  name: string = 1;", "}"),
        expected: [
          "breaking FIELD_ID_CHANGED 3:3 Field 'User.email' changed id from 1 to 2. Ids are identity: stored values and old clients use 1; change it back to 1, or reserve 1 if you mean to replace the field.",
          "safe FIELD_RENAMED 3:3 Field 'User.name' (id 2) was renamed to 'email'.",
          "breaking FIELD_ID_CHANGED 4:3 Field 'User.name' changed id from 2 to 1. Ids are identity: stored values and old clients use 2; change it back to 2, or reserve 2 if you mean to replace the field.",
          "safe FIELD_RENAMED 4:3 Field 'User.email' (id 1) was renamed to 'name'.",
        ],
      },
      {
        title: "swapping the names of two fields and changing one's kind",
        old: src(...USER_NAME),
        new: src("node User = 1 {", "  name: string = 1;", "  email: int = 2;", "}"),
        // Allowing FIELD_ID_CHANGED must not let the kind of what id 2 stores change unreported.
        expected: [
          "breaking FIELD_ID_CHANGED 3:3 Field 'User.name' changed id from 2 to 1. Ids are identity: stored values and old clients use 2; change it back to 2, or reserve 2 if you mean to replace the field.",
          "safe FIELD_RENAMED 3:3 Field 'User.email' (id 1) was renamed to 'name'.",
          "breaking FIELD_ID_CHANGED 4:3 Field 'User.email' changed id from 1 to 2. Ids are identity: stored values and old clients use 1; change it back to 1, or reserve 1 if you mean to replace the field.",
          "breaking FIELD_KIND_CHANGED 4:3 Field 'User.email' (id 2) changed kind from string to int. Changing a kind breaks stored data and old clients; add a new field with a new id and deprecate this one.",
          "safe FIELD_RENAMED 4:3 Field 'User.name' (id 2) was renamed to 'email'.",
        ],
      },
    ],
    safe: [
      {
        title: "replacing a field: reserve the old id, declare the name under a new one",
        old: src(...USER_NAME),
        new: src(
          "node User = 1 {",
          "  name: string = 2;",
          "  email: string = 3;",
          "  reserved 1;",
          "}",
        ),
        expected: [
          "safe FIELD_RETIRED 2:1 Field 'User.email' (id 1) was removed; its id is reserved.",
          "safe FIELD_ADDED 4:3 Field 'User.email' (id 3) was added.",
        ],
      },
    ],
  },

  FIELD_KIND_CHANGED: {
    breaking: [
      {
        title: "string to int",
        old: src("node User = 1 {", "  age: string = 1;", "}"),
        new: src("node User = 1 {", "  age: int = 1;", "}"),
        expected: [
          "breaking FIELD_KIND_CHANGED 3:3 Field 'User.age' (id 1) changed kind from string to int. Changing a kind breaks stored data and old clients; add a new field with a new id and deprecate this one.",
        ],
      },
      {
        title: "enum to string",
        old: src(...STATUS_TASK("open = 1;")),
        new: src(
          "enum Status {",
          "  open = 1;",
          "}",
          "node Task = 1 {",
          "  status: string = 1;",
          "}",
        ),
        expected: [
          "breaking FIELD_KIND_CHANGED 6:3 Field 'Task.status' (id 1) changed kind from enum 'Status' to string. Changing a kind breaks stored data and old clients; add a new field with a new id and deprecate this one.",
        ],
      },
      {
        title: "a list's element kind on an edge property",
        old: src(...USER, ...FOLLOWS("  tags: list<string> = 1;")),
        new: src(...USER, ...FOLLOWS("  tags: list<int> = 1;")),
        expected: [
          "breaking FIELD_KIND_CHANGED 6:3 Property 'Follows.tags' (id 1) changed kind from list<string> to list<int>. Changing a kind breaks stored data and old clients; add a new property with a new id and deprecate this one.",
        ],
      },
      {
        title: "a single value to a list",
        old: src("node User = 1 {", "  tag: string = 1;", "}"),
        new: src("node User = 1 {", "  tag: list<string> = 1;", "}"),
        expected: [
          "breaking FIELD_KIND_CHANGED 3:3 Field 'User.tag' (id 1) changed kind from string to list<string>. Changing a kind breaks stored data and old clients; add a new field with a new id and deprecate this one.",
        ],
      },
    ],
    safe: [
      {
        title: "deprecating the field and adding one with a new id",
        old: src("node User = 1 {", "  age: string = 1;", "}"),
        new: src(
          "node User = 1 {",
          "  age: string = 1 [deprecated];",
          "  age_years: int = 2;",
          "}",
        ),
        expected: [
          "safe DEPRECATION_CHANGED 3:3 Field 'User.age' (id 1) is now deprecated.",
          "safe FIELD_ADDED 4:3 Field 'User.age_years' (id 2) was added.",
        ],
      },
    ],
  },

  FIELD_ENUM_SWITCHED: {
    breaking: [
      {
        title: "a field pointed at another existing enum whose numbers mean other things",
        old: src(
          "enum Color {",
          "  red = 1;",
          "  blue = 2;",
          "}",
          "enum Mood {",
          "  happy = 1;",
          "}",
          "node Task = 1 {",
          "  color: Color = 1;",
          "}",
        ),
        new: src(
          "enum Color {",
          "  red = 1;",
          "  blue = 2;",
          "}",
          "enum Mood {",
          "  happy = 1;",
          "}",
          "node Task = 1 {",
          "  color: Mood = 1;",
          "}",
        ),
        expected: [
          "breaking FIELD_ENUM_SWITCHED 10:3 Field 'Task.color' (id 1) switched from enum 'Color' to enum 'Mood'. Under 'Mood', stored 1 ('red') would read as 'happy', 2 ('blue') has no value; add a new field with a new id and deprecate this one.",
        ],
      },
    ],
    safe: [
      {
        title: "switching to an enum that holds every old number with the same name",
        old: src(
          "enum Color {",
          "  red = 1;",
          "}",
          "enum Paint {",
          "  red = 1;",
          "  green = 2;",
          "}",
          "node Task = 1 {",
          "  color: Color = 1;",
          "}",
        ),
        new: src(
          "enum Color {",
          "  red = 1;",
          "}",
          "enum Paint {",
          "  red = 1;",
          "  green = 2;",
          "}",
          "node Task = 1 {",
          "  color: Paint = 1;",
          "}",
        ),
        expected: [],
      },
    ],
  },

  REF_TARGET_CHANGED: {
    breaking: [
      {
        title: "a ref and a list of refs pointing to another node type",
        old: src(
          ...USER_TEAM,
          "node Task = 3 {",
          "  owner: ref<User> = 1;",
          "  watchers: list<ref<User>> = 2;",
          "}",
        ),
        new: src(
          ...USER_TEAM,
          "node Task = 3 {",
          "  owner: ref<Team> = 1;",
          "  watchers: list<ref<Team>> = 2;",
          "}",
        ),
        expected: [
          "breaking REF_TARGET_CHANGED 9:3 Field 'Task.owner' (id 1) changed its target from ref<User> (node type id 1) to ref<Team> (node type id 2). Stored values point to nodes of the old type; add a new field with a new id and deprecate this one.",
          "breaking REF_TARGET_CHANGED 10:3 Field 'Task.watchers' (id 2) changed its target from list<ref<User>> (node type id 1) to list<ref<Team>> (node type id 2). Stored values point to nodes of the old type; add a new field with a new id and deprecate this one.",
        ],
      },
    ],
    safe: [
      {
        title: "deprecating the ref and adding one with a new id",
        old: src(...USER_TEAM, "node Task = 3 {", "  owner: ref<User> = 1;", "}"),
        new: src(
          ...USER_TEAM,
          "node Task = 3 {",
          "  owner: ref<User> = 1 [deprecated];",
          "  team: ref<Team> = 2;",
          "}",
        ),
        expected: [
          "safe DEPRECATION_CHANGED 9:3 Field 'Task.owner' (id 1) is now deprecated.",
          "safe FIELD_ADDED 10:3 Field 'Task.team' (id 2) was added.",
        ],
      },
      {
        title: "renaming the target type keeps the ref (identity is the id)",
        old: src(...USER, "node Task = 2 {", "  owner: ref<User> = 1;", "}"),
        new: src(
          "node Person = 1 {",
          "  email: string = 1;",
          "}",
          "node Task = 2 {",
          "  owner: ref<Person> = 1;",
          "}",
        ),
        expected: ["safe NODE_RENAMED 2:1 Node type 'User' (id 1) was renamed to 'Person'."],
      },
    ],
  },

  FIELD_REQUIRED_ADDED: {
    breaking: [
      {
        title: "making a node field required",
        old: src("node User = 1 {", "  name: string = 1;", "}"),
        new: src("node User = 1 {", "  name: string = 1 [required];", "}"),
        expected: [
          "breaking FIELD_REQUIRED_ADDED 3:3 Field 'User.name' (id 1) became required. Existing 'User' nodes may have no value and old clients may leave it out; keep it optional and check it in application code.",
        ],
      },
      {
        title: "making an edge property required",
        old: src(...USER, ...FOLLOWS("  since: timestamp = 1;")),
        new: src(...USER, ...FOLLOWS("  since: timestamp = 1 [required];")),
        expected: [
          "breaking FIELD_REQUIRED_ADDED 6:3 Property 'Follows.since' (id 1) became required. Existing 'Follows' edges may have no value and old clients may leave it out; keep it optional and check it in application code.",
        ],
      },
    ],
    safe: [
      {
        title: "dropping required",
        old: src("node User = 1 {", "  name: string = 1 [required];", "}"),
        new: src("node User = 1 {", "  name: string = 1;", "}"),
        expected: [
          "safe FIELD_REQUIRED_REMOVED 3:3 Field 'User.name' (id 1) is no longer required.",
        ],
      },
    ],
  },

  FIELD_ADDED_REQUIRED: {
    breaking: [
      {
        title: "adding a required field without a default to an existing type",
        old: src(...USER),
        new: src("node User = 1 {", "  email: string = 1;", "  name: string = 2 [required];", "}"),
        expected: [
          "breaking FIELD_ADDED_REQUIRED 4:3 Field 'User.name' (id 2) was added as required without a default. Existing 'User' nodes have no value for it and old clients cannot set it; add it without 'required'.",
        ],
      },
      {
        // The default fills creates; the nodes stored before still have no value, which
        // clients generated from the new schema type as always set.
        title: "adding a required field with a default to an existing type",
        old: src(...USER, ...FOLLOWS()),
        new: src(
          "node User = 1 {",
          "  email: string = 1;",
          '  name: string = 2 [required, default = "anonymous"];',
          "}",
          ...FOLLOWS("  weight: int = 1 [required, default = 1];"),
        ),
        expected: [
          "breaking FIELD_ADDED_REQUIRED 4:3 Field 'User.name' (id 2) was added as required. Existing 'User' nodes have no value for it (a default fills only what is created from now on), yet clients generated from this schema read it as always set; add it without 'required' (the default still fills new ones).",
          "breaking FIELD_ADDED_REQUIRED 7:3 Property 'Follows.weight' (id 1) was added as required. Existing 'Follows' edges have no value for it (a default fills only what is created from now on), yet clients generated from this schema read it as always set; add it without 'required' (the default still fills new ones).",
        ],
      },
    ],
    safe: [
      {
        title: "adding a field with a default, not required",
        old: src(...USER),
        new: src(
          "node User = 1 {",
          "  email: string = 1;",
          '  name: string = 2 [default = "anonymous"];',
          "}",
        ),
        expected: ["safe FIELD_ADDED 4:3 Field 'User.name' (id 2) was added."],
      },
      {
        title: "required fields of a new type",
        old: src(...USER),
        new: src(...USER, "node Team = 2 {", "  name: string = 1 [required];", "}"),
        expected: ["safe NODE_ADDED 5:1 Node type 'Team' (id 2) was added."],
      },
    ],
  },

  FIELD_UNIQUE_ADDED: {
    breaking: [
      {
        title: "making an existing field unique",
        old: src(...USER),
        new: src("node User = 1 {", "  email: string = 1 [unique];", "}"),
        expected: [
          "breaking FIELD_UNIQUE_ADDED 3:3 Field 'User.email' (id 1) became unique. Existing 'User' nodes may already share values, and writes old clients make today would start failing; add a new unique field and fill it instead.",
        ],
      },
    ],
    safe: [
      {
        title: "adding a new unique field",
        old: src(...USER),
        new: src("node User = 1 {", "  email: string = 1;", "  handle: string = 2 [unique];", "}"),
        expected: ["safe FIELD_ADDED 4:3 Field 'User.handle' (id 2) was added."],
      },
    ],
  },

  COMPOSITE_UNIQUE_ADDED: {
    breaking: [
      {
        title: "a unique over existing fields",
        old: src(...PROJECT()),
        new: src(...PROJECT("", "  unique (team, key);")),
        expected: [
          "breaking COMPOSITE_UNIQUE_ADDED 6:3 Node type 'Project' (id 1) gained unique (team, key). Existing 'Project' nodes may already share these values, and writes old clients make today would start failing; check it in application code, or make it unique over a newly added field.",
        ],
      },
    ],
    safe: [
      {
        title: "a unique over a newly added field",
        old: src(...PROJECT()),
        new: src(...PROJECT("  code: string = 3;", "", "  unique (team, code);")),
        expected: ["safe FIELD_ADDED 5:3 Field 'Project.code' (id 3) was added."],
      },
      {
        title: "listing the fields of a unique in another order",
        old: src(...PROJECT("  unique (team, key);")),
        new: src(...PROJECT("  unique (key, team);")),
        expected: [],
      },
    ],
  },

  EDGE_ENDPOINT_CHANGED: {
    breaking: [
      {
        title: "reversing an edge's direction",
        old: src(...USER_TEAM, "edge MemberOf = 10 from User to Team;"),
        new: src(...USER_TEAM, "edge MemberOf = 10 from Team to User;"),
        expected: [
          "breaking EDGE_ENDPOINT_CHANGED 8:1 Edge type 'MemberOf' (id 10) changed its 'from' node type from 'User' to 'Team'. Stored edges connect 'User' nodes; add a new edge type with a new id and deprecate this one.",
          "breaking EDGE_ENDPOINT_CHANGED 8:1 Edge type 'MemberOf' (id 10) changed its 'to' node type from 'Team' to 'User'. Stored edges connect 'Team' nodes; add a new edge type with a new id and deprecate this one.",
        ],
      },
      {
        title: "its node types swapping ids under the same names",
        old: src(...USER_TEAM, "edge MemberOf = 10 from User to Team;"),
        new: src(
          "node User = 2 {",
          "  email: string = 1;",
          "}",
          "node Team = 1 {",
          "  name: string = 1;",
          "}",
          "edge MemberOf = 10 from User to Team;",
        ),
        expected: [
          "safe NODE_RENAMED 2:1 Node type 'Team' (id 2) was renamed to 'User'.",
          "breaking TYPE_ID_CHANGED 2:1 Node type 'User' changed id from 1 to 2. Ids are identity: stored data and old clients know it as 1; change it back to 1, or reserve 1 if you mean to replace the type.",
          "safe FIELD_RENAMED 3:3 Field 'User.name' (id 1) was renamed to 'email'.",
          "safe NODE_RENAMED 5:1 Node type 'User' (id 1) was renamed to 'Team'.",
          "breaking TYPE_ID_CHANGED 5:1 Node type 'Team' changed id from 2 to 1. Ids are identity: stored data and old clients know it as 2; change it back to 2, or reserve 2 if you mean to replace the type.",
          "safe FIELD_RENAMED 6:3 Field 'Team.email' (id 1) was renamed to 'name'.",
          "breaking EDGE_ENDPOINT_CHANGED 8:1 Edge type 'MemberOf' (id 10) changed its 'from' node type from 'User' (id 1) to 'User' (id 2). Stored edges connect 'User' (id 1) nodes; add a new edge type with a new id and deprecate this one.",
          "breaking EDGE_ENDPOINT_CHANGED 8:1 Edge type 'MemberOf' (id 10) changed its 'to' node type from 'Team' (id 2) to 'Team' (id 1). Stored edges connect 'Team' (id 2) nodes; add a new edge type with a new id and deprecate this one.",
        ],
      },
    ],
    safe: [
      {
        title: "deprecating the edge type and adding one with a new id",
        old: src(...USER_TEAM, "edge MemberOf = 10 from User to Team;"),
        new: src(
          ...USER_TEAM,
          "edge MemberOf = 10 from User to Team [deprecated];",
          "edge Contains = 11 from Team to User;",
        ),
        expected: [
          "safe DEPRECATION_CHANGED 8:1 Edge type 'MemberOf' (id 10) is now deprecated.",
          "safe EDGE_ADDED 9:1 Edge type 'Contains' (id 11) was added.",
        ],
      },
    ],
  },

  EDGE_UNIQUE_PER_FROM_ADDED: {
    breaking: [
      {
        title: "making an existing edge type unique_per_from",
        old: src(...USER, "edge Manager = 10 from User to User;"),
        new: src(...USER, "edge Manager = 10 from User to User [unique_per_from];"),
        expected: [
          "breaking EDGE_UNIQUE_PER_FROM_ADDED 5:1 Edge type 'Manager' (id 10) became unique_per_from. Existing 'User' nodes may already have several such edges, and old clients may add more; add a new edge type instead.",
        ],
      },
    ],
    safe: [
      {
        title: "a new edge type that is unique_per_from",
        old: src(...USER),
        new: src(...USER, "edge Manager = 10 from User to User [unique_per_from];"),
        expected: ["safe EDGE_ADDED 5:1 Edge type 'Manager' (id 10) was added."],
      },
    ],
  },

  ENUM_VALUE_REMOVED: {
    breaking: [
      {
        title: "deleting an enum value",
        old: src(...STATUS_TASK("open = 1;", "closed = 2;")),
        new: src(...STATUS_TASK("open = 1;")),
        expected: [
          "breaking ENUM_VALUE_REMOVED 2:1 Enum 'Status' value 'closed' (2) was removed without reserving its number. Stored values and old clients still use 2; keep the value and mark it deprecated, or reserve its number: 'reserved 2;'.",
        ],
      },
    ],
    safe: [
      {
        title: "deleting an enum value and reserving its number",
        old: src(...STATUS_TASK("open = 1;", "closed = 2;")),
        new: src(...STATUS_TASK("open = 1;", "reserved 2;")),
        expected: [
          "safe ENUM_VALUE_RETIRED 2:1 Enum 'Status' value 'closed' (2) was removed; its number is reserved.",
        ],
      },
      {
        title: "deprecating an enum value",
        old: src(...STATUS_TASK("open = 1;", "closed = 2;")),
        new: src(...STATUS_TASK("open = 1;", "closed = 2 [deprecated];")),
        expected: [
          "safe DEPRECATION_CHANGED 4:3 Enum 'Status' value 'closed' (2) is now deprecated.",
        ],
      },
    ],
  },

  ENUM_VALUE_RENUMBERED: {
    breaking: [
      {
        title: "giving an enum value another number",
        old: src(...STATUS_TASK("open = 1;", "closed = 2;")),
        new: src(...STATUS_TASK("open = 1;", "closed = 3;")),
        expected: [
          "breaking ENUM_VALUE_RENUMBERED 4:3 Enum 'Status' value 'closed' changed number from 2 to 3. Stored values and old clients use 2 for 'closed'; change it back to 2.",
        ],
      },
    ],
    safe: [
      {
        title: "reserving the old number and adding the name under a new one",
        old: src(...STATUS_TASK("open = 1;", "closed = 2;")),
        new: src(...STATUS_TASK("open = 1;", "closed = 3;", "reserved 2;")),
        expected: [
          "safe ENUM_VALUE_RETIRED 2:1 Enum 'Status' value 'closed' (2) was removed; its number is reserved.",
          "safe ENUM_VALUE_ADDED 4:3 Enum 'Status' value 'closed' (3) was added.",
        ],
      },
    ],
  },

  RESERVED_ID_REUSED: {
    breaking: [
      {
        title: "a reserved type id used by a new type",
        old: src(...USER, "reserved 2;"),
        new: src(...USER, "node Team = 2 {", "  name: string = 1;", "}"),
        expected: [
          "breaking RESERVED_ID_REUSED 5:1 Node type 'Team' (id 2) uses type id 2, which was reserved. Stored data and old clients may still carry 2 with its old meaning; use an unused type id.",
        ],
      },
      {
        title: "a reserved field id used by a new field",
        old: src("node User = 1 {", "  email: string = 1;", "  reserved 2;", "}"),
        new: src(...USER_NAME),
        expected: [
          "breaking RESERVED_ID_REUSED 4:3 Field 'User.name' (id 2) uses field id 2, which was reserved. Stored data and old clients may still carry 2 with its old meaning; use an unused field id.",
        ],
      },
      {
        title: "a reserved enum number used by a new value",
        old: src(...STATUS_TASK("open = 1;", "reserved 2;")),
        new: src(...STATUS_TASK("open = 1;", "closed = 2;")),
        expected: [
          "breaking RESERVED_ID_REUSED 4:3 Enum 'Status' value 'closed' (2) uses number 2, which was reserved. Stored data and old clients may still carry 2 with its old meaning; use an unused number.",
        ],
      },
    ],
    safe: [
      {
        title: "a new type with an unused id, keeping the reservation",
        old: src(...USER, "reserved 2;"),
        new: src(...USER, "node Team = 3 {", "  name: string = 1;", "}", "reserved 2;"),
        expected: ["safe NODE_ADDED 5:1 Node type 'Team' (id 3) was added."],
      },
    ],
  },

  RETIRED_ID_REUSED: {
    breaking: [
      {
        title: "a type id dropped unreserved, then used by a new type",
        old: src(...USER_TEAM),
        via: src(...USER),
        new: src(...USER, "node Project = 2 {", "  key: string = 1;", "}"),
        expected: [
          "breaking RETIRED_ID_REUSED 5:1 Node type 'Project' (id 2) uses type id 2, which an earlier version used and dropped without reserving it (the lock keeps it as retired). Stored data and old clients may still carry 2 with its old meaning; use an unused type id, and add 'reserved 2;'.",
        ],
      },
      {
        title: "a field id dropped unreserved, then used by a new field",
        old: src(...USER_NAME),
        via: src(...USER),
        new: src("node User = 1 {", "  email: string = 1;", "  nickname: string = 2;", "}"),
        expected: [
          "breaking RETIRED_ID_REUSED 4:3 Field 'User.nickname' (id 2) uses field id 2, which an earlier version used and dropped without reserving it (the lock keeps it as retired). Stored data and old clients may still carry 2 with its old meaning; use an unused field id, and add 'reserved 2;'.",
        ],
      },
      {
        title: "an enum number dropped unreserved, then used by a new value",
        old: src(...STATUS_TASK("open = 1;", "closed = 2;")),
        via: src(...STATUS_TASK("open = 1;")),
        new: src(...STATUS_TASK("open = 1;", "archived = 2;")),
        expected: [
          "breaking RETIRED_ID_REUSED 4:3 Enum 'Status' value 'archived' (2) uses number 2, which an earlier version used and dropped without reserving it (the lock keeps it as retired). Stored data and old clients may still carry 2 with its old meaning; use an unused number, and add 'reserved 2;'.",
        ],
      },
    ],
    safe: [
      {
        title: "reserving the retired id instead, and adding a field with a new id",
        old: src(...USER_NAME),
        via: src(...USER),
        new: src(
          "node User = 1 {",
          "  email: string = 1;",
          "  nickname: string = 3;",
          "  reserved 2;",
          "}",
        ),
        expected: [
          "safe RESERVATION_ADDED 2:1 Node type 'User' (id 1) now reserves field id 2.",
          "safe FIELD_ADDED 4:3 Field 'User.nickname' (id 3) was added.",
        ],
      },
    ],
  },

  RESERVATION_REMOVED: {
    breaking: [
      {
        title: "dropping top-level reservations",
        old: src(...USER, "reserved 2, 5 to 7;"),
        new: src(...USER),
        expected: [
          "breaking RESERVATION_REMOVED - The schema no longer reserves type ids 2, 5 to 7. A reservation keeps a retired id from being reused with a new meaning; restore 'reserved 2, 5 to 7;'.",
        ],
      },
      {
        title: "dropping a field id reservation",
        old: src("node User = 1 {", "  email: string = 1;", "  reserved 2;", "}"),
        new: src(...USER),
        expected: [
          "breaking RESERVATION_REMOVED 2:1 Node type 'User' (id 1) no longer reserves field id 2. A reservation keeps a retired id from being reused with a new meaning; restore 'reserved 2;'.",
        ],
      },
      {
        title: "dropping an enum number reservation",
        old: src(...STATUS_TASK("open = 1;", "reserved 2;")),
        new: src(...STATUS_TASK("open = 1;")),
        expected: [
          "breaking RESERVATION_REMOVED 2:1 Enum 'Status' no longer reserves number 2. A reservation keeps a retired id from being reused with a new meaning; restore 'reserved 2;'.",
        ],
      },
    ],
    safe: [
      {
        title: "writing the same reservation another way",
        old: src(...USER, "reserved 5 to 7;"),
        new: src(...USER, "reserved 5, 6, 7;"),
        expected: [],
      },
    ],
  },

  NODE_ADDED: {
    breaking: [],
    safe: [
      {
        title: "adding a node type",
        old: src(...USER),
        new: src(...USER_TEAM),
        expected: ["safe NODE_ADDED 5:1 Node type 'Team' (id 2) was added."],
      },
    ],
  },

  EDGE_ADDED: {
    breaking: [],
    safe: [
      {
        title: "adding an edge type",
        old: src(...USER),
        new: src(...USER, ...FOLLOWS()),
        expected: ["safe EDGE_ADDED 5:1 Edge type 'Follows' (id 10) was added."],
      },
    ],
  },

  FIELD_ADDED: {
    breaking: [],
    safe: [
      {
        title: "adding a field",
        old: src(...USER),
        new: src(...USER_NAME),
        expected: ["safe FIELD_ADDED 4:3 Field 'User.name' (id 2) was added."],
      },
      {
        title: "adding an edge property",
        old: src(...USER, ...FOLLOWS()),
        new: src(...USER, ...FOLLOWS("  since: timestamp = 1;")),
        expected: ["safe FIELD_ADDED 6:3 Property 'Follows.since' (id 1) was added."],
      },
    ],
  },

  ENUM_ADDED: {
    breaking: [],
    safe: [
      {
        title: "adding an enum and a field that uses it",
        old: src(...USER),
        new: src(
          "enum Role {",
          "  member = 1;",
          "}",
          "node User = 1 {",
          "  email: string = 1;",
          "  role: Role = 2;",
          "}",
        ),
        expected: [
          "safe ENUM_ADDED 2:1 Enum 'Role' was added.",
          "safe FIELD_ADDED 7:3 Field 'User.role' (id 2) was added.",
        ],
      },
    ],
  },

  ENUM_VALUE_ADDED: {
    breaking: [],
    safe: [
      {
        title: "adding an enum value",
        old: src(...STATUS_TASK("open = 1;")),
        new: src(...STATUS_TASK("open = 1;", "closed = 2;")),
        expected: ["safe ENUM_VALUE_ADDED 4:3 Enum 'Status' value 'closed' (2) was added."],
      },
    ],
  },

  NODE_RENAMED: {
    breaking: [],
    safe: [
      {
        title: "renaming a node type",
        old: src(...USER),
        new: src("node Person = 1 {", "  email: string = 1;", "}"),
        expected: ["safe NODE_RENAMED 2:1 Node type 'User' (id 1) was renamed to 'Person'."],
      },
    ],
  },

  EDGE_RENAMED: {
    breaking: [],
    safe: [
      {
        title: "renaming an edge type",
        old: src(...USER, ...FOLLOWS()),
        new: src(...USER, "edge Watches = 10 from User to User;"),
        expected: ["safe EDGE_RENAMED 5:1 Edge type 'Follows' (id 10) was renamed to 'Watches'."],
      },
    ],
  },

  FIELD_RENAMED: {
    breaking: [],
    safe: [
      {
        title: "renaming a field",
        old: src(...USER),
        new: src("node User = 1 {", "  mail: string = 1;", "}"),
        expected: ["safe FIELD_RENAMED 3:3 Field 'User.email' (id 1) was renamed to 'mail'."],
      },
    ],
  },

  ENUM_RENAMED: {
    breaking: [],
    safe: [
      {
        title: "renaming an enum (matched through the field that uses it)",
        old: src(...STATUS_TASK("open = 1;")),
        new: src(
          "enum State {",
          "  open = 1;",
          "}",
          "node Task = 1 {",
          "  status: State = 1;",
          "}",
        ),
        expected: ["safe ENUM_RENAMED 2:1 Enum 'Status' was renamed to 'State'."],
      },
      {
        title: "renaming an enum and adding a value",
        old: src(...STATUS_TASK("open = 1;")),
        new: src(
          "enum State {",
          "  open = 1;",
          "  closed = 2;",
          "}",
          "node Task = 1 {",
          "  status: State = 1;",
          "}",
        ),
        expected: [
          "safe ENUM_RENAMED 2:1 Enum 'Status' was renamed to 'State'.",
          "safe ENUM_VALUE_ADDED 4:3 Enum 'State' (was 'Status') value 'closed' (2) was added.",
        ],
      },
    ],
  },

  ENUM_VALUE_RENAMED: {
    breaking: [],
    safe: [
      {
        title: "renaming an enum value, also when it is a default",
        old: src(
          "enum Status {",
          "  open = 1;",
          "}",
          "node Task = 1 {",
          "  status: Status = 1 [default = open];",
          "}",
        ),
        new: src(
          "enum Status {",
          "  todo = 1;",
          "}",
          "node Task = 1 {",
          "  status: Status = 1 [default = todo];",
          "}",
        ),
        expected: [
          "safe ENUM_VALUE_RENAMED 3:3 Enum 'Status' value 'open' (1) was renamed to 'todo'.",
        ],
      },
    ],
  },

  NODE_RETIRED: {
    breaking: [],
    safe: [
      {
        title: "deleting a node type and reserving its id",
        old: src(...USER_TEAM),
        new: src(...USER, "reserved 2;"),
        expected: ["safe NODE_RETIRED - Node type 'Team' (id 2) was removed; its id is reserved."],
      },
    ],
  },

  EDGE_RETIRED: {
    breaking: [],
    safe: [
      {
        title: "deleting an edge type and reserving its id within a range",
        old: src(...USER, ...FOLLOWS()),
        new: src(...USER, "reserved 9 to 12;"),
        expected: [
          "safe EDGE_RETIRED - Edge type 'Follows' (id 10) was removed; its id is reserved.",
          "safe RESERVATION_ADDED - The schema now reserves type ids 9, 11 to 12.",
        ],
      },
    ],
  },

  FIELD_RETIRED: {
    breaking: [],
    safe: [
      {
        title: "deleting a field and reserving its id",
        old: src(...USER_NAME),
        new: src("node User = 1 {", "  email: string = 1;", "  reserved 2;", "}"),
        expected: [
          "safe FIELD_RETIRED 2:1 Field 'User.name' (id 2) was removed; its id is reserved.",
        ],
      },
    ],
  },

  ENUM_VALUE_RETIRED: {
    breaking: [],
    safe: [
      {
        title: "deleting an enum value and reserving its number",
        old: src(...STATUS_TASK("open = 1;", "closed = 2;")),
        new: src(...STATUS_TASK("open = 1;", "reserved 2;")),
        expected: [
          "safe ENUM_VALUE_RETIRED 2:1 Enum 'Status' value 'closed' (2) was removed; its number is reserved.",
        ],
      },
    ],
  },

  ENUM_REMOVED: {
    breaking: [],
    safe: [
      {
        title: "deleting an enum together with the (retired) field that used it",
        old: src(
          "enum Role {",
          "  member = 1;",
          "}",
          "node User = 1 {",
          "  email: string = 1;",
          "  role: Role = 2;",
          "}",
        ),
        new: src("node User = 1 {", "  email: string = 1;", "  reserved 2;", "}"),
        expected: [
          "safe ENUM_REMOVED - Enum 'Role' was removed; no field uses it.",
          "safe FIELD_RETIRED 2:1 Field 'User.role' (id 2) was removed; its id is reserved.",
        ],
      },
    ],
  },

  FIELD_REQUIRED_REMOVED: {
    breaking: [],
    safe: [
      {
        title: "dropping required from an edge property",
        old: src(...USER, ...FOLLOWS("  since: timestamp = 1 [required];")),
        new: src(...USER, ...FOLLOWS("  since: timestamp = 1;")),
        expected: [
          "safe FIELD_REQUIRED_REMOVED 6:3 Property 'Follows.since' (id 1) is no longer required.",
        ],
      },
    ],
  },

  FIELD_UNIQUE_REMOVED: {
    breaking: [],
    safe: [
      {
        title: "dropping unique",
        old: src("node User = 1 {", "  email: string = 1 [unique];", "}"),
        new: src(...USER),
        expected: ["safe FIELD_UNIQUE_REMOVED 3:3 Field 'User.email' (id 1) is no longer unique."],
      },
    ],
  },

  COMPOSITE_UNIQUE_REMOVED: {
    breaking: [],
    safe: [
      {
        title: "dropping a composite unique",
        old: src(...PROJECT("  unique (team, key);")),
        new: src(...PROJECT()),
        expected: [
          "safe COMPOSITE_UNIQUE_REMOVED 2:1 Node type 'Project' (id 1) dropped unique (team, key).",
        ],
      },
    ],
  },

  EDGE_UNIQUE_PER_FROM_REMOVED: {
    breaking: [],
    safe: [
      {
        title: "dropping unique_per_from",
        old: src(...USER, "edge Manager = 10 from User to User [unique_per_from];"),
        new: src(...USER, "edge Manager = 10 from User to User;"),
        expected: [
          "safe EDGE_UNIQUE_PER_FROM_REMOVED 5:1 Edge type 'Manager' (id 10) is no longer unique_per_from.",
        ],
      },
    ],
  },

  FIELD_INDEX_CHANGED: {
    breaking: [],
    safe: [
      {
        title: "adding an index to one field and dropping it from another",
        old: src("node User = 1 {", "  email: string = 1;", "  name: string = 2 [index];", "}"),
        new: src("node User = 1 {", "  email: string = 1 [index];", "  name: string = 2;", "}"),
        expected: [
          "safe FIELD_INDEX_CHANGED 3:3 Field 'User.email' (id 1) is now indexed.",
          "safe FIELD_INDEX_CHANGED 4:3 Field 'User.name' (id 2) is no longer indexed.",
        ],
      },
    ],
  },

  FIELD_SEARCHABLE_CHANGED: {
    breaking: [],
    safe: [
      {
        title: "making a field searchable",
        old: src(...USER_NAME),
        new: src(
          "node User = 1 {",
          "  email: string = 1;",
          "  name: string = 2 [searchable];",
          "}",
        ),
        expected: ["safe FIELD_SEARCHABLE_CHANGED 4:3 Field 'User.name' (id 2) is now searchable."],
      },
      {
        title: "dropping one of two searchable fields keeps the type searchable",
        old: src(
          "node User = 1 {",
          "  email: string = 1 [searchable];",
          "  name: string = 2 [searchable];",
          "}",
        ),
        new: src(
          "node User = 1 {",
          "  email: string = 1;",
          "  name: string = 2 [searchable];",
          "}",
        ),
        expected: [
          "safe FIELD_SEARCHABLE_CHANGED 3:3 Field 'User.email' (id 1) is no longer searchable.",
        ],
      },
    ],
  },

  FIELD_SEARCH_WEIGHT_CHANGED: {
    breaking: [],
    safe: [
      {
        title: "giving a searchable field a weight, and changing one",
        old: src(
          "node User = 1 {",
          "  email: string = 1 [searchable];",
          "  name: string = 2 [searchable(weight = 2)];",
          "}",
        ),
        new: src(
          "node User = 1 {",
          "  email: string = 1 [searchable(weight = 3)];",
          "  name: string = 2 [searchable(weight = 0.5)];",
          "}",
        ),
        expected: [
          "safe FIELD_SEARCH_WEIGHT_CHANGED 3:3 Field 'User.email' (id 1) changed search weight from 1 to 3.",
          "safe FIELD_SEARCH_WEIGHT_CHANGED 4:3 Field 'User.name' (id 2) changed search weight from 2 to 0.5.",
        ],
      },
    ],
  },

  NODE_SEARCH_REMOVED: {
    breaking: [
      {
        title: "dropping the last searchable field",
        old: src(
          "node User = 1 {",
          "  email: string = 1;",
          "  name: string = 2 [searchable];",
          "}",
        ),
        new: src(...USER_NAME),
        expected: [
          "breaking NODE_SEARCH_REMOVED 2:1 Node type 'User' (id 1) has no searchable field any more: its service loses Search, which deployed clients may call.",
          "safe FIELD_SEARCHABLE_CHANGED 4:3 Field 'User.name' (id 2) is no longer searchable.",
        ],
      },
    ],
    safe: [
      {
        title: "moving search to another field keeps the Search RPC",
        old: src(
          "node User = 1 {",
          "  email: string = 1;",
          "  name: string = 2 [searchable];",
          "}",
        ),
        new: src(
          "node User = 1 {",
          "  email: string = 1 [searchable];",
          "  name: string = 2;",
          "}",
        ),
        expected: [
          "safe FIELD_SEARCHABLE_CHANGED 3:3 Field 'User.email' (id 1) is now searchable.",
          "safe FIELD_SEARCHABLE_CHANGED 4:3 Field 'User.name' (id 2) is no longer searchable.",
        ],
      },
    ],
  },

  COMPOSITE_INDEX_ADDED: {
    breaking: [],
    safe: [
      {
        title: "adding a composite index",
        old: src(...PROJECT()),
        new: src(...PROJECT("", "  index (team, key);")),
        expected: [
          "safe COMPOSITE_INDEX_ADDED 6:3 Node type 'Project' (id 1) gained index (team, key).",
        ],
      },
    ],
  },

  COMPOSITE_INDEX_REMOVED: {
    breaking: [],
    safe: [
      {
        title: "changing the order of an index is dropping one and adding another",
        old: src(...PROJECT("  index (team, key);")),
        new: src(...PROJECT("  index (key, team);")),
        expected: [
          "safe COMPOSITE_INDEX_REMOVED 2:1 Node type 'Project' (id 1) dropped index (team, key).",
          "safe COMPOSITE_INDEX_ADDED 5:3 Node type 'Project' (id 1) gained index (key, team).",
        ],
      },
    ],
  },

  FIELD_DEFAULT_CHANGED: {
    breaking: [],
    safe: [
      {
        title: "changing, adding and dropping defaults",
        old: src(
          "node User = 1 {",
          "  karma: int = 1 [default = 9223372036854775807];",
          "  zone: string = 2;",
          "  active: bool = 3 [default = true];",
          "}",
        ),
        new: src(
          "node User = 1 {",
          "  karma: int = 1 [default = -9223372036854775808];",
          '  zone: string = 2 [default = "UTC"];',
          "  active: bool = 3;",
          "}",
        ),
        expected: [
          "safe FIELD_DEFAULT_CHANGED 3:3 Field 'User.karma' (id 1) changed its default from 9223372036854775807 to -9223372036854775808.",
          "safe FIELD_DEFAULT_CHANGED 4:3 Field 'User.zone' (id 2) now has default \"UTC\".",
          "safe FIELD_DEFAULT_CHANGED 5:3 Field 'User.active' (id 3) no longer has a default (was true).",
        ],
      },
    ],
  },

  DEPRECATION_CHANGED: {
    breaking: [],
    safe: [
      {
        title: "deprecating a node type and undeprecating a field",
        old: src("node User = 1 {", "  email: string = 1 [deprecated];", "}"),
        new: src("node User = 1 [deprecated] {", "  email: string = 1;", "}"),
        expected: [
          "safe DEPRECATION_CHANGED 2:1 Node type 'User' (id 1) is now deprecated.",
          "safe DEPRECATION_CHANGED 3:3 Field 'User.email' (id 1) is no longer deprecated.",
        ],
      },
    ],
  },

  NODE_VISIBILITY_CHANGED: {
    breaking: [],
    safe: [
      {
        title: "making a node type private",
        old: src(...USER),
        new: src("node User = 1 [visibility = private] {", "  email: string = 1;", "}"),
        expected: [
          "safe NODE_VISIBILITY_CHANGED 2:1 Node type 'User' (id 1) changed visibility from tenant to private.",
        ],
      },
      {
        title: "narrowing a public node type to the tenant",
        old: src("node User = 1 [visibility = public] {", "  email: string = 1;", "}"),
        new: src(...USER),
        expected: [
          "safe NODE_VISIBILITY_CHANGED 2:1 Node type 'User' (id 1) changed visibility from public to tenant.",
        ],
      },
    ],
  },

  INHERIT_ACCESS_REMOVED: {
    breaking: [
      {
        title: "dropping inherit_access from a ref",
        old: src(...USER, "node Post = 2 {", "  author: ref<User> = 1 [inherit_access];", "}"),
        new: src(...USER, "node Post = 2 {", "  author: ref<User> = 1;", "}"),
        expected: [
          "breaking INHERIT_ACCESS_REMOVED 6:3 Field 'Post.author' (id 1) no longer inherits access: its nodes would fall back to their type's visibility and could be read by principals that cannot read the node it names. Keep inherit_access, or make the type private first.",
        ],
      },
    ],
    safe: [
      {
        title: "keeping inherit_access while renaming the ref",
        old: src(...USER, "node Post = 2 {", "  author: ref<User> = 1 [inherit_access];", "}"),
        new: src(...USER, "node Post = 2 {", "  writer: ref<User> = 1 [inherit_access];", "}"),
        expected: ["safe FIELD_RENAMED 6:3 Field 'Post.author' (id 1) was renamed to 'writer'."],
      },
    ],
  },

  INHERIT_ACCESS_ADDED: {
    breaking: [],
    safe: [
      {
        title: "making a ref inherit access",
        old: src(...USER, "node Post = 2 {", "  author: ref<User> = 1;", "}"),
        new: src(...USER, "node Post = 2 {", "  author: ref<User> = 1 [inherit_access];", "}"),
        expected: [
          "safe INHERIT_ACCESS_ADDED 6:3 Field 'Post.author' (id 1) now inherits access: its nodes are read by whoever reads the node it names.",
        ],
      },
    ],
  },

  NODE_VISIBILITY_LOOSENED: {
    breaking: [
      {
        title: "making a private node type visible to the tenant",
        old: src("node User = 1 [visibility = private] {", "  email: string = 1;", "}"),
        new: src(...USER),
        expected: [
          "breaking NODE_VISIBILITY_LOOSENED 2:1 Node type 'User' (id 1) widened its visibility from private to tenant: nodes stored while it was private would be read by principals they were hidden from. Keep it private, or add a new type and move the data deliberately.",
        ],
      },
      {
        title: "making a node type public",
        old: src(...USER),
        new: src("node User = 1 [visibility = public] {", "  email: string = 1;", "}"),
        expected: [
          "breaking NODE_VISIBILITY_LOOSENED 2:1 Node type 'User' (id 1) widened its visibility from tenant to public: nodes stored while it was tenant would be read by principals they were hidden from. Keep it tenant, or add a new type and move the data deliberately.",
        ],
      },
    ],
    safe: [
      {
        title: "keeping the visibility while adding a field",
        old: src("node User = 1 [visibility = private] {", "  email: string = 1;", "}"),
        new: src(
          "node User = 1 [visibility = private] {",
          "  email: string = 1;",
          "  name: string = 2;",
          "}",
        ),
        expected: ["safe FIELD_ADDED 4:3 Field 'User.name' (id 2) was added."],
      },
    ],
  },

  EDGE_INVERSE_CHANGED: {
    breaking: [],
    safe: [
      {
        title: "naming an edge's inverse",
        old: src(...USER, ...FOLLOWS()),
        new: src(...USER, "edge Follows = 10 from User to User [inverse = followers];"),
        expected: [
          "safe EDGE_INVERSE_CHANGED 5:1 Edge type 'Follows' (id 10) now has inverse 'followers'.",
        ],
      },
      {
        title: "renaming an edge's inverse",
        old: src(...USER, "edge Follows = 10 from User to User [inverse = followers];"),
        new: src(...USER, "edge Follows = 10 from User to User [inverse = fans];"),
        expected: [
          "safe EDGE_INVERSE_CHANGED 5:1 Edge type 'Follows' (id 10) changed its inverse from 'followers' to 'fans'.",
        ],
      },
    ],
  },

  EDGE_MAILBOX_CHANGED: {
    breaking: [],
    safe: [
      {
        title: "delivering an edge to mailboxes",
        old: src(...USER, ...FOLLOWS()),
        new: src(...USER, "edge Follows = 10 from User to User [mailbox = email];"),
        expected: [
          "safe EDGE_MAILBOX_CHANGED 5:1 Edge type 'Follows' (id 10) now delivers to the mailbox named by field 'email'; edges created before are not delivered.",
        ],
      },
      {
        title: "no longer delivering an edge to mailboxes",
        old: src(...USER, "edge Follows = 10 from User to User [mailbox = email];"),
        new: src(...USER, ...FOLLOWS()),
        expected: [
          "safe EDGE_MAILBOX_CHANGED 5:1 Edge type 'Follows' (id 10) no longer delivers to mailboxes; items already delivered stay.",
        ],
      },
    ],
  },

  RESERVATION_ADDED: {
    breaking: [],
    safe: [
      {
        title: "reserving ids nothing used",
        old: src(...USER),
        new: src(
          "node User = 1 {",
          "  email: string = 1;",
          "  reserved 2 to 4;",
          "}",
          "reserved 7;",
        ),
        expected: [
          "safe RESERVATION_ADDED - The schema now reserves type id 7.",
          "safe RESERVATION_ADDED 2:1 Node type 'User' (id 1) now reserves field ids 2 to 4.",
        ],
      },
    ],
  },
};

describe("compatibility rules", () => {
  for (const rule of COMPAT_RULE_IDS) {
    const { breaking, safe } = RULES[rule];
    for (const c of breaking) {
      it(`${rule} is reported for ${c.title}`, () => {
        const got = findings(c.old, c.new, c.via);
        expect(got).toEqual(c.expected);
        expect(got.some((f) => f.startsWith(`breaking ${rule} `))).toBe(true);
      });
    }
    for (const c of safe) {
      it(`${rule}: ${c.title} is safe`, () => {
        const got = findings(c.old, c.new, c.via);
        expect(got).toEqual(c.expected);
        expect(got.filter((f) => f.startsWith("breaking "))).toEqual([]);
        if (COMPAT_RULES[rule].category === "safe") {
          expect(got.some((f) => f.startsWith(`safe ${rule} `))).toBe(true);
        }
      });
    }
  }

  it("has a breaking case and a safe counterpart for every breaking rule, and a case for every safe rule", () => {
    const missing = COMPAT_RULE_IDS.filter((rule) => {
      const { breaking, safe } = RULES[rule];
      return COMPAT_RULES[rule].category === "breaking"
        ? breaking.length === 0 || safe.length === 0
        : breaking.length !== 0 || safe.length === 0;
    });
    expect(missing).toEqual([]);
  });
});

describe("checkCompat", () => {
  const tracker = readFileSync(
    new URL("../../../examples/tracker/schema.entdb", import.meta.url),
    "utf8",
  );

  it("finds nothing between the example schema and itself", () => {
    expect(findings(tracker, tracker)).toEqual([]);
  });

  it("finds nothing between the example schema and its lock read back", () => {
    const schema = compile(tracker, "schema.entdb");
    const locked = modelFromLock(lockFromSchema(schema), "schema.lock.json");
    expect(checkCompat(locked, schema)).toEqual([]);
  });

  it("finds nothing when declarations and fields are reordered", () => {
    const reordered = src(
      "node Team = 2 {",
      "  name: string = 1;",
      "}",
      "node User = 1 {",
      "  name: string = 2;",
      "  email: string = 1;",
      "}",
    );
    expect(
      findings(src(...USER_NAME, "node Team = 2 {", "  name: string = 1;", "}"), reordered),
    ).toEqual([]);
  });

  it("sorts findings by position in the new file, those without a position first", () => {
    const got = findings(
      src(...USER_TEAM, ...STATUS_TASK("open = 1;").map((l) => l.replace("Task = 1", "Task = 3"))),
      src(
        "node User = 1 {",
        "  mail: string = 1;",
        "}",
        "enum Status {",
        "  open = 1;",
        "  closed = 2;",
        "}",
        "node Task = 3 {",
        "  status: Status = 1 [index];",
        "}",
      ),
    );
    expect(got).toEqual([
      "breaking NODE_REMOVED - Node type 'Team' (id 2) was removed without reserving its id. Stored data and old clients still use id 2; keep the type and mark it deprecated, or reserve its id: 'reserved 2;'.",
      "safe FIELD_RENAMED 3:3 Field 'User.email' (id 1) was renamed to 'mail'.",
      "safe ENUM_VALUE_ADDED 7:3 Enum 'Status' value 'closed' (2) was added.",
      "safe FIELD_INDEX_CHANGED 10:3 Field 'Task.status' (id 1) is now indexed.",
    ]);
  });
});
