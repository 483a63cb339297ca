/**
 * What every schema subcommand does first: find the schema file, read it, compile
 * it, and turn failures into one error type the command can print in its format.
 */

import { readFile } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { compileSchema } from "../compile.ts";
import type { Diagnostic } from "../diagnostic.ts";
import type { Schema } from "../model.ts";
import { renderDiagnostics } from "../render-diagnostics.ts";
import { LineIndex, type SourceFile } from "../span.ts";
import { closestName } from "../suggest.ts";

/** The schema file used when none is given and no `entdb.config.json` names one. */
export const DEFAULT_SCHEMA_PATH = "schema.entdb";
/** The optional project file that may name the schema: `{ "schema": "path/to/x.entdb" }`. */
export const CONFIG_FILE = "entdb.config.json";

/** Why a schema (or the file naming it) could not be loaded. */
export type SchemaLoadErrorCode =
  /** The file does not exist or cannot be read. */
  | "SCHEMA_UNREADABLE"
  /** The schema has compile errors; `diagnostics` and `source` say which. */
  | "SCHEMA_INVALID"
  /** `entdb.config.json` is not valid. */
  | "CONFIG_INVALID";

/** A schema that could not be loaded. For `SCHEMA_INVALID` it carries the diagnostics. */
export class SchemaLoadError extends Error {
  override readonly name = "SchemaLoadError";
  readonly code: SchemaLoadErrorCode;
  readonly source?: SourceFile;
  readonly diagnostics: readonly Diagnostic[];

  constructor(
    code: SchemaLoadErrorCode,
    message: string,
    details: {
      readonly source?: SourceFile;
      readonly diagnostics?: readonly Diagnostic[];
      readonly cause?: unknown;
    } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    if (details.source !== undefined) this.source = details.source;
    this.diagnostics = details.diagnostics ?? [];
  }
}

/** A compiled schema with its source (for locating findings) and any warnings. */
export interface LoadedSchema {
  readonly schema: Schema;
  readonly source: SourceFile;
  /** Warnings only: a schema with errors is a {@link SchemaLoadError}. */
  readonly diagnostics: readonly Diagnostic[];
}

/** How diagnostics are printed. `github` prints workflow annotations. */
export type DiagnosticsFormat = "text" | "json" | "github";

/**
 * The schema path a command uses: the argument, else the `schema` named in
 * `entdb.config.json` in `cwd`, else `schema.entdb`.
 */
export async function resolveSchemaPath(arg: string | undefined, cwd: string): Promise<string> {
  if (arg !== undefined) return arg;
  return (await readConfigPath("schema", cwd)) ?? DEFAULT_SCHEMA_PATH;
}

/** The keys `entdb.config.json` may hold: the schema, and the TypeScript and Python out dirs. */
const CONFIG_KEYS: readonly string[] = ["schema", "out", "python"];

/**
 * The path setting `key` of `entdb.config.json` in `cwd`, or `undefined` when there is
 * no config file or it does not name one. Throws `SchemaLoadError` (`CONFIG_INVALID`)
 * for a file that cannot be read, is not a JSON object, or holds a `key` that is not a
 * non-empty string. Layers that own other settings (codegen's `out`) read them here too,
 * so the file is parsed and reported on the same way everywhere.
 */
export async function readConfigPath(key: string, cwd: string): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(resolve(cwd, CONFIG_FILE), "utf8");
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw new SchemaLoadError(
      "CONFIG_INVALID",
      `cannot read '${CONFIG_FILE}': ${errorReason(err)}`,
      {
        cause: err,
      },
    );
  }
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (cause) {
    throw new SchemaLoadError("CONFIG_INVALID", `'${CONFIG_FILE}' is not valid JSON.`, { cause });
  }
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new SchemaLoadError("CONFIG_INVALID", `'${CONFIG_FILE}' must hold a JSON object.`);
  }
  // A misspelt key would be ignored and its default used instead: refuse it.
  for (const name of Object.keys(config)) {
    if (CONFIG_KEYS.includes(name)) continue;
    const near = closestName(name, CONFIG_KEYS);
    throw new SchemaLoadError(
      "CONFIG_INVALID",
      `'${CONFIG_FILE}' has the unknown key "${name}"${near === undefined ? "" : ` (did you mean "${near}"?)`}; its keys are ${CONFIG_KEYS.map((k) => `"${k}"`).join(", ")}.`,
    );
  }
  const value = (config as Record<string, unknown>)[key];
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value === "") {
    throw new SchemaLoadError(
      "CONFIG_INVALID",
      `'${CONFIG_FILE}': "${key}" must be a non-empty string path.`,
    );
  }
  return value;
}

