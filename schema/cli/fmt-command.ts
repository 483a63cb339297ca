import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { Command } from "commander";
import { FormatError, formatSchema } from "../format.ts";
import { parseSchema } from "../parser.ts";
import { renderDiagnostics } from "../render-diagnostics.ts";
import { LineIndex, type SourceFile } from "../span.ts";
import { displayPath, errorReason, resolveSchemaPath, SchemaLoadError } from "./load-schema.ts";
import { writeFileAtomic } from "./write-file-atomic.ts";

/** Options of {@link runFmt}. */
export interface FmtOptions {
  /** Write nothing; report files that are not formatted. */
  readonly check: boolean;
  /** Directory relative paths are resolved against; defaults to `process.cwd()`. */
  readonly cwd?: string;
  /** ANSI colors in diagnostics (default false). */
  readonly color?: boolean;
}

/** What a run printed and how it ended. */
export interface FmtResult {
  readonly exitCode: 0 | 1 | 2;
  readonly stdout: string;
  readonly stderr: string;
}

/** Where the command prints and how it ends the process; tests pass their own. */
export interface FmtIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly setExitCode: (code: number) => void;
  readonly exit: (code: number) => never;
  /** Whether diagnostics on stderr may use ANSI colors. */
  readonly color: boolean;
}

const processIo: FmtIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  setExitCode: (code) => {
    process.exitCode = code;
  },
  exit: (code) => process.exit(code),
  color: process.stderr.isTTY === true && process.env["NO_COLOR"] === undefined,
};

/**
 * Formats `files` (default: the schema named in `entdb.config.json`, else
 * `schema.entdb`). Without `check`, each file whose text changes
 * is replaced atomically and its path printed; with `check`, the paths of files that are
 * not formatted are printed and nothing is written. Every file is processed even after
 * one fails, so one run reports all problems.
 */
export async function runFmt(files: readonly string[], options: FmtOptions): Promise<FmtResult> {
  const cwd = options.cwd ?? process.cwd();
  let paths: readonly string[] = files;
  if (files.length === 0) {
    try {
      paths = [await resolveSchemaPath(undefined, cwd)];
    } catch (err) {
      if (!(err instanceof SchemaLoadError)) throw err;
      return { exitCode: 2, stdout: "", stderr: `error: ${err.message}\n` };
    }
  }
  let stdout = "";
  let stderr = "";
  let failed = false;
  let unformatted = 0;

  for (const arg of paths) {
    const path = displayPath(arg, cwd);
    const fullPath = resolve(cwd, arg);
    let text: string;
    try {
      text = await readFile(fullPath, "utf8");
    } catch (err) {
      stderr += `error: cannot read '${path}': ${errorReason(err)}\n`;
      failed = true;
      continue;
    }
    const source: SourceFile = { path, text };
    const { ast, diagnostics } = parseSchema(source);
    if (diagnostics.some((d) => d.severity === "error")) {
      stderr += renderDiagnostics(diagnostics, source, {
        format: "text",
        color: options.color === true,
      });
      stderr += `error: '${path}' has syntax errors; it was not formatted.\n`;
      failed = true;
      continue;
    }
    let formatted: string;
    try {
      formatted = formatSchema(ast, source);
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      const at = new LineIndex(text).lineCol(err.span.start);
      stderr += `error: ${path}:${at.line}:${at.col}: ${err.message} It was not formatted.\n`;
      failed = true;
      continue;
    }
    if (formatted === text) continue;
    if (options.check) {
      stdout += `${path}\n`;
      unformatted++;
      continue;
    }
    try {
      await writeFileAtomic(fullPath, formatted);
      stdout += `${path}\n`;
    } catch (err) {
      stderr += `error: cannot write '${path}': ${errorReason(err)}\n`;
      failed = true;
    }
  }

  if (options.check && unformatted > 0) {
    const files = unformatted === 1 ? "1 file is" : `${unformatted} files are`;
    stderr += `${files} not formatted; run 'entdb fmt' to fix.\n`;
  }
  const exitCode = failed ? 2 : unformatted > 0 ? 1 : 0;
  return { exitCode, stdout, stderr };
}

/** The `entdb fmt` subcommand. */
export function fmtCommand(io: FmtIo = processIo): Command {
  return new Command("fmt")
    .description("Rewrite schema files in the canonical format (default: the project's schema).")
    .argument("[files...]", "schema files to format")
    .option("--check", "write nothing; list files that are not formatted and exit 1 if any")
    .exitOverride((err) => {
      // Usage errors exit 2 like every entdb command; help exits 0.
      io.exit(err.exitCode === 0 ? 0 : 2);
    })
    .action(async (files: string[], opts: { check?: boolean }) => {
      const result = await runFmt(files, {
        check: opts.check === true,
        color: io.color,
      });
      io.stdout(result.stdout);
      io.stderr(result.stderr);
      io.setExitCode(result.exitCode);
    });
}
