/**
 * Whether a directory can hold an archive, checked before anything is written: at
 * `entdb serve`'s start (a usage error, exit 2) and when a directory store is made.
 */

import { accessSync, constants, statSync } from "node:fs";
import { dirname } from "node:path";
import { ArchiveError } from "./archive-error.ts";
import type { DirArchiveLocation } from "./archive-location.ts";

/**
 * Checks that `location`'s directory can hold an archive, without changing anything: it
 * is a writable directory, or it does not exist and its parent is a writable directory
 * (`entdb serve` then makes it). Throws `ArchiveError` "invalid" naming the path.
 */
export function checkArchiveDir(location: DirArchiveLocation): void {
  const root = location.root;
  const kind = kindOf(root);
  if (kind === "directory") {
    writable(root, `The archive directory ${root}`);
    return;
  }
  if (kind !== "missing")
    throw new ArchiveError(
      "invalid",
      `The archive directory ${root} is a ${kind}, not a directory; give --archive a directory (it is made if missing).`,
    );
  const parent = dirname(root);
  const parentKind = kindOf(parent);
  if (parentKind !== "directory")
    throw new ArchiveError(
      "invalid",
      `The archive directory ${root} cannot be made: its parent ${parent} ${parentKind === "missing" ? "does not exist" : `is a ${parentKind}`}. Create the parent (mount the disk) first.`,
    );
  writable(parent, `The archive directory ${root} cannot be made: its parent ${parent}`);
}

function kindOf(path: string): "missing" | "directory" | "file" | "special file" {
  try {
    const s = statSync(path);
    return s.isDirectory() ? "directory" : s.isFile() ? "file" : "special file";
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ENOTDIR: a parent is a file, which the parent's own check names.
    if (code === "ENOENT" || code === "ENOTDIR") return "missing";
    throw new ArchiveError(
      "invalid",
      `Cannot use ${path} for the archive: ${describeFsError(error)}.`,
      {
        cause: error,
      },
    );
  }
}

function writable(path: string, what: string): void {
  try {
    accessSync(path, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new ArchiveError("invalid", `${what} is not writable: ${describeFsError(error)}.`, {
      cause: error,
    });
  }
}

/** `CODE: message` of a file-system error. */
export function describeFsError(error: unknown): string {
  const e = error as NodeJS.ErrnoException;
  if (e instanceof Error && typeof e.code === "string")
    return `${e.code} (${e.message.replace(/^[A-Z]+: /, "").replace(/, \w+ '.*'$/, "")})`;
  return error instanceof Error ? error.message : String(error);
}
