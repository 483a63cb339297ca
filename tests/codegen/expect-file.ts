/**
 * Golden-file assertions: compares text with a file under `tests/codegen/expected/`,
 * or rewrites the file when the run has `UPDATE_EXPECT=1`.
 */

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { expect } from "vitest";

const EXPECTED_DIR = join(import.meta.dirname, "expected");

/** Asserts `actual` equals `expected/<name>` byte for byte (or rewrites it). */
export function expectMatchesFile(name: string, actual: string): void {
  const path = join(EXPECTED_DIR, name);
  if (process.env["UPDATE_EXPECT"] === "1") {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  if (!existsSync(path)) {
    throw new Error(`Missing expected file ${path}; run with UPDATE_EXPECT=1 to create it.`);
  }
  expect(actual).toBe(readFileSync(path, "utf8"));
}
