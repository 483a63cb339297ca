/**
 * AST → resolved {@link Schema}: resolves names to ids, checks every rule of the
 * language, and assembles the immutable model in its canonical order (nodes and
 * edges by id, enums by name, fields by id, reserved ranges merged).
 *
 * Validation runs on whatever parsed, but stays quiet about the consequences of
 * syntax errors (see {@link RecoveryInfo}). The model is returned only when no
 * error was reported, by the parser or here.
 */

import type {
  EdgeDecl,
  EnumDecl,
  Ident,
  IntLiteral,
  NodeDecl,
  OptionItem,
  ReservedDecl,
  SchemaFile,
} from "./ast.ts";
import type { Diagnostic } from "./diagnostic.ts";
import {
  duplicateEnumNumber,
  duplicateEnumValueName,
  duplicateInverseName,
  duplicateTypeId,
  duplicateTypeName,
  edgeEndpointNotNode,
  emptyEnum,
  enumNumberOutOfRange,
  invalidOptionValue,
  missingPackage,
  reservedIdUsed,
  reservedNameUsed,
  typeIdOutOfRange,
  unknownEdgeEndpoint,
  unknownVisibility,
} from "./messages.ts";
import {
  type EdgeType,
  type EnumType,
  type EnumValue,
  MAX_ENUM_NUMBER,
  MAX_ID,
  type NodeType,
  type Schema,
  type Visibility,
} from "./model.ts";
import type { RecoveryInfo } from "./parser.ts";
import { closestName } from "./suggest.ts";
import {
  describeSymbol,
  symbolKindName,
  type TypeSymbol,
  typeMayBeBroken,
  type ValidationContext,
} from "./validate-context.ts";
import { resolveMembers } from "./validate-fields.ts";
import { resolveMailboxes } from "./validate-mailbox.ts";
import { checkInverseName, checkPackageName, checkTypeName } from "./validate-names.ts";
import { EDGE_OPTIONS, ENUM_VALUE_OPTIONS, NODE_OPTIONS, readOptions } from "./validate-options.ts";
import { collectReserved, type ReservedSet } from "./validate-reserved.ts";

/** What {@link buildModel} needs besides the AST. */
export interface BuildModelInput {
  readonly ast: SchemaFile;
  readonly recovery: RecoveryInfo;
  /** The source path recorded in the model. */
  readonly sourcePath?: string;
  /** The 1-based line of a byte offset, for notes. */
  readonly line: (offset: number) => number;
  /** Diagnostics so far (the parser's); validation appends to it. */
  readonly diagnostics: Diagnostic[];
}

const VISIBILITIES: readonly Visibility[] = ["private", "tenant", "public"];

/** Validates the AST and builds the model; undefined when any error-severity diagnostic exists. */
export function buildModel(input: BuildModelInput): Schema | undefined {
  const { ast, diagnostics } = input;
  const types = new Map<string, TypeSymbol>();
  const ctx: ValidationContext = {
    report: (d) => diagnostics.push(d),
    line: input.line,
    recovery: input.recovery,
    types,
  };

  if (ast.package !== undefined) checkPackageName(ast.package, ctx);
  else if (!input.recovery.brokenPackage) reportMissingPackage(ast, ctx);

  const nodeDecls: NodeDecl[] = [];
  const edgeDecls: EdgeDecl[] = [];
  const enumDecls: EnumDecl[] = [];
  const topReserved: ReservedDecl[] = [];
  for (const decl of ast.declarations) {
    if (decl.kind === "ReservedDecl") {
      topReserved.push(decl);
      continue;
    }
    const symbol: TypeSymbol =
      decl.kind === "NodeDecl"
        ? { kind: "node", decl }
        : decl.kind === "EdgeDecl"
          ? { kind: "edge", decl }
          : { kind: "enum", decl };
    if (symbol.kind === "node") nodeDecls.push(symbol.decl);
    else if (symbol.kind === "edge") edgeDecls.push(symbol.decl);
    else enumDecls.push(symbol.decl);
    checkTypeName(decl.name, ctx);
    const first = types.get(decl.name.name);
    if (first === undefined) {
      types.set(decl.name.name, symbol);
    } else {
      ctx.report(
        duplicateTypeName(
          decl.name.name,
          symbolKindName(first),
          decl.name.span,
          ctx.line(first.decl.span.start),
        ),
      );
    }
  }

  const reserved = collectReserved(topReserved, { what: "type id", max: MAX_ID }, ctx);
  for (const decl of [...nodeDecls, ...edgeDecls, ...enumDecls]) {
    const line = reserved.lineOfName(decl.name.name);
    if (line !== undefined)
      ctx.report(reservedNameUsed("type name", decl.name.name, "", decl.name.span, line));
  }
  checkTypeIds([...nodeDecls, ...edgeDecls], reserved, ctx);

  const enums = enumDecls.map((decl) => buildEnum(decl, ctx));
  const nodes = nodeDecls.map((decl) => buildNode(decl, ctx));
  const edges = resolveMailboxes(
    edgeDecls,
    edgeDecls.map((decl) => buildEdge(decl, ctx)),
    nodeDecls,
    nodes,
    ctx,
  );
  checkInverseNames(edgeDecls, edges, ctx);

  if (diagnostics.some((d) => d.severity === "error")) return undefined;
  return {
    package: ast.package!.parts.map((p) => p.name).join("."),
    nodes: [...nodes].sort((a, b) => a.id - b.id),
    edges: edges.flatMap((e) => (e === undefined ? [] : [e])).sort((a, b) => a.id - b.id),
    enums: [...enums].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    reservedIds: reserved.ranges,
    reservedNames: reserved.names,
    ...(input.sourcePath !== undefined ? { sourcePath: input.sourcePath } : {}),
  };
}

