/**
 * Error recovery: after a syntax error the parser resynchronizes at the nearest sensible
 * point (the `;` ending a member, the `}` closing a body, or the next `node` / `edge` /
 * `enum` keyword at the start of a line) so one pass reports every syntax error.
 * Also ends `;`-terminated statements, where a missing `;` is the common slip.
 */

import type { Trivia } from "./ast.ts";
import { missingSemicolon } from "./messages.ts";
import type { ParseCursor } from "./parse-cursor.ts";
import { closeItem, type OpenItem } from "./parse-trivia.ts";
import { startsOnNewLine } from "./token.ts";

/** Whether the current token starts a top-level declaration. */
function atDeclarationStart(p: ParseCursor): boolean {
  const cur = p.cur;
  if (cur.kind !== "ident") return false;
  const next = p.peek(1).kind;
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
export function atDeclarationOnNewLine(p: ParseCursor): boolean {
  const cur = p.cur;
  return (
    cur.kind === "ident" &&
    (cur.text === "node" || cur.text === "edge" || cur.text === "enum") &&
    p.peek(1).kind === "ident" &&
    startsOnNewLine(cur)
  );
}

/**
 * Inside a body: whether the current token can only be the start of the next
 * declaration (so this body was never closed). `node X` at the start of a line is
 * enough; mid-line it must look like a whole header (`node X =`, `enum X {`), since
 * `node` is also a valid field name.
 */
export function atNextDeclaration(p: ParseCursor): boolean {
  const cur = p.cur;
  if (cur.kind !== "ident" || p.peek(1).kind !== "ident") return false;
  const after = p.peek(2).kind;
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
export function atMemberOnNewLine(p: ParseCursor, withEnumValues = true): boolean {
  const cur = p.cur;
  if (cur.kind !== "ident" || !startsOnNewLine(cur)) return false;
  const next = p.peek(1).kind;
  if (next === ":" || (withEnumValues && next === "=")) return true;
  if ((cur.text === "unique" || cur.text === "index") && next === "(") return true;
  return cur.text === "reserved" && (next === "int" || next === "string");
}

/** After an error at the top level: skips to the next declaration, past a `;` or a whole `{…}`. */
export function skipTopLevel(p: ParseCursor): void {
  let depth = 0;
  for (;;) {
    const cur = p.cur;
    if (cur.kind === "eof") return;
    if (depth === 0 && atDeclarationStart(p)) return;
    if (depth > 0 && atDeclarationOnNewLine(p)) return;
    p.advance();
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
function skipStatement(p: ParseCursor): void {
  let depth = 0;
  for (;;) {
    const cur = p.cur;
    if (cur.kind === "eof") return;
    if (depth === 0 && (cur.kind === ";" || cur.kind === "}")) return;
    if (atDeclarationOnNewLine(p) || (depth === 0 && atMemberOnNewLine(p))) return;
    if (cur.kind === "{") depth++;
    else if (cur.kind === "}") depth--;
    p.advance();
  }
}

/** After an error in a declaration header: skips to its `{`, its `;`, or the next declaration. */
export function skipHeader(p: ParseCursor): void {
  for (;;) {
    const cur = p.cur;
    if (cur.kind === "eof" || cur.kind === "{" || cur.kind === ";" || cur.kind === "}") return;
    if (atDeclarationOnNewLine(p)) return;
    p.advance();
  }
}

/**
 * Ends a `;`-terminated item. A missing `;` before a line break only costs one
 * diagnostic and the item is kept; anything else on the line is skipped.
 */
export function finishStatement(
  p: ParseCursor,
  open: OpenItem,
  what: string,
  optionsPossible: boolean,
): Trivia {
  const cur = p.cur;
  if (cur.kind === ";") return closeItem(p, open, true);
  if (cur.kind === "}" || cur.kind === "eof" || startsOnNewLine(cur)) {
    const at = p.prevEnd();
    // An unclosed string ate the rest of the line, `;` included: already reported.
    if (!p.previous()?.malformed) p.report(missingSemicolon(what, { start: at, end: at }));
    return closeItem(p, open, false);
  }
  p.unexpected(optionsPossible ? `'[' or ';' after ${what}` : `';' after ${what}`, "expected ';'");
  skipStatement(p);
  return closeItem(p, open, p.at(";"));
}

/** Drops a broken statement: skips past its `;` when it has one on the way. */
export function abandonStatement(p: ParseCursor): void {
  skipStatement(p);
  if (p.at(";")) p.advance();
}
