import { describe, expect, it } from "vitest";
import type { TenantAccess } from "../store/access-tables.ts";
import { readScopeOf } from "./read-scope.ts";

const access = (groups: Record<string, string[]>, members: Record<string, string>): TenantAccess =>
  ({
    created: true,
    members: new Map(Object.entries(members)),
    groups: new Map(Object.entries(groups).map(([g, m]) => [g, new Set(m)])),
  }) as TenantAccess;

const principals = (scope: ReturnType<typeof readScopeOf>) =>
  scope.unrestricted ? undefined : scope.principals;

describe("readScopeOf", () => {
  it("follows a new membership snapshot, never a remembered one", () => {
    const before = access({ "group:eng": ["user:ann"] }, { "group:eng": "member" });
    const after = access({ "group:eng": [] }, { "user:ann": "viewer" });
    const ann = { id: "user:ann", groups: [] };
    expect(principals(readScopeOf(ann, before, 1n))).toEqual([
      "user:ann",
      "group:eng",
      "role:member",
      "tenant:*",
    ]);
    // Asked again of the same snapshot: the same answer.
    expect(principals(readScopeOf(ann, before, 2n))).toEqual([
      "user:ann",
      "group:eng",
      "role:member",
      "tenant:*",
    ]);
    expect(principals(readScopeOf(ann, after, 3n))).toEqual([
      "user:ann",
      "role:viewer",
      "tenant:*",
    ]);
  });

  it("tells subjects with the same id and different claimed groups apart", () => {
    const snap = access({}, { "group:ops": "admin", "user:bo": "viewer" });
    const plain = readScopeOf({ id: "user:bo", groups: [] }, snap, 1n);
    const claimed = readScopeOf({ id: "user:bo", groups: ["group:ops"] }, snap, 1n);
    expect(principals(plain)).toEqual(["user:bo", "role:viewer", "tenant:*"]);
    expect(principals(claimed)).toContain("group:ops");
    expect(claimed.unrestricted === false && claimed.atMicros).toBe(1n);
  });

  it("gives a non-member a public-only scope", () => {
    const scope = readScopeOf({ id: "user:zed", groups: [] }, access({}, {}), 5n);
    expect(scope).toEqual({
      unrestricted: false,
      actor: "user:zed",
      principals: ["user:zed"],
      atMicros: 5n,
      publicOnly: true,
    });
  });
});
