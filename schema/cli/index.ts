/**
 * The schema layer's subcommands: `check`, `lock` and `fmt`.
 */

import type { Command } from "commander";
import { checkCommand } from "./check-command.ts";
import { fmtCommand } from "./fmt-command.ts";
import { lockCommand } from "./lock-command.ts";

export { parseRuleList } from "./check-command.ts";
export { CHECK_FORMATS, type CheckFormat, renderCheckReport } from "./check-report.ts";
export {
  displayPath,
  formatDiagnostics,
  type LoadedSchema,
  loadSchemaFile,
  readConfigPath,
  resolveSchemaPath,
  SchemaLoadError,
} from "./load-schema.ts";
export { type LockOptions, prepareLock, runLock } from "./lock-command.ts";

/**
 * The commands this layer adds to `entdb`, in help order. Each entry builds a fresh
 * `Command`, so adding one is one line here.
 */
const COMMAND_FACTORIES: readonly (() => Command)[] = [
  checkCommand,
  lockCommand,
  () => fmtCommand(),
];

/** The commands this layer adds to `entdb`. */
export function schemaCommands(): Command[] {
  return COMMAND_FACTORIES.map((create) => create());
}
