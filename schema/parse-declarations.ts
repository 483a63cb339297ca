/**
 * Top-level declarations: `package`, `node`, `edge` and `enum` headers and bodies. A
 * declaration whose required parts are missing is left out of the AST and its name
 * recorded, so validation does not report follow-up errors about it.
 */

import type {
  EdgeDecl,
  EdgeMember,
  EnumDecl,
  EnumValueDecl,
  Ident,
  NodeDecl,
  NodeMember,
  PackageDecl,
  ReservedDecl,
} from "./ast.ts";
import { missingSemicolon } from "./messages.ts";
import type { ParseCursor } from "./parse-cursor.ts";
import { parseMembers } from "./parse-members.ts";
import { parseOptions } from "./parse-options.ts";
import { abandonStatement, finishStatement, skipHeader } from "./parse-recovery.ts";
import { beginItem, closeItem, closingComments, takeInteriorAll } from "./parse-trivia.ts";
import { startsOnNewLine } from "./token.ts";

/** `package a.b;` at the current `package` keyword; `undefined` (and recorded as broken) if the name cannot be read. */
export function parsePackage(p: ParseCursor, first: boolean): PackageDecl | undefined {
  const open = beginItem(p, first);
  p.advance();
  const parts: Ident[] = [];
  let part = p.expectIdent("a package name after 'package'", "expected a name");
  while (part !== undefined) {
    parts.push(part);
    if (!p.at(".")) break;
    p.advance();
    part = p.expectIdent("a name after '.' in the package name", "expected a name");
  }
  if (part === undefined) {
    p.brokenPackage = true;
    abandonStatement(p);
    return undefined;
  }
  const trivia = finishStatement(p, open, "the package name", false);
  return {
    kind: "PackageDecl",
    parts,
    trivia,
    span: p.span(open.start),
  };
}

/** `node Name = id [options] { members }` at the current `node` keyword; `undefined` if the header is incomplete. */
export function parseNode(p: ParseCursor, first: boolean): NodeDecl | undefined {
  const open = beginItem(p, first);
  p.advance();
  const name = p.expectIdent("a type name after 'node'", "expected a name");
  const eq = name && p.expect("=", `after 'node ${name.name}'`);
  const id = eq && p.expectInt("the type id (an integer) after '='", "expected an integer");
  const options = id && p.at("[") ? parseOptions(p) : [];
  if (id !== undefined && !p.at("{")) {
    p.unexpected(`'{' to start the body of node type '${name!.name}'`, "expected '{'");
  }
  if (!p.at("{")) skipHeader(p);
  if (!p.at("{")) {
    // `node A = 1;` has no body (reported above) but a complete header; keep it so
    // references to it resolve.
    const trivia = closeItem(p, open, p.at(";"));
    if (name === undefined || id === undefined) {
      p.brokenType(name);
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
      span: p.span(open.start),
    };
  }
  const interior = takeInteriorAll(p);
  const brace = p.advance();
  const body = parseMembers<NodeMember>(p, "node", name?.name ?? "?", brace);
  const innerComments = closingComments(p);
  const trivia = closeItem(p, open, p.at("}"), interior);
  if (name === undefined || id === undefined) {
    p.brokenType(name);
    return undefined;
  }
  const { members } = body;
  const span = p.span(open.start);
  return p.keep(
    { kind: "NodeDecl", name, id, options, members, innerComments, trivia, span },
    body.broken,
  );
}

/** `edge Name = id from A to B [options]` with a `{ members }` body or `;`; `undefined` if the header is incomplete. */
export function parseEdge(p: ParseCursor, first: boolean): EdgeDecl | undefined {
  const open = beginItem(p, first);
  p.advance();
  const name = p.expectIdent("a type name after 'edge'", "expected a name");
  const eq = name && p.expect("=", `after 'edge ${name.name}'`);
  const id = eq && p.expectInt("the type id (an integer) after '='", "expected an integer");
  const fromKw = id && p.expectWord("from", "after the edge type id");
  const from =
    fromKw &&
    p.expectIdent("the node type the edge starts from after 'from'", "expected a node type");
  const toKw = from && p.expectWord("to", `after 'from ${from.name}'`);
  const to =
    toKw && p.expectIdent("the node type the edge points to after 'to'", "expected a node type");
  const options = to && p.at("[") ? parseOptions(p) : [];
  const header =
    name && id && from && to
      ? { kind: "EdgeDecl" as const, name, id, from, to, options }
      : undefined;
  if (header !== undefined && !p.at("{") && !p.at(";")) {
    // A missing `;` before a line break is the common slip in the body-less form.
    if (startsOnNewLine(p.cur) || p.at("eof") || p.at("}")) {
      const at = p.prevEnd();
      p.report(missingSemicolon(`edge type '${header.name.name}'`, { start: at, end: at }));
      const trivia = closeItem(p, open, false);
      return {
        ...header,
        hasBody: false,
        members: [],
        innerComments: [],
        trivia,
        span: p.span(open.start),
      };
    }
    p.unexpected(`'{' or ';' after edge type '${header.name.name}'`, "expected '{' or ';'");
  }
  if (!p.at("{") && !p.at(";")) skipHeader(p);
  if (!p.at("{")) {
    const trivia = closeItem(p, open, p.at(";"));
    if (header === undefined) {
      p.brokenType(name);
      return undefined;
    }
    return {
      ...header,
      hasBody: false,
      members: [],
      innerComments: [],
      trivia,
      span: p.span(open.start),
    };
  }
  const interior = takeInteriorAll(p);
  const brace = p.advance();
  const body = parseMembers<EdgeMember>(p, "edge", name?.name ?? "?", brace);
  const innerComments = closingComments(p);
  const trivia = closeItem(p, open, p.at("}"), interior);
  if (header === undefined) {
    p.brokenType(name);
    return undefined;
  }
  const { members } = body;
  const span = p.span(open.start);
  return p.keep({ ...header, hasBody: true, members, innerComments, trivia, span }, body.broken);
}

/** `enum Name { values }` at the current `enum` keyword; `undefined` if it has no name or no body. */
export function parseEnum(p: ParseCursor, first: boolean): EnumDecl | undefined {
  const open = beginItem(p, first);
  p.advance();
  const name = p.expectIdent("a type name after 'enum'", "expected a name");
  if (name !== undefined && !p.at("{")) {
    p.unexpected(`'{' after 'enum ${name.name}'`, "expected '{'");
  }
  if (!p.at("{")) skipHeader(p);
  if (!p.at("{")) {
    if (p.at(";")) p.advance();
    p.brokenType(name);
    return undefined;
  }
  const interior = takeInteriorAll(p);
  const brace = p.advance();
  const body = parseMembers<EnumValueDecl | ReservedDecl>(p, "enum", name?.name ?? "?", brace);
  const innerComments = closingComments(p);
  const trivia = closeItem(p, open, p.at("}"), interior);
  if (name === undefined) {
    p.brokenType(name);
    return undefined;
  }
  const { members } = body;
  return p.keep(
    { kind: "EnumDecl", name, members, innerComments, trivia, span: p.span(open.start) },
    body.broken,
  );
}
