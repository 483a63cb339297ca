/**
 * The members of a declaration body: fields and their types, enum values, `reserved`
 * statements and composite `unique (…)` / `index (…)` constraints (option lists are in
 * `parse-options.ts`). A member that breaks is left out and its name recorded.
 */

import type {
  CompositeDecl,
  EdgeMember,
  EnumValueDecl,
  FieldDecl,
  Ident,
  NodeMember,
  ReservedDecl,
  ReservedItem,
  TypeExpr,
} from "./ast.ts";
import { expectedMember, mixedReserved, unclosedBody } from "./messages.ts";
import { ident, intLiteral, type ParseCursor } from "./parse-cursor.ts";
import { parseOptions } from "./parse-options.ts";
import { abandonStatement, atNextDeclaration, finishStatement } from "./parse-recovery.ts";
import { beginItem } from "./parse-trivia.ts";
import { describeToken, type Token } from "./token.ts";

/** Which kind of declaration a body belongs to. */
export type MemberOwner = "node" | "edge" | "enum";

/** The members read from a body, and the names of those that broke. */
export interface Body<M> {
  readonly members: M[];
  readonly broken: Set<string>;
}

/**
 * Parses members up to (not including) the closing `}`. Stops early, reporting an
 * unclosed body, at the end of the file or at something that can only be the next
 * declaration.
 */
export function parseMembers<M extends NodeMember | EdgeMember | EnumValueDecl | ReservedDecl>(
  p: ParseCursor,
  owner: MemberOwner,
  ownerName: string,
  brace: Token,
): Body<M> {
  const what = owner === "enum" ? `enum '${ownerName}'` : `${owner} type '${ownerName}'`;
  const members: M[] = [];
  const broken = new Set<string>();
  let first = true;
  for (;;) {
    const cur = p.cur;
    if (cur.kind === "}") break;
    if (cur.kind === "eof") {
      p.report(unclosedBody(what, brace.span, "the end of the file"));
      break;
    }
    if (atNextDeclaration(p)) {
      const reached = `'${cur.text} ${p.peek(1).text}' on line ${p.line(cur.span.start)}`;
      p.report(unclosedBody(what, brace.span, reached));
      break;
    }
    const before = p.index;
    const member = parseMember(p, owner, ownerName, first, broken);
    if (member !== undefined) members.push(member as M);
    first = false;
    if (p.index === before) p.advance();
  }
  return { members, broken };
}

function parseMember(
  p: ParseCursor,
  owner: MemberOwner,
  ownerName: string,
  first: boolean,
  broken: Set<string>,
): NodeMember | EnumValueDecl | undefined {
  const cur = p.cur;
  if (cur.kind !== "ident") {
    if (!cur.malformed) p.report(expectedMember(owner, ownerName, describeToken(cur), cur.span));
    broken.add("");
    abandonStatement(p);
    return undefined;
  }
  const next = p.peek(1).kind;
  if (cur.text === "reserved" && next !== ":" && next !== "=") return parseReserved(p, first);
  if (owner === "enum") return parseEnumValue(p, first, broken);
  if ((cur.text === "unique" || cur.text === "index") && next !== ":")
    return parseComposite(p, first);
  return parseField(p, first, broken);
}

function parseField(p: ParseCursor, first: boolean, broken: Set<string>): FieldDecl | undefined {
  const open = beginItem(p, first);
  const name = ident(p.advance());
  const colon = p.expect(":", `after the field name '${name.name}'`);
  const type = colon && parseType(p);
  const eq = type && p.expect("=", `after the type of field '${name.name}'`);
  const id = eq && p.expectInt("the field id (an integer) after '='", "expected an integer");
  if (id === undefined) {
    broken.add(name.name);
    abandonStatement(p);
    return undefined;
  }
  const hasOptions = p.at("[");
  const options = hasOptions ? parseOptions(p) : [];
  const trivia = finishStatement(p, open, `the field '${name.name}'`, !hasOptions);
  return {
    kind: "FieldDecl",
    name,
    type: type!,
    id,
    options,
    trivia,
    span: p.span(open.start),
  };
}

