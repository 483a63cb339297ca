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
  .showHelpAfterError("(run 'entdb help <command>' for usage)");

for (const command of [...schemaCommands(), ...codegenCommands(), ...serverCommands()])
  program.addCommand(command);

// Usage errors (an unknown flag, a missing argument, an unknown subcommand) exit 2 from
// every command and subcommand, as `entdb check`, `entdb restore` and `entdb tenant`
// document, and say where the usage is; help and version exit 0. Set on each one: a
// command added with `addCommand` takes none of its parent's settings.
const usageExits2 = (command: InstanceType<typeof Command>, path: string): void => {
  command.exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  if (path !== "") command.showHelpAfterError(`(run 'entdb ${path} --help' for usage)`);
  for (const sub of command.commands)
    usageExits2(sub, path === "" ? sub.name() : `${path} ${sub.name()}`);
};
usageExits2(program, "");

await program.parseAsync(process.argv);
