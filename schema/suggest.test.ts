import { describe, expect, it } from "vitest";
import { closestName, editDistance, kindAlias } from "./suggest.ts";

describe("editDistance", () => {
  it("counts insertions, deletions and substitutions", () => {
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("abc", "")).toBe(3);
    expect(editDistance("kitten", "sitting")).toBe(3);
    expect(editDistance("same", "same")).toBe(0);
  });

  it("counts a swap of adjacent letters as one edit", () => {
    expect(editDistance("Stauts", "Status")).toBe(1);
    expect(editDistance("requried", "required")).toBe(1);
  });
});

describe("closestName", () => {
  it("suggests the closest candidate within a third of the name's length", () => {
    expect(closestName("Stauts", ["Status", "User", "string"])).toBe("Status");
    expect(closestName("requried", ["required", "unique", "index"])).toBe("required");
    expect(closestName("tod", ["todo", "done"])).toBe("todo");
  });

  it("ignores case when measuring, but prefers the candidate whose case matches", () => {
    expect(closestName("String", ["string", "strings"])).toBe("string");
    expect(closestName("USER", ["User"])).toBe("User");
  });

  it("suggests nothing when every candidate is too far or the name itself", () => {
    expect(closestName("completely", ["User", "Task"])).toBeUndefined();
    expect(closestName("User", ["User"])).toBeUndefined();
    expect(closestName("x", [])).toBeUndefined();
  });

  it("breaks ties by candidate order", () => {
    expect(closestName("ab", ["ac", "ad"])).toBe("ac");
  });
});

describe("kindAlias", () => {
  it("maps names from other languages to scalar kinds", () => {
    expect(kindAlias("integer")).toBe("int");
    expect(kindAlias("Boolean")).toBe("bool");
    expect(kindAlias("datetime")).toBe("timestamp");
    expect(kindAlias("double")).toBe("float");
    expect(kindAlias("text")).toBe("string");
    expect(kindAlias("Status")).toBeUndefined();
  });
});
