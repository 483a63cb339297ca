import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compileSchema } from "./compile.ts";
import { schemaFingerprint } from "./fingerprint.ts";
import { LockFileError, lockFromSchema, modelFromLock } from "./lock.ts";
import type { Schema } from "./model.ts";
import { renderDiagnostics } from "./render-diagnostics.ts";

function compile(text: string): Schema {
  const source = { path: "schema.entdb", text };
  const { schema, diagnostics } = compileSchema(source);
  if (schema === undefined || diagnostics.some((d) => d.severity === "error")) {
    throw new Error(`test schema does not compile:\n${renderDiagnostics(diagnostics, source, {})}`);
  }
  return schema;
}

const SMALL = `package acme.small;

/// Where a task is.
enum Status {
  open = 1;
  done = 3 [deprecated];
  reserved 2;
  reserved "closed";
}

/// A person.
node User = 1 [visibility = public] {
  /// Sign-in address.
  email: string = 2 [required, unique];
  karma: int = 1 [default = -9223372036854775808];
}

node Task = 2 {
  title: string = 1 [required, searchable, default = "untitled"];
  status: Status = 2 [default = open, index];
  owner: ref<User> = 3;
  watchers: list<ref<User>> = 4;
  weight: float = 5 [default = 1.5];
  due: timestamp = 6 [default = "2024-01-02T03:04:05Z"];
  urgent: bool = 7 [default = false, deprecated];
  tags: list<Status> = 8;

  index (status, due);
  unique (owner, title);
  reserved 9, 10, 12 to 14;
  reserved "points";
}

edge AssignedTo = 100 from Task to User [unique_per_from, inverse = assignments] {
  share: int = 1 [default = 100];
}

edge Follows = 101 from User to User;

reserved 3 to 5;
reserved "Comment";
`;

