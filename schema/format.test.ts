import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import {
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readlink,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { validSchemaSource } from "../tests/schema/fmt/valid-schema-arbitrary.ts";
import { fmtCommand, runFmt } from "./cli/fmt-command.ts";
import { compileSchema } from "./compile.ts";
import { FormatError, formatSchema, quoteString, scanComments } from "./format.ts";
import { parseSchema } from "./parser.ts";
import { renderDiagnostics } from "./render-diagnostics.ts";
import type { SourceFile } from "./span.ts";

const FIXTURES = resolve(import.meta.dirname, "../tests/schema/fmt");
const TRACKER = resolve(import.meta.dirname, "../examples/tracker/schema.entdb");
const fixtureNames = readdirSync(FIXTURES)
  .filter((f) => f.endsWith(".input.entdb"))
  .map((f) => f.slice(0, -".input.entdb".length))
  .sort();

/** Parses (asserting no syntax errors) and formats. */
function fmt(text: string, path = "schema.entdb"): string {
  const source: SourceFile = { path, text };
  const { ast, diagnostics } = parseSchema(source);
  expect(diagnostics).toEqual([]);
  return formatSchema(ast, source);
}

/** The compiled model with every `span` removed, or the diagnostics if it did not compile. */
function modelWithoutSpans(text: string): unknown {
  const { schema, diagnostics } = compileSchema({ path: "schema.entdb", text });
  if (schema === undefined) return { diagnostics: diagnostics.map((d) => d.message) };
  return JSON.parse(
    JSON.stringify(schema, (key, value) =>
      key === "span" ? undefined : typeof value === "bigint" ? `${value}n` : value,
    ),
  );
}

/**
 * Comments in source order, normalized the way the formatter may change them: trailing
 * blanks of line comments dropped, CRLF in block comments made LF, `///` doc lines
 * spelled `/// text`.
 */
function commentTexts(text: string): string[] {
  return scanComments(text).map((c) => {
    if (c.kind === "block") return c.text.replace(/\r\n?/g, "\n");
    const line = c.text.trimEnd();
    if (line.startsWith("///") && !line.startsWith("////")) {
      const rest = line.slice(3).replace(/^ /, "");
      return rest === "" ? "///" : `/// ${rest}`;
    }
    return line;
  });
}

function fixture(name: string, kind: "input" | "expected"): string {
  return readFileSync(join(FIXTURES, `${name}.${kind}.entdb`), "utf8");
}

describe("formatSchema fixtures", () => {
  it("has fixtures", () => {
    expect(fixtureNames).toEqual(["blank-lines", "comments", "spacing"]);
  });

  for (const name of fixtureNames) {
    it(`formats ${name}.input.entdb into ${name}.expected.entdb`, () => {
      const output = fmt(fixture(name, "input"));
      if (process.env["UPDATE_EXPECT"] === "1") {
        writeFileSync(join(FIXTURES, `${name}.expected.entdb`), output);
      }
      expect(output).toBe(fixture(name, "expected"));
    });

    it(`is idempotent on ${name}`, () => {
      const once = fmt(fixture(name, "input"));
      expect(fmt(once)).toBe(once);
      expect(fmt(fixture(name, "expected"))).toBe(fixture(name, "expected"));
    });

    it(`keeps the model of ${name}`, () => {
      const input = fixture(name, "input");
      const before = modelWithoutSpans(input);
      expect(before).not.toHaveProperty("diagnostics");
      expect(modelWithoutSpans(fmt(input))).toEqual(before);
    });

    it(`keeps every comment of ${name} in order`, () => {
      const input = fixture(name, "input");
      expect(commentTexts(fmt(input))).toEqual(commentTexts(input));
    });
  }
});

describe("formatSchema", () => {
  it("leaves the tracker example as it is written", () => {
    const text = readFileSync(TRACKER, "utf8");
    expect(fmt(text)).toBe(text);
  });

  it("is idempotent on the tracker example", () => {
    const once = fmt(readFileSync(TRACKER, "utf8"));
    expect(fmt(once)).toBe(once);
  });

  it("formats random valid schemas idempotently, keeping the model and every comment", () => {
    fc.assert(
      fc.property(validSchemaSource(), (text) => {
        const before = modelWithoutSpans(text);
        expect(before).not.toHaveProperty("diagnostics");
        const once = fmt(text);
        expect(fmt(once)).toBe(once);
        // isDeepStrictEqual first: `toEqual` on every run costs more than the rest of the run.
        const after = modelWithoutSpans(once);
        if (!isDeepStrictEqual(after, before)) expect(after).toEqual(before);
        const comments = [commentTexts(once), commentTexts(text)];
        if (!isDeepStrictEqual(comments[0], comments[1])) expect(comments[0]).toEqual(comments[1]);
        expect(once.endsWith("\n") && !once.endsWith("\n\n")).toBe(true);
      }),
      { numRuns: 500, seed: 20240601 },
    );
  });

  it("formats a file with validation errors", () => {
    const text = "package p;\nnode A = 1 { x : Stauts = 1 ; }\nenum E {}\n";
    expect(compileSchema({ path: "schema.entdb", text }).schema).toBeUndefined();
    expect(fmt(text)).toBe("package p;\n\nnode A = 1 {\n  x: Stauts = 1;\n}\n\nenum E {}\n");
  });

  it("turns CRLF line ends into LF", () => {
    const text =
      "package p;\r\n\r\n// c  \r\nnode A = 1 {\r\n  /* a\r\n  b */\r\n  x: int = 1; // t\r\n}\r\n";
    expect(fmt(text)).toBe(
      "package p;\n\n// c\nnode A = 1 {\n  /* a\n  b */\n  x: int = 1; // t\n}\n",
    );
  });

  it("prints the `;` form for an edge with an empty body, but keeps a body holding comments", () => {
    const text =
      "package p;\nnode A = 1 {}\nedge E = 2 from A to A {}\nedge F = 3 from A to A { // why\n}\n";
    expect(fmt(text)).toBe(
      "package p;\n\nnode A = 1 {}\n\nedge E = 2 from A to A;\n\nedge F = 3 from A to A {\n  // why\n}\n",
    );
  });

  it("continues a declaration on an indented line after a line comment inside it", () => {
    const text = "package p;\nnode A = 1 {\n  x: int // the kind\n    = 1;\n}\n";
    const expected = "package p;\n\nnode A = 1 {\n  x: int // the kind\n      = 1;\n}\n";
    expect(fmt(text)).toBe(expected);
    expect(fmt(expected)).toBe(expected);
  });

  it("normalizes doc comments to `/// text`, keeping the doc text exactly", () => {
    const text = "package p;\n///A node. \n///\n///    Indented.\nnode A = 1 {}\n";
    expect(fmt(text)).toBe("package p;\n\n/// A node. \n///\n///    Indented.\nnode A = 1 {}\n");
  });

  it("keeps a blank line between leading comments and between them and the declaration", () => {
    const text =
      "package p;\nnode A = 1 {\n  x: int = 1;\n  // one\n\n\n  // two\n\n  y: int = 2;\n}\n";
    expect(fmt(text)).toBe(
      "package p;\n\nnode A = 1 {\n  x: int = 1;\n  // one\n\n  // two\n\n  y: int = 2;\n}\n",
    );
  });

  it("refuses to drop a comment the tree does not hold", () => {
    const source: SourceFile = { path: "schema.entdb", text: "package p;\n// tail\n" };
    const { ast } = parseSchema(source);
    expect(ast.endComments.map((c) => c.text)).toEqual(["// tail"]);
    expect(formatError(() => formatSchema({ ...ast, endComments: [] }, source))).toEqual({
      code: "FMT_UNPLACED_COMMENT",
      span: { start: 11, end: 18 },
    });
  });

  it("refuses to print comments out of source order", () => {
    const source: SourceFile = { path: "schema.entdb", text: "// head\npackage p;\n// tail\n" };
    const { ast } = parseSchema(source);
    const pkg = ast.package!;
    expect(pkg.trivia.leading.map((c) => c.text)).toEqual(["// head"]);
    const swapped = {
      ...ast,
      package: { ...pkg, trivia: { ...pkg.trivia, leading: ast.endComments } },
      endComments: pkg.trivia.leading,
    };
    expect(formatError(() => formatSchema(swapped, source))).toEqual({
      code: "FMT_COMMENT_ORDER",
      span: { start: 0, end: 7 },
    });
  });
});

/** The code and span of the FormatError `f` throws. */
function formatError(f: () => unknown): { code: string; span: unknown } {
  try {
    f();
  } catch (err) {
    if (err instanceof FormatError) return { code: err.code, span: err.span };
    throw err;
  }
  throw new Error("expected a FormatError");
}

describe("quoteString", () => {
  it("escapes quotes, backslashes, named controls, other controls and invisible characters", () => {
    expect(quoteString('a"b\\c\nd\te\rf\u0007g\u200bh\u2028i\ufeffj😀é')).toBe(
      '"a\\"b\\\\c\\nd\\te\\rf\\u{7}g\u200bh\\u{2028}i\\u{FEFF}j😀é"',
    );
  });
});

describe("scanComments", () => {
  it("finds line and block comments with byte spans and skips strings", () => {
    const text = 'é // one\nx = "// not /* a comment" /* two\n */ "\\"//" ///doc\n';
    expect(scanComments(text)).toEqual([
      { kind: "line", text: "// one", span: { start: 3, end: 9 } },
      { kind: "block", text: "/* two\n */", span: { start: 36, end: 46 } },
      { kind: "line", text: "///doc", span: { start: 54, end: 60 } },
    ]);
  });
});

describe("entdb fmt", () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "entdb-fmt-"));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const messy = "package p;\nnode A=1{x:int=1;}\n";
  const tidy = "package p;\n\nnode A = 1 {\n  x: int = 1;\n}\n";

  it("rewrites an unformatted file in place and lists it", async () => {
    await writeFile(join(dir, "a.entdb"), messy);
    const result = await runFmt(["a.entdb"], { check: false, cwd: dir });
    expect(result).toEqual({ exitCode: 0, stdout: "a.entdb\n", stderr: "" });
    expect(await readFile(join(dir, "a.entdb"), "utf8")).toBe(tidy);
  });

  it("does not rewrite a file that is already formatted", async () => {
    const path = join(dir, "a.entdb");
    await writeFile(path, tidy);
    const before = await stat(path);
    const result = await runFmt(["a.entdb"], { check: false, cwd: dir });
    expect(result).toEqual({ exitCode: 0, stdout: "", stderr: "" });
    expect((await stat(path)).ino).toBe(before.ino);
  });

  it("formats schema.entdb in the working directory when given no file", async () => {
    await writeFile(join(dir, "schema.entdb"), messy);
    const result = await runFmt([], { check: false, cwd: dir });
    expect(result).toEqual({ exitCode: 0, stdout: "schema.entdb\n", stderr: "" });
    expect(await readFile(join(dir, "schema.entdb"), "utf8")).toBe(tidy);
  });

  it("formats the schema named in entdb.config.json when given no file", async () => {
    await mkdir(join(dir, "db"));
    await writeFile(join(dir, "db", "app.entdb"), messy);
    await writeFile(join(dir, "entdb.config.json"), JSON.stringify({ schema: "db/app.entdb" }));
    const result = await runFmt([], { check: false, cwd: dir });
    expect(result).toEqual({ exitCode: 0, stdout: "db/app.entdb\n", stderr: "" });
    expect(await readFile(join(dir, "db", "app.entdb"), "utf8")).toBe(tidy);
  });

  it("prints paths inside the working directory relative to it", async () => {
    await writeFile(join(dir, "a.entdb"), messy);
    const result = await runFmt([join(dir, "a.entdb")], { check: true, cwd: dir });
    expect(result.stdout).toBe("a.entdb\n");
  });

  it("keeps the file mode and writes through a symlink", async () => {
    await writeFile(join(dir, "real.entdb"), messy, { mode: 0o640 });
    await symlink("real.entdb", join(dir, "link.entdb"));
    const result = await runFmt(["link.entdb"], { check: false, cwd: dir });
    expect(result.exitCode).toBe(0);
    expect((await lstat(join(dir, "link.entdb"))).isSymbolicLink()).toBe(true);
    expect(await readlink(join(dir, "link.entdb"))).toBe("real.entdb");
    expect(await readFile(join(dir, "real.entdb"), "utf8")).toBe(tidy);
    expect((await stat(join(dir, "real.entdb"))).mode & 0o777).toBe(0o640);
  });

  it("--check lists unformatted files, writes nothing and exits 1", async () => {
    await writeFile(join(dir, "a.entdb"), messy);
    await writeFile(join(dir, "b.entdb"), tidy);
    await writeFile(join(dir, "c.entdb"), messy);
    const result = await runFmt(["a.entdb", "b.entdb", "c.entdb"], { check: true, cwd: dir });
    expect(result).toEqual({
      exitCode: 1,
      stdout: "a.entdb\nc.entdb\n",
      stderr: "2 files are not formatted; run 'entdb fmt' to fix.\n",
    });
    expect(await readFile(join(dir, "a.entdb"), "utf8")).toBe(messy);
  });

  it("--check exits 0 when every file is formatted", async () => {
    await writeFile(join(dir, "b.entdb"), tidy);
    expect(await runFmt(["b.entdb"], { check: true, cwd: dir })).toEqual({
      exitCode: 0,
      stdout: "",
      stderr: "",
    });
  });

  it("refuses a file with syntax errors: prints its diagnostics, exits 2, leaves it untouched", async () => {
    const broken = "package p;\nnode A = 1 { x int = 1; }\n";
    await writeFile(join(dir, "bad.entdb"), broken);
    await writeFile(join(dir, "good.entdb"), messy);
    const result = await runFmt(["bad.entdb", "good.entdb"], { check: false, cwd: dir });
    const source = { path: "bad.entdb", text: broken };
    const rendered = renderDiagnostics(parseSchema(source).diagnostics, source, { format: "text" });
    expect(rendered).toContain("bad.entdb:2:");
    expect(result).toEqual({
      exitCode: 2,
      stdout: "good.entdb\n",
      stderr: `${rendered}error: 'bad.entdb' has syntax errors; it was not formatted.\n`,
    });
    expect(await readFile(join(dir, "bad.entdb"), "utf8")).toBe(broken);
    expect(await readFile(join(dir, "good.entdb"), "utf8")).toBe(tidy);
  });

  it("exits 2 for a missing file", async () => {
    expect(await runFmt(["nope.entdb"], { check: true, cwd: dir })).toEqual({
      exitCode: 2,
      stdout: "",
      stderr: "error: cannot read 'nope.entdb': no such file\n",
    });
  });

  it("runs as a commander subcommand with --check", async () => {
    const path = join(dir, "a.entdb");
    await writeFile(path, messy);
    const out: string[] = [];
    const codes: number[] = [];
    const command = fmtCommand({
      stdout: (t) => out.push(t),
      stderr: (t) => out.push(t),
      setExitCode: (c) => codes.push(c),
      exit: (c) => {
        throw new Error(`exit ${c}`);
      },
      color: false,
    });
    await command.parseAsync(["--check", path], { from: "user" });
    expect(out).toEqual([`${path}\n`, "1 file is not formatted; run 'entdb fmt' to fix.\n"]);
    expect(codes).toEqual([1]);
    await expect(
      fmtCommand({
        stdout: () => {},
        stderr: () => {},
        setExitCode: () => {},
        exit: (c) => {
          throw new Error(`exit ${c}`);
        },
        color: false,
      })
        .configureOutput({ writeErr: () => {} })
        .parseAsync(["--bogus"], { from: "user" }),
    ).rejects.toThrow("exit 2");
  });
});
