/**
 * The client printer (codegen/client/print-structures.ts) must print exactly what
 * ts-morph prints for the same structures, since `client.ts` used to be printed by
 * ts-morph and its output is checked in. Each case prints one statement list both ways
 * and compares the whole text: the tracker example, the small hand-made schema, the
 * 500-type bench schema, a schema whose docs and package name hit code-block-writer's
 * string and comment tracking, and hand-written structures using every field the
 * printer supports. Shapes it does not support must throw instead of printing.
 */

import { execFileSync } from "node:child_process";
import { join } from "node:path";
import {
  IndentationText,
  NewLineKind,
  Project,
  QuoteKind,
  StructureKind,
  type WriterFunction,
} from "ts-morph";
import { describe, expect, it } from "vitest";
import type { CodeWriter } from "../../codegen/client/code-writer.ts";
import { clientStatements, generateClient } from "../../codegen/client/generate-client.ts";
import { type PrintableStatement, printStatements } from "../../codegen/client/print-structures.ts";
import { STRUCTURE_KIND } from "../../codegen/client/structure-kind.ts";
import { CodegenError } from "../../codegen/codegen-error.ts";
import { compileSchema } from "../../schema/compile.ts";
import type { Schema } from "../../schema/model.ts";
import { generateSchemaPair } from "../bench/check-bench.ts";
import { smallSchema } from "./small-schema.ts";
import { trackerSchema } from "./tracker-schema.ts";

/** Prints with ts-morph, with the settings `client.ts` was always printed with. */
function printWithTsMorph(statements: readonly PrintableStatement[]): string {
  const project = new Project({
    useInMemoryFileSystem: true,
    manipulationSettings: {
      indentationText: IndentationText.TwoSpaces,
      newLineKind: NewLineKind.LineFeed,
      quoteKind: QuoteKind.Double,
      useTrailingCommas: true,
    },
  });
  return project.createSourceFile("client.ts", { statements: [...statements] }).getFullText();
}

/** Both printers' output for the client of `schema`. */
function bothPrints(schema: Schema, runtimeImport?: string): { ours: string; tsMorph: string } {
  const statements = [
    ...clientStatements(schema, runtimeImport === undefined ? {} : { runtimeImport }),
  ];
  return { ours: printStatements(statements), tsMorph: printWithTsMorph(statements) };
}

function benchSchema(): Schema {
  const compiled = compileSchema({ path: "schema.entdb", text: generateSchemaPair().old });
  if (compiled.schema === undefined) throw new Error("the bench schema does not compile");
  return compiled.schema;
}

/** The small schema with docs and names that code-block-writer's state tracking reacts to. */
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

/**
 * Generates the small schema's client in a fresh Node process and returns the modules
 * of ts-morph, TypeScript and code-block-writer it resolved; then, as a control that
 * the hook sees them, resolves "ts-morph" and counts again.
 */
function runtimeImportsOfGenerating(): { during: string[]; control: number } {
  const script = `
import { registerHooks } from "node:module";
const seen = [];
registerHooks({
  resolve(specifier, context, next) {
    const result = next(specifier, context);
    if (/\\/node_modules\\/(ts-morph|typescript|@ts-morph|code-block-writer)\\//.test(result.url)) seen.push(result.url);
    return result;
  },
});
const { generateClient } = await import("./codegen/client/index.ts");
const { smallSchema } = await import("./tests/client/small-schema.ts");
generateClient(smallSchema);
const during = [...seen];
import.meta.resolve("ts-morph");
console.log(JSON.stringify({ during, control: seen.length }));
`;
  const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
    cwd: join(import.meta.dirname, "../.."),
    encoding: "utf8",
  });
  return JSON.parse(out) as { during: string[]; control: number };
}

describe("generateClient at run time", () => {
  it("loads neither ts-morph nor TypeScript", () => {
    expect(runtimeImportsOfGenerating()).toEqual({ during: [], control: 1 });
  });
});

