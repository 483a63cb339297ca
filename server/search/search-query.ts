/**
 * The search query language, and its translation to an FTS5 MATCH expression.
 *
 * Grammar (keywords are upper case; `and`, `or`, `not` in lower case are words):
 *
 * ```ebnf
 * query   = or ;
 * or      = and { "OR" and } ;
 * and     = unary { [ "AND" ] unary } ;          (* juxtaposition is AND *)
 * unary   = "NOT" unary | "(" or ")" | term ;
 * term    = ( WORD | '"' { CHAR } '"' ) [ "*" ] ;  (* "*" right after: a prefix *)
 * ```
 *
 * A WORD is a run of characters other than whitespace, `"`, `(`, `)` and `*`. Every
 * term reaches FTS5 as a quoted string (`"` doubled inside), so no user text is ever
 * read as FTS5 syntax: column filters, `NEAR`, `^` and the like are plain characters.
 * FTS5's NOT is binary, so a group of terms needs at least one that is not negated:
 * `printer NOT fire` is fine, `NOT fire` alone is refused.
 *
 * Problems are {@link SearchQueryError}s naming what is wrong and where (a 0-based
 * character position), and nothing is searched.
 */

import { ftsText } from "../../codegen/store-layout/index.ts";

/** Most terms (words and phrases) one query may hold. */
export const MAX_SEARCH_TERMS = 64;
/** Longest query, in characters. */
export const MAX_SEARCH_QUERY_LENGTH = 1_000;
/** Deepest nesting of parentheses. */
const MAX_DEPTH = 16;

/** A malformed query: `position` is the 0-based character offset of the problem. */
export class SearchQueryError extends Error {
  readonly position: number;
  constructor(message: string, position: number) {
    super(`${message} (at position ${position})`);
    this.name = "SearchQueryError";
    this.position = position;
  }
}

/** A parsed query, as a tree. */
export type SearchNode =
  | { readonly kind: "term"; readonly text: string; readonly prefix: boolean }
  | { readonly kind: "and"; readonly items: readonly SearchNode[] }
  | { readonly kind: "or"; readonly items: readonly SearchNode[] }
  | { readonly kind: "not"; readonly item: SearchNode };

interface Token {
  readonly kind: "word" | "phrase" | "(" | ")" | "AND" | "OR" | "NOT" | "*";
  readonly text: string;
  readonly at: number;
  /** For word and phrase: a `*` follows immediately. */
  readonly prefix: boolean;
}

/** Parses `query`; throws {@link SearchQueryError}. */
export function parseSearchQuery(query: string): SearchNode {
  const tokens = tokenize(query);
  if (tokens.length === 0) {
    throw new SearchQueryError("The query is empty; give at least one word or phrase", 0);
  }
  const p = new Parser(tokens, query.length);
  const node = p.or(0);
  const extra = p.peek();
  if (extra) {
    throw new SearchQueryError(
      extra.kind === ")" ? "A ')' closes no '('" : `Unexpected ${shown(extra)}`,
      extra.at,
    );
  }
  return node;
}

/** The FTS5 MATCH expression of `query`: every term quoted, operators explicit. */
export function toFtsMatch(query: string): string {
  return render(parseSearchQuery(query));
}

function render(node: SearchNode): string {
  switch (node.kind) {
    case "term":
      return `"${ftsText(node.text).replaceAll('"', '""')}"${node.prefix ? " *" : ""}`;
    case "or":
      return `(${node.items.map(render).join(" OR ")})`;
    case "not":
      // Only reached through `and`, which places it after a positive part.
      return render(node.item);
    case "and": {
      const pos = node.items.filter((n) => n.kind !== "not").map(render);
      const neg = node.items.filter((n) => n.kind === "not").map(render);
      const base = pos.length === 1 ? pos[0]! : `(${pos.join(" AND ")})`;
      return neg.length === 0 ? base : `(${[base, ...neg].join(" NOT ")})`;
    }
  }
}

class Parser {
  readonly #tokens: readonly Token[];
  readonly #end: number;
  #i = 0;

  constructor(tokens: readonly Token[], end: number) {
    this.#tokens = tokens;
    this.#end = end;
  }

  peek(): Token | undefined {
    return this.#tokens[this.#i];
  }

  or(depth: number): SearchNode {
    const items = [this.and(depth)];
    while (this.peek()?.kind === "OR") {
      const op = this.#next();
      this.#operand(op);
      items.push(this.and(depth));
    }
    return items.length === 1 ? items[0]! : { kind: "or", items };
  }

  and(depth: number): SearchNode {
    const start = this.peek()?.at ?? this.#end;
    const items = [this.unary(depth)];
    for (;;) {
      const t = this.peek();
      if (!t || t.kind === "OR" || t.kind === ")") break;
      if (t.kind === "AND") {
        this.#next();
        this.#operand(t);
      }
      items.push(this.unary(depth));
    }
    if (items.every((n) => n.kind === "not")) {
      throw new SearchQueryError(
        "NOT needs something to subtract from: write `printer NOT fire`, not `NOT fire` alone",
        start,
      );
    }
    return items.length === 1 ? items[0]! : { kind: "and", items };
  }

