/**
 * Tokens of the `.entdb` language, as the lexer hands them to the parser.
 *
 * Comments are not tokens: each token carries the comments between it and the
 * previous token, with the line breaks around them, so the parser can attach them
 * to declarations (leading, doc, trailing) without a second pass over the text.
 */

import type { Comment } from "./ast.ts";
import type { Span } from "./span.ts";

/** Single-character punctuation; the kind is the character itself. */
export type PunctuationKind =
  | "{"
  | "}"
  | "["
  | "]"
  | "("
  | ")"
  | "<"
  | ">"
  | ";"
  | ":"
  | ","
  | "."
  | "=";

/** What a token is. Keywords are contextual, so they are `ident` tokens. */
export type TokenKind = "ident" | "int" | "float" | "string" | PunctuationKind | "eof";

/** A comment plus the layout facts needed to attach it. */
export interface CommentToken {
  readonly comment: Comment;
  /** Line breaks between the end of the previous token or comment and the start of this one. */
  readonly newlinesBefore: number;
  /** A `///` line comment (not `////`): a candidate doc line. */
  readonly isDocLine: boolean;
}

/** One token. Spans are UTF-8 byte offsets. */
export interface Token {
  readonly kind: TokenKind;
  /** The source text of the token (for strings: with the quotes, escapes undecoded). */
  readonly text: string;
  /** For strings: the decoded value; for other kinds: equal to `text`. */
  readonly value: string;
  readonly span: Span;
  /** Line breaks between the end of the previous token or comment and the start of this token. */
  readonly newlinesBefore: number;
  /** Comments between the previous token and this one, in source order. */
  readonly comments: readonly CommentToken[];
  /**
   * The lexer already reported this token as malformed (`12abc`, a string without its
   * closing quote); the parser must not use its value nor report it again.
   */
  readonly malformed: boolean;
}

/** Whether a line break separates `token` from the token before it. */
export function startsOnNewLine(token: Token): boolean {
  if (token.newlinesBefore > 0) return true;
  for (const c of token.comments) {
    // A line comment always ends at a line break, so whatever follows it is on a new line.
    if (c.newlinesBefore > 0 || c.comment.kind === "line") return true;
  }
  return false;
}

/** A short, quoted description of a token for messages: `'node'`, `'{'`, `end of file`. */
export function describeToken(token: Token): string {
  switch (token.kind) {
    case "eof":
      return "end of file";
    case "string": {
      const shown = token.text.length > 24 ? `${token.text.slice(0, 20)}…` : token.text;
      return `string ${shown}`;
    }
    default: {
      const shown = token.text.length > 24 ? `${token.text.slice(0, 20)}…` : token.text;
      return `'${shown}'`;
    }
  }
}
