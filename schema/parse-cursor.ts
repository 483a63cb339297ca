/**
 * The state of one parse: a cursor over the tokens, the comments not yet attached to an
 * item, the syntax diagnostics, and what failed to parse. The parsing functions of
 * `parse-*.ts` are free functions over one {@link ParseCursor}, so they need not
 * import each other in a circle.
 */

import type { Declaration, Ident, IntLiteral } from "./ast.ts";
import type { Diagnostic } from "./diagnostic.ts";
import { unexpectedToken } from "./messages.ts";
import { LineIndex, type Span } from "./span.ts";
import { type CommentToken, describeToken, type Token, type TokenKind } from "./token.ts";

/** Moves through the tokens of one source, reports syntax errors and records what broke. */
export class ParseCursor {
  readonly #text: string;
  readonly #tokens: readonly Token[];
  #index = 0;
  /**
   * Comments passed over and not yet attached to an item. Only the trivia functions
   * (`parse-trivia.ts`) take from it; {@link advance} adds the next token's comments.
   */
  pending: CommentToken[];
  #lineIndex: LineIndex | undefined;
  readonly diagnostics: Diagnostic[] = [];
  /** Names of node, edge and enum declarations that were left out of the AST. */
  readonly brokenTypeNames = new Set<string>();
  /** A type declaration broke before its name was read. */
  anonymousBrokenType = false;
  /** Per kept declaration: names of its members that were left out. */
  readonly brokenMembers = new Map<Declaration, ReadonlySet<string>>();
  /** A `package` declaration was started but could not be read. */
  brokenPackage = false;

  constructor(text: string, tokens: readonly Token[]) {
    this.#text = text;
    this.#tokens = tokens;
    this.pending = [...(tokens[0]?.comments ?? [])];
  }

  /** The position of the current token; unchanged position means no progress was made. */
  get index(): number {
    return this.#index;
  }

  get cur(): Token {
    return this.#tokens[this.#index]!;
  }

  peek(ahead: number): Token {
    return this.#tokens[Math.min(this.#index + ahead, this.#tokens.length - 1)]!;
  }

  /** The token before the current one, if any. */
  previous(): Token | undefined {
    return this.#tokens[this.#index - 1];
  }

  at(kind: TokenKind): boolean {
    return this.cur.kind === kind;
  }

  atWord(word: string): boolean {
    return this.cur.kind === "ident" && this.cur.text === word;
  }

  /** Moves past the current token; the next token's comments become pending. */
  advance(): Token {
    const token = this.cur;
    if (token.kind !== "eof") {
      this.#index++;
      for (const c of this.cur.comments) this.pending.push(c);
    }
    return token;
  }

  /** The byte offset just after the previous token: where a missing `;` belongs. */
  prevEnd(): number {
    return this.#index === 0 ? 0 : this.#tokens[this.#index - 1]!.span.end;
  }

  /** The span from `start` to the end of the previous token. */
  span(start: number): Span {
    return { start, end: this.prevEnd() };
  }

  report(diagnostic: Diagnostic): void {
    this.diagnostics.push(diagnostic);
  }

  line(offset: number): number {
    this.#lineIndex ??= new LineIndex(this.#text);
    return this.#lineIndex.lineCol(offset).line;
  }

  /**
   * Reports that `expected` is missing at the current token (unless the lexer already
   * reported that token as malformed).
   */
  unexpected(expected: string, label?: string): void {
    const cur = this.cur;
    if (cur.malformed) return;
    this.report(unexpectedToken(expected, describeToken(cur), cur.span, label));
  }

  /** Consumes a token of `kind`, or reports `'kind' context` as missing. */
  expect(kind: TokenKind, context: string): Token | undefined {
    if (this.at(kind)) return this.advance();
    this.unexpected(`'${kind}' ${context}`, `expected '${kind}'`);
    return undefined;
  }

  expectWord(word: string, context: string): Token | undefined {
    if (this.atWord(word)) return this.advance();
    this.unexpected(`'${word}' ${context}`, `expected '${word}'`);
    return undefined;
  }

  expectIdent(expected: string, label: string): Ident | undefined {
    if (this.at("ident")) return ident(this.advance());
    this.unexpected(expected, label);
    return undefined;
  }

  expectInt(expected: string, label: string): IntLiteral | undefined {
    const cur = this.cur;
    if (cur.kind === "int" && !cur.malformed) return intLiteral(this.advance());
    this.unexpected(expected, label);
    return undefined;
  }

  /** Marks a declaration as left out of the AST. */
  brokenType(name: Ident | undefined): void {
    if (name === undefined) this.anonymousBrokenType = true;
    else this.brokenTypeNames.add(name.name);
  }

  /** Records the members of a kept declaration that failed to parse. */
  keep<T extends Declaration>(decl: T, broken: ReadonlySet<string>): T {
    if (broken.size > 0) this.brokenMembers.set(decl, broken);
    return decl;
  }
}

/** An identifier node for a token. */
export function ident(token: Token): Ident {
  return { kind: "Ident", name: token.text, span: token.span };
}

/** An integer literal node for a well-formed `int` token. */
export function intLiteral(token: Token): IntLiteral {
  return { kind: "IntLiteral", value: BigInt(token.text), span: token.span };
}
