/**
 * The CLI's flags against the docs: every flag an `entdb …` command line in the README
 * or docs/ passes exists on that command, each subcommand's `--help` lists every flag it
 * takes (its parent's too), the `entdb serve` table in docs/architecture.md names the
 * same flags, variables and defaults as `entdb serve --help`, and the `entdb restore`
 * table in docs/archive.md the same flags as `entdb restore --help`.
 */

import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const entdb = (...args: string[]) =>
  execFileSync(process.execPath, [join(root, "bin", "entdb.ts"), ...args], {
    cwd: root,
    encoding: "utf8",
  });

/** An option of a help text: its flag and its description, unwrapped. */
interface HelpOption {
  readonly flag: string;
  readonly text: string;
}

/** The options a help text lists, under "Options:" and "Global Options:". */
function helpOptions(help: string): HelpOption[] {
  const options: { flag: string; text: string }[] = [];
  let section = "";
  for (const line of help.split("\n")) {
    if (/^\S.*:$/.test(line)) {
      section = line;
      continue;
    }
    if (section !== "Options:" && section !== "Global Options:") continue;
    const start = /^ {2}(?:-[a-zA-Z], )?(--[a-z][a-z0-9-]*)(?: <[^>]+>)?(?: {2,}(.*))?$/.exec(line);
    if (start) options.push({ flag: start[1]!, text: start[2] ?? "" });
    else if (/^ {4,}\S/.test(line) && options.length > 0)
      options[options.length - 1]!.text += ` ${line.trim()}`;
  }
  return options;
}

/** The commands' paths (`serve`, `tenant create`, …), each with its --help text. */
function commandHelps(): Map<string, string> {
  const commandsOf = (help: string): string[] =>
    [...(help.split("\nCommands:\n")[1] ?? "").matchAll(/^ {2}([a-z][a-z-]*)/gm)]
      .map((m) => m[1]!)
      .filter((c) => c !== "help");
  const helps = new Map<string, string>();
  for (const command of commandsOf(entdb("--help"))) {
    const help = entdb(command, "--help");
    helps.set(command, help);
    for (const sub of commandsOf(help))
      helps.set(`${command} ${sub}`, entdb(command, sub, "--help"));
  }
  return helps;
}

const helps = commandHelps();
const flagsOf = (command: string): Set<string> =>
  new Set(helpOptions(helps.get(command) ?? "").map((o) => o.flag));

