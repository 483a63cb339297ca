/**
 * Names and expressions of the tenant database, derived from ids only (DESIGN.md
 * contract 2: no schema name reaches disk). The store and the DDL generator both use
 * these, so a query's expression is byte-for-byte the expression its index was built
 * on, which is what lets SQLite pick an expression index at all.
 */

import { CodegenError } from "../codegen-error.ts";

/** Throws unless `id` is a positive safe integer: ids are spliced into SQL text. */
function checkId(what: string, id: number): number {
  if (!Number.isSafeInteger(id) || id <= 0) {
    throw new CodegenError(
      "generator-failed",
      `A ${what} id must be a positive integer, got ${id}.`,
    );
  }
  return id;
}

/** The JSON path of a field in a payload: `$."5"` (quoted, so it is a key, not an index). */
export function fieldJsonPath(fieldId: number): string {
  return `$."${checkId("field", fieldId)}"`;
}

/** The SQL expression reading a node field: `json_extract(payload, '$."5"')`. */
export function nodeFieldExpr(fieldId: number): string {
  return `json_extract(payload, '${fieldJsonPath(fieldId)}')`;
}

/** The SQL expression reading an edge property: `json_extract(props, '$."1"')`. */
export function edgePropExpr(fieldId: number): string {
  return `json_extract(props, '${fieldJsonPath(fieldId)}')`;
}

/** Name of a (single or composite) node index: `ix_n4_f5`, `ix_n4_f1_f5_f7`. */
export function nodeIndexName(typeId: number, fieldIds: readonly number[]): string {
  return `ix_n${checkId("type", typeId)}${fieldSuffix(fieldIds)}`;
}

/** Name of a (single or composite) node unique index: `ux_n1_f1`, `ux_n3_f1_f2`. */
export function nodeUniqueName(typeId: number, fieldIds: readonly number[]): string {
  return `ux_n${checkId("type", typeId)}${fieldSuffix(fieldIds)}`;
}

/** Name of an edge property index: `ix_e100_f2`. */
export function edgeIndexName(edgeTypeId: number, fieldId: number): string {
  return `ix_e${checkId("edge type", edgeTypeId)}${fieldSuffix([fieldId])}`;
}

/** Name of a node type's full-text table: `fts_n1`. */
export function ftsTableName(typeId: number): string {
  return `fts_n${checkId("type", typeId)}`;
}

/** Name of a searchable field's column in its full-text table: `f2`. */
export function ftsColumnName(fieldId: number): string {
  return `f${checkId("field", fieldId)}`;
}

/** What a schema object name says, parsed back (`undefined` if it is not one of ours). */
export interface ParsedObjectName {
  readonly kind: "index" | "unique" | "edge-index" | "fts";
  readonly typeId: number;
  readonly fieldIds: readonly number[];
}

const INDEX_NAME = /^(ix|ux)_([ne])([1-9][0-9]*)((?:_f[1-9][0-9]*)+)$/;
const FTS_NAME = /^fts_n([1-9][0-9]*)$/;

/**
 * Parses a name made by this module. The store uses it to map a SQLite unique
 * constraint error ("UNIQUE constraint failed: index 'ux_n1_f1'") back to ids, and to
 * tell its own schema objects from everything else in `sqlite_master`.
 */
export function parseObjectName(name: string): ParsedObjectName | undefined {
  const fts = FTS_NAME.exec(name);
  if (fts) return { kind: "fts", typeId: Number(fts[1]), fieldIds: [] };
  const m = INDEX_NAME.exec(name);
  if (!m) return undefined;
  const fieldIds = m[4]!
    .slice(2)
    .split("_f")
    .map((s) => Number(s));
  if (m[2] === "e")
    return m[1] === "ix" ? { kind: "edge-index", typeId: Number(m[3]), fieldIds } : undefined;
  return { kind: m[1] === "ux" ? "unique" : "index", typeId: Number(m[3]), fieldIds };
}

function fieldSuffix(fieldIds: readonly number[]): string {
  if (fieldIds.length === 0) {
    throw new CodegenError("generator-failed", "An index needs at least one field.");
  }
  return fieldIds.map((id) => `_f${checkId("field", id)}`).join("");
}
