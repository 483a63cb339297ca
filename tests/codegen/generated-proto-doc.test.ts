/**
 * Keeps docs/generated-proto.md honest: its example schema compiles, and each `proto`
 * block on the page is a verbatim excerpt of one `.proto` generated from that schema.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { printProtoFiles } from "../../codegen/proto/print-proto.ts";
import { REPO_ROOT } from "./repo-temp-dir.ts";
import { compileText } from "./tracker-schema.ts";

const DOC = readFileSync(join(REPO_ROOT, "docs/generated-proto.md"), "utf8");

function blocks(language: string): string[] {
  const fence = new RegExp("^```" + language + "\\n([\\s\\S]*?)^```$", "gm");
  return [...DOC.matchAll(fence)].map((m) => m[1]!);
}

describe("docs/generated-proto.md", () => {
  it("shows excerpts of the .proto files its example schema generates", () => {
    const [schemaText, ...moreSchemas] = blocks("entdb");
    expect(moreSchemas).toEqual([]);
    const printed = printProtoFiles(compileText("docs/generated-proto.md", schemaText!));
    expect(printed.map((p) => p.path)).toEqual([
      "acme/tracker/schema.proto",
      "acme/tracker/task.proto",
      "acme/tracker/assigned_to.proto",
    ]);
    const excerpts = blocks("proto");
    expect(excerpts.length).toBe(6);
    const inSomeFile = (excerpt: string) => printed.some((p) => p.text.includes(excerpt));
    expect(excerpts.filter((excerpt) => !inSomeFile(excerpt))).toEqual([]);
  });
});
