/**
 * The emitter `client.ts` is printed with (codegen/client/generated-file.ts): lines,
 * indentation blocks, paragraph breaks, JSDoc comments and the runtime import it adds
 * only when a runtime symbol was printed. A schema whose docs hold quotes, backticks,
 * comment and regex look-alikes, CRLFs and blank lines documents the output in a
 * snapshot and must still parse; generating must not load the TypeScript compiler.
 */

import { execFileSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { generateClient } from "../../codegen/client/generate-client.ts";
import { GeneratedFile, runtimeSymbol } from "../../codegen/client/generated-file.ts";
import { CodegenError } from "../../codegen/codegen-error.ts";
import type { Schema } from "../../schema/model.ts";
import { smallSchema } from "./small-schema.ts";

const runtime = { namespace: "rt", from: "my/runtime" };

/** Compares with the expected file, or rewrites it when UPDATE_EXPECT=1. */
function expectFile(name: string, actual: string): void {
  const path = join(import.meta.dirname, "expected", name);
  if (process.env["UPDATE_EXPECT"] === "1") writeFileSync(path, actual);
  expect(actual).toBe(readFileSync(path, "utf8"));
}

/** The syntax errors TypeScript reports for `text`. */
function syntaxErrors(text: string): string[] {
  const out = ts.transpileModule(text, { reportDiagnostics: true, fileName: "client.ts" });
  return (out.diagnostics ?? []).map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
}

describe("GeneratedFile", () => {
  it("prints lines, blocks indented two spaces, and a tail after the closing brace", () => {
    const file = new GeneratedFile("// head\n", runtime);
    file.print("const a = ", 1, ";");
    file.block(
      ["const b = "],
      () => {
        file.print("x: ", ["y", [" | ", "z"]], ",");
        file.block(["inner: "], () => file.print("deep: true,"), ",");
      },
      ";",
    );
    expect(file.toString()).toBe(
      "// head\nconst a = 1;\nconst b = {\n  x: y | z,\n  inner: {\n    deep: true,\n  },\n};\n",
    );
  });

  it("puts a blank line between paragraphs, never first and never two in a row", () => {
    const file = new GeneratedFile("", runtime);
    file.print();
    file.print("a;");
    file.print();
    file.print();
    file.print("b;");
    file.print();
    expect(file.toString()).toBe("a;\n\nb;\n\n");
  });

  it("imports the runtime as a namespace only once a runtime symbol is printed", () => {
    const without = new GeneratedFile("/** x */\n\n", runtime);
    without.print("type A = string;");
    expect(without.toString()).toBe("/** x */\n\ntype A = string;\n");

    const file = new GeneratedFile("/** x */\n\n", { namespace: "rt", from: 'odd "path"\n' });
    file.print("type A = ", runtimeSymbol("Id"), "<", [runtimeSymbol("Kind")], ">;");
    file.print("type B = ", runtimeSymbol("Id"), ";");
    expect(file.toString()).toBe(
      '/** x */\n\nimport * as rt from "odd \\"path\\"\\n";\n\ntype A = rt.Id<rt.Kind>;\ntype B = rt.Id;\n',
    );
  });

  it("prints an empty file as its preamble", () => {
    expect(new GeneratedFile("", runtime).toString()).toBe("");
    expect(new GeneratedFile("// only\n", runtime).toString()).toBe("// only\n");
  });

  it("prints JSDoc on one line when it is one line, else a `*` line per line, trimmed", () => {
    const file = new GeneratedFile("", runtime);
    file.indented(() => {
      file.doc("One line.");
      file.doc("First.\n\nThird,\r\nafter CRLF.");
      file.doc("Ends a comment: */ early.", true);
      file.doc(undefined, true);
      file.doc(undefined);
      file.doc("");
      file.doc("", true);
      file.doc("\n\nAfter empty lines, trailing spaces   \n  \n");
      file.doc("  Indented  \n  stays indented\t\n");
      file.doc("Lone CR\rand a line separator\u2028end.");
    });
    expect(file.toString()).toBe(
      [
        "  /** One line. */",
        "  /**",
        "   * First.",
        "   *",
        "   * Third,",
        "   * after CRLF.",
        "   */",
        "  /**",
        "   * Ends a comment: *\\/ early.",
        "   * @deprecated",
        "   */",
        "  /** @deprecated */",
        "  /** @deprecated */",
        "  /** After empty lines, trailing spaces */",
        "  /**",
        "   *   Indented",
        "   *   stays indented",
        "   */",
        "  /**",
        "   * Lone CR",
        "   * and a line separator",
        "   * end.",
        "   */",
        "",
      ].join("\n"),
    );
  });

  it("refuses a line break inside a printed line", () => {
    const file = new GeneratedFile("", runtime);
    expect(() => file.print("a", ["\n", "b"])).toThrow(
      'A printed line must not hold a line break: "a\\nb".',
    );
    expect(() => file.print("a\rb")).toThrow(CodegenError);
  });

  it("refuses a number it cannot print exactly", () => {
    const file = new GeneratedFile("", runtime);
    expect(() => file.print(2 ** 53)).toThrow(CodegenError);
    expect(() => file.print(0.5)).toThrow("Cannot print the number 0.5 exactly.");
  });
});

/** The small schema with docs and names that a naive string or comment tracker trips on. */
function trickySchema(): Schema {
  const [person, ...nodes] = smallSchema.nodes;
  const [color] = smallSchema.enums;
  if (person === undefined || color === undefined) throw new Error("small schema changed");
  return {
    ...smallSchema,
    package: "demo.it's",
    enums: [
      {
        ...color,
        doc: 'An `odd backtick, a "quote" and it\'s /* not */ a // comment.',
        values: color.values.map((v, i) =>
          // biome-ignore lint/suspicious/noTemplateCurlyInString: the doc text must hold a `${`.
          i === 0 ? { ...v, doc: "First line.\n\nAfter a blank line `x\nand ${y}." } : v,
        ),
      },
    ],
    nodes: [
      {
        ...person,
        doc: "\nStarts with a line break,\r\nhas a CRLF, a tab\there and trailing spaces   ",
        fields: person.fields.map((f, i) =>
          // biome-ignore lint/suspicious/noTemplateCurlyInString: the doc text must hold a `${`.
          i === 1 ? { ...f, doc: "Regex-like a/b/c and `template ${x}`." } : f,
        ),
      },
      ...nodes,
    ],
    edges: smallSchema.edges.map((e, i) => (i === 0 ? { ...e, doc: "" } : e)),
  };
}

describe("generateClient output", () => {
  it("prints docs that look like strings, templates, comments and regexes as plain doc lines", () => {
    const { content } = generateClient(trickySchema(), { runtimeImport: "../runtime/v1.ts" });
    expectFile("tricky/client.ts.expected", content);
    expect(syntaxErrors(content)).toEqual([]);
  });

  it("prints a client TypeScript parses without errors", () => {
    expect(syntaxErrors(generateClient(smallSchema).content)).toEqual([]);
    // The check is not vacuous.
    expect(syntaxErrors("export interface {")).not.toEqual([]);
  });
});

/**
 * Generates the small schema's client in a fresh Node process and returns the modules
 * of TypeScript it resolved; then, as a control that the hook sees them, resolves
 * "typescript" and counts again.
 */
function runtimeImportsOfGenerating(): { during: string[]; control: number } {
  const script = `
import { registerHooks } from "node:module";
const seen = [];
registerHooks({
  resolve(specifier, context, next) {
    const result = next(specifier, context);
    if (/\\/node_modules\\/typescript\\//.test(result.url)) seen.push(result.url);
    return result;
  },
});
const { generateClient } = await import("./codegen/client/index.ts");
const { smallSchema } = await import("./tests/client/small-schema.ts");
generateClient(smallSchema);
const during = [...seen];
import.meta.resolve("typescript");
console.log(JSON.stringify({ during, control: seen.length }));
`;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: join(import.meta.dirname, "../.."),
    encoding: "utf8",
  });
  return JSON.parse(out) as { during: string[]; control: number };
}

describe("generateClient at run time", () => {
  it("does not load the TypeScript compiler", () => {
    expect(runtimeImportsOfGenerating()).toEqual({ during: [], control: 1 });
  });
});
