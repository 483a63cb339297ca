/**
 * Keeps docs/generated-proto.md honest: its example schema compiles, and each `proto`
 * block on the page is a verbatim excerpt of the `.proto` generated from that schema.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { printProto } from "../../codegen/proto/print-proto.ts";
import { REPO_ROOT } from "./repo-temp-dir.ts";
import { compileText } from "./tracker-schema.ts";

const DOC = readFileSync(join(REPO_ROOT, "docs/generated-proto.md"), "utf8");

function blocks(language: string): string[] {
  const fence = new RegExp("^```" + language + "\\n([\\s\\S]*?)^```$", "gm");
  return [...DOC.matchAll(fence)].map((m) => m[1]!);
}

describe("docs/generated-proto.md", () => {
  it("shows excerpts of the .proto its example schema generates", () => {
    const [schemaText, ...moreSchemas] = blocks("entdb");
    expect(moreSchemas).toEqual([]);
    const printed = printProto(compileText("docs/generated-proto.md", schemaText!));
    const excerpts = blocks("proto");
    expect(excerpts.length).toBe(6);
    expect(excerpts.filter((excerpt) => !printed.includes(excerpt))).toEqual([]);
  });
});
