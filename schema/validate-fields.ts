/**
 * Fields of node types and properties of edge types: names, ids, types, options and
 * defaults, then the composite `unique (…)` / `index (…)` constraints over them.
 * Produces the model's {@link Field}s; a field with a problem is still returned when
 * its type resolved, since the caller drops the whole model on any error anyway.
 */

import type { CompositeDecl, EdgeDecl, FieldDecl, NodeDecl, OptionItem, TypeExpr } from "./ast.ts";
import {
  compositeFieldKind,
  compositeOnEdge,
  compositeRepeatedField,
  compositeTooFewFields,
  compositeUnknownField,
  defaultNotAllowed,
  deprecatedRequired,
  duplicateComposite,
  duplicateFieldId,
  duplicateFieldName,
  edgeTypeAsFieldType,
  fieldIdInProtoRange,
  fieldIdOutOfRange,
  fieldNamedId,
  indexNotAllowed,
  inheritAccessNotRef,
  invalidSearchWeight,
  listOfList,
  nodeTypeAsFieldType,
  optionNotAllowedOnEdge,
  redundantIndex,
  refTargetNotNode,
  reservedIdUsed,
  reservedNameUsed,
  searchableNotString,
  uniqueNotAllowed,
  uniqueWithDefault,
  unknownType,
} from "./messages.ts";
import {
  type CompositeConstraint,
  type ElementType,
  type Field,
  type FieldType,
  MAX_ID,
  PROTO_RESERVED_RANGE,
  SCALAR_KINDS,
  type ScalarKind,
} from "./model.ts";
import { closestName, kindAlias } from "./suggest.ts";
import {
  describeSymbol,
  typeMayBeBroken,
  typeText,
  type ValidationContext,
} from "./validate-context.ts";
import { type DefaultKind, resolveDefault } from "./validate-defaults.ts";
import { checkFieldName } from "./validate-names.ts";
import { FIELD_OPTIONS, readOptions } from "./validate-options.ts";
import type { ReservedSet } from "./validate-reserved.ts";

/** The node or edge type whose fields are being checked. */
export interface FieldOwner {
  readonly decl: NodeDecl | EdgeDecl;
  /** "node type 'Task'" or "edge type 'AssignedTo'", for messages. */
  readonly description: string;
  readonly reserved: ReservedSet;
}

/** A field declaration and, when its type resolved, its type. */
interface CheckedField {
  readonly decl: FieldDecl;
  readonly type?: FieldType;
}

/** The resolved fields of one type and its composite constraints. */
export interface ResolvedMembers {
  /** Fields whose type resolved, in ascending id order. */
  readonly fields: readonly Field[];
  readonly uniques: readonly CompositeConstraint[];
  readonly indexes: readonly CompositeConstraint[];
}

const UNIQUE_KINDS: ReadonlySet<string> = new Set(["string", "int", "timestamp", "enum", "ref"]);
const INDEX_KINDS: ReadonlySet<string> = new Set([
  "string",
  "int",
  "float",
  "bool",
  "timestamp",
  "enum",
  "ref",
]);

/** Checks every field and composite constraint of a node or edge type. */
export function resolveMembers(owner: FieldOwner, ctx: ValidationContext): ResolvedMembers {
  const isEdge = owner.decl.kind === "EdgeDecl";
  const byName = new Map<string, CheckedField>();
  const byId = new Map<bigint, FieldDecl>();
  const fields: Field[] = [];
  for (const member of owner.decl.members) {
    if (member.kind !== "FieldDecl") continue;
    checkFieldIdentity(member, owner, byName, byId, ctx);
    const type = resolveFieldType(member.type, ctx);
    if (!byName.has(member.name.name)) {
      byName.set(member.name.name, type === undefined ? { decl: member } : { decl: member, type });
    }
    const field = checkFieldOptions(member, type, isEdge, ctx);
    if (field !== undefined) fields.push(field);
  }
  fields.sort((a, b) => a.id - b.id);

  const uniques: CompositeConstraint[] = [];
  const indexes: CompositeConstraint[] = [];
  const seen = new Map<string, CompositeDecl>();
  for (const member of owner.decl.members) {
    if (member.kind !== "CompositeDecl") continue;
    if (isEdge) {
      ctx.report(compositeOnEdge(member.span));
      continue;
    }
    const fieldIds = checkComposite(member, owner, byName, ctx);
    if (fieldIds === undefined) continue;
    const key = `${member.constraint}:${fieldIds.join(",")}`;
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      ctx.report(duplicateComposite(member.constraint, member.span, ctx.line(earlier.span.start)));
      continue;
    }
    seen.set(key, member);
    (member.constraint === "unique" ? uniques : indexes).push({ fieldIds, span: member.span });
  }
  return { fields, uniques, indexes };
}

