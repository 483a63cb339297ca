/**
 * Temp dirs under the repo's `.tmp/` (gitignored): generated TypeScript placed there
 * resolves `@bufbuild/protobuf` from the repo's node_modules, as checked-in output does.
 */

import { randomBytes } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";

/** The repository root. */
export const REPO_ROOT = resolve(import.meta.dirname, "../..");

/** A fresh empty directory `.tmp/<label>-<random>` under the repo. */
export function makeRepoTempDir(label: string): string {
  const dir = join(REPO_ROOT, ".tmp", `${label}-${process.pid}-${randomBytes(4).toString("hex")}`);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Removes a directory made by `makeRepoTempDir`. */
export function removeRepoTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
