/**
 * Comment bookkeeping for `entdb fmt`: finds every comment of the source, decides which
 * item prints each one that sits between an item's tokens, and checks after printing
 * that none was lost or reordered. Failing here is how formatting refuses to return a
 * file that would drop a comment.
 */

import type {
  Comment,
  CompositeDecl,
  Declaration,
  EnumValueDecl,
  FieldDecl,
  PackageDecl,
  SchemaFile,
} from "./ast.ts";
import type { Span } from "./span.ts";

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

/** An item that owns a line (or a block) of output: a declaration or a member. */
export type Item = PackageDecl | Declaration | FieldDecl | CompositeDecl | EnumValueDecl;

/** Where the comments of a source go when it is printed. */
export interface CommentPlacement {
  /** Comments between an item's own tokens, by item, in source order. */
  readonly inline: ReadonlyMap<Item, readonly (Comment | SourceComment)[]>;
  /** Spans of the `///` docs, whose lines are not checked one by one. */
  readonly docSpans: readonly Span[];
}

/**
 * Finds the comments printed inside items: those the parser appended to `leading`
 * from between the item's tokens, and, should the tree miss one, any source comment
 * within an item's span.
 *
 * @throws {FormatError} if a source comment lies outside every item and the tree does not hold it.
 */
export function placeComments(
  ast: SchemaFile,
  sourceComments: readonly SourceComment[],
): CommentPlacement {
  const inline = new Map<Item, (Comment | SourceComment)[]>();
  const docSpans: Span[] = [];
  const addInline = (item: Item, c: Comment | SourceComment): void => {
    const list = inline.get(item) ?? [];
    list.push(c);
    inline.set(item, list);
  };
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
      if (c.span.start >= item.span.start) addInline(item, c);
    }
    note(t.trailing);
    if (t.doc !== undefined) docSpans.push(t.doc.span);
  };
  const items: Item[] = [];
  if (ast.package !== undefined) items.push(ast.package);
  for (const decl of ast.declarations) {
    items.push(decl);
    if (decl.kind !== "ReservedDecl") {
      for (const c of decl.innerComments) note(c);
      items.push(...decl.members);
    }
  }
  for (const item of items) noteTrivia(item);
  for (const c of ast.endComments) note(c);

  for (const c of sourceComments) {
    if (placed.has(c.span.start) || inDoc(docSpans, c.span.start)) continue;
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
    addInline(owner, c);
  }
  for (const list of inline.values()) list.sort((a, b) => a.span.start - b.span.start);
  return { inline, docSpans };
}

/**
 * Checks that every source comment was printed, once, in source order; `printed` holds
 * the spans of printed comments and docs in print order.
 *
 * @throws {FormatError} if a comment was lost or moved before an earlier one.
 */
export function verifyComments(
  printed: readonly Span[],
  sourceComments: readonly SourceComment[],
  docSpans: readonly Span[],
): void {
  for (let i = 1; i < printed.length; i++) {
    const at = printed[i]!;
    if (at.start <= printed[i - 1]!.start) {
      throw new FormatError(
        "FMT_COMMENT_ORDER",
        "Formatting would move this comment before an earlier one.",
        at,
      );
    }
  }
  const starts = new Set(printed.map((s) => s.start));
  for (const c of sourceComments) {
    if (!starts.has(c.span.start) && !inDoc(docSpans, c.span.start)) {
      throw new FormatError("FMT_UNPLACED_COMMENT", "Formatting would lose this comment.", c.span);
    }
  }
}

function inDoc(docSpans: readonly Span[], offset: number): boolean {
  return docSpans.some((s) => s.start <= offset && offset < s.end);
}

/** A comment as printed: line comments without trailing blanks, block comments verbatim with `\n` line ends. */
export function commentText(c: Comment | SourceComment): string {
  return c.kind === "line" ? c.text.trimEnd() : c.text.replace(/\r\n?/g, "\n");
}
