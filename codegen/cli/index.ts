/**
 * The codegen layer's subcommands: `generate`. The generators themselves load only
 * when a command runs; import `generate-files.ts` directly to call them.
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
export { WATCH_DEBOUNCE_MS, watchSchema } from "./watch-schema.ts";

/** The commands this layer adds to `entdb`, in help order. */
export function codegenCommands(): Command[] {
  return [generateCommand()];
}
