/**
 * The canonical printer behind `entdb fmt`: turns a syntax tree back into text in the
 * one layout the language documents (docs/schema-language.md, "Formatting").
 *
 * It never moves a declaration and never drops or reorders a comment. Comments before
 * an item, its `///` doc, a trailing comment, comments before `}` and at the end of the
 * file are printed on their own lines or after the code as in the source. A comment
 * between an item's own tokens (`email: string /* x *\/ = 1;`, which the parser appends
 * to `leading`) is printed inside the item again, after the piece of code it follows,
 * so it stays next to what it talks about and after the doc. A last check compares the
 * printed comments with every comment of the source: if one would be lost or
 * reordered, formatting fails with a {@link FormatError} instead of returning a wrong file.
 */

import type {
  Comment,
  CompositeDecl,
  Declaration,
  DocComment,
  EdgeDecl,
  EnumDecl,
  EnumValueDecl,
  FieldDecl,
  Literal,
  NodeDecl,
  OptionItem,
  PackageDecl,
  ReservedDecl,
  ReservedItem,
  SchemaFile,
  TypeExpr,
} from "./ast.ts";
import type { SourceFile, Span } from "./span.ts";

/** One level of indentation. */
const INDENT = "  ";
/** Extra indentation of a line that continues a declaration after a `//` comment inside it. */
const CONTINUATION = "    ";

/** Why formatting failed; `span` points at the comment that could not be kept in place. */
export type FormatErrorCode = "FMT_UNPLACED_COMMENT" | "FMT_COMMENT_ORDER";

/**
 * Raised when printing would lose or reorder a comment. It means the syntax tree does not
 * account for a comment of the source; the source is left as it is.
 */
export class FormatError extends Error {
  override readonly name = "FormatError";
  readonly code: FormatErrorCode;
  readonly span: Span;

  constructor(code: FormatErrorCode, message: string, span: Span, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
    this.span = span;
  }
}

/** A comment found by scanning source text: byte span and text, line comments without their line end. */
export interface SourceComment {
  readonly kind: "line" | "block";
  readonly text: string;
  readonly span: Span;
}

/**
 * Every `//` and `/* *\/` comment of a source text, in order, skipping string literals.
 * `///` doc lines are line comments here. An unterminated block comment runs to the end.
 */
export function scanComments(text: string): SourceComment[] {
  const bytes = new TextEncoder().encode(text);
  const decoder = new TextDecoder();
  const out: SourceComment[] = [];
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b === 0x22) {
      // A string: skip to the closing quote; a raw newline ends an unterminated one.
      i++;
      while (i < bytes.length && bytes[i] !== 0x22 && bytes[i] !== 0x0a) {
        i += bytes[i] === 0x5c ? 2 : 1;
      }
      i++;
    } else if (b === 0x2f && bytes[i + 1] === 0x2f) {
      const start = i;
      while (i < bytes.length && bytes[i] !== 0x0a) i++;
      let end = i;
      if (end > start && bytes[end - 1] === 0x0d) end--;
      out.push({
        kind: "line",
        text: decoder.decode(bytes.subarray(start, end)),
        span: { start, end },
      });
    } else if (b === 0x2f && bytes[i + 1] === 0x2a) {
      const start = i;
      i += 2;
      while (i < bytes.length && !(bytes[i] === 0x2a && bytes[i + 1] === 0x2f)) i++;
      i = Math.min(i + 2, bytes.length);
      out.push({
        kind: "block",
        text: decoder.decode(bytes.subarray(start, i)),
        span: { start, end: i },
      });
    } else {
      i++;
    }
  }
  return out;
}

/**
 * Prints a schema in canonical form. `ast` must come from parsing `source` without syntax
 * errors (validation errors do not matter); `source` is read for blank lines and to
 * check that every one of its comments is printed. The result ends with exactly one newline.
 *
 * @throws {FormatError} if a comment of the source would be lost or reordered.
 */
export function formatSchema(ast: SchemaFile, source: SourceFile): string {
  const printer = new Printer(ast, source);
  return printer.print();
}

/** A piece of a declaration's text; comments inside the declaration are printed after the piece they follow. */
interface Segment {
  /** Printed before `text` unless the piece starts a continuation line. */
  readonly sep: string;
  readonly text: string;
  /** Source byte offset where the piece ends, or undefined for punctuation with no span. */
  readonly end?: number;
}

