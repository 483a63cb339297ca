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
 *
 * This file holds the entry point and the layout; `format-comments.ts` finds and checks
 * comments, `format-segments.ts` splits items into printable pieces and
 * `format-literals.ts` prints literals and types.
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
  NodeDecl,
  PackageDecl,
  ReservedDecl,
  SchemaFile,
} from "./ast.ts";
import {
  commentText,
  type Item,
  placeComments,
  type SourceComment,
  scanComments,
  verifyComments,
} from "./format-comments.ts";
import {
  memberSegments,
  optionSegments,
  reservedSegments,
  type Segment,
} from "./format-segments.ts";
import type { SourceFile, Span } from "./span.ts";

export {
  FormatError,
  type FormatErrorCode,
  type SourceComment,
  scanComments,
} from "./format-comments.ts";
export { quoteString } from "./format-literals.ts";

/** One level of indentation. */
const INDENT = "  ";
/** Extra indentation of a line that continues a declaration after a `//` comment inside it. */
const CONTINUATION = "    ";

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
  readonly #inline: ReadonlyMap<Item, readonly (Comment | SourceComment)[]>;
  readonly #sourceComments: SourceComment[];
  readonly #docSpans: readonly Span[];

  constructor(ast: SchemaFile, source: SourceFile) {
    this.#ast = ast;
    this.#bytes = new TextEncoder().encode(source.text);
    this.#sourceComments = scanComments(source.text);
    const placement = placeComments(ast, this.#sourceComments);
    this.#inline = placement.inline;
    this.#docSpans = placement.docSpans;
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
    verifyComments(this.#printed, this.#sourceComments, this.#docSpans);
    return this.#lines.length === 0 ? "" : `${this.#lines.join("\n")}\n`;
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

function unreachable(value: never): never {
  throw new Error(`Unexpected syntax node: ${JSON.stringify(value)}`);
}
