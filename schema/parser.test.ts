import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Comment, Declaration, SchemaFile, Trivia, TypeExpr } from "./ast.ts";
import { lexSchema } from "./lexer.ts";
import { parseSchema, parseSchemaDetailed } from "./parser.ts";

const EXAMPLE = readFileSync(
  join(import.meta.dirname, "..", "examples", "tracker", "schema.entdb"),
  "utf8",
);
const COMMENTS_CASE = readFileSync(
  join(import.meta.dirname, "..", "tests", "schema", "diagnostics", "valid-comments.entdb"),
  "utf8",
).split("// ---- expected ----")[0]!;

function parse(text: string): ReturnType<typeof parseSchema> {
  return parseSchema({ path: "test.entdb", text });
}

/** Every comment and doc comment the AST holds, as [start, end] spans in source order of discovery. */
function astComments(ast: SchemaFile): { spans: [number, number][]; docSpans: [number, number][] } {
  const spans: [number, number][] = [];
  const docSpans: [number, number][] = [];
  const comments = (list: readonly Comment[]): void => {
    for (const c of list) spans.push([c.span.start, c.span.end]);
  };
  const trivia = (t: Trivia): void => {
    comments(t.leading);
    if (t.doc !== undefined) docSpans.push([t.doc.span.start, t.doc.span.end]);
    if (t.trailing !== undefined) comments([t.trailing]);
  };
  if (ast.package !== undefined) trivia(ast.package.trivia);
  const visit = (decl: Declaration): void => {
    trivia(decl.trivia);
    if (decl.kind === "ReservedDecl") return;
    for (const m of decl.members) trivia(m.trivia);
    comments(decl.innerComments);
  };
  ast.declarations.forEach(visit);
  comments(ast.endComments);
  return { spans, docSpans };
}

function expectEveryCommentOnce(text: string): void {
  const { ast, diagnostics } = parse(text);
  expect(diagnostics).toEqual([]);
  const lexed = lexSchema(text).tokens.flatMap((t) => t.comments.map((c) => c.comment));
  const { spans, docSpans } = astComments(ast);
  // Each lexed comment is either one plain comment in the AST or one line of one doc block.
  const found = lexed.map((c) => {
    const plain = spans.filter(([s, e]) => s === c.span.start && e === c.span.end).length;
    const inDoc = docSpans.filter(([s, e]) => s <= c.span.start && c.span.end <= e).length;
    return [c.text, plain + inDoc];
  });
  expect(found).toEqual(lexed.map((c) => [c.text, 1]));
  expect(
    spans.length +
      docSpans.reduce(
        (n, [s, e]) => n + lexed.filter((c) => c.span.start >= s && c.span.end <= e).length,
        0,
      ),
  ).toBe(lexed.length);
}

