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
 *
 * This file holds the entry points and the file level; the parts live beside it:
 * `parse-cursor.ts` (token cursor and parse state), `parse-trivia.ts` (comments),
 * `parse-recovery.ts` (resynchronizing after errors), `parse-declarations.ts`,
 * `parse-members.ts` and `parse-options.ts`.
 */

import type { Declaration, PackageDecl, SchemaFile } from "./ast.ts";
import type { Diagnostic } from "./diagnostic.ts";
import { lexSchema } from "./lexer.ts";
import { duplicatePackage, expectedDeclaration, packageNotFirst } from "./messages.ts";
import { ParseCursor } from "./parse-cursor.ts";
import { parseEdge, parseEnum, parseNode, parsePackage } from "./parse-declarations.ts";
import { parseReserved } from "./parse-members.ts";
import { skipTopLevel } from "./parse-recovery.ts";
import { closingComments } from "./parse-trivia.ts";
import type { SourceFile } from "./span.ts";
import { closestName } from "./suggest.ts";
import { describeToken } from "./token.ts";

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
  const cursor = new ParseCursor(source.text, lexed.tokens);
  const ast = parseFile(cursor);
  const diagnostics = [...lexed.diagnostics, ...cursor.diagnostics];
  // Stable: at one position, lexical problems come before the syntax errors they cause.
  diagnostics.sort((a, b) => a.span.start - b.span.start);
  const recovery: RecoveryInfo = {
    brokenTypeNames: cursor.brokenTypeNames,
    anonymousBrokenType: cursor.anonymousBrokenType,
    brokenMembers: cursor.brokenMembers,
    brokenPackage: cursor.brokenPackage,
  };
  return { ast, diagnostics, recovery };
}

const DECLARATION_KEYWORDS = ["node", "edge", "enum", "reserved", "package"] as const;

/** Parses the whole file: declarations in order, then the comments after the last one. */
function parseFile(p: ParseCursor): SchemaFile {
  let pkg: PackageDecl | undefined;
  const declarations: Declaration[] = [];
  let first = true;
  let sawDeclaration = false;
  while (!p.at("eof")) {
    const before = p.index;
    const cur = p.cur;
    const word = cur.kind === "ident" ? cur.text : "";
    switch (word) {
      case "package": {
        const decl = parsePackage(p, first);
        if (decl !== undefined) {
          if (pkg !== undefined) {
            p.report(duplicatePackage(decl.span, p.line(pkg.span.start)));
          } else {
            pkg = decl;
            if (sawDeclaration) p.report(packageNotFirst(decl.span));
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
            ? parseNode(p, first)
            : word === "edge"
              ? parseEdge(p, first)
              : word === "enum"
                ? parseEnum(p, first)
                : parseReserved(p, first);
        if (decl !== undefined) declarations.push(decl);
        break;
      }
      default: {
        // `nod User = 1 {`: a misspelt keyword; do not call 'User' unknown later.
        if (cur.kind === "ident" && p.peek(1).kind === "ident")
          p.brokenTypeNames.add(p.peek(1).text);
        if (!cur.malformed) {
          const suggestion =
            cur.kind === "ident" ? closestName(cur.text, DECLARATION_KEYWORDS) : undefined;
          p.report(expectedDeclaration(describeToken(cur), cur.span, suggestion));
        }
        skipTopLevel(p);
      }
    }
    first = false;
    if (p.index === before) p.advance();
  }
  const endComments = closingComments(p);
  return {
    kind: "SchemaFile",
    ...(pkg !== undefined ? { package: pkg } : {}),
    declarations,
    endComments,
    span: { start: 0, end: p.cur.span.end },
  };
}
