import { readFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { Command } from "commander";
import { type CompatRuleId, checkCompat, hasBreaking } from "../compat/index.ts";
import { schemaFingerprint } from "../fingerprint.ts";
import { LockFileError, lockFromSchema, modelFromLock } from "../lock.ts";
import { withTombstones } from "../lock-tombstones.ts";
import type { Schema } from "../model.ts";
import { parseRuleList } from "./check-command.ts";
import { renderCheckReport } from "./check-report.ts";
import {
  displayPath,
  errorReason,
  formatDiagnostics,
  isNotFound,
  type LoadedSchema,
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
  readonly loaded?: LoadedSchema;
  /**
   * Breaking rules the caller accepts on purpose (`--accept-breaking`). Any other
   * breaking change against the existing lock is refused and the lock left as it is.
   */
  readonly acceptBreaking?: ReadonlySet<CompatRuleId>;
}

/** What a run printed and how it ended. */
export interface LockResult {
  readonly exitCode: 0 | 1 | 2;
  readonly stdout: string;
  readonly stderr: string;
}

/** A lock ready to write: its text, and what is there now. */
export interface PreparedLock {
  readonly text: string;
  readonly fingerprint: string;
  /** The lock path as given (for messages) and resolved. */
  readonly shown: string;
  readonly full: string;
  readonly schemaShown: string;
  /** The lock file's text before this run, if there was one. */
  readonly existing: string | undefined;
}

/** The default lock path for a schema path: `dir/schema.entdb` → `dir/schema.lock.json`. */
export function defaultLockPath(schemaPath: string): string {
  const name = basename(schemaPath).replace(/\.entdb$/, "");
  return join(dirname(schemaPath), `${name}.lock.json`);
}

/**
 * Works out the new lock of `schemaArg` without writing it. Against an existing lock it
 * is also the gate: a breaking change that is not accepted is refused (exit 1, the
 * findings printed), and the new lock inherits the old one's tombstones plus every id
 * the schema stopped using without reserving it (`lock-tombstones.ts`). `entdb generate`
 * calls this before writing anything, so a refused change leaves every file as it was.
 */
export async function prepareLock(
  schemaArg: string | undefined,
  options: LockOptions,
): Promise<PreparedLock | LockResult> {
  const cwd = options.cwd ?? process.cwd();
  const color = options.color === true;
  let schemaPath: string;
  let loaded: LoadedSchema;
  try {
    schemaPath = await resolveSchemaPath(schemaArg, cwd);
    loaded = options.loaded ?? (await loadSchemaFile(schemaPath, cwd));
  } catch (err) {
    if (err instanceof SchemaLoadError) {
      // A schema with errors prints the compiler's report (it ends with a summary line).
      const stderr =
        err.code === "SCHEMA_INVALID" && err.source !== undefined
          ? formatDiagnostics(err.diagnostics, err.source, "text", color)
          : `error: ${err.message}\n`;
      return { exitCode: 2, stdout: "", stderr };
    }
    throw err;
  }

  const outPath = options.out ?? defaultLockPath(schemaPath);
  const shown = displayPath(outPath, cwd);
  const full = resolve(cwd, outPath);
  const schemaShown = displayPath(schemaPath, cwd);
  let existing: string | undefined;
  try {
    existing = await readFile(full, "utf8");
  } catch (err) {
    if (!isNotFound(err)) {
      return failure(2, `cannot read '${shown}': ${errorReason(err)}`);
    }
  }

  let locked = loaded.schema;
  if (existing !== undefined) {
    let previous: Schema;
    try {
      previous = modelFromLock(existing, shown);
    } catch (err) {
      if (!(err instanceof LockFileError)) throw err;
      return failure(
        2,
        `${err.message} The lock is the record that ids are checked against; restore it from version control, or delete it to start a new record (the ids it remembers are then forgotten).`,
      );
    }
    if (!options.check) {
      const accepted = options.acceptBreaking ?? new Set<CompatRuleId>();
      const findings = checkCompat(previous, loaded.schema);
      if (hasBreaking(findings, accepted)) {
        const report = renderCheckReport(
          { findings, allowed: accepted, source: loaded.source, against: shown },
          "text",
        );
        const rules = [
          ...new Set(
            findings
              .filter((f) => f.category === "breaking" && !accepted.has(f.rule))
              .map((f) => f.rule),
          ),
        ];
        return {
          exitCode: 1,
          stdout: "",
          stderr: `${report}error: nothing was written: the lock refuses breaking changes. Fix the schema as the findings say, or, if every deployed client and stored row can take the change, accept it on purpose with --accept-breaking ${rules.join(",")}.\n`,
        };
      }
    }
    locked = withTombstones(loaded.schema, previous);
  }
  return {
    text: lockFromSchema(locked),
    fingerprint: schemaFingerprint(locked),
    shown,
    full,
    schemaShown,
    existing,
  };
}

/** Runs `entdb lock` and returns what it printed; never exits the process. */
export async function runLock(
  schemaArg: string | undefined,
  options: LockOptions,
): Promise<LockResult> {
  const prepared = await prepareLock(schemaArg, options);
  if ("exitCode" in prepared) return prepared;
  const { text, fingerprint, shown, full, schemaShown, existing } = prepared;
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
    .option(
      "--accept-breaking <rule>",
      "rewrite the lock over this breaking change on purpose (repeatable, or comma-separated)",
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .exitOverride((err) => {
      // Usage errors exit 2 like every entdb command; help exits 0.
      process.exit(err.exitCode === 0 ? 0 : 2);
    })
    .action(
      async (
        schema: string | undefined,
        opts: { out?: string; check?: boolean; acceptBreaking?: string[] },
      ) => {
        const accept = parseRuleList(opts.acceptBreaking ?? [], "--accept-breaking");
        if (typeof accept === "string") {
          process.stderr.write(`error: ${accept}\n`);
          process.exitCode = 2;
          return;
        }
        const result = await runLock(schema, {
          ...(opts.out === undefined ? {} : { out: opts.out }),
          acceptBreaking: accept,
          check: opts.check === true,
          color: process.stderr.isTTY === true && process.env["NO_COLOR"] === undefined,
        });
        process.stdout.write(result.stdout);
        process.stderr.write(result.stderr);
        process.exitCode = result.exitCode;
      },
    );
}

function failure(exitCode: 1 | 2, message: string): LockResult {
  return { exitCode, stdout: "", stderr: `error: ${message}\n` };
}
