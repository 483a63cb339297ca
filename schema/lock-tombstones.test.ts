import { describe, expect, it } from "vitest";
import { compileSchema } from "./compile.ts";
import { lockFromSchema, modelFromLock } from "./lock.ts";
import { withTombstones } from "./lock-tombstones.ts";
import type { Schema } from "./model.ts";

function compile(text: string): Schema {
  const { schema } = compileSchema({ path: "schema.entdb", text });
  if (schema === undefined) throw new Error(`test schema does not compile:\n${text}`);
  return schema;
}

const V1 = `package acme.t;
enum Status {
  open = 1;
  closed = 2;
}
node User = 1 {
  email: string = 1;
  name: string = 2;
  status: Status = 3;
}
node Team = 2 {
  name: string = 1;
}
`;

/** V1 without User.name, Team and Status.closed, none of them reserved. */
const V2 = `package acme.t;
enum Status {
  open = 1;
}
node User = 1 {
  email: string = 1;
  status: Status = 3;
}
`;

describe("withTombstones", () => {
  it("keeps every id the previous lock used that the new schema drops without reserving", () => {
    const locked = withTombstones(compile(V2), compile(V1));
    expect(locked.retiredIds).toEqual([{ first: 2, last: 2 }]);
    expect(locked.nodes[0]?.retiredIds).toEqual([{ first: 2, last: 2 }]);
    expect(locked.enums[0]?.retiredNumbers).toEqual([{ first: 2, last: 2 }]);
  });

  it("carries tombstones forward, and forgets one the schema now reserves", () => {
    const v2 = withTombstones(compile(V2), compile(V1));
    const v3 = withTombstones(
      compile(V2.replace("status: Status = 3;", "status: Status = 3;\n  reserved 2;")),
      v2,
    );
    expect(v3.retiredIds).toEqual([{ first: 2, last: 2 }]);
    expect(v3.nodes[0]?.retiredIds).toBeUndefined();
    expect(v3.nodes[0]?.reservedIds).toEqual([{ first: 2, last: 2 }]);
  });

  it("round-trips through the lock file, and leaves a lock without tombstones as it was", () => {
    const v2 = withTombstones(compile(V2), compile(V1));
    const text = lockFromSchema(v2);
    expect(text).toContain('"retiredIds": [');
    const back = modelFromLock(text, "schema.lock.json");
    expect(back.retiredIds).toEqual(v2.retiredIds);
    expect(back.nodes[0]?.retiredIds).toEqual([{ first: 2, last: 2 }]);
    expect(back.enums[0]?.retiredNumbers).toEqual([{ first: 2, last: 2 }]);
    expect(lockFromSchema(withTombstones(compile(V1), compile(V1)))).toBe(
      lockFromSchema(compile(V1)),
    );
    expect(lockFromSchema(compile(V1))).not.toContain("retired");
  });

  it("refuses a malformed tombstone list in a lock, naming its path", () => {
    const text = lockFromSchema(compile(V1)).replace(
      '"reservedNames": [],\n  "nodes"',
      '"reservedNames": [],\n  "retiredIds": [{ "first": 3, "last": 1 }],\n  "nodes"',
    );
    expect(text).toContain('"retiredIds"');
    expect(() => modelFromLock(text, "schema.lock.json")).toThrow("retiredIds[0].last");
  });
});
