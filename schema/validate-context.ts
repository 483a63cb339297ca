/**
 * What every validation step shares: where to report, how to name a line in a note,
 * what failed to parse, and the table of declared types.
 */

import type { EdgeDecl, EnumDecl, NodeDecl, TypeExpr } from "./ast.ts";
import type { Diagnostic } from "./diagnostic.ts";
import type { RecoveryInfo } from "./parser.ts";

/** One declared type name and its declaration (the first one, if the name is declared twice). */
export type TypeSymbol =
  | { readonly kind: "node"; readonly decl: NodeDecl }
  | { readonly kind: "edge"; readonly decl: EdgeDecl }
  | { readonly kind: "enum"; readonly decl: EnumDecl };

/** The state one validation run threads through its steps. */
export interface ValidationContext {
  /** Records a diagnostic. */
  readonly report: (diagnostic: Diagnostic) => void;
  /** The 1-based line of a byte offset, for "declared on line N" notes. */
  readonly line: (offset: number) => number;
  readonly recovery: RecoveryInfo;
  /** Every type name, nodes, edges and enums together (first declaration wins). */
  readonly types: ReadonlyMap<string, TypeSymbol>;
}

/** "a node type", "an edge type", "an enum": what a name turned out to be, for messages. */
export function describeSymbol(symbol: TypeSymbol): string {
  switch (symbol.kind) {
    case "node":
      return "a node type";
    case "edge":
      return "an edge type";
    case "enum":
      return "an enum";
  }
}

/** "node type", "edge type", "enum": the kind of a declaration, for messages. */
export function symbolKindName(symbol: TypeSymbol): string {
  return symbol.kind === "enum" ? "enum" : `${symbol.kind} type`;
}

/** A type expression as the user would write it: `list<ref<User>>` (iterative: lists may nest deeply). */
export function typeText(type: TypeExpr): string {
  let depth = 0;
  let inner = type;
  while (inner.kind === "ListType") {
    depth++;
    inner = inner.element;
  }
  const leaf = inner.kind === "NamedType" ? inner.name.name : `ref<${inner.target.name}>`;
  return `${"list<".repeat(depth)}${leaf}${">".repeat(depth)}`;
}

/** Whether a name that could not be resolved may be the fault of a declaration that failed to parse. */
export function typeMayBeBroken(ctx: ValidationContext, name: string): boolean {
  return ctx.recovery.anonymousBrokenType || ctx.recovery.brokenTypeNames.has(name);
}
