import { describe, expect, it } from "vitest";
import { PrincipalError, parseCallerPrincipal, parsePrincipal } from "./principal.ts";

describe("parsePrincipal", () => {
  it("parses every kind", () => {
    expect(parsePrincipal("user:alice@example.com")).toEqual({
      kind: "user",
      id: "alice@example.com",
      text: "user:alice@example.com",
    });
    expect(parsePrincipal("service:importer")).toMatchObject({ kind: "service", id: "importer" });
    expect(parsePrincipal("group:eng")).toMatchObject({ kind: "group", id: "eng" });
    expect(parsePrincipal("role:admin")).toEqual({
      kind: "role",
      role: "admin",
      text: "role:admin",
    });
    expect(parsePrincipal("tenant:*")).toEqual({ kind: "tenant", text: "tenant:*" });
    expect(parsePrincipal("user:auth0|123")).toMatchObject({ id: "auth0|123" });
  });

  it.each([
    ["alice", "it has no kind prefix"],
    ["bob:alice", '"bob" is not a principal kind'],
    ["user:", "the id must be"],
    ["user: alice", "the id must be"],
    ["user:-x", "the id must be"],
    [`user:${"a".repeat(201)}`, "the id must be"],
    ["role:superuser", "the role must be one of viewer, member, admin, owner"],
    ["tenant:acme", 'the only tenant principal is "tenant:*"'],
  ])("refuses %j: %s", (text, why) => {
    expect(() => parsePrincipal(text)).toThrow(PrincipalError);
    expect(() => parsePrincipal(text)).toThrow(why);
  });

  it("lets only users and services authenticate", () => {
    expect(parseCallerPrincipal("service:ci").text).toBe("service:ci");
    expect(() => parseCallerPrincipal("group:eng")).toThrow("only user:ID and service:ID");
    expect(() => parseCallerPrincipal("tenant:*")).toThrow("only user:ID and service:ID");
  });
});
