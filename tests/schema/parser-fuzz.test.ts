/**
 * Property-based robustness tests of the schema compiler: random token soups, random
 * mutations of the example schema, generated valid schemas (with comments sprinkled
 * everywhere) and mutations of those. Every run must end in a model or in at least
 * one error, never throw, and keep every diagnostic span inside the source; valid
 * schemas must compile cleanly and keep every comment exactly once.
 *
 * Runs are seeded, so the suite is deterministic. With `CI=true` it runs 20,000
 * cases; locally a tenth of that. `FUZZ_SEED=<n>` explores other seeds.
 */

import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Comment, SchemaFile, Trivia } from "../../schema/ast.ts";
import { compileSchema } from "../../schema/compile.ts";
import { lexSchema } from "../../schema/lexer.ts";
import { renderDiagnostics } from "../../schema/render-diagnostics.ts";

const EXAMPLE = readFileSync(
  join(import.meta.dirname, "..", "..", "examples", "tracker", "schema.entdb"),
  "utf8",
);
const SCALE = process.env["CI"] === "true" ? 1 : 0.1;
const SEED = Number(process.env["FUZZ_SEED"] ?? 20_240_601);
const runs = (n: number): number => Math.max(1, Math.round(n * SCALE));

/** The invariants every input must satisfy; returns the compile result for further checks. */
function checkAnyInput(text: string): ReturnType<typeof compileSchema> {
  const source = { path: "fuzz.entdb", text };
  const result = compileSchema(source);
  const errors = result.diagnostics.filter((d) => d.severity === "error");
  if (result.schema === undefined) expect(errors.length).toBeGreaterThan(0);
  else expect(errors).toEqual([]);
  const size = Buffer.byteLength(text, "utf8");
  for (const d of result.diagnostics) {
    if (!(d.span.start >= 0 && d.span.start <= d.span.end && d.span.end <= size)) {
      throw new Error(
        `span ${d.span.start}..${d.span.end} outside 0..${size}: ${d.code} ${d.message}`,
      );
    }
  }
  renderDiagnostics(result.diagnostics, source);
  JSON.parse(renderDiagnostics(result.diagnostics, source, { format: "json" }));
  return result;
}

// ------------------------------------------------------------------ token soups

const WORDS = [
  "package",
  "node",
  "edge",
  "enum",
  "reserved",
  "from",
  "to",
  "ref",
  "list",
  "unique",
  "index",
  "required",
  "default",
  "searchable",
  "deprecated",
  "visibility",
  "public",
  "inverse",
  "unique_per_from",
  "true",
  "false",
  "string",
  "int",
  "float",
  "bool",
  "timestamp",
  "bytes",
  "json",
  "User",
  "Task",
  "Status",
  "a",
  "b",
  "id",
  "_x",
  "nöde",
];
const PIECES = [
  "{",
  "}",
  "[",
  "]",
  "(",
  ")",
  "<",
  ">",
  ";",
  ":",
  ",",
  ".",
  "=",
  "-",
  "/",
  "*",
  "@",
  "#",
  "$",
  "0",
  "1",
  "-1",
  "42",
  "19000",
  "536870912",
  "99999999999999999999999",
  "1.5",
  "-0.25",
  "1e9",
  "2.5E-3",
  "1e400",
  "12abc",
  "1.2.3",
  '"text"',
  '"esc\\n\\t\\"\\u{1F600}"',
  '"bad\\q"',
  '"\\u{D800}"',
  '"unterminated',
  '"2024-01-01T00:00:00Z"',
  "// line comment\n",
  "/// doc\n",
  "/* block */",
  "/* unterminated",
  "é",
  "世界",
  "🌍",
  "\u00a0",
  "\ufeff",
  "\u0000",
  "\ud800",
  "\r",
];
const SEPARATORS = [" ", " ", " ", "", "\n", "\n\n", "\t", "\r\n"];

const tokenSoup = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom(...WORDS), fc.constantFrom(...PIECES)),
      fc.constantFrom(...SEPARATORS),
    ),
    { maxLength: 80 },
  )
  .map((parts) => parts.map(([token, sep]) => token + sep).join(""));

// ------------------------------------------------------------------ mutations