/** The lock of SMALL, without its fingerprint line. */
const SMALL_LOCK_BODY = `{
  "lockVersion": 1,
  "package": "acme.small",
  "reservedIds": [
    {
      "first": 3,
      "last": 5
    }
  ],
  "reservedNames": [
    "Comment"
  ],
  "nodes": [
    {
      "id": 1,
      "name": "User",
      "visibility": "public",
      "deprecated": false,
      "fields": [
        {
          "id": 1,
          "name": "karma",
          "type": {
            "kind": "int"
          },
          "required": false,
          "unique": false,
          "index": false,
          "searchable": false,
          "deprecated": false,
          "default": {
            "kind": "int",
            "value": "-9223372036854775808"
          }
        },
        {
          "id": 2,
          "name": "email",
          "type": {
            "kind": "string"
          },
          "required": true,
          "unique": true,
          "index": false,
          "searchable": false,
          "deprecated": false
        }
      ],
      "uniques": [],
      "indexes": [],
      "reservedIds": [],
      "reservedNames": []
    },
    {
      "id": 2,
      "name": "Task",
      "visibility": "tenant",
      "deprecated": false,
      "fields": [
        {
          "id": 1,
          "name": "title",
          "type": {
            "kind": "string"
          },
          "required": true,
          "unique": false,
          "index": false,
          "searchable": true,
          "deprecated": false,
          "default": {
            "kind": "string",
            "value": "untitled"
          }
        },
        {
          "id": 2,
          "name": "status",
          "type": {
            "kind": "enum",
            "enumName": "Status"
          },
          "required": false,
          "unique": false,
          "index": true,
          "searchable": false,
          "deprecated": false,
          "default": {
            "kind": "enum",
            "value": "open"
          }
        },
        {
          "id": 3,
          "name": "owner",
          "type": {
            "kind": "ref",
            "targetId": 1
          },
          "required": false,
          "unique": false,
          "index": false,
          "searchable": false,
          "deprecated": false
        },
        {
          "id": 4,
          "name": "watchers",
          "type": {
            "kind": "list",
            "element": {
              "kind": "ref",
              "targetId": 1
            }
          },
          "required": false,
          "unique": false,
          "index": false,
          "searchable": false,
          "deprecated": false
        },
        {
          "id": 5,
          "name": "weight",
          "type": {
            "kind": "float"
          },
          "required": false,
          "unique": false,
          "index": false,
          "searchable": false,
          "deprecated": false,
          "default": {
            "kind": "float",
            "value": 1.5
          }
        },
        {
          "id": 6,
          "name": "due",
          "type": {
            "kind": "timestamp"
          },
          "required": false,
          "unique": false,
          "index": false,
          "searchable": false,
          "deprecated": false,
          "default": {
            "kind": "timestamp",
            "value": "2024-01-02T03:04:05Z"
          }
        },
        {
          "id": 7,
          "name": "urgent",
          "type": {
            "kind": "bool"
          },
          "required": false,
          "unique": false,
          "index": false,
          "searchable": false,
          "deprecated": true,
          "default": {
            "kind": "bool",
            "value": false
          }
        },
        {
          "id": 8,
          "name": "tags",
          "type": {
            "kind": "list",
            "element": {
              "kind": "enum",
              "enumName": "Status"
            }
          },
          "required": false,
          "unique": false,
          "index": false,
          "searchable": false,
          "deprecated": false
        }
      ],
      "uniques": [
        [
          3,
          1
        ]
      ],
      "indexes": [
        [
          2,
          6
        ]
      ],
      "reservedIds": [
        {
          "first": 9,
          "last": 10
        },
        {
          "first": 12,
          "last": 14
        }
      ],
      "reservedNames": [
        "points"
      ]
    }
  ],
  "edges": [
    {
      "id": 100,
      "name": "AssignedTo",
      "fromId": 2,
      "toId": 1,
      "uniquePerFrom": true,
      "inverseName": "assignments",
      "deprecated": false,
      "fields": [
        {
          "id": 1,
          "name": "share",
          "type": {
            "kind": "int"
          },
          "required": false,
          "unique": false,
          "index": false,
          "searchable": false,
          "deprecated": false,
          "default": {
            "kind": "int",
            "value": "100"
          }
        }
      ],
      "reservedIds": [],
      "reservedNames": []
    },
    {
      "id": 101,
      "name": "Follows",
      "fromId": 1,
      "toId": 1,
      "uniquePerFrom": false,
      "deprecated": false,
      "fields": [],
      "reservedIds": [],
      "reservedNames": []
    }
  ],
  "enums": [
    {
      "name": "Status",
      "values": [
        {
          "number": 1,
          "name": "open",
          "deprecated": false
        },
        {
          "number": 3,
          "name": "done",
          "deprecated": true
        }
      ],
      "reservedNumbers": [
        {
          "first": 2,
          "last": 2
        }
      ],
      "reservedNames": [
        "closed"
      ]
    }
  ]
}
`;

function sha256(text: string): string {
  return `sha256:${createHash("sha256").update(text).digest("hex")}`;
}

/** SMALL_LOCK_BODY with the fingerprint line after the package, as the lock file has it. */
function withFingerprint(body: string): string {
  return body.replace(
    '  "package": "acme.small",\n',
    `  "package": "acme.small",\n  "fingerprint": "${sha256(body)}",\n`,
  );
}

const TRACKER = readFileSync(new URL("../examples/tracker/schema.entdb", import.meta.url), "utf8");

function lockError(text: string): LockFileError {
  try {
    modelFromLock(text, "schema.lock.json");
  } catch (err) {
    if (err instanceof LockFileError) return err;
    throw err;
  }
  throw new Error("modelFromLock accepted the text");
}

