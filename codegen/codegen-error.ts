/**
 * The one error class of the code generators and the output writer. A schema that
 * compiled cleanly can still be impossible to generate (a type named like a generated
 * message), and writing can fail half-way; both surface here with a code the CLI can
 * turn into an exit status and a message that says what to change.
 */

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

/** Raised by codegen and the writer. `details` lists each problem when there are several. */
export class CodegenError extends Error {
  override readonly name = "CodegenError";
  readonly code: CodegenErrorCode;
  readonly details: readonly string[];

  constructor(
    code: CodegenErrorCode,
    message: string,
    options?: { cause?: unknown; details?: readonly string[] },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details ?? [];
  }
}