describe("parseSchema", () => {
  it("builds the AST of a small schema with exact spans", () => {
    const text =
      'package a.b;\nnode User = 1 [visibility = public] {\n  tags: list<ref<User>> = 2 [default = "x", deprecated,];\n}\n';
    const { ast, diagnostics } = parse(text);
    expect(diagnostics).toEqual([]);
    const none = { leading: [], blankLineBefore: false };
    expect(ast).toEqual({
      kind: "SchemaFile",
      package: {
        kind: "PackageDecl",
        parts: [
          { kind: "Ident", name: "a", span: { start: 8, end: 9 } },
          { kind: "Ident", name: "b", span: { start: 10, end: 11 } },
        ],
        trivia: none,
        span: { start: 0, end: 12 },
      },
      declarations: [
        {
          kind: "NodeDecl",
          name: { kind: "Ident", name: "User", span: { start: 18, end: 22 } },
          id: { kind: "IntLiteral", value: 1n, span: { start: 25, end: 26 } },
          options: [
            {
              kind: "Option",
              name: { kind: "Ident", name: "visibility", span: { start: 28, end: 38 } },
              value: { kind: "NameLiteral", name: "public", span: { start: 41, end: 47 } },
              span: { start: 28, end: 47 },
            },
          ],
          members: [
            {
              kind: "FieldDecl",
              name: { kind: "Ident", name: "tags", span: { start: 53, end: 57 } },
              type: {
                kind: "ListType",
                element: {
                  kind: "RefType",
                  target: { kind: "Ident", name: "User", span: { start: 68, end: 72 } },
                  span: { start: 64, end: 73 },
                },
                span: { start: 59, end: 74 },
              },
              id: { kind: "IntLiteral", value: 2n, span: { start: 77, end: 78 } },
              options: [
                {
                  kind: "Option",
                  name: { kind: "Ident", name: "default", span: { start: 80, end: 87 } },
                  value: { kind: "StringLiteral", value: "x", span: { start: 90, end: 93 } },
                  span: { start: 80, end: 93 },
                },
                {
                  kind: "Option",
                  name: { kind: "Ident", name: "deprecated", span: { start: 95, end: 105 } },
                  span: { start: 95, end: 105 },
                },
              ],
              trivia: none,
              span: { start: 53, end: 108 },
            },
          ],
          innerComments: [],
          trivia: none,
          span: { start: 13, end: 110 },
        },
      ],
      endComments: [],
      span: { start: 0, end: 111 },
    });
  });

  it("parses every value kind, composites, reserved statements and both edge forms", () => {
    const text = [
      "package p;",
      'enum E { a = 1 [deprecated]; reserved 2 to 4, 9; reserved "b"; }',
      "node N = 1 { x: float = 1 [default = -2.50]; y: bool = 2 [default = false]; z: int = 3 [default = -7];",
      '  unique (x, y); index (y, z); reserved "old", "older"; }',
      "edge L = 2 from N to N [unique_per_from, inverse = back];",
      "edge M = 3 from N to N { w: int = 1; }",
    ].join("\n");
    const { ast, diagnostics } = parse(text);
    expect(diagnostics).toEqual([]);
    const [e, n, l, m] = ast.declarations;
    expect(e).toMatchObject({
      kind: "EnumDecl",
      members: [
        {
          kind: "EnumValueDecl",
          name: { name: "a" },
          number: { value: 1n },
          options: [{ name: { name: "deprecated" } }],
        },
        {
          kind: "ReservedDecl",
          items: [
            { kind: "ReservedRange", first: { value: 2n }, last: { value: 4n } },
            { kind: "ReservedRange", first: { value: 9n } },
          ],
        },
        { kind: "ReservedDecl", items: [{ kind: "ReservedName", name: { value: "b" } }] },
      ],
    });
    expect(n).toMatchObject({
      kind: "NodeDecl",
      members: [
        { options: [{ value: { kind: "FloatLiteral", value: -2.5, raw: "-2.50" } }] },
        { options: [{ value: { kind: "BoolLiteral", value: false } }] },
        { options: [{ value: { kind: "IntLiteral", value: -7n } }] },
        { kind: "CompositeDecl", constraint: "unique", fields: [{ name: "x" }, { name: "y" }] },
        { kind: "CompositeDecl", constraint: "index", fields: [{ name: "y" }, { name: "z" }] },
        { kind: "ReservedDecl", items: [{ name: { value: "old" } }, { name: { value: "older" } }] },
      ],
    });
    expect(l).toMatchObject({
      kind: "EdgeDecl",
      hasBody: false,
      members: [],
      from: { name: "N" },
      to: { name: "N" },
    });
    expect(m).toMatchObject({
      kind: "EdgeDecl",
      hasBody: true,
      members: [{ name: { name: "w" } }],
    });
  });

  it("treats keywords as names where a name is expected", () => {
    const text =
      "package p;\nnode N = 1 { index: int = 1; unique: int = 2; reserved: int = 3; from: ref<N> = 4; node: int = 5; index (index, unique); }\nenum E { reserved = 1; to = 2; }\n";
    const { ast, diagnostics } = parse(text);
    expect(diagnostics).toEqual([]);
    const node = ast.declarations[0]!;
    expect(node.kind === "NodeDecl" && node.members.map((m) => m.kind)).toEqual([
      "FieldDecl",
      "FieldDecl",
      "FieldDecl",
      "FieldDecl",
      "FieldDecl",
      "CompositeDecl",
    ]);
  });

  it("attaches leading comments, docs, trailing comments and blank lines to items", () => {
    const { ast } = parse(COMMENTS_CASE);
    expect(ast.package?.trivia).toEqual({
      leading: [
        {
          kind: "line",
          text: "// Every kind of comment, in every place; this file is valid.",
          span: { start: 0, end: 61 },
        },
      ],
      trailing: { kind: "line", text: "// trailing", span: { start: 85, end: 96 } },
      blankLineBefore: false,
    });
    const [status, task] = ast.declarations;
    if (status?.kind !== "EnumDecl" || task?.kind !== "NodeDecl")
      throw new Error("unexpected declarations");
    expect(status.trivia.leading.map((c) => [c.text, c.blankLineBefore, c.blankLineAfter])).toEqual(
      [["/* A block comment\n   over two lines. */", true, true]],
    );
    expect(status.trivia.doc?.lines).toEqual(["Documented enum."]);
    expect(status.trivia.blankLineBefore).toBe(true);
    expect(status.trivia.trailing?.text).toBe("// after the enum");
    const [todo, done] = status.members;
    expect(todo?.trivia).toMatchObject({
      leading: [{ text: "// after the brace" }],
      doc: { lines: ["First."] },
      trailing: { text: "/* trailing block */" },
      blankLineBefore: false,
    });
    expect(done?.trivia).toMatchObject({
      leading: [],
      trailing: { text: "// last" },
      blankLineBefore: true,
    });
    expect(status.innerComments.map((c) => c.text)).toEqual(["// inner comment before the brace"]);
    // Comments between an item's own tokens are appended to its leading comments.
    expect(task.trivia.leading.map((c) => c.text)).toEqual(["// inside options"]);
    expect(task.members.map((m) => m.trivia.leading.map((c) => c.text))).toEqual([
      ["/* between */"],
      ["// must be set"],
    ]);
    expect(ast.endComments.map((c) => [c.text, c.blankLineBefore])).toEqual([
      ["// The end.", true],
    ]);
  });

  it("keeps a doc block that is separated by a blank line as plain comments", () => {
    const { ast } = parse("package p;\n/// detached\n\n/// attached\nenum E { a = 1; }\n");
    const decl = ast.declarations[0]!;
    expect(decl.trivia.leading.map((c) => [c.text, c.blankLineAfter])).toEqual([
      ["/// detached", true],
    ]);
    expect(decl.trivia.doc).toEqual({ lines: ["attached"], span: { start: 25, end: 37 } });
  });

  it("keeps every comment of the example schema exactly once", () => {
    expectEveryCommentOnce(EXAMPLE);
  });

  it("keeps every comment exactly once when comments sit in every possible place", () => {
    expectEveryCommentOnce(COMMENTS_CASE);
    const everywhere = [
      "/*0*/ package /*1*/ a /*2*/ . /*3*/ b /*4*/ ; /*5*/ // 6",
      "// 7",
      "/// 8",
      "node /*9*/ N /*10*/ = /*11*/ 1 /*12*/ [ /*13*/ deprecated /*14*/ ] /*15*/ { /*16*/ // 17",
      "  /// 18",
      "  a /*19*/ : /*20*/ list /*21*/ < /*22*/ ref /*23*/ < /*24*/ N /*25*/ > /*26*/ > /*27*/ = /*28*/ 1 /*29*/ ; /*30*/",
      "  b: int = 2; c: int = 3; /*31*/",
      "  unique /*32*/ ( /*33*/ b /*34*/ , /*35*/ c /*36*/ ) /*37*/ ; // 38",
      "  reserved /*39*/ 4 /*40*/ to /*41*/ 5 /*42*/ , /*43*/ 7 /*44*/ ;",
      "  // 45",
      "} // 46",
      "edge /*47*/ L = 2 from /*48*/ N /*49*/ to /*50*/ N /*51*/ ; /*52*/",
      "edge M = 3 from N to N { /*53*/ } /*54*/",
      "enum E { /*55*/ x /*56*/ = /*57*/ 1 /*58*/ ; /*59*/ }",
      'reserved /*60*/ "q" /*61*/ ;',
      "/*62*/",
    ].join("\n");
    expectEveryCommentOnce(everywhere);
  });

  it("keeps a member whose only problem is a missing ';' before a line break", () => {
    const { ast, diagnostics } = parse(
      "package p;\nnode N = 1 {\n  a: int = 1\n  b: int = 2;\n}\n",
    );
    expect(diagnostics.map((d) => [d.code, d.span])).toEqual([["E0202", { start: 36, end: 36 }]]);
    const node = ast.declarations[0]!;
    expect(
      node.kind === "NodeDecl" && node.members.map((m) => m.kind === "FieldDecl" && m.name.name),
    ).toEqual(["a", "b"]);
  });

  it("records declarations and members that failed to parse", () => {
    const text =
      "package p;\nnode A = { }\nnode = 2 { }\nnod B = 3 { }\nnode C = 4 {\n  x: = 1;\n  y: int = ;\n  42;\n}\nenum E { v = ; }\n";
    const { ast, recovery } = parseSchemaDetailed({ path: "t.entdb", text });
    expect(ast.declarations.map((d) => d.kind !== "ReservedDecl" && d.name.name)).toEqual([
      "C",
      "E",
    ]);
    expect([...recovery.brokenTypeNames]).toEqual(["A", "B"]);
    expect(recovery.anonymousBrokenType).toBe(true);
    const [c, e] = ast.declarations;
    expect([...recovery.brokenMembers.get(c!)!]).toEqual(["x", "y", ""]);
    expect([...recovery.brokenMembers.get(e!)!]).toEqual(["v"]);
    expect(recovery.brokenPackage).toBe(false);
  });

  it("stops an unclosed body at the next declaration and parses that declaration", () => {
    const text =
      "package p;\nnode A = 1 {\n  a: int = 1;\n// about B\nnode B = 2 { b: int = 1; }\n";
    const { ast, diagnostics } = parse(text);
    expect(diagnostics.map((d) => [d.code, d.message, d.notes])).toEqual([
      [
        "E0203",
        "The body of node type 'A' is not closed.",
        ["note: reached 'node B' on line 5 before a closing '}'"],
      ],
    ]);
    expect(ast.declarations.map((d) => d.kind !== "ReservedDecl" && d.name.name)).toEqual([
      "A",
      "B",
    ]);
    expect(ast.declarations[1]!.trivia.leading.map((c) => c.text)).toEqual(["// about B"]);
  });

  it("reads 'node' mid-line as a field name, not as the start of the next declaration", () => {
    const { diagnostics } = parse("package p;\nnode N = 1 { node ref<N> = 1; b: int = 2; }\n");
    expect(diagnostics.map((d) => d.message)).toEqual([
      "Expected ':' after the field name 'node', found 'ref'.",
    ]);
  });

  it("reports syntax errors of every declaration in one pass", () => {
    const text =
      "package p;\nnode A = 1 { a int = 1; }\nnode B = 2 { b: int 1; }\nenum E { x 1; }\nedge L = 3 from A B;\n";
    const { diagnostics } = parse(text);
    expect(diagnostics.map((d) => d.message)).toEqual([
      "Expected ':' after the field name 'a', found 'int'.",
      "Expected '=' after the type of field 'b', found '1'.",
      "Expected '=' after the enum value name 'x', found '1'.",
      "Expected 'to' after 'from A', found 'B'.",
    ]);
  });

  it("parses deeply nested list types without exhausting the stack", () => {
    const depth = 20_000;
    const text = `package p; node N = 1 { a: ${"list<".repeat(depth)}int${">".repeat(depth)} = 1; }`;
    const { ast, diagnostics } = parse(text);
    expect(diagnostics).toEqual([]);
    const node = ast.declarations[0];
    const field = node?.kind === "NodeDecl" ? node.members[0] : undefined;
    let type: TypeExpr | undefined = field?.kind === "FieldDecl" ? field.type : undefined;
    let levels = 0;
    while (type?.kind === "ListType") {
      type = type.element;
      levels++;
    }
    expect(levels).toBe(depth);
    expect(type).toMatchObject({ kind: "NamedType", name: { name: "int" } });
  });

  it("never throws and keeps spans inside the text for every prefix of the example", () => {
    const bytes = Buffer.byteLength(EXAMPLE, "utf8");
    for (let end = 0; end <= EXAMPLE.length; end += 7) {
      const text = EXAMPLE.slice(0, end);
      const { diagnostics } = parse(text);
      const size = Buffer.byteLength(text, "utf8");
      for (const d of diagnostics) {
        expect(d.span.start).toBeGreaterThanOrEqual(0);
        expect(d.span.end).toBeGreaterThanOrEqual(d.span.start);
        expect(d.span.end).toBeLessThanOrEqual(Math.min(size, bytes));
      }
    }
  });
});
