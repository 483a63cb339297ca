/**
 * The schema layer for a server thread that serves versions already compiled: the model
 * and its lookups, lock files written and read back, fingerprints, the compatibility
 * rules a new version is checked against, and the atomic write its files use: part of
 * `index.ts`'s exports, without the compiler (lexer, parser, validation, formatter,
 * diagnostics), so a thread that only applies the log (a restore's apply threads) does
 * not load it.
 */

export { writeFileAtomic } from "./cli/write-file-atomic.ts";
export { checkCompat, type Finding, hasBreaking } from "./compat/index.ts";
export { LOCK_VERSION, schemaFingerprint } from "./fingerprint.ts";
export { LockFileError, type LockFileErrorCode, lockFromSchema, modelFromLock } from "./lock.ts";
export * from "./model.ts";
