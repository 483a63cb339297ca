/**
 * The README's command table and `entdb --help` list the same commands, every command
 * explains itself with `--help`, and every command and subcommand exits 2 on a usage
 * error (docs/archive.md and docs/access-control.md document 2 for it).
 */

import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const entdb = (...args: string[]) =>
  execFileSync(process.execPath, [join(root, "bin", "entdb.ts"), ...args], {
    cwd: root,
    encoding: "utf8",
  });

describe("entdb --help", () => {
  const help = entdb("--help");
  const listed = [...help.matchAll(/^ {2}([a-z]+) /gm)]
    .map((m) => m[1])
    .filter((c) => c !== "help");
  const readme = readFileSync(join(root, "README.md"), "utf8");
  const documented = [...readme.matchAll(/^\| `entdb ([a-z]+)/gm)].map((m) => m[1]);

  it("lists exactly the commands the README documents", () => {
    expect(listed.length).toBeGreaterThanOrEqual(5);
    expect([...listed].sort()).toEqual([...documented].sort());
  });

  it.each(listed)("explains `%s` with --help", (command) => {
    const text = entdb(command ?? "", "--help");
    expect(text).toMatch(new RegExp(`^Usage: entdb ${command} `));
    expect(text.split("\n").length).toBeGreaterThan(4);
  });
});

describe("usage errors", () => {
  const commandsOf = (...path: string[]): string[] => {
    const help = entdb(...path, "--help");
    const listed = help.split("\nCommands:\n")[1] ?? "";
    return [...listed.matchAll(/^ {2}([a-z-]+)/gm)]
      .map((m) => m[1] ?? "")
      .filter((c) => c !== "help");
  };
  const commands = commandsOf().flatMap((command) => {
    const sub = commandsOf(command);
    return sub.length === 0 ? [command] : [command, ...sub.map((s) => `${command} ${s}`)];
  });

  it("finds the subcommands", () => {
    expect(commands).toContain("restore");
    expect(commands).toContain("tenant add-member");
    expect(commands).toContain("schema push");
  });

  it.each(commands)("`entdb %s --no-such-flag` exits 2 with the usage error", (command) => {
    const run = spawnSync(
      process.execPath,
      [join(root, "bin", "entdb.ts"), ...command.split(" "), "--no-such-flag"],
      { cwd: root, encoding: "utf8" },
    );
    // A command with a required option names that one first.
    expect(run.stderr).toMatch(
      /^error: (unknown option '--no-such-flag'|required option '--[a-z-]+ <[a-z]+>' not specified)\n/,
    );
    // ...and says where the command's usage is.
    expect(run.stderr).toContain(`(run 'entdb ${command} --help' for usage)`);
    expect(run.status).toBe(2);
  });

  it.each(commands.filter((c) => commandsOf(...c.split(" ")).length > 0))(
    "`entdb %s no-such-command` exits 2 naming the command's usage",
    (command) => {
      const run = spawnSync(
        process.execPath,
        [join(root, "bin", "entdb.ts"), ...command.split(" "), "no-such-command"],
        { cwd: root, encoding: "utf8" },
      );
      expect(run.stderr).toBe(
        `error: unknown command 'no-such-command'\n(run 'entdb ${command} --help' for usage)\n`,
      );
      expect(run.status).toBe(2);
    },
  );
});
