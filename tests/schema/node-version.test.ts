import { describe, expect, it } from "vitest";
import { MIN_NODE, nodeVersionProblem } from "../../bin/node-version.js";

describe("nodeVersionProblem", () => {
  it("accepts the minimum and anything newer", () => {
    expect(MIN_NODE).toBe("22.18.0");
    for (const v of ["22.18.0", "22.20.1", "23.0.0", "24.21.0", "30.1.2"])
      expect(nodeVersionProblem(v)).toBeUndefined();
  });

  it("names the running and the needed version for an older Node", () => {
    expect(nodeVersionProblem("20.20.2")).toBe(
      "this is Node.js 20.20.2, and entdb needs Node.js 22.18.0 or newer (Node 24 LTS is tested). Install a newer Node.js and run the command again.",
    );
    expect(nodeVersionProblem("22.17.9")).toContain("this is Node.js 22.17.9");
  });
});
