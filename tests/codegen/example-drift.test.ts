/**
 * `examples/tracker/generated/` and the Python package in `examples/python-tracker/` are checked in. This regenerates it with the real
 * command in `--check` mode and fails on any difference, so the example output (and
 * the lock beside the schema) cannot drift from the schema or the generators.
 */

import { execFile } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const tracker = join(root, "examples", "tracker");

describe("examples/tracker/generated", () => {
  it("is what `entdb generate --check` regenerates from the schema", async () => {
    // Run from the example's directory so its entdb.config.json supplies schema and out.
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>(
      (resolve) => {
        execFile(
          process.execPath,
          [join(root, "bin", "entdb.ts"), "generate", "--check"],
          { cwd: tracker, encoding: "utf8" },
          (error, stdout, stderr) => {
            const code = error === null ? 0 : typeof error.code === "number" ? error.code : 1;
            resolve({ code, stdout, stderr });
          },
        );
      },
    );
    // On failure stderr lists each file that differs; run `npm run generate:example`.
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^ok: generated is up to date with schema\.entdb \(35 files\)\nok: \.\.\/python-tracker is up to date with schema\.entdb \(2 files\)\nok: schema\.lock\.json is up to date \(sha256:[0-9a-f]{64}\)\n$/,
    );
  }, 30_000);
});
