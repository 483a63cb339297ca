/**
 * Recursive-descent parser for `.entdb` files: tokens in, {@link SchemaFile} out.
 *
 * It never throws and never stops at the first error. Each problem becomes a
 * diagnostic, then the parser resynchronizes at the nearest sensible point (the
 * `;` ending a member, the `}` closing a body, or the next `node` / `edge` / `enum`
 * keyword at the start of a line) so one pass reports every syntax error. A
 * declaration or member whose required parts are missing is left out of the AST;
 * its name goes into {@link RecoveryInfo} so validation can avoid follow-up errors
 * ("unknown type 'User'" after `node User` failed to parse).
 *
 * Comments are attached to items as {@link Trivia} here, because only the parser
 * knows where items begin and end; `entdb fmt` relies on every comment being kept.
 */

import type {
  Comment,
  CompositeDecl,
  Declaration,
  DocComment,
  EdgeDecl,
  EdgeMember,
  EnumDecl,
  EnumValueDecl,
  FieldDecl,
  Ident,
  IntLiteral,
  Literal,
  NodeDecl,
  NodeMember,
  OptionItem,
  PackageDecl,
  ReservedDecl,
  ReservedItem,
  SchemaFile,
  Trivia,
  TypeExpr,
} from "./ast.ts";
import type { Diagnostic } from "./diagnostic.ts";
import { lexSchema } from "./lexer.ts";
import {
  duplicatePackage,
  expectedDeclaration,
  expectedMember,
  missingSemicolon,
  mixedReserved,
  packageNotFirst,
  unclosedBody,
  unexpectedToken,
} from "./messages.ts";
import { LineIndex, type SourceFile } from "./span.ts";
import { closestName } from "./suggest.ts";
import {
  type CommentToken,
  describeToken,
  startsOnNewLine,
  type Token,
  type TokenKind,
} from "./token.ts";

/**
 * What failed to parse, so validation can stay quiet about its consequences.
 * Member names are keyed by the declaration that holds them; the empty string
 * stands for a member that broke before its name.
 */
export interface RecoveryInfo {
  /** Names of node, edge and enum declarations that were left out of the AST. */
  readonly brokenTypeNames: ReadonlySet<string>;
  /** A type declaration broke before its name was read. */
  readonly anonymousBrokenType: boolean;
  /** Per kept declaration: names of its fields or enum values that were left out. */
  readonly brokenMembers: ReadonlyMap<Declaration, ReadonlySet<string>>;
  /** A `package` declaration was started but could not be read. */
  readonly brokenPackage: boolean;
}

/** The full parser output: the AST, lexical and syntax diagnostics, and what broke. */
export interface DetailedParse {
  readonly ast: SchemaFile;
  readonly diagnostics: Diagnostic[];
  readonly recovery: RecoveryInfo;
}

/** Parses a schema source into its AST and the lexical and syntax diagnostics, sorted by position. */
export function parseSchema(source: SourceFile): { ast: SchemaFile; diagnostics: Diagnostic[] } {
  const { ast, diagnostics } = parseSchemaDetailed(source);
  return { ast, diagnostics };
}

/** Like {@link parseSchema}, plus what failed to parse (for validation without cascades). */
export function parseSchemaDetailed(source: SourceFile): DetailedParse {
  const lexed = lexSchema(source.text);
  const parser = new Parser(source.text, lexed.tokens);
  const ast = parser.parseFile();
  const diagnostics = [...lexed.diagnostics, ...parser.diagnostics];
  // Stable: at one position, lexical problems come before the syntax errors they cause.
  diagnostics.sort((a, b) => a.span.start - b.span.start);
  return { ast, diagnostics, recovery: parser.recovery() };
}

const DECLARATION_KEYWORDS = ["node", "edge", "enum", "reserved", "package"] as const;

const NO_COMMENTS: readonly Comment[] = [];

type MemberOwner = "node" | "edge" | "enum";

/** The trivia gathered when an item starts, before its end is known. */
interface OpenItem {
  readonly leading: readonly Comment[];
  readonly doc?: DocComment;
  readonly blankLineBefore: boolean;
  readonly start: number;
}

interface Body<M> {
  readonly members: M[];
  readonly broken: Set<string>;
}

