import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileSchema } from "./compile.ts";

const EXAMPLE = readFileSync(
  join(import.meta.dirname, "..", "examples", "tracker", "schema.entdb"),
  "utf8",
);

describe("compileSchema", () => {
  it("compiles the tracker example with no diagnostics", () => {
    const result = compileSchema({ path: "examples/tracker/schema.entdb", text: EXAMPLE });
    expect(result.diagnostics).toEqual([]);
    expect(result.schema?.package).toBe("acme.tracker");
    expect(result.ast.declarations).toHaveLength(13);
  });

  it("returns a model when there are only warnings", () => {
    const result = compileSchema({
      path: "w.entdb",
      text: "package p;\nnode N = 1 { a: string = 1 [required, deprecated]; }\n",
    });
    expect(result.diagnostics.map((d) => [d.code, d.severity])).toEqual([["E0616", "warning"]]);
    expect(result.schema?.nodes[0]?.fields[0]).toMatchObject({ required: true, deprecated: true });
  });

  it("returns no model but the AST when there is an error", () => {
    const result = compileSchema({
      path: "e.entdb",
      text: "package p;\nnode N = 1 { a: Nope = 1; }\n",
    });
    expect(result.schema).toBeUndefined();
    expect(result.diagnostics.map((d) => d.code)).toEqual(["E0402"]);
    expect(result.ast.declarations).toHaveLength(1);
  });

  it("sorts syntax and validation diagnostics together by position", () => {
    const result = compileSchema({
      path: "s.entdb",
      text: "package P;\nnode N = 1 { a: Nope = 1; b int = 2; }\nnode M = 1 { x: int = 1; }\n",
    });
    expect(result.diagnostics.map((d) => d.code)).toEqual(["E0303", "E0402", "E0201", "E0505"]);
  });

  it("survives very deep list nesting with one diagnostic", () => {
    const depth = 50_000;
    const text = `package p; node N = 1 { a: ${"list<".repeat(depth)}int${">".repeat(depth)} = 1 [unique]; }`;
    const result = compileSchema({ path: "d.entdb", text });
    expect(result.diagnostics.map((d) => d.code)).toEqual(["E0403"]);
  });
});
