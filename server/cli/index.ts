/**
 * The server layer's subcommands.
 */

import type { Command } from "commander";
import { restoreCommands } from "./restore-command.ts";
import { schemaServerCommand } from "./schema-command.ts";
import { serveCommand } from "./serve-command.ts";
import { accessCommands } from "./tenant-command.ts";

/** The commands this layer adds to `entdb`. */
export function serverCommands(): Command[] {
  return [serveCommand(), ...accessCommands(), schemaServerCommand(), ...restoreCommands()];
}