/** Name and id rules of one field. */
function checkFieldIdentity(
  field: FieldDecl,
  owner: FieldOwner,
  byName: ReadonlyMap<string, CheckedField>,
  byId: Map<bigint, FieldDecl>,
  ctx: ValidationContext,
): void {
  const { name, id } = field;
  checkFieldName(name, ctx);
  if (owner.decl.kind === "NodeDecl" && name.name === "id") ctx.report(fieldNamedId(name.span));
  const sameName = byName.get(name.name);
  if (sameName !== undefined) {
    ctx.report(
      duplicateFieldName(
        name.name,
        owner.description,
        name.span,
        ctx.line(sameName.decl.span.start),
      ),
    );
  }
  const reservedNameLine = owner.reserved.lineOfName(name.name);
  if (reservedNameLine !== undefined) {
    ctx.report(
      reservedNameUsed(
        "field name",
        name.name,
        `in ${owner.description}`,
        name.span,
        reservedNameLine,
      ),
    );
  }

  if (id.value < 1n || id.value > BigInt(MAX_ID)) {
    ctx.report(fieldIdOutOfRange(id.value, id.span));
    return;
  }
  if (
    id.value >= BigInt(PROTO_RESERVED_RANGE.first) &&
    id.value <= BigInt(PROTO_RESERVED_RANGE.last)
  ) {
    ctx.report(fieldIdInProtoRange(id.value, id.span));
  }
  const sameId = byId.get(id.value);
  if (sameId !== undefined) {
    ctx.report(
      duplicateFieldId(
        id.value,
        sameId.name.name,
        owner.description,
        id.span,
        ctx.line(sameId.span.start),
      ),
    );
  } else {
    byId.set(id.value, field);
  }
  const reservedIdLine = owner.reserved.lineOfId(Number(id.value));
  if (reservedIdLine !== undefined) {
    ctx.report(
      reservedIdUsed("field id", id.value, `in ${owner.description}`, id.span, reservedIdLine),
    );
  }
}

/** Resolves a field's type expression, reporting what does not resolve. */
export function resolveFieldType(type: TypeExpr, ctx: ValidationContext): FieldType | undefined {
  if (type.kind !== "ListType") return resolveElementType(type, ctx);
  if (type.element.kind === "ListType") {
    ctx.report(listOfList(type.element.span));
    return undefined;
  }
  const element = resolveElementType(type.element, ctx);
  return element === undefined ? undefined : { kind: "list", element };
}

function isScalarKind(name: string): name is ScalarKind {
  return (SCALAR_KINDS as readonly string[]).includes(name);
}

