/**
 * The README's command table and `entdb --help` list the same commands, every command
 * explains itself with `--help`, and every command and subcommand exits 2 on a usage
 * error (as `entdb check --help` and docs/archive.md say), not 1, the code of a failed run.
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

  const subcommands = [
    ...listed.map((command) => command ?? ""),
    "tenant list",
    "tenant create t",
    "group list t",
    "schema push s.entdb",
    "schema history",
  ];
  it.each(subcommands)("exits 2 on a usage error of `%s`", (command) => {
    const run = spawnSync(
      process.execPath,
      [join(root, "bin", "entdb.ts"), ...command.split(" "), "--no-such-option"],
      { cwd: root, encoding: "utf8", env: { ...process.env, ENTDB_URL: "", ENTDB_TOKEN: "" } },
    );
    // Commander reports a missing required option before an unknown one.
    expect([run.status, run.stdout]).toEqual([2, ""]);
    expect(run.stderr).toMatch(
      /^error: (unknown option '--no-such-option'|required option '.+' not specified)\n/,
    );
  });
});
