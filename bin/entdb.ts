#!/usr/bin/env node
/**
 * The `entdb` command. It only dispatches: each subcommand lives in the layer that
 * owns it (`schema/cli`, `codegen/cli`, `server/cli`) and sets `process.exitCode`.
 */

import { enableCompileCache } from "node:module";
import packageJson from "../package.json" with { type: "json" };
import { restartWithServeFlags } from "../server/cli/serve-runtime.ts";

// `entdb serve` restarts itself with its V8 settings first, before loading anything.
restartWithServeFlags(process.argv);

// Node's compile cache (in the OS temp dir) keeps the compiled code, and for the `.ts`
// sources their type-stripped text, between runs: start-up is mostly loading modules,
// and this makes a second `entdb` run several times faster to start. It must be on
// before those modules load, so they are imported below, not statically. It reports a
// cache it cannot use (an unwritable dir, NODE_DISABLE_COMPILE_CACHE) in its result and
// never throws; entdb then runs as before.
enableCompileCache();

const [{ Command }, { codegenCommands }, { schemaCommands }, { serverCommands }] =
  await Promise.all([
    import("commander"),
    import("../codegen/cli/index.ts"),
    import("../schema/cli/index.ts"),
    import("../server/cli/index.ts"),
  ]);

const program = new Command("entdb")
  .description(
    "Schema-first graph database: check and format schemas, generate clients, serve the database.",
  )
  // This package's own version (`npm_package_version` would be the calling app's).
  .version(packageJson.version, "-v, --version")
  .showHelpAfterError("(run 'entdb help <command>' for usage)")
  .exitOverride((err) => {
    // Usage errors exit 2 (as `entdb check` documents); help and version exit 0.
    process.exit(err.exitCode === 0 ? 0 : 2);
  });

/**
 * Usage errors exit 2 on every subcommand too: commander does not pass the program's
 * `exitOverride` down to commands added with `addCommand`, so without this a bad flag of
 * `serve`, `tenant`, `restore`, … exited 1, the code of a refused or failed run. (The
 * schema and codegen commands set their own, to the same effect.)
 */
function usageErrorsExit2(command: InstanceType<typeof Command>): void {
  command.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  for (const sub of command.commands) usageErrorsExit2(sub);
}

const served = serverCommands();
for (const command of served) usageErrorsExit2(command);
for (const command of [...schemaCommands(), ...codegenCommands(), ...served])
  program.addCommand(command);

await program.parseAsync(process.argv);