  unary(depth: number): SearchNode {
    const t = this.peek();
    if (!t)
      throw new SearchQueryError("The query ends where a word or phrase was expected", this.#end);
    switch (t.kind) {
      case "NOT": {
        this.#next();
        this.#operand(t);
        const item = this.unary(depth);
        if (item.kind === "not")
          throw new SearchQueryError("NOT NOT cancels out; remove both", t.at);
        return { kind: "not", item };
      }
      case "(": {
        if (depth >= MAX_DEPTH) {
          throw new SearchQueryError(`Parentheses nest deeper than ${MAX_DEPTH} levels`, t.at);
        }
        this.#next();
        if (this.peek()?.kind === ")") throw new SearchQueryError("Empty parentheses", t.at);
        const inner = this.or(depth + 1);
        const close = this.peek();
        if (close?.kind !== ")") {
          throw new SearchQueryError("A '(' is never closed", t.at);
        }
        this.#next();
        return inner;
      }
      case "word":
      case "phrase":
        this.#next();
        return { kind: "term", text: t.text, prefix: t.prefix };
      case "*":
        throw new SearchQueryError(
          "A '*' must directly follow a word or phrase, as in `print*`",
          t.at,
        );
      case ")":
        throw new SearchQueryError("A ')' closes no '('", t.at);
      case "AND":
      case "OR":
        throw new SearchQueryError(`${t.kind} needs a word or phrase on its left`, t.at);
    }
  }

  #next(): Token {
    return this.#tokens[this.#i++]!;
  }

  /** After an operator: the next token must start an operand. */
  #operand(op: Token): void {
    const t = this.peek();
    if (!t) throw new SearchQueryError(`${op.kind} needs a word or phrase after it`, op.at);
    if (t.kind === "AND" || t.kind === "OR" || t.kind === ")") {
      throw new SearchQueryError(`${op.kind} is followed by ${shown(t)}`, t.at);
    }
  }
}

function shown(t: Token): string {
  return t.kind === "word" || t.kind === "phrase" ? `'${t.text}'` : t.kind;
}

const WHITESPACE = /[\s\u200b]/u;
const CONTROL = /\p{Cc}/u;
const WORD_END = /[\s"()*]/u;
/** A term must hold something the tokenizer keeps; otherwise FTS5 sees an empty phrase. */
const TOKEN_CHAR = /[\p{L}\p{N}\p{Co}]/u;

function tokenize(query: string): Token[] {
  if (query.length > MAX_SEARCH_QUERY_LENGTH) {
    throw new SearchQueryError(
      `The query is ${query.length} characters long; the limit is ${MAX_SEARCH_QUERY_LENGTH}`,
      MAX_SEARCH_QUERY_LENGTH,
    );
  }
  const tokens: Token[] = [];
  let terms = 0;
  const term = (kind: "word" | "phrase", text: string, at: number, end: number) => {
    if (!TOKEN_CHAR.test(text)) {
      throw new SearchQueryError(
        `${kind === "word" ? "Word" : "Phrase"} ${JSON.stringify(text)} has no letter or digit to search for`,
        at,
      );
    }
    if (++terms > MAX_SEARCH_TERMS) {
      throw new SearchQueryError(`The query has more than ${MAX_SEARCH_TERMS} terms`, at);
    }
    const prefix = query[end] === "*";
    tokens.push({ kind, text, at, prefix });
    return prefix ? end + 1 : end;
  };
  let i = 0;
  while (i < query.length) {
    const c = query[i]!;
    checkChar(query, i);
    if (WHITESPACE.test(c)) {
      i++;
    } else if (c === "(" || c === ")" || c === "*") {
      tokens.push({ kind: c, text: c, at: i, prefix: false });
      i++;
    } else if (c === '"') {
      const close = query.indexOf('"', i + 1);
      if (close < 0) throw new SearchQueryError("A '\"' is never closed", i);
      const text = query.slice(i + 1, close);
      for (let k = i + 1; k < close; k++) checkChar(query, k);
      i = term("phrase", text, i, close + 1);
    } else {
      let j = i;
      while (j < query.length && !WORD_END.test(query[j]!) && !CONTROL.test(query[j]!)) j++;
      const text = query.slice(i, j);
      if (text === "AND" || text === "OR" || text === "NOT") {
        tokens.push({ kind: text, text, at: i, prefix: false });
        i = j;
      } else {
        i = term("word", text, i, j);
      }
    }
  }
  return tokens;
}

/** Refuses a control character other than tab and line breaks (which count as spaces). */
function checkChar(query: string, i: number): void {
  const c = query[i]!;
  if (c === "\t" || c === "\n" || c === "\r" || !CONTROL.test(c)) return;
  const hex = c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
  throw new SearchQueryError(`Control character U+${hex} is not allowed in a query`, i);
}
