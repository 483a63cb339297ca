import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileSchema } from "./compile.ts";
import type { Schema } from "./model.ts";

const EXAMPLE = readFileSync(
  join(import.meta.dirname, "..", "examples", "tracker", "schema.entdb"),
  "utf8",
);

/** Drops spans, which are checked elsewhere, so models compare by content. */
function withoutSpans<T>(value: T): T {
  return JSON.parse(
    JSON.stringify(value, (key, v: unknown) =>
      key === "span" ? undefined : typeof v === "bigint" ? { bigint: v.toString() } : v,
    ),
  ) as T;
}

function compile(text: string): Schema {
  const result = compileSchema({ path: "t.entdb", text });
  expect(result.diagnostics).toEqual([]);
  return result.schema!;
}

describe("buildModel on the tracker example", () => {
  const schema = compile(EXAMPLE);

  it("orders nodes and edges by id and enums by name", () => {
    expect(schema.package).toBe("acme.tracker");
    expect(schema.nodes.map((n) => [n.id, n.name])).toEqual([
      [1, "User"],
      [2, "Team"],
      [3, "Project"],
      [4, "Task"],
      [5, "Comment"],
    ]);
    expect(schema.edges.map((e) => [e.id, e.name, e.fromId, e.toId])).toEqual([
      [100, "MemberOf", 1, 2],
      [101, "AssignedTo", 4, 1],
      [102, "SubtaskOf", 4, 4],
      [103, "BlockedBy", 4, 4],
      [104, "Watches", 1, 4],
    ]);
    expect(schema.enums.map((e) => e.name)).toEqual(["Priority", "TaskStatus", "TeamRole"]);
    expect(schema.reservedIds).toEqual([]);
    expect(schema.reservedNames).toEqual([]);
    expect(schema.sourcePath).toBe("t.entdb");
  });

  it("resolves the Task node completely", () => {
    const task = schema.nodes.find((n) => n.name === "Task")!;
    expect(task.span).toEqual({
      start: EXAMPLE.indexOf("node Task"),
      end: EXAMPLE.indexOf("}", EXAMPLE.indexOf("node Task")) + 1,
    });
    const flags = {
      required: false,
      unique: false,
      index: false,
      searchable: false,
      deprecated: false,
    };
    expect(withoutSpans(task)).toEqual({
      id: 4,
      name: "Task",
      fields: [
        { ...flags, id: 1, name: "project", type: { kind: "ref", targetId: 3 }, required: true },
        {
          ...flags,
          id: 2,
          name: "number",
          type: { kind: "int" },
          required: true,
          doc: 'Sequence number within the project: the 42 in "WEB-42".',
        },
        {
          ...flags,
          id: 3,
          name: "title",
          type: { kind: "string" },
          required: true,
          searchable: true,
        },
        { ...flags, id: 4, name: "body", type: { kind: "string" }, searchable: true },
        {
          ...flags,
          id: 5,
          name: "status",
          type: { kind: "enum", enumName: "TaskStatus" },
          required: true,
          index: true,
          default: { kind: "enum", value: "todo" },
        },
        {
          ...flags,
          id: 6,
          name: "priority",
          type: { kind: "enum", enumName: "Priority" },
          default: { kind: "enum", value: "medium" },
        },
        { ...flags, id: 7, name: "due", type: { kind: "timestamp" }, index: true },
        { ...flags, id: 8, name: "estimate_minutes", type: { kind: "int" } },
        { ...flags, id: 9, name: "labels", type: { kind: "list", element: { kind: "string" } } },
        {
          ...flags,
          id: 10,
          name: "points",
          type: { kind: "float" },
          deprecated: true,
          doc: "Old story points, replaced by estimate_minutes.",
        },
      ],
      uniques: [{ fieldIds: [1, 2] }],
      indexes: [{ fieldIds: [1, 5, 7] }],
      visibility: "tenant",
      deprecated: false,
      reservedIds: [{ first: 11, last: 12 }],
      reservedNames: ["severity"],
      doc: "One piece of work.",
    });
  });

  it("resolves edges, enums, refs in lists and typed defaults", () => {
    expect(withoutSpans(schema.edges.find((e) => e.name === "AssignedTo"))).toEqual({
      id: 101,
      name: "AssignedTo",
      fromId: 4,
      toId: 1,
      uniquePerFrom: false,
      inverseName: "assignments",
      fields: [
        {
          id: 1,
          name: "assigned_at",
          type: { kind: "timestamp" },
          required: true,
          unique: false,
          index: false,
          searchable: false,
          deprecated: false,
          doc: "When the assignment was made.",
        },
        {
          id: 2,
          name: "share",
          type: { kind: "int" },
          required: false,
          unique: false,
          index: false,
          searchable: false,
          deprecated: false,
          default: { kind: "int", value: { bigint: "100" } },
          doc: "Share of the work, in percent.",
        },
      ],
      deprecated: false,
      reservedIds: [],
      reservedNames: [],
      doc: "Who works on a task.",
    });
    const subtask = schema.edges.find((e) => e.name === "SubtaskOf")!;
    expect([subtask.uniquePerFrom, subtask.inverseName, subtask.fields]).toEqual([
      true,
      "subtasks",
      [],
    ]);
    expect(withoutSpans(schema.enums.find((e) => e.name === "TaskStatus"))).toEqual({
      name: "TaskStatus",
      values: [
        { number: 1, name: "todo", deprecated: false },
        { number: 2, name: "in_progress", deprecated: false },
        { number: 3, name: "in_review", deprecated: false },
        { number: 4, name: "done", deprecated: false },
        { number: 5, name: "wont_do", deprecated: false, doc: "Closed without being done." },
      ],
      reservedNumbers: [],
      reservedNames: [],
      doc: "Where a task is in its life.",
    });
    const comment = schema.nodes.find((n) => n.name === "Comment")!;
    expect(comment.fields.find((f) => f.name === "mentions")!.type).toEqual({
      kind: "list",
      element: { kind: "ref", targetId: 1 },
    });
    const user = schema.nodes.find((n) => n.name === "User")!;
    expect(user.fields.map((f) => f.default)).toEqual([
      undefined,
      undefined,
      undefined,
      { kind: "string", value: "UTC" },
      undefined,
      undefined,
      { kind: "bool", value: true },
    ]);
  });
});