type Mutation =
  | { readonly kind: "delete"; readonly at: number; readonly length: number }
  | { readonly kind: "insert"; readonly at: number; readonly text: string }
  | { readonly kind: "swapChars"; readonly a: number; readonly b: number }
  | { readonly kind: "deleteToken"; readonly at: number }
  | { readonly kind: "swapTokens"; readonly a: number; readonly b: number }
  | { readonly kind: "duplicateToken"; readonly at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({
    kind: fc.constant("delete" as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 12 }),
  }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    text: fc.oneof(fc.constantFrom(...WORDS, ...PIECES), fc.string({ maxLength: 3 })),
  }),
  fc.record({ kind: fc.constant("swapChars" as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ kind: fc.constant("deleteToken" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("swapTokens" as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ kind: fc.constant("duplicateToken" as const), at: fc.nat() }),
);

function mutate(text: string, m: Mutation): string {
  const n = text.length;
  switch (m.kind) {
    case "delete": {
      const at = n === 0 ? 0 : m.at % n;
      return text.slice(0, at) + text.slice(at + m.length);
    }
    case "insert": {
      const at = m.at % (n + 1);
      return text.slice(0, at) + m.text + text.slice(at);
    }
    case "swapChars": {
      if (n < 2) return text;
      const [a, b] = [m.a % n, m.b % n].sort((x, y) => x - y) as [number, number];
      return text.slice(0, a) + text[b] + text.slice(a + 1, b) + text[a] + text.slice(b + 1);
    }
    default: {
      // Word-level edits: chunks between whitespace runs (the runs are kept as their own chunks).
      const chunks = text.split(/(\s+)/);
      const words = chunks.flatMap((c, i) => (c.trim() === "" ? [] : [i]));
      if (words.length < 2) return text;
      if (m.kind === "deleteToken") chunks[words[m.at % words.length]!] = "";
      else if (m.kind === "duplicateToken") {
        const i = words[m.at % words.length]!;
        chunks[i] = `${chunks[i]} ${chunks[i]}`;
      } else {
        const a = words[m.a % words.length]!;
        const b = words[m.b % words.length]!;
        [chunks[a], chunks[b]] = [chunks[b]!, chunks[a]!];
      }
      return chunks.join("");
    }
  }
}

const mutations = fc.array(mutation, { minLength: 1, maxLength: 6 });

// ------------------------------------------------------------------ valid schemas

/** A small deterministic PRNG, so one integer from fast-check describes a whole schema. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Generated {
  readonly text: string;
  readonly nodes: number;
  readonly edges: number;
  readonly enums: number;
}

const SCALARS = ["string", "int", "float", "bool", "timestamp", "bytes", "json"] as const;
const UNIQUE_OK = new Set(["string", "int", "timestamp", "enum", "ref"]);
const INDEX_OK = new Set(["string", "int", "float", "bool", "timestamp", "enum", "ref"]);
const DEFAULT_OK = new Set(["string", "int", "float", "bool", "timestamp", "enum"]);
const KEYWORD_FIELD_NAMES = [
  "index",
  "unique",
  "from",
  "to",
  "node",
  "edge",
  "reserved",
  "list",
  "ref",
  "package",
];

/** Generates a valid schema, laid out and commented at random. */
function generateSchema(seed: number): Generated {
  const rnd = mulberry32(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const chance = (p: number): boolean => rnd() < p;
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const distinct = (count: number, from: () => number): number[] => {
    const out = new Set<number>();
    while (out.size < count) out.add(from());
    return [...out];
  };

  const lines: string[] = [];
  // Joins tokens with spaces, sometimes with a block comment in between.
  const join = (tokens: readonly string[]): string =>
    tokens.reduce(
      (acc, t) => (acc === "" ? t : `${acc}${chance(0.05) ? " /* c */ " : " "}${t}`),
      "",
    );
  const emit = (indent: string, tokens: readonly string[]): void => {
    if (chance(0.15)) lines.push("");
    if (chance(0.1)) lines.push(`${indent}// about the next line`);
    if (chance(0.15)) for (let k = 1 + int(2); k > 0; k--) lines.push(`${indent}/// doc line ${k}`);
    lines.push(`${indent}${join(tokens)}${chance(0.1) ? " // trailing" : ""}`);
  };

  const pkg = Array.from({ length: 1 + int(3) }, () => pick(["acme", "app", "v1", "core", "x_y"]));
  emit("", ["package", pkg.join("."), ";"]);

  const enums = Array.from({ length: int(4) }, (_, i) => {
    const values = Array.from({ length: 1 + int(5) }, (_, j) => `v${j}`);
    return { name: `E${i}`, values, numbers: distinct(values.length, () => 1 + int(40)) };
  });
  const nodeCount = 1 + int(5);
  const edgeCount = int(4);
  const typeIds = distinct(nodeCount + edgeCount, () => 1 + int(1000));
  const nodes = Array.from({ length: nodeCount }, (_, i) => ({ name: `N${i}`, id: typeIds[i]! }));

  for (const e of enums) {
    emit("", ["enum", e.name, "{"]);
    e.values.forEach((v, j) => {
      emit("  ", [v, "=", String(e.numbers[j]), ...(chance(0.1) ? ["[deprecated]"] : []), ";"]);
    });
    if (chance(0.3)) emit("  ", ["reserved", "100", "to", "105", ",", "200", ";"]);
    if (chance(0.3)) emit("  ", ["reserved", '"gone"', ";"]);
    if (chance(0.1)) lines.push("  // before the brace");
    emit("", ["}"]);
  }

  const scalarDefault = (kind: string): string => {
    switch (kind) {
      case "string":
        return pick(['"plain"', '"esc \\"q\\" \\\\ \\n \\u{1F600}"', '""', '"héllo 世界"']);
      case "int":
        return pick(["0", "-1", "42", "9223372036854775807", "-9223372036854775808"]);
      case "float":
        return pick(["1.5", "-0.25", "1e9", "2.5E-3", "7", "-3"]);
      case "bool":
        return pick(["true", "false"]);
      default:
        return pick([
          '"2024-01-01T00:00:00Z"',
          '"2024-02-29T23:59:59.123456+05:30"',
          '"1970-01-01t00:00:00z"',
        ]);
    }
  };

  /** A random field type: [text, kind] where kind is a scalar, "enum", "ref" or "list". */
  const fieldType = (): [string, string, string | undefined] => {
    const element = (): [string, string, string | undefined] => {
      const roll = int(10);
      if (roll < 6) {
        const s = pick(SCALARS);
        return [s, s, undefined];
      }
      if (roll < 8 && enums.length > 0) {
        const e = pick(enums);
        return [e.name, "enum", e.name];
      }
      return [`ref<${pick(nodes).name}>`, "ref", undefined];
    };
    if (chance(0.15)) return [`list<${element()[0]}>`, "list", undefined];
    return element();
  };

  const fields = (isEdge: boolean, indent: string): void => {
    const count = 1 + int(isEdge ? 3 : 8);
    const ids = distinct(count, () => (chance(0.05) ? pick([20_000, 536_870_911]) : 1 + int(60)));
    const used = new Set<string>();
    const declared: { name: string; kind: string }[] = [];
    for (let j = 0; j < count; j++) {
      let name = chance(0.15) ? pick(KEYWORD_FIELD_NAMES) : `f${j}`;
      if (used.has(name) || (!isEdge && name === "id")) name = `f${j}`;
      used.add(name);
      const [typeText, kind, enumName] = fieldType();
      const options: string[] = [];
      const required = chance(0.3);
      if (required) options.push("required");
      else if (chance(0.1)) options.push("deprecated");
      const unique = !isEdge && UNIQUE_OK.has(kind) && chance(0.2);
      if (unique) options.push("unique");
      else if (INDEX_OK.has(kind) && chance(0.2)) options.push("index");
      if (!isEdge && kind === "string" && chance(0.3)) options.push("searchable");
      if (DEFAULT_OK.has(kind) && chance(0.3)) {
        const e = enums.find((x) => x.name === enumName);
        options.push(`default = ${e === undefined ? scalarDefault(kind) : pick(e.values)}`);
      }
      const optionText =
        options.length === 0 ? [] : [`[${options.join(", ")}${chance(0.1) ? "," : ""}]`];
      emit(indent, [`${name}:`, typeText, "=", String(ids[j]), ...optionText, ";"]);
      declared.push({ name, kind });
    }
    if (!isEdge) {
      for (const constraint of ["unique", "index"] as const) {
        const allowed = declared.filter((f) =>
          (constraint === "unique" ? UNIQUE_OK : INDEX_OK).has(f.kind),
        );
        if (allowed.length >= 2 && chance(0.3)) {
          emit(indent, [
            constraint,
            `(${allowed
              .slice(0, 2 + int(allowed.length - 1))
              .map((f) => f.name)
              .join(", ")})`,
            ";",
          ]);
        }
      }
    }
    if (chance(0.3)) emit(indent, ["reserved", "1000", "to", "1005", ",", "2000", ";"]);
    if (chance(0.3)) emit(indent, ["reserved", '"old_name"', ",", '"older"', ";"]);
  };

  for (const n of nodes) {
    const options = chance(0.3) ? [`[visibility = ${pick(["private", "tenant", "public"])}]`] : [];
    emit("", ["node", n.name, "=", String(n.id), ...options, "{"]);
    fields(false, "  ");
    if (chance(0.1)) lines.push("  // before the brace");
    emit("", ["}"]);
  }

  for (let i = 0; i < edgeCount; i++) {
    const options: string[] = [];
    if (chance(0.3)) options.push("unique_per_from");
    if (chance(0.5)) options.push(`inverse = inv${i}`);
    if (chance(0.1)) options.push("deprecated");
    const head = [
      "edge",
      `L${i}`,
      "=",
      String(typeIds[nodeCount + i]),
      "from",
      pick(nodes).name,
      "to",
      pick(nodes).name,
    ];
    const optionText = options.length === 0 ? [] : [`[${options.join(", ")}]`];
    if (chance(0.5)) {
      emit("", [...head, ...optionText, ";"]);
    } else {
      emit("", [...head, ...optionText, "{"]);
      fields(true, "  ");
      emit("", ["}"]);
    }
  }
  if (chance(0.3)) emit("", ["reserved", "5000", "to", "5010", ";"]);
  if (chance(0.3)) emit("", ["reserved", '"Gone"', ";"]);
  if (chance(0.2)) lines.push("", "// the end");
  return {
    text: `${lines.join(chance(0.2) ? "\r\n" : "\n")}\n`,
    nodes: nodeCount,
    edges: edgeCount,
    enums: enums.length,
  };
}

/** How many comments the AST holds (each doc line counted once). */
function countAstComments(ast: SchemaFile): number {
  let count = 0;
  const list = (comments: readonly Comment[]): void => {
    count += comments.length;
  };
  const trivia = (t: Trivia): void => {
    list(t.leading);
    count += (t.doc?.lines.length ?? 0) + (t.trailing === undefined ? 0 : 1);
  };
  if (ast.package !== undefined) trivia(ast.package.trivia);
  for (const decl of ast.declarations) {
    trivia(decl.trivia);
    if (decl.kind === "ReservedDecl") continue;
    for (const m of decl.members) trivia(m.trivia);
    list(decl.innerComments);
  }
  list(ast.endComments);
  return count;
}

const generatedSchema = fc.integer().map(generateSchema);

// ------------------------------------------------------------------ properties

describe("schema compiler robustness (property-based)", () => {
  it("survives random token soups", () => {
    fc.assert(
      fc.property(tokenSoup, (text) => void checkAnyInput(text)),
      { numRuns: runs(6_000), seed: SEED },
    );
  });

  it("survives random mutations of the example schema", () => {
    fc.assert(
      fc.property(mutations, (ms) => void checkAnyInput(ms.reduce(mutate, EXAMPLE))),
      { numRuns: runs(6_000), seed: SEED + 1 },
    );
  });

  it("compiles generated valid schemas cleanly and keeps every comment exactly once", () => {
    fc.assert(
      fc.property(generatedSchema, (g) => {
        const result = checkAnyInput(g.text);
        expect(result.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
        expect(result.schema?.nodes.length).toBe(g.nodes);
        expect(result.schema?.edges.length).toBe(g.edges);
        expect(result.schema?.enums.length).toBe(g.enums);
        for (const node of result.schema?.nodes ?? []) {
          const ids = node.fields.map((f) => f.id);
          expect(ids).toEqual([...ids].sort((a, b) => a - b));
        }
        const lexed = lexSchema(g.text).tokens.reduce((n, t) => n + t.comments.length, 0);
        expect(countAstComments(result.ast)).toBe(lexed);
      }),
      { numRuns: runs(4_000), seed: SEED + 2 },
    );
  });

  it("survives random mutations of generated valid schemas", () => {
    fc.assert(
      fc.property(
        generatedSchema,
        mutations,
        (g, ms) => void checkAnyInput(ms.reduce(mutate, g.text)),
      ),
      { numRuns: runs(4_000), seed: SEED + 3 },
    );
  });
});
