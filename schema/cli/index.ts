/**
 * The schema layer's subcommands: `check`, `lock` and `fmt`.
 */

import type { Command } from "commander";

/** The commands this layer adds to `entdb`. */
export function schemaCommands(): Command[] {
  return [];
}
