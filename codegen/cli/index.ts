/**
 * The codegen layer's subcommands: `generate`.
 */

import type { Command } from "commander";
import { generateCommand } from "./generate-command.ts";

export {
  type GenerateOptions,
  type GenerateResult,
  generateCommand,
  runGenerate,
} from "./generate-command.ts";
export { DEFAULT_OUT_DIR, resolveOutDir } from "./generate-config.ts";
export { type GenerateAllOptions, generateAllFiles, INDEXES_SQL_PATH } from "./generate-files.ts";
export { WATCH_DEBOUNCE_MS, watchSchema } from "./watch-schema.ts";

/** The commands this layer adds to `entdb`, in help order. */
export function codegenCommands(): Command[] {
  return [generateCommand()];
}
