/**
 * The `kind` values of the ts-morph structures the client generator describes its
 * output with. ts-morph's `StructureKind` is a runtime enum: importing it would load
 * ts-morph and the TypeScript compiler on every `entdb generate`, so the few numbers
 * used are repeated here, typed as the enum's members (the byte-identity test checks
 * them against ts-morph's).
 */

import type { StructureKind } from "ts-morph";

/** `StructureKind.Function`, `.ImportDeclaration`, `.Interface`, `.PropertySignature`, `.TypeAlias`. */
export const STRUCTURE_KIND = {
  Function: 13 as StructureKind.Function,
  ImportDeclaration: 16 as StructureKind.ImportDeclaration,
  Interface: 19 as StructureKind.Interface,
  PropertySignature: 33 as StructureKind.PropertySignature,
  TypeAlias: 38 as StructureKind.TypeAlias,
} as const;
