/**
 * `entdb check [schema] [--against <lock | schema | git:REF:PATH | URL>] [--format …] [--allow RULE]`:
 * compiles the schema and, with `--against`, compares it with a baseline (the committed
 * lock file, another schema file, a file at a git revision, or the schema a running
 * server serves, read with `--token` / `ENTDB_TOKEN`).
 *
 * Exit codes: 0 compatible (or compiles, without `--against`); 1 a breaking change
 * that is not allowed; 2 a usage error, an unreadable file, a bad baseline (a server
 * that cannot be reached or refuses the token included) or a schema with errors.
 */

import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { Command, Option } from "commander";
import {
  COMPAT_RULE_IDS,
  COMPAT_RULES,
  type CompatRuleId,
  checkCompat,
  hasBreaking,
  isCompatRuleId,
} from "../compat/index.ts";
import { LockFileError, modelFromLock } from "../lock.ts";
import type { Schema } from "../model.ts";
import { CHECK_FORMATS, type CheckFormat, renderCheckReport } from "./check-report.ts";
import {
  compileSource,
  displayPath,
  formatDiagnostics,
  loadSchemaFile,
  readTextFile,
  resolveSchemaPath,
  SchemaLoadError,
} from "./load-schema.ts";
import { fetchServedSchema, isServerUrl, ServerBaselineError } from "./server-baseline.ts";

/** Options of {@link runCheck}, as parsed from the command line. */
export interface CheckOptions {
  readonly against?: string;
  readonly format: CheckFormat;
  /** Rule ids whose breaking findings do not fail the check (comma lists allowed). */
  readonly allow: readonly string[];
  /**
   * Directory relative paths resolve against; defaults to `process.cwd()`. A `git:`
   * baseline is read in the schema file's directory instead (the repository that holds it).
   */
  readonly cwd?: string;
  /** Colour diagnostics (text format only). */
  readonly color?: boolean;
  /** Bearer token for an `--against` server URL. */
  readonly token?: string;
}

/** What a run printed and how it ended. */
export interface CheckResult {
  readonly exitCode: 0 | 1 | 2;
  readonly stdout: string;
  readonly stderr: string;
}

/** A baseline that cannot be used: unreadable, a bad lock, a git failure. */
export class BaselineError extends Error {
  override readonly name = "BaselineError";
  readonly code: "BASELINE_INVALID_SPEC" | "BASELINE_GIT_FAILED" | "BASELINE_LOCK_INVALID";