/**
 * How a path is shown: relative to `cwd` with `/` separators when it is inside it
 * (so CI annotations match repository paths), as given otherwise.
 */
export function displayPath(path: string, cwd: string): string {
  const rel = relative(cwd, resolve(cwd, path));
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) return path;
  return rel.split(sep).join("/");
}

/** Reads a text file, mapping failures to `SCHEMA_UNREADABLE`. */
export async function readTextFile(path: string, cwd: string): Promise<string> {
  try {
    return await readFile(resolve(cwd, path), "utf8");
  } catch (err) {
    throw new SchemaLoadError("SCHEMA_UNREADABLE", `cannot read '${path}': ${errorReason(err)}`, {
      cause: err,
    });
  }
}

/** Reads and compiles a schema file; `path` is resolved against `cwd`. */
export async function loadSchemaFile(path: string, cwd: string): Promise<LoadedSchema> {
  const text = await readTextFile(path, cwd);
  return compileSource({ path: displayPath(path, cwd), text });
}

/** Compiles a schema source; throws `SCHEMA_INVALID` with the diagnostics on any error. */
export function compileSource(source: SourceFile): LoadedSchema {
  const { schema, diagnostics } = compileSchema(source);
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (schema === undefined || errors.length > 0) {
    throw new SchemaLoadError(
      "SCHEMA_INVALID",
      `'${source.path}' has ${errors.length === 1 ? "1 error" : `${errors.length} errors`}.`,
      { source, diagnostics },
    );
  }
  return { schema, source, diagnostics };
}

/**
 * Prints diagnostics: `text` and `json` through the compiler's renderer, `github`
 * as workflow annotations (`::error file=…,line=…,col=…,title=E0402::message`).
 */
export function formatDiagnostics(
  diagnostics: readonly Diagnostic[],
  source: SourceFile,
  format: DiagnosticsFormat,
  color = false,
): string {
  if (diagnostics.length === 0) return "";
  if (format !== "github") return renderDiagnostics(diagnostics, source, { format, color });
  const lines = new LineIndex(source.text);
  return diagnostics
    .map((d) => {
      const at = lines.lineCol(d.span.start);
      return `${githubAnnotation(d.severity, { file: source.path, line: at.line, col: at.col, title: d.code }, d.message)}\n`;
    })
    .join("");
}

/** Location and title of a GitHub workflow annotation. */
export interface AnnotationProperties {
  readonly file: string;
  readonly line?: number;
  readonly col?: number;
  readonly title: string;
}

/**
 * One GitHub workflow command line, escaped as the runner expects: `%`, CR and LF
 * everywhere, and also `:` and `,` in property values.
 */
export function githubAnnotation(
  level: "error" | "warning" | "notice",
  props: AnnotationProperties,
  message: string,
): string {
  const escapeData = (s: string): string =>
    s.replaceAll("%", "%25").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
  const escapeProperty = (s: string): string =>
    escapeData(s).replaceAll(":", "%3A").replaceAll(",", "%2C");
  const parts = [`file=${escapeProperty(props.file)}`];
  if (props.line !== undefined) parts.push(`line=${props.line}`);
  if (props.col !== undefined) parts.push(`col=${props.col}`);
  parts.push(`title=${escapeProperty(props.title)}`);
  return `::${level} ${parts.join(",")}::${escapeData(message)}`;
}

/** Whether an error is a missing file. */
export function isNotFound(err: unknown): boolean {
  return err instanceof Error && "code" in err && err.code === "ENOENT";
}

/** A short reason for an I/O error, for messages that already name the file. */
export function errorReason(err: unknown): string {
  if (isNotFound(err)) return "no such file";
  if (err instanceof Error && "code" in err && err.code === "EISDIR") return "is a directory";
  if (err instanceof Error && "code" in err && (err.code === "EACCES" || err.code === "EPERM"))
    return "permission denied";
  return err instanceof Error ? err.message : String(err);
}