function reportMissingPackage(ast: SchemaFile, ctx: ValidationContext): void {
  const first = ast.declarations[0];
  const at = first === undefined ? ast.span.end : first.span.start;
  // Point at the first declaration's keyword, or at the end of an empty file.
  ctx.report(
    missingPackage({ start: at, end: first === undefined ? at : at + keywordLength(first.kind) }),
  );
}

function keywordLength(kind: SchemaFile["declarations"][number]["kind"]): number {
  return kind === "ReservedDecl" ? "reserved".length : 4;
}

/** Node and edge type ids: in range, unique across both, not reserved. */
function checkTypeIds(
  decls: readonly (NodeDecl | EdgeDecl)[],
  reserved: ReservedSet,
  ctx: ValidationContext,
): void {
  const byId = new Map<bigint, NodeDecl | EdgeDecl>();
  // Report duplicates at the later declaration, in source order.
  const inOrder = [...decls].sort((a, b) => a.span.start - b.span.start);
  for (const decl of inOrder) {
    const id = decl.id.value;
    if (id < 1n || id > BigInt(MAX_ID)) {
      ctx.report(typeIdOutOfRange(id, decl.id.span));
      continue;
    }
    const first = byId.get(id);
    if (first !== undefined) {
      const kind = first.kind === "NodeDecl" ? "node type" : "edge type";
      ctx.report(
        duplicateTypeId(id, kind, first.name.name, decl.id.span, ctx.line(first.span.start)),
      );
    } else {
      byId.set(id, decl);
    }
    const line = reserved.lineOfId(Number(id));
    if (line !== undefined) ctx.report(reservedIdUsed("type id", id, "", decl.id.span, line));
  }
}

function docOf(decl: {
  readonly trivia: { readonly doc?: { readonly lines: readonly string[] } };
}): { doc?: string } {
  const doc = decl.trivia.doc?.lines.join("\n");
  return doc === undefined ? {} : { doc };
}

function reservedOf(decl: NodeDecl | EdgeDecl | EnumDecl): ReservedDecl[] {
  return decl.members.flatMap((m) => (m.kind === "ReservedDecl" ? [m] : []));
}

function buildEnum(decl: EnumDecl, ctx: ValidationContext): EnumType {
  const enumName = decl.name.name;
  const reserved = collectReserved(
    reservedOf(decl),
    { what: "enum number", max: MAX_ENUM_NUMBER },
    ctx,
  );
  const byName = new Map<string, IntLiteral>();
  const byNumber = new Map<bigint, Ident>();
  const values: EnumValue[] = [];
  for (const member of decl.members) {
    if (member.kind !== "EnumValueDecl") continue;
    const { name, number } = member;
    const sameName = byName.get(name.name);
    if (sameName === undefined) byName.set(name.name, number);
    else
      ctx.report(
        duplicateEnumValueName(name.name, enumName, name.span, ctx.line(sameName.span.start)),
      );
    const reservedNameLine = reserved.lineOfName(name.name);
    if (reservedNameLine !== undefined) {
      ctx.report(
        reservedNameUsed(
          "enum value name",
          name.name,
          `in enum '${enumName}'`,
          name.span,
          reservedNameLine,
        ),
      );
    }
    if (number.value < 1n || number.value > BigInt(MAX_ENUM_NUMBER)) {
      ctx.report(enumNumberOutOfRange(number.value, number.span));
    } else {
      const sameNumber = byNumber.get(number.value);
      if (sameNumber === undefined) byNumber.set(number.value, name);
      else {
        ctx.report(
          duplicateEnumNumber(
            number.value,
            sameNumber.name,
            enumName,
            number.span,
            ctx.line(sameNumber.span.start),
          ),
        );
      }
      const reservedLine = reserved.lineOfId(Number(number.value));
      if (reservedLine !== undefined) {
        ctx.report(
          reservedIdUsed(
            "enum number",
            number.value,
            `in enum '${enumName}'`,
            number.span,
            reservedLine,
          ),
        );
      }
    }
    const options = readOptions(member.options, ENUM_VALUE_OPTIONS, "enum value", ctx);
    values.push({
      number: Number(number.value),
      name: name.name,
      deprecated: options.has("deprecated"),
      ...docOf(member),
      span: member.span,
    });
  }
  if (values.length === 0 && !ctx.recovery.brokenMembers.has(decl))
    ctx.report(emptyEnum(enumName, decl.name.span));
  return {
    name: enumName,
    values: values.sort((a, b) => a.number - b.number),
    reservedNumbers: reserved.ranges,
    reservedNames: reserved.names,
    ...docOf(decl),
    span: decl.span,
  };
}