class Parser {
  readonly #text: string;
  readonly #tokens: readonly Token[];
  #index = 0;
  /** Comments passed over and not yet attached to an item. */
  #pending: CommentToken[];
  #lineIndex: LineIndex | undefined;
  readonly diagnostics: Diagnostic[] = [];
  readonly #brokenTypeNames = new Set<string>();
  #anonymousBrokenType = false;
  readonly #brokenMembers = new Map<Declaration, ReadonlySet<string>>();
  #brokenPackage = false;

  constructor(text: string, tokens: readonly Token[]) {
    this.#text = text;
    this.#tokens = tokens;
    this.#pending = [...(tokens[0]?.comments ?? [])];
  }

  recovery(): RecoveryInfo {
    return {
      brokenTypeNames: this.#brokenTypeNames,
      anonymousBrokenType: this.#anonymousBrokenType,
      brokenMembers: this.#brokenMembers,
      brokenPackage: this.#brokenPackage,
    };
  }

  // ------------------------------------------------------------ token cursor

  get #cur(): Token {
    return this.#tokens[this.#index]!;
  }

  #peek(ahead: number): Token {
    return this.#tokens[Math.min(this.#index + ahead, this.#tokens.length - 1)]!;
  }

  #at(kind: TokenKind): boolean {
    return this.#cur.kind === kind;
  }

  #atWord(word: string): boolean {
    return this.#cur.kind === "ident" && this.#cur.text === word;
  }

  /** Moves past the current token; the next token's comments become pending. */
  #advance(): Token {
    const token = this.#cur;
    if (token.kind !== "eof") {
      this.#index++;
      for (const c of this.#cur.comments) this.#pending.push(c);
    }
    return token;
  }

  /** The byte offset just after the previous token: where a missing `;` belongs. */
  #prevEnd(): number {
    return this.#index === 0 ? 0 : this.#tokens[this.#index - 1]!.span.end;
  }

  #report(diagnostic: Diagnostic): void {
    this.diagnostics.push(diagnostic);
  }

  #line(offset: number): number {
    this.#lineIndex ??= new LineIndex(this.#text);
    return this.#lineIndex.lineCol(offset).line;
  }

  /**
   * Reports that `expected` is missing at the current token (unless the lexer already
   * reported that token as malformed).
   */
  #unexpected(expected: string, label?: string): void {
    const cur = this.#cur;
    if (cur.malformed) return;
    this.#report(unexpectedToken(expected, describeToken(cur), cur.span, label));
  }

  /** Consumes a token of `kind`, or reports `'kind' context` as missing. */
  #expect(kind: TokenKind, context: string): Token | undefined {
    if (this.#at(kind)) return this.#advance();
    this.#unexpected(`'${kind}' ${context}`, `expected '${kind}'`);
    return undefined;
  }

  #expectWord(word: string, context: string): Token | undefined {
    if (this.#atWord(word)) return this.#advance();
    this.#unexpected(`'${word}' ${context}`, `expected '${word}'`);
    return undefined;
  }

  #expectIdent(expected: string, label: string): Ident | undefined {
    if (this.#at("ident")) return ident(this.#advance());
    this.#unexpected(expected, label);
    return undefined;
  }

  #expectInt(expected: string, label: string): IntLiteral | undefined {
    const cur = this.#cur;
    if (cur.kind === "int" && !cur.malformed) return intLiteral(this.#advance());
    this.#unexpected(expected, label);
    return undefined;
  }

  // ------------------------------------------------------------ trivia

  /** Starts an item at the current token: claims the pending comments as its leading comments and doc. */
  #beginItem(first: boolean): OpenItem {
    const token = this.#cur;
    if (this.#pending.length === 0) {
      // The common case: no comments, nothing to allocate.
      return {
        leading: NO_COMMENTS,
        blankLineBefore: !first && token.newlinesBefore >= 2,
        start: token.span.start,
      };
    }
    const group = this.#pending;
    this.#pending = [];
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
  #takeInterior(): Comment[] {
    const own = this.#cur.comments.length;
    const keep = Math.min(own, this.#pending.length);
    const taken = this.#pending.slice(0, this.#pending.length - keep);
    this.#pending = this.#pending.slice(this.#pending.length - keep);
    return taken.map((c) => c.comment);
  }

  /**
   * Ends an item. With `consume`, the current token is its last (`;` or `}`): the
   * comments before it become interior, and a comment on the same line after it
   * becomes the trailing comment.
   */
  #closeItem(open: OpenItem, consume: boolean, interior: readonly Comment[] = NO_COMMENTS): Trivia {
    let inner = interior;
    let trailing: Comment | undefined;
    if (consume) {
      if (this.#pending.length > 0) {
        inner = inner.concat(this.#pending.map((c) => c.comment));
        this.#pending = [];
      }
      this.#advance();
      const next = this.#pending[0];
      if (next !== undefined && next.newlinesBefore === 0) {
        trailing = next.comment;
        this.#pending.shift();
      }
    } else if (this.#pending.length > 0) {
      inner = inner.concat(this.#takeInterior());
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
  #closingComments(): Comment[] {
    const cur = this.#cur;
    const keep =
      cur.kind === "}" || cur.kind === "eof"
        ? 0
        : Math.min(cur.comments.length, this.#pending.length);
    const group = this.#pending.slice(0, this.#pending.length - keep);
    this.#pending = this.#pending.slice(this.#pending.length - keep);
    return annotate(group, keep > 0 || cur.kind === "eof" ? 0 : cur.newlinesBefore);
  }

  // ------------------------------------------------------------ recovery

  /** Whether the current token starts a top-level declaration. */
  #atDeclarationStart(): boolean {
    const cur = this.#cur;
    if (cur.kind !== "ident") return false;
    const next = this.#peek(1).kind;
    switch (cur.text) {
      case "node":
      case "edge":
      case "enum":
      case "package":
        return next === "ident";
      case "reserved":
        return next === "int" || next === "string";
      default:
        return false;
    }
  }

  /** A `node X` / `edge X` / `enum X` at the start of a line: a declaration even inside a broken body. */
  #atDeclarationOnNewLine(): boolean {
    const cur = this.#cur;
    return (
      cur.kind === "ident" &&
      (cur.text === "node" || cur.text === "edge" || cur.text === "enum") &&
      this.#peek(1).kind === "ident" &&
      startsOnNewLine(cur)
    );
  }

  /**
   * Inside a body: whether the current token can only be the start of the next
   * declaration (so this body was never closed). `node X` at the start of a line is
   * enough; mid-line it must look like a whole header (`node X =`, `enum X {`), since
   * `node` is also a valid field name.
   */
  #atNextDeclaration(): boolean {
    const cur = this.#cur;
    if (cur.kind !== "ident" || this.#peek(1).kind !== "ident") return false;
    const after = this.#peek(2).kind;
    switch (cur.text) {
      case "node":
      case "edge":
        return startsOnNewLine(cur) || after === "=";
      case "enum":
        return startsOnNewLine(cur) || after === "{";
      case "package":
        return startsOnNewLine(cur) || after === ";" || after === ".";
      default:
        return false;
    }
  }

  /**
   * Whether the current token starts a member and begins a line. Inside an option
   * list `name = value` on its own line is an option, so `withEnumValues` is false there.
   */
  #atMemberOnNewLine(withEnumValues = true): boolean {
    const cur = this.#cur;
    if (cur.kind !== "ident" || !startsOnNewLine(cur)) return false;
    const next = this.#peek(1).kind;
    if (next === ":" || (withEnumValues && next === "=")) return true;
    if ((cur.text === "unique" || cur.text === "index") && next === "(") return true;
    return cur.text === "reserved" && (next === "int" || next === "string");
  }

  /** After an error at the top level: skips to the next declaration, past a `;` or a whole `{…}`. */
  #skipTopLevel(): void {
    let depth = 0;
    for (;;) {
      const cur = this.#cur;
      if (cur.kind === "eof") return;
      if (depth === 0 && this.#atDeclarationStart()) return;
      if (depth > 0 && this.#atDeclarationOnNewLine()) return;
      this.#advance();
      if (cur.kind === "{") depth++;
      else if (cur.kind === "}") {
        if (depth <= 1) return;
        depth--;
      } else if (cur.kind === ";" && depth === 0) return;
    }
  }

  /**
   * After an error inside a statement: skips to its `;` (left for the caller), the `}` of
   * the enclosing body, a member starting a new line, or a declaration.
   */
  #skipStatement(): void {
    let depth = 0;
    for (;;) {
      const cur = this.#cur;
      if (cur.kind === "eof") return;
      if (depth === 0 && (cur.kind === ";" || cur.kind === "}")) return;
      if (this.#atDeclarationOnNewLine() || (depth === 0 && this.#atMemberOnNewLine())) return;
      if (cur.kind === "{") depth++;
      else if (cur.kind === "}") depth--;
      this.#advance();
    }
  }

  /** After an error in a declaration header: skips to its `{`, its `;`, or the next declaration. */
  #skipHeader(): void {
    for (;;) {
      const cur = this.#cur;
      if (cur.kind === "eof" || cur.kind === "{" || cur.kind === ";" || cur.kind === "}") return;
      if (this.#atDeclarationOnNewLine()) return;
      this.#advance();
    }
  }

  /**
   * Ends a `;`-terminated item. A missing `;` before a line break only costs one
   * diagnostic and the item is kept; anything else on the line is skipped.
   */
  #finishStatement(open: OpenItem, what: string, optionsPossible: boolean): Trivia {
    const cur = this.#cur;
    if (cur.kind === ";") return this.#closeItem(open, true);
    if (cur.kind === "}" || cur.kind === "eof" || startsOnNewLine(cur)) {
      const at = this.#prevEnd();
      // An unclosed string ate the rest of the line, `;` included: already reported.
      if (!this.#tokens[this.#index - 1]?.malformed)
        this.#report(missingSemicolon(what, { start: at, end: at }));
      return this.#closeItem(open, false);
    }
    this.#unexpected(
      optionsPossible ? `'[' or ';' after ${what}` : `';' after ${what}`,
      "expected ';'",
    );
    this.#skipStatement();
    return this.#closeItem(open, this.#at(";"));
  }

  /** Drops a broken statement: skips past its `;` when it has one on the way. */
  #abandonStatement(): void {
    this.#skipStatement();
    if (this.#at(";")) this.#advance();
  }

  // ------------------------------------------------------------ file

  parseFile(): SchemaFile {
    let pkg: PackageDecl | undefined;
    const declarations: Declaration[] = [];
    let first = true;
    let sawDeclaration = false;
    while (!this.#at("eof")) {
      const before = this.#index;
      const cur = this.#cur;
      const word = cur.kind === "ident" ? cur.text : "";
      switch (word) {
        case "package": {
          const decl = this.#parsePackage(first);
          if (decl !== undefined) {
            if (pkg !== undefined) {
              this.#report(duplicatePackage(decl.span, this.#line(pkg.span.start)));
            } else {
              pkg = decl;
              if (sawDeclaration) this.#report(packageNotFirst(decl.span));
            }
          }
          break;
        }
        case "node":
        case "edge":
        case "enum":
        case "reserved": {
          sawDeclaration = true;
          const decl =
            word === "node"
              ? this.#parseNode(first)
              : word === "edge"
                ? this.#parseEdge(first)
                : word === "enum"
                  ? this.#parseEnum(first)
                  : this.#parseReserved(first);
          if (decl !== undefined) declarations.push(decl);
          break;
        }
        default: {
          // `nod User = 1 {`: a misspelt keyword; do not call 'User' unknown later.
          if (cur.kind === "ident" && this.#peek(1).kind === "ident")
            this.#brokenTypeNames.add(this.#peek(1).text);
          if (!cur.malformed) {
            const suggestion =
              cur.kind === "ident" ? closestName(cur.text, DECLARATION_KEYWORDS) : undefined;
            this.#report(expectedDeclaration(describeToken(cur), cur.span, suggestion));
          }
          this.#skipTopLevel();
        }
      }
      first = false;
      if (this.#index === before) this.#advance();
    }
    const endComments = this.#closingComments();
    return {
      kind: "SchemaFile",
      ...(pkg !== undefined ? { package: pkg } : {}),
      declarations,
      endComments,
      span: { start: 0, end: this.#cur.span.end },
    };
  }

  #parsePackage(first: boolean): PackageDecl | undefined {
    const open = this.#beginItem(first);
    this.#advance();
    const parts: Ident[] = [];
    let part = this.#expectIdent("a package name after 'package'", "expected a name");
    while (part !== undefined) {
      parts.push(part);
      if (!this.#at(".")) break;
      this.#advance();
      part = this.#expectIdent("a name after '.' in the package name", "expected a name");
    }
    if (part === undefined) {
      this.#brokenPackage = true;
      this.#abandonStatement();
      return undefined;
    }
    const trivia = this.#finishStatement(open, "the package name", false);
    return {
      kind: "PackageDecl",
      parts,
      trivia,
      span: this.#span(open.start),
    };
  }

  // ------------------------------------------------------------ declarations

  /** Marks a declaration as left out of the AST. */
  #brokenType(name: Ident | undefined): void {
    if (name === undefined) this.#anonymousBrokenType = true;
    else this.#brokenTypeNames.add(name.name);
  }

  /** Records the members of a kept declaration that failed to parse. */
  #keep<T extends Declaration>(decl: T, broken: ReadonlySet<string>): T {
    if (broken.size > 0) this.#brokenMembers.set(decl, broken);
    return decl;
  }

  #span(start: number): { start: number; end: number } {
    return { start, end: this.#prevEnd() };
  }

  #parseNode(first: boolean): NodeDecl | undefined {
    const open = this.#beginItem(first);
    this.#advance();
    const name = this.#expectIdent("a type name after 'node'", "expected a name");
    const eq = name && this.#expect("=", `after 'node ${name.name}'`);
    const id = eq && this.#expectInt("the type id (an integer) after '='", "expected an integer");
    const options = id && this.#at("[") ? this.#parseOptions() : [];
    if (id !== undefined && !this.#at("{")) {
      this.#unexpected(`'{' to start the body of node type '${name!.name}'`, "expected '{'");
    }
    if (!this.#at("{")) this.#skipHeader();
    if (!this.#at("{")) {
      // `node A = 1;` has no body (reported above) but a complete header; keep it so
      // references to it resolve.
      const trivia = this.#closeItem(open, this.#at(";"));
      if (name === undefined || id === undefined) {
        this.#brokenType(name);
        return undefined;
      }
      const members: NodeMember[] = [];
      return {
        kind: "NodeDecl",
        name,
        id,
        options,
        members,
        innerComments: [],
        trivia,
        span: this.#span(open.start),
      };
    }
    const interior = this.#takeInteriorAll();
    const brace = this.#advance();
    const body = this.#parseMembers<NodeMember>("node", name?.name ?? "?", brace);
    const innerComments = this.#closingComments();
    const trivia = this.#closeItem(open, this.#at("}"), interior);
    if (name === undefined || id === undefined) {
      this.#brokenType(name);
      return undefined;
    }
    const { members } = body;
    const span = this.#span(open.start);
    return this.#keep(
      { kind: "NodeDecl", name, id, options, members, innerComments, trivia, span },
      body.broken,
    );
  }

  /** All pending comments (the header's interior), right before a `{` is consumed. */
  #takeInteriorAll(): Comment[] {
    const taken = this.#pending.map((c) => c.comment);
    this.#pending = [];
    return taken;
  }

  #parseEdge(first: boolean): EdgeDecl | undefined {
    const open = this.#beginItem(first);
    this.#advance();
    const name = this.#expectIdent("a type name after 'edge'", "expected a name");
    const eq = name && this.#expect("=", `after 'edge ${name.name}'`);
    const id = eq && this.#expectInt("the type id (an integer) after '='", "expected an integer");
    const fromKw = id && this.#expectWord("from", "after the edge type id");
    const from =
      fromKw &&
      this.#expectIdent("the node type the edge starts from after 'from'", "expected a node type");
    const toKw = from && this.#expectWord("to", `after 'from ${from.name}'`);
    const to =
      toKw &&
      this.#expectIdent("the node type the edge points to after 'to'", "expected a node type");
    const options = to && this.#at("[") ? this.#parseOptions() : [];
    const header =
      name && id && from && to
        ? { kind: "EdgeDecl" as const, name, id, from, to, options }
        : undefined;
    if (header !== undefined && !this.#at("{") && !this.#at(";")) {
      // A missing `;` before a line break is the common slip in the body-less form.
      if (startsOnNewLine(this.#cur) || this.#at("eof") || this.#at("}")) {
        const at = this.#prevEnd();
        this.#report(missingSemicolon(`edge type '${header.name.name}'`, { start: at, end: at }));
        const trivia = this.#closeItem(open, false);
        return {
          ...header,
          hasBody: false,
          members: [],
          innerComments: [],
          trivia,
          span: this.#span(open.start),
        };
      }
      this.#unexpected(`'{' or ';' after edge type '${header.name.name}'`, "expected '{' or ';'");
    }
    if (!this.#at("{") && !this.#at(";")) this.#skipHeader();
    if (!this.#at("{")) {
      const trivia = this.#closeItem(open, this.#at(";"));
      if (header === undefined) {
        this.#brokenType(name);
        return undefined;
      }
      return {
        ...header,
        hasBody: false,
        members: [],
        innerComments: [],
        trivia,
        span: this.#span(open.start),
      };
    }
    const interior = this.#takeInteriorAll();
    const brace = this.#advance();
    const body = this.#parseMembers<EdgeMember>("edge", name?.name ?? "?", brace);
    const innerComments = this.#closingComments();
    const trivia = this.#closeItem(open, this.#at("}"), interior);
    if (header === undefined) {
      this.#brokenType(name);
      return undefined;
    }
    const { members } = body;
    const span = this.#span(open.start);
    return this.#keep(
      { ...header, hasBody: true, members, innerComments, trivia, span },
      body.broken,
    );
  }

  #parseEnum(first: boolean): EnumDecl | undefined {
    const open = this.#beginItem(first);
    this.#advance();
    const name = this.#expectIdent("a type name after 'enum'", "expected a name");
    if (name !== undefined && !this.#at("{")) {
      this.#unexpected(`'{' after 'enum ${name.name}'`, "expected '{'");
    }
    if (!this.#at("{")) this.#skipHeader();
    if (!this.#at("{")) {
      if (this.#at(";")) this.#advance();
      this.#brokenType(name);
      return undefined;
    }
    const interior = this.#takeInteriorAll();
    const brace = this.#advance();
    const body = this.#parseMembers<EnumValueDecl | ReservedDecl>("enum", name?.name ?? "?", brace);
    const innerComments = this.#closingComments();
    const trivia = this.#closeItem(open, this.#at("}"), interior);
    if (name === undefined) {
      this.#brokenType(name);
      return undefined;
    }
    const { members } = body;
    return this.#keep(
      { kind: "EnumDecl", name, members, innerComments, trivia, span: this.#span(open.start) },
      body.broken,
    );
  }

  // ------------------------------------------------------------ bodies

  /**
   * Parses members up to (not including) the closing `}`. Stops early, reporting an
   * unclosed body, at the end of the file or at something that can only be the next
   * declaration.
   */
  #parseMembers<M extends NodeMember | EdgeMember | EnumValueDecl | ReservedDecl>(
    owner: MemberOwner,
    ownerName: string,
    brace: Token,
  ): Body<M> {
    const what = owner === "enum" ? `enum '${ownerName}'` : `${owner} type '${ownerName}'`;
    const members: M[] = [];
    const broken = new Set<string>();
    let first = true;
    for (;;) {
      const cur = this.#cur;
      if (cur.kind === "}") break;
      if (cur.kind === "eof") {
        this.#report(unclosedBody(what, brace.span, "the end of the file"));
        break;
      }
      if (this.#atNextDeclaration()) {
        const reached = `'${cur.text} ${this.#peek(1).text}' on line ${this.#line(cur.span.start)}`;
        this.#report(unclosedBody(what, brace.span, reached));
        break;
      }
      const before = this.#index;
      const member = this.#parseMember(owner, ownerName, first, broken);
      if (member !== undefined) members.push(member as M);
      first = false;
      if (this.#index === before) this.#advance();
    }
    return { members, broken };
  }

  #parseMember(
    owner: MemberOwner,
    ownerName: string,
    first: boolean,
    broken: Set<string>,
  ): NodeMember | EnumValueDecl | undefined {
    const cur = this.#cur;
    if (cur.kind !== "ident") {
      if (!cur.malformed)
        this.#report(expectedMember(owner, ownerName, describeToken(cur), cur.span));
      broken.add("");
      this.#abandonStatement();
      return undefined;
    }
    const next = this.#peek(1).kind;
    if (cur.text === "reserved" && next !== ":" && next !== "=") return this.#parseReserved(first);
    if (owner === "enum") return this.#parseEnumValue(first, broken);
    if ((cur.text === "unique" || cur.text === "index") && next !== ":")
      return this.#parseComposite(first);
    return this.#parseField(first, broken);
  }

  #parseField(first: boolean, broken: Set<string>): FieldDecl | undefined {
    const open = this.#beginItem(first);
    const name = ident(this.#advance());
    const colon = this.#expect(":", `after the field name '${name.name}'`);
    const type = colon && this.#parseType();
    const eq = type && this.#expect("=", `after the type of field '${name.name}'`);
    const id = eq && this.#expectInt("the field id (an integer) after '='", "expected an integer");
    if (id === undefined) {
      broken.add(name.name);
      this.#abandonStatement();
      return undefined;
    }
    const hasOptions = this.#at("[");
    const options = hasOptions ? this.#parseOptions() : [];
    const trivia = this.#finishStatement(open, `the field '${name.name}'`, !hasOptions);
    return {
      kind: "FieldDecl",
      name,
      type: type!,
      id,
      options,
      trivia,
      span: this.#span(open.start),
    };
  }

  /** `T`, `ref<T>`, `list<T>`; nested lists are read in a loop, so deep nesting cannot overflow the stack. */
  #parseType(): TypeExpr | undefined {
    const lists: Token[] = [];
    while (this.#atWord("list") && this.#peek(1).kind === "<") {
      lists.push(this.#advance());
      this.#advance();
    }
    let type: TypeExpr | undefined;
    const cur = this.#cur;
    if (cur.kind === "ident" && (cur.text === "ref" || cur.text === "list")) {
      const word = this.#advance();
      if (this.#expect("<", `after '${word.text}'`)) {
        if (word.text === "ref") {
          const target = this.#expectIdent("a node type name after 'ref<'", "expected a node type");
          const close = target && this.#expect(">", `after 'ref<${target.name}'`);
          if (close)
            type = {
              kind: "RefType",
              target: target!,
              span: { start: word.span.start, end: close.span.end },
            };
        }
      }
    } else if (cur.kind === "ident") {
      const name = ident(this.#advance());
      type = { kind: "NamedType", name, span: name.span };
    } else {
      this.#unexpected(
        "a type (a scalar kind, an enum, 'ref<Node>' or 'list<T>')",
        "expected a type",
      );
    }
    for (let k = lists.length - 1; k >= 0 && type !== undefined; k--) {
      const close = this.#expect(">", "to close 'list<'");
      type = close
        ? {
            kind: "ListType",
            element: type,
            span: { start: lists[k]!.span.start, end: close.span.end },
          }
        : undefined;
    }
    return type;
  }

  #parseComposite(first: boolean): CompositeDecl | undefined {
    const open = this.#beginItem(first);
    const keyword = this.#advance();
    const constraint = keyword.text === "unique" ? "unique" : "index";
    if (!this.#expect("(", `after '${constraint}'`)) {
      this.#abandonStatement();
      return undefined;
    }
    const fields: Ident[] = [];
    if (this.#at(")")) {
      this.#advance();
    } else {
      for (;;) {
        const field = this.#expectIdent("a field name", "expected a field name");
        if (field === undefined) {
          this.#abandonStatement();
          return undefined;
        }
        fields.push(field);
        if (this.#at(",")) {
          this.#advance();
        } else if (this.#at(")")) {
          this.#advance();
          break;
        } else {
          this.#unexpected(`',' or ')' after '${field.name}'`, "expected ',' or ')'");
          this.#abandonStatement();
          return undefined;
        }
      }
    }
    const trivia = this.#finishStatement(open, `'${constraint} (…)'`, false);
    return {
      kind: "CompositeDecl",
      constraint,
      fields,
      trivia,
      span: this.#span(open.start),
    };
  }

  #parseReserved(first: boolean): ReservedDecl | undefined {
    const open = this.#beginItem(first);
    this.#advance();
    const items: ReservedItem[] = [];
    let mixedReported = false;
    for (;;) {
      const cur = this.#cur;
      let item: ReservedItem | undefined;
      if (cur.kind === "int" && !cur.malformed) {
        const firstId = intLiteral(this.#advance());
        if (this.#atWord("to")) {
          this.#advance();
          const last = this.#expectInt("an integer after 'to'", "expected an integer");
          if (last === undefined) {
            this.#abandonStatement();
            return undefined;
          }
          item = {
            kind: "ReservedRange",
            first: firstId,
            last,
            span: { start: firstId.span.start, end: last.span.end },
          };
        } else {
          item = { kind: "ReservedRange", first: firstId, span: firstId.span };
        }
      } else if (cur.kind === "string") {
        const token = this.#advance();
        item = {
          kind: "ReservedName",
          name: { kind: "StringLiteral", value: token.value, span: token.span },
          span: token.span,
        };
      } else {
        const after = items.length === 0 ? "'reserved'" : "','";
        this.#unexpected(`an id or a quoted name after ${after}`, "expected an id or a name");
        this.#abandonStatement();
        return undefined;
      }
      if (!mixedReported && items.length > 0 && items[0]!.kind !== item.kind) {
        this.#report(mixedReserved(item.span));
        mixedReported = true;
      }
      items.push(item);
      if (!this.#at(",")) break;
      this.#advance();
    }
    const trivia = this.#finishStatement(open, "the 'reserved' statement", false);
    return {
      kind: "ReservedDecl",
      items,
      trivia,
      span: this.#span(open.start),
    };
  }

  #parseEnumValue(first: boolean, broken: Set<string>): EnumValueDecl | undefined {
    const open = this.#beginItem(first);
    const name = ident(this.#advance());
    const eq = this.#expect("=", `after the enum value name '${name.name}'`);
    const number =
      eq && this.#expectInt("the value number (an integer) after '='", "expected an integer");
    if (number === undefined) {
      broken.add(name.name);
      this.#abandonStatement();
      return undefined;
    }
    const hasOptions = this.#at("[");
    const options = hasOptions ? this.#parseOptions() : [];
    const trivia = this.#finishStatement(open, `the enum value '${name.name}'`, !hasOptions);
    return {
      kind: "EnumValueDecl",
      name,
      number,
      options,
      trivia,
      span: this.#span(open.start),
    };
  }

  // ------------------------------------------------------------ options

  /**
   * `[a, b = 1, ...]`. Reports at most one error per list, so a mangled list does not
   * produce a wall of diagnostics; options that cannot be read, and all options after
   * an error, are left out.
   */
  #parseOptions(): OptionItem[] {
    this.#advance();
    const items: OptionItem[] = [];
    let reported = false;
    const fail = (expected: string, label: string): void => {
      if (!reported) this.#unexpected(expected, label);
      reported = true;
    };
    for (;;) {
      const cur = this.#cur;
      // After an error, a line break most likely ends the list (its `]` went missing).
      const lostEnd = reported && cur.kind !== "]" && startsOnNewLine(cur);
      if (lostEnd || this.#atMemberOnNewLine(false) || this.#atDeclarationOnNewLine()) {
        fail("']' to close the options", "expected ']'");
        return items;
      }
      if (cur.kind === "]") {
        if (items.length === 0) fail("an option name after '['", "expected an option");
        this.#advance();
        return items;
      }
      if (cur.kind !== "ident") {
        if (isListEnd(cur.kind)) {
          fail("']' to close the options", "expected ']'");
          return items;
        }
        fail("an option name", "expected an option");
        this.#advance();
        continue;
      }
      const name = ident(this.#advance());
      let value: Literal | undefined;
      let readable = true;
      if (this.#at("=")) {
        this.#advance();
        value = this.#parseValue();
        if (value === undefined) {
          readable = false;
          fail(`a value for option '${name.name}' after '='`, "expected a value");
          if (!isListEnd(this.#cur.kind) && !this.#at(",") && !this.#at("]")) this.#advance();
        }
      }
      // Once the list is garbled, what follows is not trusted as options.
      if (readable && !reported) {
        items.push({
          kind: "Option",
          name,
          ...(value !== undefined ? { value } : {}),
          span: { start: name.span.start, end: (value ?? name).span.end },
        });
      }
      const sep = this.#cur;
      if (sep.kind === ",") {
        this.#advance();
        if (this.#at("]")) {
          this.#advance();
          return items;
        }
      } else if (sep.kind === "]") {
        this.#advance();
        return items;
      } else if (sep.kind === "ident") {
        fail(`',' or ']' after option '${name.name}'`, "expected ','");
      } else if (isListEnd(sep.kind)) {
        fail(`',' or ']' after option '${name.name}'`, "expected ']'");
        return items;
      } else {
        fail(`',' or ']' after option '${name.name}'`, "expected ',' or ']'");
        this.#advance();
      }
    }
  }

  #parseValue(): Literal | undefined {
    const cur = this.#cur;
    switch (cur.kind) {
      case "string":
        if (cur.malformed) return undefined;
        this.#advance();
        return { kind: "StringLiteral", value: cur.value, span: cur.span };
      case "int":
        if (cur.malformed) return undefined;
        return intLiteral(this.#advance());
      case "float":
        if (cur.malformed) return undefined;
        this.#advance();
        return { kind: "FloatLiteral", value: Number(cur.text), raw: cur.text, span: cur.span };
      case "ident":
        this.#advance();
        if (cur.text === "true" || cur.text === "false") {
          return { kind: "BoolLiteral", value: cur.text === "true", span: cur.span };
        }
        return { kind: "NameLiteral", name: cur.text, span: cur.span };
      default:
        return undefined;
    }
  }
}

/** Tokens that end an option list even when its `]` is missing. */
function isListEnd(kind: TokenKind): boolean {
  return kind === ";" || kind === "{" || kind === "}" || kind === "eof";
}

function ident(token: Token): Ident {
  return { kind: "Ident", name: token.text, span: token.span };
}

function intLiteral(token: Token): IntLiteral {
  return { kind: "IntLiteral", value: BigInt(token.text), span: token.span };
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