function resolveElementType(type: TypeExpr, ctx: ValidationContext): ElementType | undefined {
  if (type.kind === "ListType") return undefined;
  if (type.kind === "RefType") {
    const name = type.target.name;
    const symbol = ctx.types.get(name);
    if (symbol?.kind === "node") return { kind: "ref", targetId: Number(symbol.decl.id.value) };
    if (symbol !== undefined) {
      ctx.report(refTargetNotNode(name, describeSymbol(symbol), type.target.span));
    } else if (isScalarKind(name)) {
      ctx.report(refTargetNotNode(name, "a scalar kind", type.target.span));
    } else if (!typeMayBeBroken(ctx, name)) {
      const nodes = [...ctx.types.values()].flatMap((s) =>
        s.kind === "node" ? [s.decl.name.name] : [],
      );
      ctx.report(unknownType(name, type.target.span, "not a node type", closestName(name, nodes)));
    }
    return undefined;
  }
  const name = type.name.name;
  if (isScalarKind(name)) return { kind: name };
  const symbol = ctx.types.get(name);
  if (symbol?.kind === "enum") return { kind: "enum", enumName: name };
  if (symbol?.kind === "node") {
    ctx.report(nodeTypeAsFieldType(name, type.name.span));
  } else if (symbol?.kind === "edge") {
    ctx.report(edgeTypeAsFieldType(name, type.name.span));
  } else if (!typeMayBeBroken(ctx, name)) {
    ctx.report(
      unknownType(
        name,
        type.name.span,
        "not a scalar kind, enum or node type",
        suggestType(name, ctx),
      ),
    );
  }
  return undefined;
}

/** A scalar kind alias, else the closest scalar, enum or node name (a node as `ref<Node>`). */
function suggestType(name: string, ctx: ValidationContext): string | undefined {
  const alias = kindAlias(name);
  if (alias !== undefined) return alias;
  const candidates: string[] = [...SCALAR_KINDS];
  const nodes = new Set<string>();
  for (const [typeName, symbol] of ctx.types) {
    if (symbol.kind === "enum") candidates.push(typeName);
    if (symbol.kind === "node") {
      candidates.push(typeName);
      nodes.add(typeName);
    }
  }
  const best = closestName(name, candidates);
  return best !== undefined && nodes.has(best) ? `ref<${best}>` : best;
}

/** Options of one field; returns the model field when its type resolved. */
function checkFieldOptions(
  decl: FieldDecl,
  type: FieldType | undefined,
  isEdge: boolean,
  ctx: ValidationContext,
): Field | undefined {
  const options = readOptions(decl.options, FIELD_OPTIONS, "field", ctx);
  const shown = typeText(decl.type);
  const flag = (name: string): OptionItem | undefined => options.get(name);
  let unique = flag("unique") !== undefined;
  let searchable = flag("searchable") !== undefined;
  let inheritAccess = flag("inherit_access") !== undefined;
  if (isEdge) {
    for (const name of ["unique", "searchable", "inherit_access"]) {
      const item = flag(name);
      if (item !== undefined) ctx.report(optionNotAllowedOnEdge(name, item.name.span));
    }
    unique = false;
    searchable = false;
    inheritAccess = false;
  }
  if (type === undefined) return undefined;

  const kind = type.kind;
  const uniqueItem = flag("unique");
  if (unique && uniqueItem !== undefined && !UNIQUE_KINDS.has(kind))
    ctx.report(uniqueNotAllowed(shown, uniqueItem.name.span));
  const indexItem = flag("index");
  if (indexItem !== undefined && !INDEX_KINDS.has(kind))
    ctx.report(indexNotAllowed(shown, indexItem.name.span));
  const searchableItem = flag("searchable");
  if (searchable && searchableItem !== undefined && kind !== "string") {
    ctx.report(searchableNotString(shown, searchableItem.name.span));
  }
  const searchWeight = searchable ? weightOf(searchableItem, ctx) : undefined;
  const inheritItem = flag("inherit_access");
  if (inheritAccess && inheritItem !== undefined && kind !== "ref") {
    ctx.report(inheritAccessNotRef(shown, inheritItem.name.span));
    inheritAccess = false;
  }
  const required = flag("required");
  const deprecated = flag("deprecated");
  if (required !== undefined && deprecated !== undefined)
    ctx.report(deprecatedRequired(decl.name.name, required.span));
  if (unique && uniqueItem !== undefined && UNIQUE_KINDS.has(kind) && indexItem !== undefined) {
    ctx.report(redundantIndex(indexItem.span));
  }

  let defaultValue: Field["default"];
  const defaultItem = flag("default");
  if (unique && uniqueItem !== undefined && defaultItem !== undefined) {
    ctx.report(uniqueWithDefault(decl.name.name, defaultItem.span));
  }
  if (defaultItem?.value !== undefined) {
    const defaultKind = defaultKindOf(type, ctx);
    if (defaultKind === undefined) ctx.report(defaultNotAllowed(shown, defaultItem.name.span));
    else defaultValue = resolveDefault(defaultKind, shown, defaultItem.value, ctx);
  }

  const doc = decl.trivia.doc?.lines.join("\n");
  return {
    id: Number(decl.id.value),
    name: decl.name.name,
    type,
    required: required !== undefined,
    unique,
    index: indexItem !== undefined,
    searchable,
    ...(searchWeight !== undefined && searchWeight !== 1 ? { searchWeight } : {}),
    ...(inheritAccess ? { inheritAccess: true as const } : {}),
    deprecated: deprecated !== undefined,
    ...(defaultValue !== undefined ? { default: defaultValue } : {}),
    ...(doc !== undefined ? { doc } : {}),
    span: decl.span,
  };
}

