/**
 * Hand-written metadata of a small schema for runtime tests: every field kind, a
 * unique key, a ref, a list, an edge with a property and an inverse name. Shaped
 * exactly like a generated client's `schema` constant.
 */

import { defineEnum, type SchemaMeta } from "../../runtime/v1.ts";

/** A task's status. */
export const Status = defineEnum<"todo" | "doing" | "done">({ todo: 1, doing: 2, done: 3 });

/** Type ids as the tests spell them. */
export const USER = 1;
export const TASK = 2;
export const ASSIGNED_TO = 100;

export const testSchema: SchemaMeta = {
  package: "test.app",
  nodes: {
    user: {
      id: USER,
      name: "User",
      fields: {
        email: { id: 1, kind: "string" },
        karma: { id: 2, kind: "int" },
        avatar: { id: 3, kind: "bytes" },
      },
      keys: [["email"]],
    },
    task: {
      id: TASK,
      name: "Task",
      fields: {
        title: { id: 1, kind: "string" },
        status: { id: 2, kind: "enum", enum: Status },
        due: { id: 3, kind: "timestamp" },
        owner: { id: 4, kind: "ref", target: USER },
        labels: { id: 5, kind: "list", element: { kind: "string" } },
        meta: { id: 6, kind: "json" },
        estimate: { id: 7, kind: "float" },
        done: { id: 8, kind: "bool" },
        watchers: { id: 9, kind: "list", element: { kind: "ref", target: USER } },
      },
    },
  },
  edges: {
    assignedTo: {
      id: ASSIGNED_TO,
      name: "AssignedTo",
      from: TASK,
      to: USER,
      fields: { role: { id: 1, kind: "string" } },
      inverse: "assignments",
    },
  },
};
