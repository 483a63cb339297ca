/**
 * The schema language: compile a `.entdb` source into a model, render diagnostics,
 * format sources, write and read lock files, and check compatibility between two
 * versions. Pure: no network, no server, no code generation.
 */

export type * from "./ast.ts";
export { errorReason } from "./cli/load-schema.ts";
export { fsyncDir, writeFileAtomic, writeNewFileDurably } from "./cli/write-file-atomic.ts";
export {
  COMPAT_RULE_IDS,
  COMPAT_RULES,
  type CompatCategory,
  type CompatRule,
  type CompatRuleId,
  checkCompat,
  describeType,
  type Finding,
  hasBreaking,
  isCompatRuleId,
  ruleCategory,
} from "./compat/index.ts";
export { type CompileResult, compileSchema } from "./compile.ts";
export type { Diagnostic, Severity } from "./diagnostic.ts";
export { LOCK_VERSION, schemaFingerprint } from "./fingerprint.ts";
export { FormatError, type FormatErrorCode, formatSchema } from "./format.ts";
export { LockFileError, type LockFileErrorCode, lockFromSchema, modelFromLock } from "./lock.ts";
export { type CatalogEntry, DIAGNOSTIC_CATALOG } from "./messages.ts";
export * from "./model.ts";
export {
  type DetailedParse,
  parseSchema,
  parseSchemaDetailed,
  type RecoveryInfo,
} from "./parser.ts";
export {
  type JsonDiagnostic,
  type RenderOptions,
  renderDiagnostics,
} from "./render-diagnostics.ts";
export { type LineCol, LineIndex, type SourceFile, type Span } from "./span.ts";
export { closestName } from "./suggest.ts";
