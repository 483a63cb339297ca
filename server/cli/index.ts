/**
 * The server layer's subcommands.
 */

import type { Command } from "commander";
import { serveCommand } from "./serve-command.ts";

/** The commands this layer adds to `entdb`. */
export function serverCommands(): Command[] {
  return [serveCommand()];
}