describe("lockFromSchema", () => {
  it("writes the canonical JSON with a fingerprint over the same JSON without it", () => {
    expect(lockFromSchema(compile(SMALL))).toBe(withFingerprint(SMALL_LOCK_BODY));
  });

  it("matches the committed lock of the example schema", () => {
    const committed = readFileSync(
      new URL("../examples/tracker/schema.lock.json", import.meta.url),
      "utf8",
    );
    expect(committed).toBe(lockFromSchema(compile(TRACKER)));
  });

  it("records inherit_access only where it is set, and reads it back", () => {
    const text = `package acme.inherit;

node Task = 1 [visibility = private] {
  title: string = 1;
}

node Comment = 2 {
  task: ref<Task> = 1 [inherit_access];
  author: ref<Task> = 2;
}
`;
    const lock = lockFromSchema(compile(text));
    expect(lock.match(/"inheritAccess": true/g)).toHaveLength(1);
    const fields = modelFromLock(lock, "inherit.lock.json").nodes[1]?.fields;
    expect(fields?.map((f) => [f.name, f.inheritAccess ?? false])).toEqual([
      ["task", true],
      ["author", false],
    ]);
    expect(lockFromSchema(compile(text.replace(" [inherit_access]", "")))).not.toContain(
      "inheritAccess",
    );
  });

  it("gives schemaFingerprint the fingerprint the lock records", () => {
    expect(schemaFingerprint(compile(SMALL))).toBe(sha256(SMALL_LOCK_BODY));
  });

  it("is byte-identical whatever the order of declarations, fields and reservations", () => {
    const shuffled = `package acme.small;
reserved "Comment";
edge Follows = 101 from User to User;
node Task = 2 {
  reserved "points";
  reserved 14, 13, 12, 10, 9;
  unique (owner, title);
  index (status, due);
  tags: list<Status> = 8;
  urgent: bool = 7 [deprecated, default = false];
  due: timestamp = 6 [default = "2024-01-02T03:04:05Z"];
  weight: float = 5 [default = 1.5];
  watchers: list<ref<User>> = 4;
  owner: ref<User> = 3;
  status: Status = 2 [index, default = open];
  title: string = 1 [default = "untitled", searchable, required];
}
edge AssignedTo = 100 from Task to User [inverse = assignments, unique_per_from] {
  share: int = 1 [default = 100];
}
node User = 1 [visibility = public] {
  karma: int = 1 [default = -9223372036854775808];
  email: string = 2 [unique, required];
}
enum Status {
  reserved "closed";
  done = 3 [deprecated];
  reserved 2;
  open = 1;
}
reserved 5, 4, 3;
`;
    expect(lockFromSchema(compile(shuffled))).toBe(lockFromSchema(compile(SMALL)));
  });

  it("ignores doc comments, comments and layout", () => {
    const bare = SMALL.replace(/^\s*\/\/\/.*\n/gm, "\n").replace(/\n\n+/g, "\n");
    expect(bare).not.toContain("///");
    expect(lockFromSchema(compile(bare))).toBe(lockFromSchema(compile(SMALL)));
  });

  it("changes the fingerprint when the contract changes", () => {
    const renamed = SMALL.replace("karma: int = 1", "score: int = 1");
    expect(schemaFingerprint(compile(renamed))).not.toBe(schemaFingerprint(compile(SMALL)));
  });
});

