/**
 * The syntax tree of a `.entdb` file, as the parser builds it: every node keeps
 * its byte span, and the comments around it (so `entdb fmt` can keep them).
 * Nothing here is resolved or validated; that is `build-model.ts`'s job.
 *
 * Keywords are contextual: `index`, `unique`, `to`… are also valid names, and the
 * parser decides by what follows.
 */

import type { Span } from "./span.ts";

/** A `//` or `/* *\/` comment, text verbatim including its delimiters. */
export interface Comment {
  readonly kind: "line" | "block";
  readonly text: string;
  readonly span: Span;
  /** Present (true) when a blank line separates this comment from the code or comment before it. */
  readonly blankLineBefore?: boolean;
  /** Present (true) when a blank line separates this comment from the code or comment after it. */
  readonly blankLineAfter?: boolean;
}

/** Consecutive `///` lines before a declaration; `lines` have the `///` and one following space removed. */
export interface DocComment {
  readonly lines: readonly string[];
  readonly span: Span;
}

/** Comments and layout around a declaration or member. */
export interface Trivia {
  /**
   * Plain comments between the previous item (after its trailing comment) and this one,
   * in source order; the `blankLine*` flags of each comment keep the blank lines among
   * them. A `///` block that is not directly before the item (a blank line or another
   * comment in between) is plain, so it is here too. Comments found between the item's
   * own tokens (e.g. inside a multi-line option list, or between `node` and `{`) are
   * appended at the end, so a formatter that prints `leading` above the item keeps
   * every comment.
   */
  readonly leading: readonly Comment[];
  /** The `///` block directly before (after `leading`). */
  readonly doc?: DocComment;
  /** A comment on the same line after the member ends. */
  readonly trailing?: Comment;
  /** Whether a blank line separated this item from the previous one in the source. */
  readonly blankLineBefore: boolean;
}

/** A name as written. */
export interface Ident {
  readonly kind: "Ident";
  readonly name: string;
  readonly span: Span;
}

export interface StringLiteral {
  readonly kind: "StringLiteral";
  /** The decoded value (escapes processed). */
  readonly value: string;
  readonly span: Span;
}

export interface IntLiteral {
  readonly kind: "IntLiteral";
  /** Exact value, sign included. */
  readonly value: bigint;
  readonly span: Span;
}

export interface FloatLiteral {
  readonly kind: "FloatLiteral";
  readonly value: number;
  /** The source text, sign included, so formatting keeps `1.50` as written. */
  readonly raw: string;
  readonly span: Span;
}

export interface BoolLiteral {
  readonly kind: "BoolLiteral";
  readonly value: boolean;
  readonly span: Span;
}

/** A bare name used as a value: an enum value in `default = todo`, or `private` in `visibility = private`. */
export interface NameLiteral {
  readonly kind: "NameLiteral";
  readonly name: string;
  readonly span: Span;
}

export type Literal = StringLiteral | IntLiteral | FloatLiteral | BoolLiteral | NameLiteral;

/**
 * `name`, `name = value` or `name(arg = value, ...)` inside `[...]`. Which names (and
 * arguments) are allowed is checked later.
 */
export interface OptionItem {
  readonly kind: "Option";
  readonly name: Ident;
  readonly value?: Literal;
  /** `(weight = 3)`: present (possibly empty) when the option is written with parentheses. */
  readonly args?: readonly OptionArg[];
  readonly span: Span;
}

/** One `name = value` inside an option's parentheses: `weight = 3`. */
export interface OptionArg {
  readonly kind: "OptionArg";
  readonly name: Ident;
  readonly value: Literal;
  readonly span: Span;
}

/** `string`, `Status` (an enum), `ref<User>`, `list<T>`. */
export type TypeExpr = NamedTypeExpr | RefTypeExpr | ListTypeExpr;

export interface NamedTypeExpr {
  readonly kind: "NamedType";
  readonly name: Ident;
  readonly span: Span;
}

export interface RefTypeExpr {
  readonly kind: "RefType";
  readonly target: Ident;
  readonly span: Span;
}

export interface ListTypeExpr {
  readonly kind: "ListType";
  readonly element: TypeExpr;
  readonly span: Span;
}

/** `name: type = id [options];` */
export interface FieldDecl {
  readonly kind: "FieldDecl";
  readonly name: Ident;
  readonly type: TypeExpr;
  readonly id: IntLiteral;
  readonly options: readonly OptionItem[];
  readonly trivia: Trivia;
  readonly span: Span;
}

/** `unique (a, b);` or `index (a, b);` */
export interface CompositeDecl {
  readonly kind: "CompositeDecl";
  readonly constraint: "unique" | "index";
  readonly fields: readonly Ident[];
  readonly trivia: Trivia;
  readonly span: Span;
}

/** `reserved 3, 5 to 9;` or `reserved "old", "older";` */
export interface ReservedDecl {
  readonly kind: "ReservedDecl";
  readonly items: readonly ReservedItem[];
  readonly trivia: Trivia;
  readonly span: Span;
}

export type ReservedItem =
  | {
      readonly kind: "ReservedRange";
      readonly first: IntLiteral;
      readonly last?: IntLiteral;
      readonly span: Span;
    }
  | { readonly kind: "ReservedName"; readonly name: StringLiteral; readonly span: Span };

export type NodeMember = FieldDecl | CompositeDecl | ReservedDecl;
export type EdgeMember = FieldDecl | CompositeDecl | ReservedDecl;

/** `node Name = id [options] { members }` */
export interface NodeDecl {
  readonly kind: "NodeDecl";
  readonly name: Ident;
  readonly id: IntLiteral;
  readonly options: readonly OptionItem[];
  readonly members: readonly NodeMember[];
  /** Comments after the last member, before `}`. */
  readonly innerComments: readonly Comment[];
  readonly trivia: Trivia;
  readonly span: Span;
}

/** `edge Name = id from A to B [options] { properties }` or `... ;` */
export interface EdgeDecl {
  readonly kind: "EdgeDecl";
  readonly name: Ident;
  readonly id: IntLiteral;
  readonly from: Ident;
  readonly to: Ident;
  readonly options: readonly OptionItem[];
  /** False for the `;` form with no body. */
  readonly hasBody: boolean;
  readonly members: readonly EdgeMember[];
  readonly innerComments: readonly Comment[];
  readonly trivia: Trivia;
  readonly span: Span;
}

/** `name = number [options];` inside an enum. */
export interface EnumValueDecl {
  readonly kind: "EnumValueDecl";
  readonly name: Ident;
  readonly number: IntLiteral;
  readonly options: readonly OptionItem[];
  readonly trivia: Trivia;
  readonly span: Span;
}

/** `enum Name { values }` */
export interface EnumDecl {
  readonly kind: "EnumDecl";
  readonly name: Ident;
  readonly members: readonly (EnumValueDecl | ReservedDecl)[];
  readonly innerComments: readonly Comment[];
  readonly trivia: Trivia;
  readonly span: Span;
}

/** `package a.b.c;` */
export interface PackageDecl {
  readonly kind: "PackageDecl";
  readonly parts: readonly Ident[];
  readonly trivia: Trivia;
  readonly span: Span;
}

/** A top-level declaration. A top-level `reserved` reserves type ids and names. */
export type Declaration = NodeDecl | EdgeDecl | EnumDecl | ReservedDecl;

/** A whole file. */
export interface SchemaFile {
  readonly kind: "SchemaFile";
  readonly package?: PackageDecl;
  readonly declarations: readonly Declaration[];
  /** Comments after the last declaration. */
  readonly endComments: readonly Comment[];
  readonly span: Span;
}