/** An item that owns a line (or a block) of output: a declaration or a member. */
type Item = PackageDecl | Declaration | FieldDecl | CompositeDecl | EnumValueDecl;

/**
 * Prints one file. Holds the output lines and the comments already printed, which the
 * final check compares with the source.
 */
class Printer {
  readonly #ast: SchemaFile;
  readonly #bytes: Uint8Array;
  readonly #lines: string[] = [];
  /** Spans of printed comments and docs, in print order. */
  readonly #printed: Span[] = [];
  /** Comments between an item's own tokens, by item, in source order. */
  readonly #inline = new Map<Item, (Comment | SourceComment)[]>();
  readonly #sourceComments: SourceComment[];
  readonly #docSpans: Span[] = [];

  constructor(ast: SchemaFile, source: SourceFile) {
    this.#ast = ast;
    this.#bytes = new TextEncoder().encode(source.text);
    this.#sourceComments = scanComments(source.text);
    this.#assignInlineComments();
  }

  print(): string {
    const ast = this.#ast;
    let first = true;
    if (ast.package !== undefined) {
      const pkg = ast.package;
      this.#item(pkg, "", true, (trailing) => this.#packageDecl(pkg, trailing));
      first = false;
    }
    for (const decl of ast.declarations) {
      this.#item(decl, "", first, (trailing) => this.#declaration(decl, trailing));
      first = false;
    }
    const lastEnd = this.#lastItemEnd(ast.package, ast.declarations);
    this.#danglingComments(ast.endComments, "", lastEnd);
    this.#verify();
    return this.#lines.length === 0 ? "" : `${this.#lines.join("\n")}\n`;
  }

  // ---- comments inside items ----

  /**
   * Finds the comments printed inside items: those the parser appended to `leading`
   * from between the item's tokens, and, should the tree miss one, any source comment
   * within an item's span.
   */
  #assignInlineComments(): void {
    const placed = new Set<number>();
    const note = (c: Comment | undefined) => {
      if (c !== undefined) placed.add(c.span.start);
    };
    const noteTrivia = (item: Item) => {
      const t = item.trivia;
      for (const c of t.leading) {
        note(c);
        // The parser appends comments found between the item's own tokens to `leading`;
        // they are printed where they were, inside the item.
        if (c.span.start >= item.span.start) this.#addInline(item, c);
      }
      note(t.trailing);
      if (t.doc !== undefined) this.#docSpans.push(t.doc.span);
    };
    const items: Item[] = [];
    if (this.#ast.package !== undefined) items.push(this.#ast.package);
    for (const decl of this.#ast.declarations) {
      items.push(decl);
      if (decl.kind !== "ReservedDecl") {
        for (const c of decl.innerComments) note(c);
        items.push(...decl.members);
      }
    }
    for (const item of items) noteTrivia(item);
    for (const c of this.#ast.endComments) note(c);

    for (const c of this.#sourceComments) {
      if (placed.has(c.span.start) || this.#inDoc(c.span.start)) continue;
      // The innermost item around the comment: members come after their declaration in `items`.
      let owner: Item | undefined;
      for (const item of items) {
        if (item.span.start < c.span.start && c.span.start < item.span.end) owner = item;
      }
      if (owner === undefined) {
        throw new FormatError(
          "FMT_UNPLACED_COMMENT",
          "This comment is not attached to any declaration, so formatting would lose it.",
          c.span,
        );
      }
      this.#addInline(owner, c);
    }
    for (const list of this.#inline.values()) list.sort((a, b) => a.span.start - b.span.start);
  }

  #addInline(item: Item, c: Comment | SourceComment): void {
    const list = this.#inline.get(item) ?? [];
    list.push(c);
    this.#inline.set(item, list);
  }

  #inDoc(offset: number): boolean {
    return this.#docSpans.some((s) => s.start <= offset && offset < s.end);
  }

  /** Every source comment was printed, once, in source order. */
  #verify(): void {
    for (let i = 1; i < this.#printed.length; i++) {
      const at = this.#printed[i]!;
      if (at.start <= this.#printed[i - 1]!.start) {
        throw new FormatError(
          "FMT_COMMENT_ORDER",
          "Formatting would move this comment before an earlier one.",
          at,
        );
      }
    }
    const printed = new Set(this.#printed.map((s) => s.start));
    for (const c of this.#sourceComments) {
      if (!printed.has(c.span.start) && !this.#inDoc(c.span.start)) {
        throw new FormatError(
          "FMT_UNPLACED_COMMENT",
          "Formatting would lose this comment.",
          c.span,
        );
      }
    }
  }

  // ---- layout ----

  /** Whether the source has a blank line between two offsets (only whitespace lies between them). */
  #blankBetween(from: number, to: number): boolean {
    let newlines = 0;
    for (let i = from; i < to; i++) {
      if (this.#bytes[i] === 0x0a && ++newlines === 2) return true;
    }
    return false;
  }

  #blank(): void {
    if (this.#lines.length > 0 && this.#lines[this.#lines.length - 1] !== "") this.#lines.push("");
  }

  /** Pushes a comment on its own line(s); a block comment keeps its inner lines verbatim. */
  #ownLineComment(c: Comment, indent: string): void {
    this.#printed.push(c.span);
    const [head, ...rest] = commentText(c).split("\n");
    this.#lines.push(indent + head);
    this.#lines.push(...rest);
  }

