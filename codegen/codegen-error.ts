/**
 * The one error class of the code generators and the output writer. A schema that
 * compiled cleanly can still be impossible to generate (a type named like a generated
 * message), and writing can fail half-way; both surface here with a code the CLI can
 * turn into an exit status and a message that says what to change.
 */

import type { Span } from "../schema/index.ts";

/**
 * What went wrong:
 * - `name-collision`: a schema name clashes with a name the generator derives or adds;
 * - `generator-failed`: a code generator library rejected the descriptor (a bug, not bad input);
 * - `unsafe-path`: a generated file path is absolute, escapes the out dir, or repeats;
 * - `unsupported-file`: the writer does not know how to stamp a header on this file type;
 * - `not-generated`: the writer would overwrite a file that it did not generate;
 * - `write-failed`: the file system refused a write; the previous output is left as it was.
 */
export type CodegenErrorCode =
  | "name-collision"
  | "generator-failed"
  | "unsafe-path"
  | "unsupported-file"
  | "not-generated"
  | "write-failed";

/**
 * Raised by codegen and the writer. `details` lists each problem when there are several;
 * `spans[i]`, when set, is where in the schema source the declaration behind `details[i]`
 * is (a model compiled from source has spans; one read from a lock file has none), so
 * the CLI can name its file:line:col.
 */
export class CodegenError extends Error {
  override readonly name = "CodegenError";
  readonly code: CodegenErrorCode;
  readonly details: readonly string[];
  readonly spans: readonly (Span | undefined)[];

  constructor(
    code: CodegenErrorCode,
    message: string,
    options?: { cause?: unknown; details?: readonly CodegenProblem[] },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    const details = options?.details ?? [];
    this.details = details.map((d) => (typeof d === "string" ? d : d.message));
    this.spans = details.map((d) => (typeof d === "string" ? undefined : d.span));
  }
}

/** One problem of a {@link CodegenError}: its text, and the declaration it is about if known. */
export type CodegenProblem =
  | string
  | { readonly message: string; readonly span?: Span | undefined };
