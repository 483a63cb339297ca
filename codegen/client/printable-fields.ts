/**
 * Which fields of each ts-morph structure the client printer (print-structures.ts)
 * prints, and the error for anything else: a structure with a field the printer does
 * not know would otherwise print without it, silently unlike ts-morph.
 */

import { CodegenError } from "../codegen-error.ts";

/** Fields left unsupported that may still be `[]` or `false`: ts-morph prints nothing for those. */
const EMPTY_OK = new Set([
  "overloads",
  "typeParameters",
  "isGenerator",
  "callSignatures",
  "constructSignatures",
  "indexSignatures",
  "methods",
  "decorators",
  "namedImports",
]);

/** The fields of an import declaration the printer prints. */
export const IMPORT_FIELDS = new Set([
  "kind",
  "moduleSpecifier",
  "namespaceImport",
  "defaultImport",
  "isTypeOnly",
]);
/** The fields of a function declaration the printer prints. */
export const FUNCTION_FIELDS = new Set([
  "kind",
  "name",
  "docs",
  "isExported",
  "isDefaultExport",
  "hasDeclareKeyword",
  "isAsync",
  "parameters",
  "returnType",
  "statements",
]);
/** The fields of a parameter the printer prints. */
export const PARAMETER_FIELDS = new Set([
  "kind",
  "name",
  "type",
  "hasQuestionToken",
  "isRestParameter",
  "isReadonly",
  "scope",
  "hasOverrideKeyword",
  "initializer",
]);
/** The fields of an interface declaration the printer prints. */
export const INTERFACE_FIELDS = new Set([
  "kind",
  "name",
  "docs",
  "isExported",
  "isDefaultExport",
  "hasDeclareKeyword",
  "extends",
  "properties",
]);
/** The fields of a property signature the printer prints. */
export const PROPERTY_FIELDS = new Set([
  "kind",
  "name",
  "docs",
  "isReadonly",
  "hasQuestionToken",
  "type",
]);
/** The fields of a type alias declaration the printer prints. */
export const TYPE_ALIAS_FIELDS = new Set([
  "kind",
  "name",
  "docs",
  "isExported",
  "isDefaultExport",
  "hasDeclareKeyword",
  "type",
]);

/**
 * Throws when `structure` (the `what` named `name`) has a field with a value that the
 * printer does not print.
 */
export function checkFields(
  structure: object,
  supported: ReadonlySet<string>,
  what: string,
  name: string | undefined,
): void {
  for (const key in structure) {
    if (supported.has(key)) continue;
    const value: unknown = (structure as Record<string, unknown>)[key];
    if (value === undefined) continue;
    if (EMPTY_OK.has(key) && (value === false || (Array.isArray(value) && value.length === 0))) {
      continue;
    }
    throw unsupported(name === undefined ? what : `${what} \`${name}\``, `its \`${key}\` field`);
  }
}

/** The error for a structure the printer cannot print as ts-morph would. */
export function unsupported(what: string, detail: string): CodegenError {
  return new CodegenError(
    "generator-failed",
    `The client printer cannot print ${what} with ${detail}; describe it with the fields printable-fields.ts lists, or extend print-structures.ts.`,
  );
}