  /** Appends a trailing comment to the last line. */
  #appendComment(c: Comment): void {
    this.#printed.push(c.span);
    const [head, ...rest] = commentText(c).split("\n");
    this.#lines[this.#lines.length - 1] += ` ${head}`;
    this.#lines.push(...rest);
  }

  #doc(doc: DocComment, indent: string): void {
    this.#printed.push(doc.span);
    // Lines print as they are: the doc text reaches generated code, so even trailing
    // blanks are content and formatting must not change it.
    for (const line of doc.lines) {
      this.#lines.push(line === "" ? `${indent}///` : `${indent}/// ${line}`);
    }
  }

  /**
   * Prints an item with its leading comments, doc and trailing comment. Top-level items
   * are always one blank line apart; members keep one blank line where the source had any.
   */
  #item(
    item: Item,
    indent: string,
    first: boolean,
    body: (trailing: Comment | undefined) => void,
  ): void {
    const t = item.trivia;
    if (!first && (indent === "" || t.blankLineBefore)) this.#blank();
    let prevEnd: number | undefined;
    for (const c of t.leading) {
      if (c.span.start >= item.span.start) continue; // printed inside the item
      if (prevEnd !== undefined && this.#blankBetween(prevEnd, c.span.start)) this.#blank();
      this.#ownLineComment(c, indent);
      prevEnd = c.span.end;
    }
    if (t.doc !== undefined) {
      if (prevEnd !== undefined && this.#blankBetween(prevEnd, t.doc.span.start)) this.#blank();
      this.#doc(t.doc, indent);
    } else if (prevEnd !== undefined && this.#blankBetween(prevEnd, item.span.start)) {
      this.#blank();
    }
    body(t.trailing);
  }

  /** Comments before `}` or at the end of the file: blank lines kept (at most one), none at the end. */
  #danglingComments(
    comments: readonly Comment[],
    indent: string,
    prevEnd: number | undefined,
  ): void {
    let prev = prevEnd;
    for (const c of comments) {
      if (prev !== undefined && this.#blankBetween(prev, c.span.start)) this.#blank();
      this.#ownLineComment(c, indent);
      prev = c.span.end;
    }
  }

  /** Where the last of the items ends in the source, its trailing comment included. */
  #lastItemEnd(pkg: PackageDecl | undefined, items: readonly Item[]): number | undefined {
    const last = items.length > 0 ? items[items.length - 1] : pkg;
    if (last === undefined) return undefined;
    return last.trivia.trailing?.span.end ?? last.span.end;
  }

  /**
   * Prints segments as one line, or several when a `//` comment sits inside the
   * declaration; then the trailing comment, if any.
   */
  #segments(
    item: Item,
    indent: string,
    segs: readonly Segment[],
    trailing: Comment | undefined,
  ): void {
    const inline = this.#inline.get(item) ?? [];
    // Each inline comment follows the last segment that ends before it (the first one at least).
    const after = new Map<number, (Comment | SourceComment)[]>();
    for (const c of inline) {
      let at = 0;
      segs.forEach((s, i) => {
        if (s.end !== undefined && s.end <= c.span.start) at = i;
      });
      after.set(at, [...(after.get(at) ?? []), c]);
    }
    let line = indent;
    let lineStart = true;
    segs.forEach((s, i) => {
      line += (lineStart ? "" : s.sep) + s.text;
      lineStart = false;
      for (const c of after.get(i) ?? []) {
        this.#printed.push(c.span);
        const [head, ...rest] = commentText(c).split("\n");
        line += (lineStart ? "" : " ") + head;
        lineStart = false;
        if (rest.length > 0) {
          this.#lines.push(line);
          this.#lines.push(...rest.slice(0, -1));
          line = rest[rest.length - 1]!;
        }
        if (c.kind === "line") {
          this.#lines.push(line);
          line = indent + CONTINUATION;
          lineStart = true;
        }
      }
    });
    this.#lines.push(line);
    if (trailing !== undefined) this.#appendComment(trailing);
  }

  // ---- declarations ----

  #packageDecl(pkg: PackageDecl, trailing: Comment | undefined): void {
    const last = pkg.parts[pkg.parts.length - 1];
    const segs: Segment[] = [{ sep: "", text: "package" }];
    if (last !== undefined) {
      segs.push({ sep: " ", text: pkg.parts.map((p) => p.name).join("."), end: last.span.end });
    }
    segs.push({ sep: "", text: ";" });
    this.#segments(pkg, "", segs, trailing);
  }

  #declaration(decl: Declaration, trailing: Comment | undefined): void {
    switch (decl.kind) {
      case "NodeDecl":
        this.#nodeDecl(decl, trailing);
        break;
      case "EdgeDecl":
        this.#edgeDecl(decl, trailing);
        break;
      case "EnumDecl":
        this.#enumDecl(decl, trailing);
        break;
      case "ReservedDecl":
        this.#segments(decl, "", reservedSegments(decl), trailing);
        break;
      default:
        unreachable(decl);
    }
  }

  #nodeDecl(decl: NodeDecl, trailing: Comment | undefined): void {
    const head: Segment[] = [
      { sep: "", text: "node" },
      { sep: " ", text: decl.name.name, end: decl.name.span.end },
      { sep: " ", text: `= ${decl.id.value}`, end: decl.id.span.end },
      ...optionSegments(decl.options),
    ];
    this.#body(decl, head, decl.members, decl.innerComments, trailing);
  }

  #edgeDecl(decl: EdgeDecl, trailing: Comment | undefined): void {
    const head: Segment[] = [
      { sep: "", text: "edge" },
      { sep: " ", text: decl.name.name, end: decl.name.span.end },
      { sep: " ", text: `= ${decl.id.value}`, end: decl.id.span.end },
      { sep: " ", text: `from ${decl.from.name}`, end: decl.from.span.end },
      { sep: " ", text: `to ${decl.to.name}`, end: decl.to.span.end },
      ...optionSegments(decl.options),
    ];
    if (decl.members.length === 0 && decl.innerComments.length === 0) {
      // No properties: `;` is the canonical form, also for a source `{}`.
      this.#segments(decl, "", [...head, { sep: "", text: ";" }], trailing);
      return;
    }
    this.#body(decl, head, decl.members, decl.innerComments, trailing);
  }

  #enumDecl(decl: EnumDecl, trailing: Comment | undefined): void {
    const head: Segment[] = [
      { sep: "", text: "enum" },
      { sep: " ", text: decl.name.name, end: decl.name.span.end },
    ];
    this.#body(decl, head, decl.members, decl.innerComments, trailing);
  }

  /** `head {`, the members one level in, the comments before `}`, then `}`; `head {}` when empty. */
  #body(
    decl: NodeDecl | EdgeDecl | EnumDecl,
    head: readonly Segment[],
    members: readonly (FieldDecl | CompositeDecl | ReservedDecl | EnumValueDecl)[],
    innerComments: readonly Comment[],
    trailing: Comment | undefined,
  ): void {
    if (members.length === 0 && innerComments.length === 0) {
      this.#segments(decl, "", [...head, { sep: " ", text: "{}" }], trailing);
      return;
    }
    this.#segments(decl, "", [...head, { sep: " ", text: "{" }], undefined);
    members.forEach((m, i) => {
      this.#item(m, INDENT, i === 0, (t) => this.#member(m, t));
    });
    this.#danglingComments(innerComments, INDENT, this.#lastItemEnd(undefined, members));
    this.#lines.push("}");
    if (trailing !== undefined) this.#appendComment(trailing);
  }

  #member(
    m: FieldDecl | CompositeDecl | ReservedDecl | EnumValueDecl,
    trailing: Comment | undefined,
  ): void {
    this.#segments(m, INDENT, memberSegments(m), trailing);
  }
}