function defaultKindOf(type: FieldType, ctx: ValidationContext): DefaultKind | undefined {
  switch (type.kind) {
    case "string":
    case "int":
    case "float":
    case "bool":
    case "timestamp":
      return { kind: type.kind };
    case "enum": {
      const symbol = ctx.types.get(type.enumName);
      return symbol?.kind === "enum" ? { kind: "enum", decl: symbol.decl } : undefined;
    }
    default:
      return undefined;
  }
}

/** Checks one composite constraint; returns its field ids when it is valid. */
function checkComposite(
  composite: CompositeDecl,
  owner: FieldOwner,
  byName: ReadonlyMap<string, CheckedField>,
  ctx: ValidationContext,
): number[] | undefined {
  const { constraint } = composite;
  let valid = true;
  if (composite.fields.length < 2) {
    ctx.report(compositeTooFewFields(constraint, composite.span));
    valid = false;
  }
  const broken = ctx.recovery.brokenMembers.get(owner.decl);
  const allowed = constraint === "unique" ? UNIQUE_KINDS : INDEX_KINDS;
  const seen = new Set<string>();
  const ids: number[] = [];
  for (const ident of composite.fields) {
    const name = ident.name;
    if (seen.has(name)) {
      ctx.report(compositeRepeatedField(name, constraint, ident.span));
      valid = false;
      continue;
    }
    seen.add(name);
    const field = byName.get(name);
    if (field === undefined) {
      valid = false;
      if (broken?.has(name) || broken?.has("")) continue;
      ctx.report(
        compositeUnknownField(
          name,
          owner.description,
          ident.span,
          closestName(name, byName.keys()),
        ),
      );
      continue;
    }
    if (field.type === undefined) {
      valid = false;
      continue;
    }
    if (!allowed.has(field.type.kind)) {
      ctx.report(compositeFieldKind(name, typeText(field.decl.type), constraint, ident.span));
      valid = false;
      continue;
    }
    ids.push(Number(field.decl.id.value));
  }
  return valid ? ids : undefined;
}

/** Smallest and largest `searchable(weight = ...)`. */
export const SEARCH_WEIGHT_RANGE = { min: 0.01, max: 1000 } as const;

/** The weight of `searchable(weight = w)`; 1 when not given, undefined after reporting. */
function weightOf(item: OptionItem | undefined, ctx: ValidationContext): number | undefined {
  const arg = item?.args?.find((a) => a.name.name === "weight");
  if (arg === undefined) return 1;
  const v = arg.value;
  const n = v.kind === "IntLiteral" ? Number(v.value) : v.kind === "FloatLiteral" ? v.value : NaN;
  if (!(n >= SEARCH_WEIGHT_RANGE.min && n <= SEARCH_WEIGHT_RANGE.max)) {
    ctx.report(invalidSearchWeight(literalShown(v), v.span));
    return undefined;
  }
  return n;
}

function literalShown(v: OptionItem["value"] & object): string {
  switch (v.kind) {
    case "IntLiteral":
      return String(v.value);
    case "FloatLiteral":
      return v.raw;
    case "BoolLiteral":
      return String(v.value);
    case "NameLiteral":
      return v.name;
    case "StringLiteral":
      return JSON.stringify(v.value);
  }
}