function buildNode(decl: NodeDecl, ctx: ValidationContext): NodeType {
  const description = `node type '${decl.name.name}'`;
  const reserved = collectReserved(reservedOf(decl), { what: "field id", max: MAX_ID }, ctx);
  const options = readOptions(decl.options, NODE_OPTIONS, "node type", ctx);
  const visibility = readVisibility(options.get("visibility"), ctx);
  const members = resolveMembers({ decl, description, reserved }, ctx);
  return {
    id: Number(decl.id.value),
    name: decl.name.name,
    fields: members.fields,
    uniques: members.uniques,
    indexes: members.indexes,
    visibility,
    deprecated: options.has("deprecated"),
    reservedIds: reserved.ranges,
    reservedNames: reserved.names,
    ...docOf(decl),
    span: decl.span,
  };
}

function readVisibility(item: OptionItem | undefined, ctx: ValidationContext): Visibility {
  const value = item?.value;
  if (value === undefined) return "tenant";
  if (value.kind === "NameLiteral") {
    const known = VISIBILITIES.find((v) => v === value.name);
    if (known !== undefined) return known;
    ctx.report(
      unknownVisibility(`'${value.name}'`, value.span, closestName(value.name, VISIBILITIES)),
    );
    return "tenant";
  }
  if (value.kind === "StringLiteral") {
    const known = VISIBILITIES.find((v) => v === value.value);
    ctx.report(unknownVisibility(JSON.stringify(value.value), value.span, known, true));
    return "tenant";
  }
  ctx.report(
    unknownVisibility(value.kind === "FloatLiteral" ? value.raw : String(value.value), value.span),
  );
  return "tenant";
}

/** Resolves an edge endpoint to a node type id, reporting what is not a node type. */
function resolveEndpoint(
  name: Ident,
  end: "from" | "to",
  ctx: ValidationContext,
): number | undefined {
  const symbol = ctx.types.get(name.name);
  if (symbol?.kind === "node") return Number(symbol.decl.id.value);
  if (symbol !== undefined) {
    ctx.report(edgeEndpointNotNode(name.name, describeSymbol(symbol), end, name.span));
  } else if (!typeMayBeBroken(ctx, name.name)) {
    const nodes = [...ctx.types.values()].flatMap((s) =>
      s.kind === "node" ? [s.decl.name.name] : [],
    );
    ctx.report(unknownEdgeEndpoint(name.name, end, name.span, closestName(name.name, nodes)));
  }
  return undefined;
}

function buildEdge(decl: EdgeDecl, ctx: ValidationContext): EdgeType | undefined {
  const description = `edge type '${decl.name.name}'`;
  const fromId = resolveEndpoint(decl.from, "from", ctx);
  const toId = resolveEndpoint(decl.to, "to", ctx);
  const options = readOptions(decl.options, EDGE_OPTIONS, "edge type", ctx);
  const inverseName = readInverse(options.get("inverse"), ctx);
  const reserved = collectReserved(reservedOf(decl), { what: "field id", max: MAX_ID }, ctx);
  const members = resolveMembers({ decl, description, reserved }, ctx);
  if (fromId === undefined || toId === undefined) return undefined;
  return {
    id: Number(decl.id.value),
    name: decl.name.name,
    fromId,
    toId,
    uniquePerFrom: options.has("unique_per_from"),
    ...(inverseName !== undefined ? { inverseName } : {}),
    fields: members.fields,
    deprecated: options.has("deprecated"),
    reservedIds: reserved.ranges,
    reservedNames: reserved.names,
    ...docOf(decl),
    span: decl.span,
  };
}

function readInverse(item: OptionItem | undefined, ctx: ValidationContext): string | undefined {
  const value = item?.value;
  if (value === undefined) return undefined;
  if (value.kind !== "NameLiteral") {
    const found =
      value.kind === "StringLiteral"
        ? "a string"
        : value.kind === "BoolLiteral"
          ? `'${value.value}'`
          : "a number";
    ctx.report(invalidOptionValue("inverse", "a name", found, value.span));
    return undefined;
  }
  checkInverseName(value.name, value.span, ctx);
  return value.name;
}

/** Two edges into the same node type cannot share an inverse name: generated clients would clash. */
function checkInverseNames(
  decls: readonly EdgeDecl[],
  edges: readonly (EdgeType | undefined)[],
  ctx: ValidationContext,
): void {
  const seen = new Map<string, EdgeDecl>();
  decls.forEach((decl, i) => {
    const edge = edges[i];
    if (edge?.inverseName === undefined) return;
    const key = `${edge.toId}:${edge.inverseName}`;
    const first = seen.get(key);
    if (first === undefined) {
      seen.set(key, decl);
      return;
    }
    const span = decl.options.find((o) => o.name.name === "inverse")?.value?.span ?? decl.name.span;
    ctx.report(
      duplicateInverseName(
        edge.inverseName,
        decl.to.name,
        first.name.name,
        span,
        ctx.line(first.span.start),
      ),
    );
  });
}