  constructor(code: BaselineError["code"], message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Runs `entdb check` and returns what it printed; never exits the process. */
export async function runCheck(
  schemaArg: string | undefined,
  options: CheckOptions,
): Promise<CheckResult> {
  const cwd = options.cwd ?? process.cwd();
  const format = options.format;
  const color = format === "text" && options.color === true;

  const allowed = parseRuleList(options.allow, "--allow");
  if (typeof allowed === "string") return usageError(allowed);

  try {
    const schemaPath = await resolveSchemaPath(schemaArg, cwd);
    const current = await loadSchemaFile(schemaPath, cwd);
    // Warnings never change the exit code: annotations for GitHub, text on stderr otherwise.
    const warnings = formatDiagnostics(
      current.diagnostics,
      current.source,
      format === "github" ? "github" : "text",
      color,
    );
    const [warnOut, warnErr] = format === "github" ? [warnings, ""] : ["", warnings];
    const file = current.source.path;
    if (options.against === undefined) {
      const { nodes, edges, enums } = current.schema;
      const summary = `${count(nodes.length, "node")}, ${count(edges.length, "edge")}, ${count(enums.length, "enum")}`;
      if (format === "json") {
        const json = {
          ok: true,
          schema: file,
          nodes: nodes.length,
          edges: edges.length,
          enums: enums.length,
          findings: [],
        };
        return { exitCode: 0, stdout: `${JSON.stringify(json, null, 2)}\n`, stderr: warnErr };
      }
      return {
        exitCode: 0,
        stdout: `${warnOut}ok: ${file} compiles (${summary})\n`,
        stderr: warnErr,
      };
    }
    const { schema: baseline, label } = await loadBaseline(options.against, {
      cwd,
      gitDir: dirname(resolve(cwd, schemaPath)),
      token: options.token,
    });
    const findings = checkCompat(baseline, current.schema);
    const report = renderCheckReport(
      { findings, allowed, source: current.source, against: label },
      format,
    );
    return {
      exitCode: hasBreaking(findings, allowed) ? 1 : 0,
      stdout: `${warnOut}${report}`,
      stderr: warnErr,
    };
  } catch (err) {
    if (err instanceof SchemaLoadError && err.code === "SCHEMA_INVALID" && err.source) {
      const rendered = formatDiagnostics(err.diagnostics, err.source, format, color);
      // Machine formats are the command's output; for people the errors go to stderr
      // (the text rendering ends with its own summary line).
      if (format === "text") return { exitCode: 2, stdout: "", stderr: rendered };
      const stdout =
        format === "json"
          ? `${JSON.stringify({ ok: false, file: err.source.path, diagnostics: JSON.parse(rendered) as unknown, findings: [] }, null, 2)}\n`
          : rendered;
      return { exitCode: 2, stdout, stderr: `error: ${err.message}\n` };
    }
    if (
      err instanceof SchemaLoadError ||
      err instanceof BaselineError ||
      err instanceof ServerBaselineError
    ) {
      return usageError(err.message);
    }
    throw err;
  }
}

/** The `entdb check` subcommand; sets `process.exitCode`. */
export function checkCommand(): Command {
  return new Command("check")
    .description(
      "Compile a schema and, with --against, check that it is compatible with a baseline.",
    )
    .argument("[schema]", "schema file (default: entdb.config.json's schema, else schema.entdb)")
    .option(
      "--against <baseline>",
      "lock file (*.json), schema file, git:REF:PATH, or a server's http(s)://HOST:PORT to compare with",
    )
    .option("--token <token>", "bearer token for a server baseline (env ENTDB_TOKEN)")
    .addOption(
      new Option("--format <format>", "output format").choices(CHECK_FORMATS).default("text"),
    )
    .option(
      "--allow <rule>",
      "report this breaking rule but do not fail on it (repeatable, or comma-separated)",
      (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
    )
    .addHelpText("after", rulesHelp)
    .exitOverride((err) => {
      // Usage errors exit 2 like every entdb command; help exits 0.
      process.exit(err.exitCode === 0 ? 0 : 2);
    })
    .action(
      async (
        schema: string | undefined,
        opts: { against?: string; format: CheckFormat; allow?: string[]; token?: string },
      ) => {
        const token = opts.token ?? process.env["ENTDB_TOKEN"];
        const result = await runCheck(schema, {
          ...(opts.against === undefined ? {} : { against: opts.against }),
          ...(token ? { token } : {}),
          format: opts.format,
          allow: opts.allow ?? [],
          color: process.stderr.isTTY === true && process.env["NO_COLOR"] === undefined,
        });
        process.stdout.write(result.stdout);
        process.stderr.write(result.stderr);
        process.exitCode = result.exitCode;
      },
    );
}

/**
 * Loads the baseline and the name the report gives it: an `http(s)://` URL is the
 * schema that server serves (GetSchema); `git:REF:PATH` is read with `git show` in
 * `gitDir` (the schema file's directory, so the repository that holds the schema answers
 * wherever the command runs); a `.json` path is a lock file; anything else is a schema
 * file. A baseline with compile errors throws `SCHEMA_INVALID` like the schema itself.
 */
async function loadBaseline(
  spec: string,
  where: { readonly cwd: string; readonly gitDir: string; readonly token: string | undefined },
): Promise<{ readonly schema: Schema; readonly label: string }> {
  const { cwd, token } = where;
  if (isServerUrl(spec)) {
    const served = await fetchServedSchema(spec, token === undefined ? {} : { token });
    const label = `${spec} (schema version ${served.version})`;
    return { schema: fromText(served.lockJson, label, true), label };
  }
  return { schema: await loadFileBaseline(spec, cwd, where.gitDir), label: spec };
}

/** A server address written without its scheme (`localhost:50051`, `10.0.0.5:50051/`). */
const HOST_PORT = /^[A-Za-z0-9.-]+:\d{1,5}\/?$/;

async function loadFileBaseline(spec: string, cwd: string, gitDir: string): Promise<Schema> {
  if (spec.startsWith("git:")) {
    const rest = spec.slice("git:".length);
    // Ref names cannot contain ':', so the first one ends the ref.
    const colon = rest.indexOf(":");
    const ref = colon < 0 ? "" : rest.slice(0, colon);
    const path = colon < 0 ? "" : rest.slice(colon + 1);
    if (ref === "" || path === "") {
      throw new BaselineError(
        "BASELINE_INVALID_SPEC",
        `--against '${spec}' must be git:REF:PATH, e.g. git:origin/main:schema.entdb.`,
      );
    }
    const text = await gitShow(ref, path, gitDir);
    return fromText(text, `${ref}:${path}`, path.endsWith(".json"));
  }
  if (HOST_PORT.test(spec) && !existsSync(resolve(cwd, spec))) {
    throw new BaselineError(
      "BASELINE_INVALID_SPEC",
      `--against '${spec}' is no file; a server baseline needs its scheme: http://${spec} (or https://).`,
    );
  }
  const text = await readTextFile(spec, cwd);
  return fromText(text, displayPath(spec, cwd), spec.endsWith(".json"));
}

function fromText(text: string, path: string, isLock: boolean): Schema {
  if (!isLock) return compileSource({ path, text }).schema;
  try {
    return modelFromLock(text, path);
  } catch (err) {
    if (err instanceof LockFileError) {
      throw new BaselineError("BASELINE_LOCK_INVALID", err.message, { cause: err });
    }
    throw err;
  }
}

/**
 * `git -C DIR show REF:PATH`; the error names the command as run (with its directory)
 * and git's own message.
 */
function gitShow(ref: string, path: string, dir: string): Promise<string> {
  return new Promise((done, reject) => {
    execFile(
      "git",
      ["-C", dir, "show", `${ref}:${path}`],
      { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err === null) {
          done(stdout);
          return;
        }
        const reason =
          "code" in err && err.code === "ENOENT"
            ? "git is not installed or not on PATH"
            : (stderr.trim().split("\n")[0] ?? "").trim() || err.message;
        reject(
          new BaselineError(
            "BASELINE_GIT_FAILED",
            `cannot read git:${ref}:${path}: 'git -C ${dir} show ${ref}:${path}' failed: ${reason}`,
            { cause: err },
          ),
        );
      },
    );
  });
}

/** The rule catalog for `--help`, so `--allow` values can be looked up: breaking rules first. */
function rulesHelp(): string {
  const width = Math.max(...COMPAT_RULE_IDS.map((id) => id.length));
  const ids = [
    ...COMPAT_RULE_IDS.filter((id) => COMPAT_RULES[id].category === "breaking"),
    ...COMPAT_RULE_IDS.filter((id) => COMPAT_RULES[id].category !== "breaking"),
  ];
  const rows = ids.map(
    (id) =>
      `  ${id.padEnd(width)}  ${COMPAT_RULES[id].category.padEnd(8)}  ${COMPAT_RULES[id].summary}`,
  );
  return `\nRules:\n${rows.join("\n")}\n`;
}

function usageError(message: string): CheckResult {
  return { exitCode: 2, stdout: "", stderr: `error: ${message}\n` };
}

/**
 * Rule ids from a repeatable, comma-separated flag (`--allow`, `--accept-breaking`), or
 * the message for the first unknown one.
 */
export function parseRuleList(values: readonly string[], flag: string): Set<CompatRuleId> | string {
  const rules = new Set<CompatRuleId>();
  for (const name of values.flatMap((a) => a.split(",")).map((a) => a.trim())) {
    if (name === "") continue;
    if (!isCompatRuleId(name)) return unknownRuleMessage(name, flag);
    rules.add(name);
  }
  return rules;
}

function unknownRuleMessage(name: string, flag: string): string {
  const upper = name.toUpperCase();
  const suggestion = COMPAT_RULE_IDS.map((id) => ({ id, d: editDistance(upper, id) }))
    .filter((c) => c.d <= Math.max(2, Math.floor(name.length / 4)))
    .sort((a, b) => a.d - b.d)[0];
  const hint = suggestion === undefined ? "" : ` Did you mean '${suggestion.id}'?`;
  return `unknown rule '${name}' in ${flag}.${hint} Run 'entdb check --help' for the list of rules.`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + cost));
    }
    prev = row;
  }
  return prev[b.length]!;
}

function count(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
