import { readFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { Command } from "commander";
import { schemaFingerprint } from "../fingerprint.ts";
import { lockFromSchema } from "../lock.ts";
import type { Schema } from "../model.ts";
import {
  displayPath,
  errorReason,
  formatDiagnostics,
  isNotFound,
  loadSchemaFile,
  resolveSchemaPath,
  SchemaLoadError,
} from "./load-schema.ts";
import { writeFileAtomic } from "./write-file-atomic.ts";

/** Options of {@link runLock}. */
export interface LockOptions {
  /** Where to write; default: next to the schema, `<name>.lock.json`. */
  readonly out?: string;
  /** Write nothing; exit 1 if the lock is missing or differs. */
  readonly check: boolean;
  /** Directory relative paths are resolved against; defaults to `process.cwd()`. */
  readonly cwd?: string;
  readonly color?: boolean;
  /**
   * The schema, already compiled from the file (by `entdb generate`, which then locks
   * exactly the schema it generated from); the file is read and compiled otherwise.
   */
  readonly schema?: Schema;
}

/** What a run printed and how it ended. */
export interface LockResult {
  readonly exitCode: 0 | 1 | 2;
  readonly stdout: string;
  readonly stderr: string;
}

/** The default lock path for a schema path: `dir/schema.entdb` → `dir/schema.lock.json`. */
export function defaultLockPath(schemaPath: string): string {
  const name = basename(schemaPath).replace(/\.entdb$/, "");
  return join(dirname(schemaPath), `${name}.lock.json`);
}

/** Runs `entdb lock` and returns what it printed; never exits the process. */
export async function runLock(
  schemaArg: string | undefined,
  options: LockOptions,
): Promise<LockResult> {
  const cwd = options.cwd ?? process.cwd();
  let schemaPath: string;
  let text: string;
  let fingerprint: string;
  try {
    schemaPath = await resolveSchemaPath(schemaArg, cwd);
    const schema = options.schema ?? (await loadSchemaFile(schemaPath, cwd)).schema;
    text = lockFromSchema(schema);
    fingerprint = schemaFingerprint(schema);
  } catch (err) {
    if (err instanceof SchemaLoadError) {
      // A schema with errors prints the compiler's report (it ends with a summary line).
      const stderr =
        err.code === "SCHEMA_INVALID" && err.source !== undefined
          ? formatDiagnostics(err.diagnostics, err.source, "text", options.color === true)
          : `error: ${err.message}\n`;
      return { exitCode: 2, stdout: "", stderr };
    }
    throw err;
  }

  const outPath = options.out ?? defaultLockPath(schemaPath);
  const shown = displayPath(outPath, cwd);
  const full = resolve(cwd, outPath);
  let existing: string | undefined;
  try {
    existing = await readFile(full, "utf8");
  } catch (err) {
    if (!isNotFound(err)) {
      return failure(2, `cannot read '${shown}': ${errorReason(err)}`);
    }
  }

  const schemaShown = displayPath(schemaPath, cwd);
  if (options.check) {
    if (existing === undefined) {
      return failure(1, `'${shown}' does not exist; run 'entdb lock ${schemaShown}' to create it.`);
    }
    if (existing !== text) {
      return failure(
        1,
        `'${shown}' is out of date with '${schemaShown}'; run 'entdb lock ${schemaShown}' to update it.`,
      );
    }
    return { exitCode: 0, stdout: `ok: ${shown} is up to date (${fingerprint})\n`, stderr: "" };
  }
  if (existing === text) {
    return { exitCode: 0, stdout: `ok: ${shown} is up to date (${fingerprint})\n`, stderr: "" };
  }
  try {
    await writeFileAtomic(full, text);
  } catch (err) {
    return failure(2, `cannot write '${shown}': ${errorReason(err)}`);
  }
  return { exitCode: 0, stdout: `wrote ${shown} (${fingerprint})\n`, stderr: "" };
}

/** The `entdb lock` subcommand; sets `process.exitCode`. */
export function lockCommand(): Command {
  return new Command("lock")
    .description("Write the schema's lock file (canonical form and fingerprint).")
    .argument("[schema]", "schema file (default: entdb.config.json's schema, else schema.entdb)")
    .option("--out <file>", "where to write the lock (default: <schema name>.lock.json beside it)")
    .option("--check", "write nothing; exit 1 if the lock file is missing or out of date")
    .exitOverride((err) => {
      // Usage errors exit 2 like every entdb command; help exits 0.
      process.exit(err.exitCode === 0 ? 0 : 2);
    })
    .action(async (schema: string | undefined, opts: { out?: string; check?: boolean }) => {
      const result = await runLock(schema, {
        ...(opts.out === undefined ? {} : { out: opts.out }),
        check: opts.check === true,
        color: process.stderr.isTTY === true && process.env["NO_COLOR"] === undefined,
      });
      process.stdout.write(result.stdout);
      process.stderr.write(result.stderr);
      process.exitCode = result.exitCode;
    });
}

function failure(exitCode: 1 | 2, message: string): LockResult {
  return { exitCode, stdout: "", stderr: `error: ${message}\n` };
}
