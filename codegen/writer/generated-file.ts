/**
 * A generated file in memory: what every generator returns and the writer writes.
 * Generators never touch the disk; paths are checked here so a bad one is caught
 * before anything is written.
 */

import { posix } from "node:path";
import { CodegenError } from "../codegen-error.ts";

/** One output file. */
export interface GeneratedFile {
  /** Relative to the out dir, `/`-separated, normalized, never leaving the out dir. */
  readonly path: string;
  /** The content, without the `@generated` header (the writer adds it). */
  readonly content: string;
}

/** A generated file; throws `unsafe-path` unless `path` stays inside the out dir. */
export function createGeneratedFile(path: string, content: string): GeneratedFile {
  assertSafePath(path);
  return { path, content };
}

/**
 * Throws a `CodegenError` (`unsafe-path`) when `path` is empty, absolute, uses `\`,
 * is not normalized, or climbs out of the out dir with `..`.
 */
export function assertSafePath(path: string): void {
  const problem =
    path === ""
      ? "it is empty"
      : path.startsWith("/") || /^[A-Za-z]:/.test(path)
        ? "it is absolute"
        : path.includes("\\")
          ? "it contains '\\'; use '/'"
          : path.split("/").some((part) => part === "..")
            ? "it leaves the out dir"
            : posix.normalize(path) !== path || path.endsWith("/")
              ? "it is not a normalized file path"
              : undefined;
  if (problem !== undefined) {
    throw new CodegenError("unsafe-path", `Generated file path '${path}' is refused: ${problem}.`);
  }
}
