/**
 * The emitter `client.ts` is printed with, in the style of protobuf-es's
 * `GeneratedFile`: declarations are printed line by line from the model with `print`,
 * which takes strings and runtime symbols; `block` and `indented` own the indentation;
 * the file tracks which runtime symbols were printed and writes the import they need
 * above the code, so no generator ever builds an import statement.
 *
 * The format is ours and documented by the snapshot tests (tests/client/expected):
 * two-space indentation, `\n` line breaks, one declaration per paragraph, a JSDoc on one
 * line when its text is one line.
 */

import { CodegenError } from "../codegen-error.ts";

/** A name exported by the runtime; printed as `<namespace>.<name>`. */
export interface RuntimeSymbol {
  readonly kind: "runtime";
  readonly name: string;
}

/**
 * What `print` takes: text, a number, a runtime symbol, or a list of those (printed one
 * after another, so type expressions can be built as lists without joining strings).
 */
export type Printable = string | number | RuntimeSymbol | readonly Printable[];

/** The runtime export `name`, for `print`. */
export function runtimeSymbol(name: string): RuntimeSymbol {
  return { kind: "runtime", name };
}

/** Where `GeneratedFile` imports runtime symbols from, and as which namespace. */
export interface RuntimeImport {
  /** The namespace runtime symbols are printed under (`entdb`). */
  readonly namespace: string;
  /** The module specifier (`entdb/runtime/v1`). */
  readonly from: string;
}

const INDENT = "  ";

/** One generated TypeScript file, printed top to bottom. */
export class GeneratedFile {
  readonly #preamble: string;
  readonly #runtime: RuntimeImport;
  readonly #lines: string[] = [];
  #indent = "";
  #usesRuntime = false;

  /** `preamble` goes first, verbatim (a summary comment), then the imports, then the code. */
  constructor(preamble: string, runtime: RuntimeImport) {
    this.#preamble = preamble;
    this.#runtime = runtime;
  }

  /**
   * Prints one line at the current indentation. With nothing to print, an empty line
   * that separates paragraphs: none at the start of the code, never two in a row. A
   * line break inside the parts would escape the indentation, so it is refused.
   */
  print(...parts: Printable[]): void {
    let text = "";
    for (const part of parts) text += this.#part(part);
    if (/[\r\n\u2028\u2029]/.test(text)) {
      throw new CodegenError(
        "generator-failed",
        `A printed line must not hold a line break: ${JSON.stringify(text)}.`,
      );
    }
    if (text !== "") {
      this.#lines.push(this.#indent + text);
    } else if (this.#lines.length > 0 && this.#lines[this.#lines.length - 1] !== "") {
      this.#lines.push("");
    }
  }

  /** Prints what `body` prints one level deeper. */
  indented(body: () => void): void {
    const outer = this.#indent;
    this.#indent += INDENT;
    try {
      body();
    } finally {
      this.#indent = outer;
    }
  }

  /** Prints `head {`, the body one level deeper, then `}` followed by `tail`. */
  block(head: readonly Printable[], body: () => void, tail = ""): void {
    this.print(...head, "{");
    this.indented(body);
    this.print("}", tail);
  }

  /**
   * Prints a JSDoc comment from doc text (and `@deprecated`): on one line when that
   * makes one line, else one ` * ` line per line. Trailing white space of each line and
   * empty lines at either end of the text are dropped; a `*\/` in the text is escaped
   * so it cannot end the comment early. Nothing when there is no text left and the
   * declaration is not deprecated.
   */
  doc(text: string | undefined, deprecated = false): void {
    const lines = (text ?? "")
      .replaceAll("*/", "*\\/")
      .split(/\r\n|[\r\n\u2028\u2029]/)
      .map((line) => line.trimEnd());
    while (lines[0] === "") lines.shift();
    while (lines[lines.length - 1] === "") lines.pop();
    if (deprecated) lines.push("@deprecated");
    if (lines.length === 0) return;
    if (lines.length === 1) {
      this.print("/** ", lines[0] ?? "", " */");
      return;
    }
    this.print("/**");
    for (const line of lines) this.print(line === "" ? " *" : ` * ${line}`);
    this.print(" */");
  }

  /** The whole file: the preamble, the import of the runtime when used, and the code. */
  toString(): string {
    const imports = this.#usesRuntime
      ? `import * as ${this.#runtime.namespace} from ${JSON.stringify(this.#runtime.from)};\n\n`
      : "";
    const code = this.#lines.join("\n");
    return `${this.#preamble}${imports}${code}${code === "" ? "" : "\n"}`;
  }

  #part(part: Printable): string {
    if (typeof part === "string") return part;
    if (typeof part === "number") {
      if (!Number.isSafeInteger(part)) {
        throw new CodegenError("generator-failed", `Cannot print the number ${part} exactly.`);
      }
      return String(part);
    }
    if (isRuntimeSymbol(part)) {
      this.#usesRuntime = true;
      return `${this.#runtime.namespace}.${part.name}`;
    }
    let out = "";
    for (const p of part) out += this.#part(p);
    return out;
  }
}

function isRuntimeSymbol(part: RuntimeSymbol | readonly Printable[]): part is RuntimeSymbol {
  return !Array.isArray(part);
}
