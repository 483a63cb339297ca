/**
 * The schema compiler's entry point: source text in, model and diagnostics out
 * (lex → parse → validate → model). Every command that reads a schema goes
 * through {@link compileSchema}.
 */

import type { SchemaFile } from "./ast.ts";
import { buildModel } from "./build-model.ts";
import type { Diagnostic } from "./diagnostic.ts";
import type { Schema } from "./model.ts";
import { parseSchemaDetailed } from "./parser.ts";
import { LineIndex, type SourceFile } from "./span.ts";

/** The outcome of compiling one schema source. */
export interface CompileResult {
  /** The model; present exactly when there is no error-severity diagnostic. */
  readonly schema?: Schema;
  /** The syntax tree, possibly partial when there were syntax errors. */
  readonly ast: SchemaFile;
  /** Every problem found, errors and warnings, sorted by position. */
  readonly diagnostics: readonly Diagnostic[];
}

/** Compiles a schema source; never throws, whatever the input. */
export function compileSchema(source: SourceFile): CompileResult {
  const parsed = parseSchemaDetailed(source);
  let lineIndex: LineIndex | undefined;
  const line = (offset: number): number => {
    lineIndex ??= new LineIndex(source.text);
    return lineIndex.lineCol(offset).line;
  };
  const diagnostics = parsed.diagnostics;
  const schema = buildModel({
    ast: parsed.ast,
    recovery: parsed.recovery,
    sourcePath: source.path,
    line,
    diagnostics,
  });
  // Stable, so problems at one position keep the order they were found in.
  diagnostics.sort((a, b) => a.span.start - b.span.start);
  return schema === undefined
    ? { ast: parsed.ast, diagnostics }
    : { schema, ast: parsed.ast, diagnostics };
}
