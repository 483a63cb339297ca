/**
 * Every schema example in the README and the docs (```entdb blocks) must compile
 * cleanly and already be in the canonical format, so the examples cannot rot.
 */

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileSchema } from "../../schema/compile.ts";
import { formatSchema } from "../../schema/format.ts";
import { renderDiagnostics } from "../../schema/render-diagnostics.ts";

const root = join(import.meta.dirname, "..", "..");
const files = ["README.md", ...readdirSync(join(root, "docs")).map((f) => join("docs", f))].filter(
  (f) => f.endsWith(".md"),
);

const blocks = files.flatMap((file) => {
  const text = readFileSync(join(root, file), "utf8");
  return [...text.matchAll(/```entdb\n([\s\S]*?)```/g)].map((m, i) => ({
    name: `${file} example ${i + 1}`,
    source: m[1] ?? "",
  }));
});

describe("schema examples in the docs", () => {
  it("finds the examples", () => {
    expect(blocks.map((b) => b.name)).toContain("README.md example 1");
    expect(blocks.map((b) => b.name)).toContain("docs/schema-language.md example 1");
  });

  for (const block of blocks) {
    it(`${block.name} compiles and is formatted`, () => {
      const source = { path: block.name, text: block.source };
      const result = compileSchema(source);
      expect(renderDiagnostics(result.diagnostics, source)).toBe("");
      expect(result.schema).toBeDefined();
      expect(formatSchema(result.ast, source)).toBe(block.source);
    });
  }
});