const docFiles = [
  "README.md",
  ...readdirSync(join(root, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => join("docs", name)),
];

/**
 * The `entdb` command lines of a Markdown text: lines of code blocks and inline code
 * spans that run `entdb COMMAND` (or `npx entdb`), with the flags after the command up
 * to a shell separator, a comment, or the end of a phrase (`,` or `)` in prose).
 */
function commandLines(text: string): { line: number; command: string; flags: string[] }[] {
  const found: { line: number; command: string; flags: string[] }[] = [];
  let inBlock = false;
  text.split("\n").forEach((line, i) => {
    if (line.trimStart().startsWith("```")) {
      inBlock = !inBlock;
      return;
    }
    // A table cell escapes `|` as `\|` (alternatives: `--to-position P\|--to-time T`).
    const code = (inBlock ? [line] : [...line.matchAll(/`([^`]+)`/g)].map((m) => m[1]!)).map(
      (span) => span.replaceAll("\\|", "/"),
    );
    for (const span of code)
      for (const m of span.matchAll(
        /(?:^|[\s"(=])(?:npx )?entdb ([a-z][a-z-]*)(?: ([a-z][a-z-]*))?([^|;&#,)]*)/g,
      )) {
        let command = m[1]!;
        let rest = m[3] ?? "";
        if (!helps.has(command)) continue;
        if (m[2] !== undefined) {
          if (helps.has(`${command} ${m[2]}`)) command = `${command} ${m[2]}`;
          else rest = ` ${m[2]}${rest}`;
        }
        const flags = [...rest.matchAll(/(?:^|[\s[/])(--[a-z][a-z0-9-]*)/g)].map((f) => f[1]!);
        found.push({ line: i + 1, command, flags });
      }
  });
  return found;
}

describe("the CLI's flags and the docs", () => {
  it("finds the commands and the docs' command lines", () => {
    expect(helps.has("serve")).toBe(true);
    expect(helps.has("tenant create")).toBe(true);
    const restore = docFiles.flatMap((file) =>
      commandLines(readFileSync(join(root, file), "utf8")).filter((c) => c.command === "restore"),
    );
    expect(restore.flatMap((c) => c.flags)).toContain("--to-time");
  });

  it("passes no flag to a command that the command does not take", () => {
    const unknown: string[] = [];
    for (const file of docFiles)
      for (const { line, command, flags } of commandLines(readFileSync(join(root, file), "utf8")))
        for (const flag of flags)
          if (!flagsOf(command).has(flag))
            unknown.push(`${file}:${line}: entdb ${command} has no ${flag}`);
    expect(unknown).toEqual([]);
  });

  it("lists in each subcommand's --help the flags it takes from its parent", () => {
    const missing: string[] = [];
    for (const command of helps.keys()) {
      const [parent, sub] = command.split(" ");
      if (sub === undefined) continue;
      for (const flag of flagsOf(parent!))
        if (flag !== "--help" && !flagsOf(command).has(flag))
          missing.push(`entdb ${command} --help does not list ${flag}`);
    }
    expect(missing).toEqual([]);
  });

  it("describes every flag of entdb restore, and no other, in archive.md's table", () => {
    const restore = readFileSync(join(root, "docs", "archive.md"), "utf8").split(
      "\n## Restore\n",
    )[1];
    const rows = (restore ?? "")
      .split("\n## ")[0]!
      .split("\n")
      .filter((l) => l.startsWith("| `--"));
    const documented = new Set(rows.map((row) => /^\| `(--[a-z][a-z0-9-]*)/.exec(row)![1]!));
    const flags = new Set([...flagsOf("restore")].filter((flag) => flag !== "--help"));
    expect([...documented].sort()).toEqual([...flags].sort());
  });

  it("describes every flag of entdb serve in architecture.md's table, with the same variable and default as --help", () => {
    const options = new Map(helpOptions(helps.get("serve")!).map((o) => [o.flag, o.text]));
    const table = readFileSync(join(root, "docs", "architecture.md"), "utf8")
      .split("\n")
      .filter((line) => line.startsWith("| `--"));
    const problems: string[] = [];
    const documented = new Set<string>();
    for (const row of table) {
      const [, flagCell = "", envCell = "", defaultCell = ""] = row
        .split(/(?<!\\)\|/)
        .map((cell) => cell.trim());
      for (const [, flag] of flagCell.matchAll(/`(--[a-z][a-z0-9-]*)/g)) {
        documented.add(flag!);
        const text = options.get(flag!);
        if (text === undefined) {
          problems.push(`${flag} is in the table, not in entdb serve --help`);
          continue;
        }
        for (const [, env] of text.matchAll(/\benv (ENTDB_[A-Z0-9_]+)/g))
          if (!envCell.includes(env!)) problems.push(`${flag}: --help names ${env}, the table not`);
        const helpDefault = /\b(default|required)\b ?([^;:),]*)/.exec(text);
        const tableDefault = defaultCell.replaceAll("`", "");
        if (helpDefault === null) {
          if (!/^(none|off)\b/.test(tableDefault))
            problems.push(`${flag}: the table's default is '${tableDefault}', --help gives none`);
        } else if (helpDefault[1] === "required") {
          if (tableDefault !== "(required)")
            problems.push(`${flag}: --help says required, the table '${tableDefault}'`);
        } else if (!tableDefault.includes(helpDefault[2]!.trim()))
          problems.push(
            `${flag}: --help's default is '${helpDefault[2]}', the table's '${tableDefault}'`,
          );
      }
    }
    for (const flag of options.keys())
      if (flag !== "--help" && !documented.has(flag))
        problems.push(`${flag} of entdb serve --help is not in the table`);
    expect(problems).toEqual([]);
  });
});
