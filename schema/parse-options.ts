/**
 * Option lists (`[unique, default = "x"]`) and the literal values they hold. A mangled
 * list costs one diagnostic, not one per token.
 */

import type { Literal, OptionArg, OptionItem } from "./ast.ts";
import { ident, intLiteral, type ParseCursor } from "./parse-cursor.ts";
import { atDeclarationOnNewLine, atMemberOnNewLine } from "./parse-recovery.ts";
import { startsOnNewLine, type TokenKind } from "./token.ts";

/**
 * `[a, b = 1, ...]`. Reports at most one error per list, so a mangled list does not
 * produce a wall of diagnostics; options that cannot be read, and all options after
 * an error, are left out.
 */
export function parseOptions(p: ParseCursor): OptionItem[] {
  p.advance();
  const items: OptionItem[] = [];
  let reported = false;
  const fail = (expected: string, label: string): void => {
    if (!reported) p.unexpected(expected, label);
    reported = true;
  };
  for (;;) {
    const cur = p.cur;
    // After an error, a line break most likely ends the list (its `]` went missing).
    const lostEnd = reported && cur.kind !== "]" && startsOnNewLine(cur);
    if (lostEnd || atMemberOnNewLine(p, false) || atDeclarationOnNewLine(p)) {
      fail("']' to close the options", "expected ']'");
      return items;
    }
    if (cur.kind === "]") {
      if (items.length === 0) fail("an option name after '['", "expected an option");
      p.advance();
      return items;
    }
    if (cur.kind !== "ident") {
      if (isListEnd(cur.kind)) {
        fail("']' to close the options", "expected ']'");
        return items;
      }
      fail("an option name", "expected an option");
      p.advance();
      continue;
    }
    const name = ident(p.advance());
    let value: Literal | undefined;
    let args: OptionArg[] | undefined;
    let argsEnd = name.span.end;
    let readable = true;
    if (p.at("(")) {
      const parsed = parseArgs(p, name.name, fail);
      args = parsed?.args;
      argsEnd = parsed?.end ?? argsEnd;
      readable = parsed !== undefined;
    } else if (p.at("=")) {
      p.advance();
      value = parseValue(p);
      if (value === undefined) {
        readable = false;
        fail(`a value for option '${name.name}' after '='`, "expected a value");
        if (!isListEnd(p.cur.kind) && !p.at(",") && !p.at("]")) p.advance();
      }
    }
    // Once the list is garbled, what follows is not trusted as options.
    if (readable && !reported) {
      items.push({
        kind: "Option",
        name,
        ...(value !== undefined ? { value } : {}),
        ...(args !== undefined ? { args } : {}),
        span: { start: name.span.start, end: value?.span.end ?? argsEnd },
      });
    }
    const sep = p.cur;
    if (sep.kind === ",") {
      p.advance();
      if (p.at("]")) {
        p.advance();
        return items;
      }
    } else if (sep.kind === "]") {
      p.advance();
      return items;
    } else if (sep.kind === "ident") {
      fail(`',' or ']' after option '${name.name}'`, "expected ','");
    } else if (isListEnd(sep.kind)) {
      fail(`',' or ']' after option '${name.name}'`, "expected ']'");
      return items;
    } else {
      fail(`',' or ']' after option '${name.name}'`, "expected ',' or ']'");
      p.advance();
    }
  }
}

/**
 * `(a = 1, b = 2)` after an option name; `undefined` (after reporting) when it cannot be
 * read, in which case the cursor stops at the first token it could not use.
 */
function parseArgs(
  p: ParseCursor,
  option: string,
  fail: (expected: string, label: string) => void,
): { args: OptionArg[]; end: number } | undefined {
  p.advance();
  const args: OptionArg[] = [];
  for (;;) {
    if (p.at(")")) return { args, end: p.advance().span.end };
    if (p.cur.kind !== "ident") {
      fail(`an argument name or ')' in the arguments of '${option}'`, "expected an argument");
      return undefined;
    }
    const name = ident(p.advance());
    if (!p.at("=")) {
      fail(`'=' after argument '${name.name}' of '${option}'`, "expected '='");
      return undefined;
    }
    p.advance();
    const value = parseValue(p);
    if (value === undefined) {
      fail(`a value for argument '${name.name}' of '${option}'`, "expected a value");
      return undefined;
    }
    args.push({
      kind: "OptionArg",
      name,
      value,
      span: { start: name.span.start, end: value.span.end },
    });
    if (p.at(",")) {
      p.advance();
      continue;
    }
    if (!p.at(")")) {
      fail(`',' or ')' after argument '${name.name}' of '${option}'`, "expected ')'");
      return undefined;
    }
  }
}

function parseValue(p: ParseCursor): Literal | undefined {
  const cur = p.cur;
  switch (cur.kind) {
    case "string":
      if (cur.malformed) return undefined;
      p.advance();
      return { kind: "StringLiteral", value: cur.value, span: cur.span };
    case "int":
      if (cur.malformed) return undefined;
      return intLiteral(p.advance());
    case "float":
      if (cur.malformed) return undefined;
      p.advance();
      return { kind: "FloatLiteral", value: Number(cur.text), raw: cur.text, span: cur.span };
    case "ident":
      p.advance();
      if (cur.text === "true" || cur.text === "false") {
        return { kind: "BoolLiteral", value: cur.text === "true", span: cur.span };
      }
      return { kind: "NameLiteral", name: cur.text, span: cur.span };
    default:
      return undefined;
  }
}

/** Tokens that end an option list even when its `]` is missing. */
function isListEnd(kind: TokenKind): boolean {
  return kind === ";" || kind === "{" || kind === "}" || kind === "eof";
}
