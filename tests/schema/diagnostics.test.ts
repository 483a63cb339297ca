/**
 * Diagnostics snapshot tests. Each `diagnostics/<case>.entdb` is a schema followed
 * by a `// ---- expected ----` line and the rendered text output in `//` comments.
 * The runner compiles the part before the marker as `<case>.entdb` and compares.
 * `UPDATE_EXPECT=1 npx vitest run tests/schema/diagnostics.test.ts` rewrites the
 * expected parts (and the code table in docs/schema-language.md); review the diff.
 */

import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { describe, expect, it } from "vitest";
import { compileSchema } from "../../schema/compile.ts";
import { DIAGNOSTIC_CATALOG } from "../../schema/messages.ts";
import { renderDiagnostics } from "../../schema/render-diagnostics.ts";

const CASES_DIR = join(import.meta.dirname, "diagnostics");
const DOC_PATH = join(import.meta.dirname, "..", "..", "docs", "schema-language.md");
const MARKER = "// ---- expected ----";
const UPDATE = process.env["UPDATE_EXPECT"] === "1";

interface Case {
  readonly name: string;
  readonly path: string;
  readonly source: string;
  readonly expected: string;
}

function readCase(file: string): Case {
  const path = join(CASES_DIR, file);
  const text = readFileSync(path, "utf8");
  const at = text.startsWith(`${MARKER}\n`) ? 0 : text.indexOf(`\n${MARKER}\n`) + 1;
  if (at <= 0 && !text.startsWith(MARKER)) throw new Error(`${file}: no '${MARKER}' line`);
  const source = text.slice(0, at);
  const expected = text
    .slice(at + MARKER.length + 1)
    .split("\n")
    .filter((line, i, all) => !(i === all.length - 1 && line === ""))
    .map((line) => line.replace(/^\/\/ ?/, ""))
    .join("\n");
  return { name: basename(file), path, source, expected };
}

function render(c: Case): string {
  const result = compileSchema({ path: c.name, text: c.source });
  return renderDiagnostics(result.diagnostics, { path: c.name, text: c.source }).replace(/\n$/, "");
}

function asComments(output: string): string {
  if (output === "") return "";
  return `${output
    .split("\n")
    .map((line) => (line === "" ? "//" : `// ${line}`))
    .join("\n")}\n`;
}

const files = readdirSync(CASES_DIR)
  .filter((f) => f.endsWith(".entdb"))
  .sort();
const cases = files.map(readCase);

describe("diagnostics snapshots", () => {
  for (const c of cases) {
    it(`renders the expected diagnostics for ${c.name}`, () => {
      const actual = render(c);
      if (UPDATE && actual !== c.expected) {
        writeFileSync(c.path, `${c.source}${MARKER}\n${asComments(actual)}`);
        return;
      }
      expect(actual).toBe(c.expected);
    });
  }

  it("covers every diagnostic code of the catalog with at least one case", () => {
    const seen = new Set<string>();
    for (const c of cases) {
      for (const m of c.expected.matchAll(/^(?:error|warning)\[(E\d{4})\]/gm)) seen.add(m[1]!);
    }
    const missing = Object.values(DIAGNOSTIC_CATALOG)
      .map((e) => e.code)
      .filter((code) => !seen.has(code));
    expect(missing).toEqual([]);
  });
});

const TABLE_START = "<!-- diagnostic-codes:start -->";
const TABLE_END = "<!-- diagnostic-codes:end -->";

function codeTable(): string {
  const rows = Object.values(DIAGNOSTIC_CATALOG).map(
    (e) => `| \`${e.code}\` | ${e.severity} | ${e.summary} |`,
  );
  return ["| code | severity | meaning |", "| --- | --- | --- |", ...rows].join("\n");
}

describe("docs/schema-language.md", () => {
  it("lists exactly the codes of the catalog, with their severity and meaning", () => {
    const doc = readFileSync(DOC_PATH, "utf8");
    const start = doc.indexOf(TABLE_START);
    const end = doc.indexOf(TABLE_END);
    expect(start).toBeGreaterThanOrEqual(0);
    expect(end).toBeGreaterThan(start);
    const current = doc.slice(start + TABLE_START.length, end).trim();
    if (UPDATE && current !== codeTable()) {
      writeFileSync(
        DOC_PATH,
        `${doc.slice(0, start + TABLE_START.length)}\n${codeTable()}\n${doc.slice(end)}`,
      );
      return;
    }
    expect(current).toBe(codeTable());
  });

  it("shows diagnostics exactly as the compiler renders them", () => {
    const doc = readFileSync(DOC_PATH, "utf8");
    const example = /## Diagnostics[\s\S]*?```text\n([\s\S]*?)```/.exec(doc)?.[1];
    // The doc's example is line 12 of a schema whose enum is named Status.
    const source = [
      "package acme.tracker;",
      "",
      "enum Status {",
      "  todo = 1;",
      "  doing = 2;",
      "  done = 3;",
      "}",
      "",
      "node Task = 1 {",
      "  title: string = 1;",
      "  /// Where the task is.",
      "  status: Stauts = 2;",
      "}",
      "",
    ].join("\n");
    const result = compileSchema({ path: "schema.entdb", text: source });
    const rendered = renderDiagnostics(result.diagnostics, { path: "schema.entdb", text: source });
    const firstBlock = rendered.split("\n\n")[0];
    expect(`${firstBlock}\n`).toBe(example);
  });
});
