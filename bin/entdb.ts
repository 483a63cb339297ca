#!/usr/bin/env node
/**
 * The `entdb` command. It only dispatches: each subcommand lives in the layer that
 * owns it (`schema/cli`, `codegen/cli`, `server/cli`) and sets `process.exitCode`.
 */

import { Command } from "commander";
import { codegenCommands } from "../codegen/cli/index.ts";
import { schemaCommands } from "../schema/cli/index.ts";
import { serverCommands } from "../server/cli/index.ts";

const program = new Command("entdb")
  .description(
    "Schema-first graph database: check and format schemas, generate clients, serve the database.",
  )
  .version(process.env["npm_package_version"] ?? "0.1.0", "-v, --version")
  .showHelpAfterError("(run 'entdb help <command>' for usage)")
  .exitOverride((err) => {
    // Usage errors exit 2 (as `entdb check` documents); help and version exit 0.
    process.exit(err.exitCode === 0 ? 0 : 2);
  });

for (const command of [...schemaCommands(), ...codegenCommands(), ...serverCommands()])
  program.addCommand(command);

await program.parseAsync(process.argv);
