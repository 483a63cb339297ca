/**
 * `entdb generate [schema] [--out DIR] [--check] [--watch]`: compiles the schema and
 * writes everything generated from it into the out dir — `<pkg path>/schema.proto` and
 * one `.proto` per node and edge type, each with its `_pb.js` and `_pb.d.ts`, `client.ts`,
 * `indexes.sql` — as one all-or-none set, and
 * keeps the schema's lock file beside the schema up to date (the same file `entdb lock`
 * writes, so `entdb check --against` reads it).
 *
 * The lock file stays out of the out dir on purpose: generated JSON carries an
 * `"@generated"` key, which the lock reader refuses, and the lock is the record of the
 * released schema that `entdb check --against` compares with, so it belongs with the
 * schema rather than with disposable output.
 *
 * The existing lock is also a gate: a breaking change against it is refused before
 * anything is written, unless its rules are accepted with `--accept-breaking`.
 *
 * Exit codes: 0 written or up to date; 1 out of date (`--check`) or a breaking change
 * the lock refused; 2 a usage error, an unreadable file, a bad config or lock, a schema
 * with errors, or a failed write.
 */

import { isAbsolute, resolve } from "node:path";
import { Command } from "commander";
import {
  displayPath,
  formatDiagnostics,
  type LoadedSchema,
  type LockOptions,
  loadSchemaFile,
  parseRuleList,
  prepareLock,
  resolveSchemaPath,
  runLock,
  SchemaLoadError,
} from "../../schema/cli/index.ts";
import { type CompatRuleId, LineIndex, type SourceFile } from "../../schema/index.ts";
import { CodegenError } from "../codegen-error.ts";
import { createGeneratedFile, type GeneratedFile } from "../writer/generated-file.ts";
import {
  type FileChange,
  headerSource,
  type WriteGeneratedResult,
  writeGenerated,
} from "../writer/write-generated.ts";
import { resolveOutDir, resolvePythonOutDir } from "./generate-config.ts";
import { watchSchema } from "./watch-schema.ts";

/** Options of {@link runGenerate}, as parsed from the command line. */
export interface GenerateOptions {
  /** The out dir; default: `out` in `entdb.config.json`, else `generated`. */
  readonly out?: string;
  /** Write nothing; exit 1 listing every difference. */
  readonly check: boolean;
  /** Directory relative paths are resolved against; defaults to `process.cwd()`. */
  readonly cwd?: string;
  /** Colour diagnostics. */
  readonly color?: boolean;
  /** The module `client.ts` imports the runtime from (default `entdb/runtime/v1`). */
  readonly runtimeImport?: string;
  /** Breaking rules accepted on purpose against the existing lock (`--accept-breaking`). */
  readonly acceptBreaking?: ReadonlySet<CompatRuleId>;
  /** Also write the Python client package here; default: `python` in `entdb.config.json`. */
  readonly python?: string;
}