describe("buildModel", () => {
  it("sorts fields by id and enum values by number whatever the declaration order", () => {
    const schema = compile(
      "package p;\nenum E { c = 3; a = 1; b = 2; }\nnode N = 1 { z: int = 3; x: int = 1; y: E = 2; }\n",
    );
    expect(schema.nodes[0]!.fields.map((f) => f.id)).toEqual([1, 2, 3]);
    expect(schema.enums[0]!.values.map((v) => v.number)).toEqual([1, 2, 3]);
  });

  it("sorts and merges reserved ranges and sorts reserved names", () => {
    const schema = compile(
      'package p;\nreserved 9, 3 to 4, 5, 20;\nreserved "Zed", "Alpha";\nnode N = 1 { f: int = 1; reserved 12, 11, 14 to 15; reserved "b", "a"; }\nenum E { x = 1; reserved 7, 6; }\n',
    );
    expect(schema.reservedIds).toEqual([
      { first: 3, last: 5 },
      { first: 9, last: 9 },
      { first: 20, last: 20 },
    ]);
    expect(schema.reservedNames).toEqual(["Alpha", "Zed"]);
    expect(schema.nodes[0]!.reservedIds).toEqual([
      { first: 11, last: 12 },
      { first: 14, last: 15 },
    ]);
    expect(schema.nodes[0]!.reservedNames).toEqual(["a", "b"]);
    expect(schema.enums[0]!.reservedNumbers).toEqual([{ first: 6, last: 7 }]);
  });

  it("joins doc lines with newlines", () => {
    const schema = compile(
      "package p;\n/// One.\n///Two.\n///   Three.\nnode N = 1 { a: int = 1; }\n",
    );
    expect(schema.nodes[0]!.doc).toBe("One.\nTwo.\n  Three.");
  });

  it("keeps 64-bit int defaults exact and normalizes timestamp defaults", () => {
    const schema = compile(
      'package p;\nnode N = 1 {\n  a: int = 1 [default = 9223372036854775807];\n  b: int = 2 [default = -9223372036854775808];\n  c: timestamp = 3 [default = "2024-03-01T00:30:00.500+01:00"];\n  d: float = 4 [default = 3];\n  e: float = 5 [default = -2.5e-3];\n}\n',
    );
    expect(schema.nodes[0]!.fields.map((f) => f.default)).toEqual([
      { kind: "int", value: 9223372036854775807n },
      { kind: "int", value: -9223372036854775808n },
      { kind: "timestamp", value: "2024-02-29T23:30:00.5Z" },
      { kind: "float", value: 3 },
      { kind: "float", value: -0.0025 },
    ]);
  });

  it("reads node visibility and deprecation flags", () => {
    const schema = compile(
      "package p;\nnode A = 1 [visibility = public, deprecated] { a: int = 1; }\nnode B = 2 [visibility = private] { a: int = 1; }\nnode C = 3 { a: int = 1; }\nedge L = 4 from A to B [deprecated];\nenum E { x = 1 [deprecated]; }\n",
    );
    expect(schema.nodes.map((n) => [n.visibility, n.deprecated])).toEqual([
      ["public", true],
      ["private", false],
      ["tenant", false],
    ]);
    expect(schema.edges[0]!.deprecated).toBe(true);
    expect(schema.enums[0]!.values[0]!.deprecated).toBe(true);
  });

  it("resolves references to types declared later", () => {
    const schema = compile(
      "package p;\nedge L = 3 from A to B;\nnode A = 1 { b: ref<B> = 1; s: S = 2; }\nnode B = 2 { a: int = 1; }\nenum S { x = 1; }\n",
    );
    expect(schema.nodes[0]!.fields[0]!.type).toEqual({ kind: "ref", targetId: 2 });
    expect(schema.edges[0]).toMatchObject({ fromId: 1, toId: 2 });
  });
});