function memberSegments(m: FieldDecl | CompositeDecl | ReservedDecl | EnumValueDecl): Segment[] {
  switch (m.kind) {
    case "FieldDecl":
      return fieldSegments(m);
    case "CompositeDecl":
      return compositeSegments(m);
    case "ReservedDecl":
      return reservedSegments(m);
    case "EnumValueDecl":
      return [
        { sep: "", text: m.name.name, end: m.name.span.end },
        { sep: " ", text: `= ${m.number.value}`, end: m.number.span.end },
        ...optionSegments(m.options),
        { sep: "", text: ";" },
      ];
  }
}

function reservedSegments(decl: ReservedDecl): Segment[] {
  const segs: Segment[] = [{ sep: "", text: "reserved" }];
  decl.items.forEach((item, i) => {
    const comma = i < decl.items.length - 1 ? "," : "";
    segs.push({ sep: " ", text: reservedItemText(item) + comma, end: item.span.end });
  });
  segs.push({ sep: "", text: ";" });
  return segs;
}

function unreachable(value: never): never {
  throw new Error(`Unexpected syntax node: ${JSON.stringify(value)}`);
}

function fieldSegments(f: FieldDecl): Segment[] {
  return [
    { sep: "", text: `${f.name.name}:`, end: f.name.span.end },
    { sep: " ", text: typeText(f.type), end: f.type.span.end },
    { sep: " ", text: `= ${f.id.value}`, end: f.id.span.end },
    ...optionSegments(f.options),
    { sep: "", text: ";" },
  ];
}