describe("printStatements", () => {
  it("uses ts-morph's StructureKind numbers", () => {
    expect(STRUCTURE_KIND).toEqual({
      Function: StructureKind.Function,
      ImportDeclaration: StructureKind.ImportDeclaration,
      Interface: StructureKind.Interface,
      PropertySignature: StructureKind.PropertySignature,
      TypeAlias: StructureKind.TypeAlias,
    });
  });

  it("prints the tracker example's client exactly as ts-morph does", () => {
    const { ours, tsMorph } = bothPrints(trackerSchema());
    expect(ours).toBe(tsMorph);
  });

  it("prints the small schema's client exactly as ts-morph does", () => {
    const { ours, tsMorph } = bothPrints(smallSchema, "../runtime/v1.ts");
    expect(ours).toBe(tsMorph);
  });

  it("prints docs that look like strings, templates, comments and regexes as ts-morph does", () => {
    const { ours, tsMorph } = bothPrints(trickySchema(), 'odd "quoted"\\path\nwith a line break');
    expect(ours).toBe(tsMorph);
  });

  it("prints the 500-type bench schema's client exactly as ts-morph does", () => {
    const { ours, tsMorph } = bothPrints(benchSchema());
    expect(ours.length).toBeGreaterThan(2_000_000);
    expect(ours).toBe(tsMorph);
  }, 60_000);

  it("generateClient returns the summary comment, then what ts-morph prints", () => {
    const schema = trackerSchema();
    expect(generateClient(schema).content).toBe(
      `/**\n * The typed client of package \`${schema.package}\`.\n */\n\n${printWithTsMorph([...clientStatements(schema)])}`,
    );
  });

  it("prints every supported field as ts-morph does", () => {
    // Inside a block, a line that starts in what code-block-writer takes for a template
    // or a regex is not indented; `write("")` at a line start writes the indentation.
    const writer = (w: CodeWriter): void => {
      w.write("const a = ").inlineBlock(() => {
        w.write("t: `open");
        w.newLine();
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the text must hold a `${`.
        w.write("in the template ${x} `,\nu: /`/, w: a / b,\nv: c,");
        w.newLine();
        w.writeLine("s: 'it''s' + \"q\\\"\" + \"line \\");
        w.writeLine('end",');
        w.write("");
      });
      w.write(";");
      w.blankLineIfLastNot();
      w.blankLineIfLastNot();
    };
    const statements: PrintableStatement[] = [
      { kind: STRUCTURE_KIND.ImportDeclaration, defaultImport: "a", moduleSpecifier: "./a.ts" },
      {
        kind: STRUCTURE_KIND.ImportDeclaration,
        defaultImport: "b",
        namespaceImport: "bs",
        isTypeOnly: true,
        namedImports: [],
        moduleSpecifier: 'it\'s "b"',
      },
      { kind: STRUCTURE_KIND.ImportDeclaration, moduleSpecifier: "./side-effect.ts" },
      "let plain = 1;",
      writer,
      {
        kind: STRUCTURE_KIND.TypeAlias,
        name: "Multi",
        isDefaultExport: true,
        typeParameters: [],
        docs: ["One.", "", "\nLeading break\r\nthen CRLF\n\nand a blank line"],
        type: "{\n  a: string;\r\n}",
      },
      {
        kind: STRUCTURE_KIND.Interface,
        name: "I",
        hasDeclareKeyword: true,
        extends: ["A", "B<C>"],
        methods: [],
        properties: [
          { name: "a", hasQuestionToken: true },
          {
            kind: StructureKind.PropertySignature,
            name: "b",
            isReadonly: true,
            type: "{\n  nested: true;\n}",
            docs: ["Doc.\nTwo lines."],
          },
        ],
      },
      { kind: STRUCTURE_KIND.Interface, name: "Empty", extends: ["   "] },
      {
        kind: STRUCTURE_KIND.Interface,
        name: "LineBreaksInNames",
        properties: [
          { name: "cr\r", hasQuestionToken: true, type: "string" },
          { name: "lf\nname", isReadonly: true },
          { name: "", type: "   " },
        ],
      },
      { kind: STRUCTURE_KIND.TypeAlias, name: "Cr\r", type: "1" },
      {
        kind: STRUCTURE_KIND.Function,
        name: "k",
        parameters: [{ name: "p\r", hasQuestionToken: true }, { name: "q" }],
      },
      { kind: STRUCTURE_KIND.TypeAlias, name: "Blank", type: "  " },
      {
        kind: STRUCTURE_KIND.Function,
        name: "f",
        isAsync: true,
        isExported: true,
        docs: ["Makes things."],
        parameters: [
          { name: "a", type: "string" },
          { name: "b", hasQuestionToken: true },
          { name: "c", type: "number  ", initializer: "1" },
          { name: "d", type: "D \t " },
          { name: "rest", isRestParameter: true, type: "unknown[]" },
        ],
        returnType: "Promise<void>",
        statements: ["if (a) {\n  return;\n}", "await g();", "}"],
      },
      {
        kind: STRUCTURE_KIND.Function,
        name: "g",
        hasDeclareKeyword: true,
        parameters: [],
        returnType: "void",
      },
      { kind: STRUCTURE_KIND.Function, name: "h", statements: "return 1;" },
      "// a line comment left open",
      { kind: STRUCTURE_KIND.TypeAlias, name: "AfterComment", type: "1" },
      "/* a block comment left open",
      { kind: STRUCTURE_KIND.Interface, name: "AfterBlockComment", properties: [] },
    ];
    expect(printStatements(statements)).toBe(printWithTsMorph(statements));
  });

  it("prints an empty list as an empty file, as ts-morph does", () => {
    expect(printStatements([])).toBe("");
    expect(printWithTsMorph([])).toBe("");
  });

  describe("throws a CodegenError for what it does not support", () => {
    const typeWriter: WriterFunction = (w) => {
      w.write("string");
    };
    const cases: [string, PrintableStatement, string][] = [
      [
        "interface methods",
        { kind: STRUCTURE_KIND.Interface, name: "I", methods: [{ name: "m" }] },
        "interface `I` with its `methods` field",
      ],
      [
        "a type written by a writer function",
        { kind: STRUCTURE_KIND.TypeAlias, name: "T", type: typeWriter },
        "a type with a writer function",
      ],
      [
        "a JSDoc structure",
        {
          kind: STRUCTURE_KIND.TypeAlias,
          name: "T",
          type: "1",
          docs: [{ description: "x" }],
        },
        "a doc comment with a JSDoc structure",
      ],
      [
        "named imports",
        {
          kind: STRUCTURE_KIND.ImportDeclaration,
          namedImports: ["a"],
          moduleSpecifier: "m",
        },
        "import declaration with its `namedImports` field",
      ],
      [
        "a writer function in a function body",
        { kind: STRUCTURE_KIND.Function, name: "f", statements: [typeWriter] },
        "function body with a writer function",
      ],
      [
        "a comment in a parameter before a comma",
        {
          kind: STRUCTURE_KIND.Function,
          name: "f",
          parameters: [{ name: "a", type: "A /* x */" }, { name: "b" }],
        },
        "parameter `a` with comments, quotes or non-ASCII text before a comma",
      ],
      [
        "a class",
        { kind: StructureKind.Class, name: "C" } as unknown as PrintableStatement,
        "statement with a structure of kind 2",
      ],
    ];
    for (const [name, statement, message] of cases) {
      it(name, () => {
        let thrown: unknown;
        try {
          printStatements([statement]);
        } catch (err) {
          thrown = err;
        }
        expect(thrown).toBeInstanceOf(CodegenError);
        expect((thrown as CodegenError).code).toBe("generator-failed");
        expect((thrown as CodegenError).message).toBe(
          `The client printer cannot print ${message}; describe it with the fields printable-fields.ts lists, or extend print-structures.ts.`,
        );
      });
    }
  });
});