/** What a run printed and how it ended. */
export interface GenerateResult {
  readonly exitCode: 0 | 1 | 2;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `entdb generate` once and returns what it printed; never exits the process. */
export async function runGenerate(
  schemaArg: string | undefined,
  options: GenerateOptions,
): Promise<GenerateResult> {
  const cwd = options.cwd ?? process.cwd();
  const color = options.color === true;
  let schemaPath: string;
  let outDir: string;
  let files: GeneratedFile[];
  let warnings: string;
  let loaded: LoadedSchema;
  let pythonOut: string | undefined;
  let pythonFiles: GeneratedFile[] = [];
  let source: SourceFile | undefined;
  try {
    schemaPath = await resolveSchemaPath(schemaArg, cwd);
    outDir = await resolveOutDir(options.out, cwd);
    loaded = await loadSchemaFile(schemaPath, cwd);
    source = loaded.source;
    warnings = formatDiagnostics(loaded.diagnostics, loaded.source, "text", color);
    // Loaded on use, so other entdb commands do not pay for the generators at start.
    const { generateAllFiles } = await import("./generate-files.ts");
    files = generateAllFiles(loaded.schema, {
      ...(options.runtimeImport === undefined ? {} : { runtimeImport: options.runtimeImport }),
    });
    pythonOut = await resolvePythonOutDir(options.python, cwd);
    if (pythonOut !== undefined) {
      const { generatePython } = await import("../python/index.ts");
      pythonFiles = generatePython(loaded.schema).map((f) =>
        createGeneratedFile(f.path, f.content),
      );
    }
  } catch (err) {
    return failed(err, color, "", source);
  }

  const lockOptions: LockOptions = {
    check: options.check,
    cwd,
    color,
    loaded,
    ...(options.acceptBreaking === undefined ? {} : { acceptBreaking: options.acceptBreaking }),
  };
  // The lock is also the gate: a breaking change it refuses leaves every file as it was.
  if (!options.check) {
    const prepared = await prepareLock(schemaPath, lockOptions);
    if ("exitCode" in prepared && prepared.exitCode !== 0) {
      return { ...prepared, stderr: `${warnings}${prepared.stderr}` };
    }
  }

  const schemaShown = displayPath(schemaPath, cwd);
  const outShown = displayPath(outDir, cwd);
  const fullOut = resolve(cwd, outDir);
  let written: WriteGeneratedResult;
  let pythonWritten: WriteGeneratedResult | undefined;
  try {
    written = await writeGenerated(fullOut, files, {
      schemaPath: headerSchemaPath(fullOut, schemaPath, cwd),
      check: options.check,
    });
    if (pythonOut !== undefined) {
      const fullPython = resolve(cwd, pythonOut);
      pythonWritten = await writeGenerated(fullPython, pythonFiles, {
        schemaPath: headerSchemaPath(fullPython, schemaPath, cwd),
        check: options.check,
      });
    }
  } catch (err) {
    return failed(err, color, warnings, loaded.source);
  }
  // The lock goes last: it records a schema whose output is already in place.
  const lock = await runLock(schemaPath, lockOptions);

  const pythonShown = pythonOut === undefined ? "" : displayPath(pythonOut, cwd);
  if (options.check) {
    const pythonChanges = pythonWritten?.changes ?? [];
    const stale = written.changes.length > 0 || pythonChanges.length > 0;
    const stdout = stale
      ? ""
      : `ok: ${outShown} is up to date with ${schemaShown} (${count(files.length, "file")})\n${pythonOut === undefined ? "" : `ok: ${pythonShown} is up to date with ${schemaShown} (${count(pythonFiles.length, "file")})\n`}`;
    const stderr = stale
      ? `error: '${outShown}' is out of date with '${schemaShown}'; run 'entdb generate' to update it:\n${[...written.changes, ...pythonChanges.map((c) => ({ ...c, path: `${pythonShown}/${c.path}` }))].map(checkLine).join("")}`
      : "";
    return {
      exitCode: Math.max(stale ? 1 : 0, lock.exitCode) as 0 | 1 | 2,
      stdout: `${stdout}${lock.stdout}`,
      stderr: `${warnings}${stderr}${lock.stderr}`,
    };
  }
  return {
    exitCode: lock.exitCode,
    stdout: `${summaryLine(outShown, schemaShown, written)}${written.changes.map(changeLine).join("")}${pythonWritten === undefined ? "" : `${summaryLine(pythonShown, schemaShown, pythonWritten)}${pythonWritten.changes.map(changeLine).join("")}`}${lock.stdout}`,
    stderr: `${warnings}${lock.stderr}`,
  };
}

/** Options of the `entdb generate` subcommand as commander parses them. */
interface GenerateFlags {
  readonly out?: string;
  readonly check?: boolean;
  readonly watch?: boolean;
  readonly runtimeImport?: string;
  readonly acceptBreaking?: string[];
  readonly python?: string;
}

/** The `entdb generate` subcommand; sets `process.exitCode`. */
export function generateCommand(): Command {
  return new Command("generate")
    .description(
      "Generate the .proto, protobuf-es code, typed client and SQL indexes of a schema, and update its lock file.",
    )
    .argument("[schema]", "schema file (default: entdb.config.json's schema, else schema.entdb)")
    .option("--out <dir>", "output directory (default: entdb.config.json's out, else generated)")
    .option("--check", "write nothing; exit 1 listing every file that is out of date (for CI)")
    .option("--watch", "regenerate whenever the schema file changes; Ctrl-C stops")
    .option(
      "--python <dir>",
      "also write the typed Python client package there (default: entdb.config.json's python)",
    )
    .option(
      "--runtime-import <module>",
      "module client.ts imports the runtime from (default: entdb/runtime/v1)",
    )
    .option(
      "--accept-breaking <rule>",
      "update the lock over this breaking change on purpose (repeatable, or comma-separated)",
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .addHelpText("after", generateHelp)
    .exitOverride((err) => {
      // Usage errors exit 2 like every entdb command; help exits 0.
      process.exit(err.exitCode === 0 ? 0 : 2);
    })
    .action(async (schema: string | undefined, flags: GenerateFlags) => {
      const accept = parseRuleList(flags.acceptBreaking ?? [], "--accept-breaking");
      if (typeof accept === "string") {
        process.stderr.write(`error: ${accept}\n`);
        process.exitCode = 2;
        return;
      }
      const options: GenerateOptions = {
        acceptBreaking: accept,
        ...(flags.out === undefined ? {} : { out: flags.out }),
        ...(flags.runtimeImport === undefined ? {} : { runtimeImport: flags.runtimeImport }),
        ...(flags.python === undefined ? {} : { python: flags.python }),
        check: flags.check === true,
        color: process.stderr.isTTY === true && process.env["NO_COLOR"] === undefined,
      };
      if (flags.watch === true) {
        if (options.check) {
          process.stderr.write("error: --watch and --check cannot be combined.\n");
          process.exitCode = 2;
          return;
        }
        process.exitCode = await watchGenerate(schema, options);
        return;
      }
      const result = await runGenerate(schema, options);
      process.stdout.write(result.stdout);
      process.stderr.write(result.stderr);
      process.exitCode = result.exitCode;
    });
}

/**
 * Generates once, then again after every change of the schema file, until SIGINT or
 * SIGTERM. Errors in the schema are printed and the watch goes on; only a schema path
 * that cannot be resolved at the start ends it (exit 2).
 */
async function watchGenerate(
  schemaArg: string | undefined,
  options: GenerateOptions,
): Promise<0 | 2> {
  const cwd = options.cwd ?? process.cwd();
  let schemaPath: string;
  try {
    schemaPath = await resolveSchemaPath(schemaArg, cwd);
  } catch (err) {
    const result = failed(err, false);
    process.stderr.write(result.stderr);
    return 2;
  }
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  process.stdout.write(`watching ${displayPath(schemaPath, cwd)} (Ctrl-C to stop)\n`);
  try {
    await watchSchema(resolve(cwd, schemaPath), stop.signal, async () => {
      const result = await runGenerate(schemaPath, options);
      process.stdout.write(result.stdout);
      process.stderr.write(result.stderr);
    });
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  return 0;
}

/**
 * The schema as the headers name it: relative to the out dir's parent when it lies
 * below it (the writer's rule), otherwise relative to `cwd`, so the output does not
 * depend on where the repository is checked out.
 */
function headerSchemaPath(fullOut: string, schemaPath: string, cwd: string): string {
  const full = resolve(cwd, schemaPath);
  return isAbsolute(headerSource(fullOut, full)) ? displayPath(schemaPath, cwd) : full;
}

function summaryLine(outShown: string, schemaShown: string, written: WriteGeneratedResult): string {
  const by = (kind: FileChange["kind"]): number =>
    written.changes.filter((c) => c.kind === kind).length;
  const parts = [
    `${by("added")} added`,
    `${by("changed")} changed`,
    `${by("stale")} removed`,
    `${written.unchanged.length} unchanged`,
  ];
  return `wrote '${outShown}' from '${schemaShown}': ${parts.join(", ")}\n`;
}

function changeLine(change: FileChange): string {
  const word = change.kind === "stale" ? "removed" : change.kind;
  return `  ${word.padEnd(8)}${change.path}\n`;
}

function checkLine(change: FileChange): string {
  const word =
    change.kind === "added" ? "missing" : change.kind === "changed" ? "differs" : "stale";
  return `  ${word.padEnd(8)}${change.path}\n`;
}

/**
 * A generator's refusal: its summary line, then each problem, prefixed with the
 * file:line:col of the declaration it is about when the model has its span.
 */
export function codegenErrorText(err: CodegenError, source: SourceFile | undefined): string {
  if (err.details.length === 0) return `error: ${err.message}\n`;
  const index =
    source !== undefined && err.spans.some(Boolean) ? new LineIndex(source.text) : undefined;
  const lines = err.details.map((detail, i) => {
    const span = err.spans[i];
    if (span === undefined || index === undefined || source === undefined) return `  ${detail}\n`;
    const { line, col } = index.lineCol(span.start);
    return `  ${source.path}:${line}:${col}: ${detail}\n`;
  });
  // The summary's first line: the message repeats the problems for API callers.
  return `error: ${err.message.split("\n", 1)[0]}\n${lines.join("")}`;
}

function failed(
  err: unknown,
  color: boolean,
  prefix = "",
  source?: SourceFile | undefined,
): GenerateResult {
  if (err instanceof SchemaLoadError) {
    // A schema with errors prints the compiler's report (it ends with a summary line).
    const stderr =
      err.code === "SCHEMA_INVALID" && err.source !== undefined
        ? formatDiagnostics(err.diagnostics, err.source, "text", color)
        : `error: ${err.message}\n`;
    return { exitCode: 2, stdout: "", stderr: `${prefix}${stderr}` };
  }
  if (err instanceof CodegenError) {
    return { exitCode: 2, stdout: "", stderr: `${prefix}${codegenErrorText(err, source)}` };
  }
  throw err;
}

function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

function generateHelp(): string {
  return `
Outputs (paths inside the out dir):
  <package path>/schema.proto   the schema's enums and the messages all types share
  <package path>/<type>.proto   per node and edge type (snake case, e.g. assigned_to.proto):
                                its message, request/response messages and typed service
  <package path>/schema_pb.js   protobuf-es code for each .proto (JavaScript,
  <package path>/schema_pb.d.ts   with its declarations), likewise <type>_pb.js and .d.ts
  client.ts                     the typed client (imports the runtime, see --runtime-import)
  indexes.sql                   the SQL index DDL of a tenant database
with --python DIR (or "python" in entdb.config.json), also, inside DIR:
  <package>/__init__.py         the typed Python client (docs/python.md)
  <package>/_proto.py           the schema's descriptor and its message classes
and, beside the schema, its lock file <name>.lock.json (as 'entdb lock' writes it), which
'entdb check --against <name>.lock.json' compares with.

Every file is generated in memory first and written all or none; files this schema
generated earlier that are no longer produced are removed; unchanged files are not
touched; the same schema always gives the same bytes. Each written file starts with an
'@generated by entdb' header, and files without one are never overwritten.

entdb.config.json in the current directory may set defaults, so the build step is just
'entdb generate'; flags override it:
  { "schema": "schema.entdb", "out": "generated" }

The lock is the gate of schema evolution: when the schema makes a breaking change
against it (see 'entdb check --help' for the rules), nothing is written and the findings
are printed. Fix the schema, or accept the change on purpose with
--accept-breaking RULE,... (the lock then keeps the ids it dropped as retired, so they
can never be reused).

Exit codes: 0 written or up to date; 1 out of date (--check) or a breaking change
refused; 2 usage error, unreadable file or lock, schema with errors, or failed write.
`;
}