function compositeSegments(c: CompositeDecl): Segment[] {
  const segs: Segment[] = [{ sep: "", text: c.constraint }];
  c.fields.forEach((f, i) => {
    const open = i === 0 ? "(" : "";
    const close = i === c.fields.length - 1 ? ")" : ",";
    segs.push({ sep: " ", text: open + f.name + close, end: f.span.end });
  });
  if (c.fields.length === 0) segs.push({ sep: " ", text: "()" });
  segs.push({ sep: "", text: ";" });
  return segs;
}

/** `[a, b = c]` as one segment per option, so a comment can follow the option it follows in the source. */
function optionSegments(options: readonly OptionItem[]): Segment[] {
  return options.map((o, i) => {
    const open = i === 0 ? "[" : "";
    const close = i === options.length - 1 ? "]" : ",";
    return { sep: " ", text: open + optionText(o) + close, end: o.span.end };
  });
}

function optionText(o: OptionItem): string {
  return o.value === undefined ? o.name.name : `${o.name.name} = ${literalText(o.value)}`;
}

function typeText(t: TypeExpr): string {
  switch (t.kind) {
    case "NamedType":
      return t.name.name;
    case "RefType":
      return `ref<${t.target.name}>`;
    case "ListType":
      return `list<${typeText(t.element)}>`;
  }
}

function reservedItemText(item: ReservedItem): string {
  if (item.kind === "ReservedName") return quoteString(item.name.value);
  return item.last === undefined
    ? `${item.first.value}`
    : `${item.first.value} to ${item.last.value}`;
}

function literalText(v: Literal): string {
  switch (v.kind) {
    case "StringLiteral":
      return quoteString(v.value);
    case "IntLiteral":
      return v.value.toString();
    case "FloatLiteral":
      return v.raw;
    case "BoolLiteral":
      return v.value ? "true" : "false";
    case "NameLiteral":
      return v.name;
  }
}

/**
 * A string literal in canonical form: `"` and `\` escaped, `\n` `\t` `\r` by name, other
 * control and invisible characters as `\u{HEX}`, everything else as itself.
 */
export function quoteString(value: string): string {
  let out = '"';
  for (const ch of value) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else if (isInvisible(cp)) out += `\\u{${cp.toString(16).toUpperCase()}}`;
    else out += ch;
  }
  return `${out}"`;
}

function isInvisible(cp: number): boolean {
  return (
    cp < 0x20 ||
    (cp >= 0x7f && cp <= 0x9f) ||
    (cp >= 0xd800 && cp <= 0xdfff) ||
    cp === 0x2028 ||
    cp === 0x2029 ||
    cp === 0xfeff
  );
}

/** A comment as printed: line comments without trailing blanks, block comments verbatim with `\n` line ends. */
function commentText(c: Comment | SourceComment): string {
  return c.kind === "line" ? c.text.trimEnd() : c.text.replace(/\r\n?/g, "\n");
}
