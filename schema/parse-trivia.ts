/**
 * Attaches comments to the items of the syntax tree as {@link Trivia}: leading comments,
 * the `///` doc, comments between an item's tokens, a trailing comment on the same
 * line, and comments left before a `}` or the end of the file. Only the parser knows
 * where items begin and end, so this happens while parsing; `entdb fmt` relies on every
 * comment being kept.
 */

import type { Comment, DocComment, Trivia } from "./ast.ts";
import type { ParseCursor } from "./parse-cursor.ts";
import type { CommentToken } from "./token.ts";

const NO_COMMENTS: readonly Comment[] = [];

/** The trivia gathered when an item starts, before its end is known. */
export interface OpenItem {
  readonly leading: readonly Comment[];
  readonly doc?: DocComment;
  readonly blankLineBefore: boolean;
  readonly start: number;
}

/** Starts an item at the current token: claims the pending comments as its leading comments and doc. */
export function beginItem(p: ParseCursor, first: boolean): OpenItem {
  const token = p.cur;
  if (p.pending.length === 0) {
    // The common case: no comments, nothing to allocate.
    return {
      leading: NO_COMMENTS,
      blankLineBefore: !first && token.newlinesBefore >= 2,
      start: token.span.start,
    };
  }
  const group = p.pending;
  p.pending = [];
  // The doc is the run of `///` lines directly above the item, each on the line right after the previous.
  let docStart = group.length;
  let nextNewlines = token.newlinesBefore;
  for (let k = group.length - 1; k >= 0; k--) {
    const c = group[k]!;
    if (nextNewlines !== 1 || !c.isDocLine) break;
    docStart = k;
    nextNewlines = c.newlinesBefore;
  }
  const leading = annotate(
    group.slice(0, docStart),
    group[docStart]?.newlinesBefore ?? token.newlinesBefore,
  );
  const docLines = group.slice(docStart);
  const firstNewlines = group[0]?.newlinesBefore ?? token.newlinesBefore;
  const open: OpenItem = {
    leading,
    blankLineBefore: !first && firstNewlines >= 2,
    start: token.span.start,
  };
  if (docLines.length === 0) return open;
  const doc: DocComment = {
    lines: docLines.map((c) => docText(c.comment.text)),
    span: {
      start: docLines[0]!.comment.span.start,
      end: docLines[docLines.length - 1]!.comment.span.end,
    },
  };
  return { ...open, doc };
}

/** Takes the pending comments that came before earlier tokens, leaving those of the current token. */
function takeInterior(p: ParseCursor): Comment[] {
  const own = p.cur.comments.length;
  const keep = Math.min(own, p.pending.length);
  const taken = p.pending.slice(0, p.pending.length - keep);
  p.pending = p.pending.slice(p.pending.length - keep);
  return taken.map((c) => c.comment);
}

/** All pending comments (the header's interior), right before a `{` is consumed. */
export function takeInteriorAll(p: ParseCursor): Comment[] {
  const taken = p.pending.map((c) => c.comment);
  p.pending = [];
  return taken;
}

/**
 * Ends an item. With `consume`, the current token is its last (`;` or `}`): the
 * comments before it become interior, and a comment on the same line after it
 * becomes the trailing comment.
 */
export function closeItem(
  p: ParseCursor,
  open: OpenItem,
  consume: boolean,
  interior: readonly Comment[] = NO_COMMENTS,
): Trivia {
  let inner = interior;
  let trailing: Comment | undefined;
  if (consume) {
    if (p.pending.length > 0) {
      inner = inner.concat(p.pending.map((c) => c.comment));
      p.pending = [];
    }
    p.advance();
    const next = p.pending[0];
    if (next !== undefined && next.newlinesBefore === 0) {
      trailing = next.comment;
      p.pending.shift();
    }
  } else if (p.pending.length > 0) {
    inner = inner.concat(takeInterior(p));
  }
  const trivia: Trivia = {
    leading: inner.length === 0 ? open.leading : [...open.leading, ...inner],
    blankLineBefore: open.blankLineBefore,
    ...(open.doc !== undefined ? { doc: open.doc } : {}),
    ...(trailing !== undefined ? { trailing } : {}),
  };
  return trivia;
}

/**
 * The comments before a closing `}` (or the end of the file) that no member claimed.
 * When the body is unclosed and parsing stopped at the next declaration, that
 * declaration's own comments stay pending for it.
 */
export function closingComments(p: ParseCursor): Comment[] {
  const cur = p.cur;
  const keep =
    cur.kind === "}" || cur.kind === "eof" ? 0 : Math.min(cur.comments.length, p.pending.length);
  const group = p.pending.slice(0, p.pending.length - keep);
  p.pending = p.pending.slice(p.pending.length - keep);
  return annotate(group, keep > 0 || cur.kind === "eof" ? 0 : cur.newlinesBefore);
}

/** `/// text` → `text` (the slashes and one following space removed). */
function docText(comment: string): string {
  const rest = comment.slice(3);
  return rest.startsWith(" ") ? rest.slice(1) : rest;
}

/**
 * Turns comment tokens into AST comments, marking blank lines around each;
 * `newlinesAfterLast` is the line breaks between the last comment and what follows.
 */
function annotate(group: readonly CommentToken[], newlinesAfterLast: number): Comment[] {
  return group.map((c, k) => {
    const after = k + 1 < group.length ? group[k + 1]!.newlinesBefore : newlinesAfterLast;
    const before = c.newlinesBefore >= 2;
    if (!before && after < 2) return c.comment;
    return {
      ...c.comment,
      ...(before ? { blankLineBefore: true } : {}),
      ...(after >= 2 ? { blankLineAfter: true } : {}),
    };
  });
}