/** `T`, `ref<T>`, `list<T>`; nested lists are read in a loop, so deep nesting cannot overflow the stack. */
function parseType(p: ParseCursor): TypeExpr | undefined {
  const lists: Token[] = [];
  while (p.atWord("list") && p.peek(1).kind === "<") {
    lists.push(p.advance());
    p.advance();
  }
  let type: TypeExpr | undefined;
  const cur = p.cur;
  if (cur.kind === "ident" && (cur.text === "ref" || cur.text === "list")) {
    const word = p.advance();
    if (p.expect("<", `after '${word.text}'`)) {
      if (word.text === "ref") {
        const target = p.expectIdent("a node type name after 'ref<'", "expected a node type");
        const close = target && p.expect(">", `after 'ref<${target.name}'`);
        if (close)
          type = {
            kind: "RefType",
            target: target!,
            span: { start: word.span.start, end: close.span.end },
          };
      }
    }
  } else if (cur.kind === "ident") {
    const name = ident(p.advance());
    type = { kind: "NamedType", name, span: name.span };
  } else {
    p.unexpected("a type (a scalar kind, an enum, 'ref<Node>' or 'list<T>')", "expected a type");
  }
  for (let k = lists.length - 1; k >= 0 && type !== undefined; k--) {
    const close = p.expect(">", "to close 'list<'");
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

function parseComposite(p: ParseCursor, first: boolean): CompositeDecl | undefined {
  const open = beginItem(p, first);
  const keyword = p.advance();
  const constraint = keyword.text === "unique" ? "unique" : "index";
  if (!p.expect("(", `after '${constraint}'`)) {
    abandonStatement(p);
    return undefined;
  }
  const fields: Ident[] = [];
  if (p.at(")")) {
    p.advance();
  } else {
    for (;;) {
      const field = p.expectIdent("a field name", "expected a field name");
      if (field === undefined) {
        abandonStatement(p);
        return undefined;
      }
      fields.push(field);
      if (p.at(",")) {
        p.advance();
      } else if (p.at(")")) {
        p.advance();
        break;
      } else {
        p.unexpected(`',' or ')' after '${field.name}'`, "expected ',' or ')'");
        abandonStatement(p);
        return undefined;
      }
    }
  }
  const trivia = finishStatement(p, open, `'${constraint} (…)'`, false);
  return {
    kind: "CompositeDecl",
    constraint,
    fields,
    trivia,
    span: p.span(open.start),
  };
}

/** `reserved 1, 3 to 5;` or `reserved "a", "b";`, at the top level or in a body. */
export function parseReserved(p: ParseCursor, first: boolean): ReservedDecl | undefined {
  const open = beginItem(p, first);
  p.advance();
  const items: ReservedItem[] = [];
  let mixedReported = false;
  for (;;) {
    const cur = p.cur;
    let item: ReservedItem | undefined;
    if (cur.kind === "int" && !cur.malformed) {
      const firstId = intLiteral(p.advance());
      if (p.atWord("to")) {
        p.advance();
        const last = p.expectInt("an integer after 'to'", "expected an integer");
        if (last === undefined) {
          abandonStatement(p);
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
      const token = p.advance();
      item = {
        kind: "ReservedName",
        name: { kind: "StringLiteral", value: token.value, span: token.span },
        span: token.span,
      };
    } else {
      const after = items.length === 0 ? "'reserved'" : "','";
      p.unexpected(`an id or a quoted name after ${after}`, "expected an id or a name");
      abandonStatement(p);
      return undefined;
    }
    if (!mixedReported && items.length > 0 && items[0]!.kind !== item.kind) {
      p.report(mixedReserved(item.span));
      mixedReported = true;
    }
    items.push(item);
    if (!p.at(",")) break;
    p.advance();
  }
  const trivia = finishStatement(p, open, "the 'reserved' statement", false);
  return {
    kind: "ReservedDecl",
    items,
    trivia,
    span: p.span(open.start),
  };
}

function parseEnumValue(
  p: ParseCursor,
  first: boolean,
  broken: Set<string>,
): EnumValueDecl | undefined {
  const open = beginItem(p, first);
  const name = ident(p.advance());
  const eq = p.expect("=", `after the enum value name '${name.name}'`);
  const number =
    eq && p.expectInt("the value number (an integer) after '='", "expected an integer");
  if (number === undefined) {
    broken.add(name.name);
    abandonStatement(p);
    return undefined;
  }
  const hasOptions = p.at("[");
  const options = hasOptions ? parseOptions(p) : [];
  const trivia = finishStatement(p, open, `the enum value '${name.name}'`, !hasOptions);
  return {
    kind: "EnumValueDecl",
    name,
    number,
    options,
    trivia,
    span: p.span(open.start),
  };
}
