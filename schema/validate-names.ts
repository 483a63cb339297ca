/**
 * Naming rules: type names start uppercase, field and inverse names lowercase, and
 * package parts are lowercase, because they become protobuf and TypeScript names
 * whose casing the generators rely on.
 */

import type { Ident, PackageDecl } from "./ast.ts";
import {
  fieldNameNotLowercase,
  invalidInverseName,
  invalidPackageName,
  typeNameNotUppercase,
} from "./messages.ts";
import type { ValidationContext } from "./validate-context.ts";

const PACKAGE_PART = /^[a-z][a-z0-9_]*$/;

/** Whether a name starts with `A`–`Z`. */
export function startsUppercase(name: string): boolean {
  const c = name.charCodeAt(0);
  return c >= 65 && c <= 90;
}

/** Whether a name starts with `a`–`z`. */
export function startsLowercase(name: string): boolean {
  const c = name.charCodeAt(0);
  return c >= 97 && c <= 122;
}

/** Checks each part of `package a.b.c;`. */
export function checkPackageName(pkg: PackageDecl, ctx: ValidationContext): void {
  for (const part of pkg.parts) {
    if (PACKAGE_PART.test(part.name)) continue;
    const lowered = part.name.toLowerCase();
    const suggestion = PACKAGE_PART.test(lowered) ? lowered : undefined;
    ctx.report(invalidPackageName(part.name, part.span, suggestion));
  }
}

/** Node, edge and enum names start uppercase. */
export function checkTypeName(name: Ident, ctx: ValidationContext): void {
  if (startsUppercase(name.name)) return;
  const bare = name.name.replace(/^_+/, "");
  const suggestion = startsLowercase(bare) ? bare[0]!.toUpperCase() + bare.slice(1) : undefined;
  ctx.report(typeNameNotUppercase(name.name, name.span, suggestion));
}

/** Field names (node fields and edge properties) start lowercase. */
export function checkFieldName(name: Ident, ctx: ValidationContext): void {
  if (startsLowercase(name.name)) return;
  ctx.report(fieldNameNotLowercase(name.name, name.span, lowercaseSuggestion(name.name)));
}

/** An edge's `inverse` name is used like a field name in generated clients. */
export function checkInverseName(name: string, span: Ident["span"], ctx: ValidationContext): void {
  if (startsLowercase(name)) return;
  ctx.report(invalidInverseName(name, span, lowercaseSuggestion(name)));
}

function lowercaseSuggestion(name: string): string | undefined {
  const bare = name.replace(/^_+/, "");
  return startsUppercase(bare) || startsLowercase(bare)
    ? bare[0]!.toLowerCase() + bare.slice(1)
    : undefined;
}