describe("modelFromLock", () => {
  it("reads back a model that locks to the same bytes, without spans or docs", () => {
    const lock = lockFromSchema(compile(TRACKER));
    const model = modelFromLock(lock, "schema.lock.json");
    expect(lockFromSchema(model)).toBe(lock);
    const task = model.nodes.find((n) => n.name === "Task");
    expect(task?.span).toBeUndefined();
    expect(task?.doc).toBeUndefined();
    expect(task?.fields.map((f) => f.name)).toEqual([
      "project",
      "number",
      "title",
      "body",
      "status",
      "priority",
      "due",
      "estimate_minutes",
      "labels",
      "points",
    ]);
  });

  it("keeps 64-bit int defaults exact", () => {
    const model = modelFromLock(lockFromSchema(compile(SMALL)), "schema.lock.json");
    expect(model.nodes[0]?.fields[0]?.default).toEqual({
      kind: "int",
      value: -9223372036854775808n,
    });
  });

  it("rejects text that is not JSON", () => {
    const err = lockError("{ nope");
    expect(err.code).toBe("LOCK_INVALID_JSON");
    expect(err.message).toMatch(/^schema\.lock\.json: not valid JSON \(.+\)\.$/);
  });

  it("rejects an unsupported lockVersion", () => {
    const lock = lockFromSchema(compile(SMALL)).replace('"lockVersion": 1', '"lockVersion": 2');
    const err = lockError(lock);
    expect(err.code).toBe("LOCK_UNSUPPORTED_VERSION");
    expect(err.message).toBe(
      "schema.lock.json: unsupported lockVersion 2; this entdb reads version 1. Regenerate the lock with 'entdb lock'.",
    );
  });

  it("names the JSON path of a missing value", () => {
    const lock = lockFromSchema(compile(SMALL)).replace('"required": true,\n', "");
    const err = lockError(lock);
    expect(err.code).toBe("LOCK_INVALID_SHAPE");
    expect(err.message).toBe(
      "schema.lock.json: nodes[0].fields[1].required: expected true or false, got nothing.",
    );
  });

  it("names an unexpected key", () => {
    const lock = lockFromSchema(compile(SMALL)).replace(
      '"uniques": [],',
      '"uniques": [],\n"colour": 1,',
    );
    const err = lockError(lock);
    expect(err.code).toBe("LOCK_INVALID_SHAPE");
    expect(err.message).toBe('schema.lock.json: unexpected key "colour" in nodes[0].');
  });

  it("names a bad kind", () => {
    const lock = lockFromSchema(compile(SMALL)).replace('"kind": "float"\n', '"kind": "double"\n');
    const err = lockError(lock);
    expect(err.code).toBe("LOCK_INVALID_SHAPE");
    expect(err.message).toBe(
      'schema.lock.json: nodes[1].fields[4].type.kind: expected one of "string", "int", "float", "bool", "timestamp", "bytes", "json", "enum", "ref", "list", got "double".',
    );
  });

  it("rejects an int default outside 64 bits", () => {
    const lock = lockFromSchema(compile(SMALL)).replace(
      '"-9223372036854775808"',
      '"-9223372036854775809"',
    );
    const err = lockError(lock);
    expect(err.code).toBe("LOCK_INVALID_SHAPE");
    expect(err.message).toBe(
      'schema.lock.json: nodes[0].fields[0].default.value: expected a 64-bit integer, got "-9223372036854775809".',
    );
  });

  it("rejects a reference to a type that is not in the lock", () => {
    const lock = lockFromSchema(compile(SMALL)).replace(
      '"targetId": 1\n          }',
      '"targetId": 7\n          }',
    );
    const err = lockError(lock);
    expect(err.code).toBe("LOCK_INVALID_MODEL");
    expect(err.message).toBe(
      "schema.lock.json: field 'Task.owner' refers to node type id 7, which is not in the lock.",
    );
  });

  it("reports a hand-edited lock", () => {
    const lock = lockFromSchema(compile(SMALL)).replace('"name": "karma"', '"name": "score"');
    const edited = schemaFingerprint(compile(SMALL.replace("karma: int", "score: int")));
    const err = lockError(lock);
    expect(err.code).toBe("LOCK_FINGERPRINT_MISMATCH");
    expect(err.message).toBe(
      `schema.lock.json: the content does not match its fingerprint (recorded ${sha256(SMALL_LOCK_BODY)}, content ${edited}): the file was edited by hand. Regenerate it from the schema with 'entdb lock'.`,
    );
  });

  it("accepts a lock whose keys were only reformatted", () => {
    const lock = lockFromSchema(compile(SMALL));
    const compact = JSON.stringify(JSON.parse(lock));
    expect(lockFromSchema(modelFromLock(compact, "schema.lock.json"))).toBe(lock);
  });
});
