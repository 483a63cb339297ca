/**
 * How long `entdb generate` takes on a large schema (500 types: 400 node types and 100
 * edge types, 20 fields each, 10,000 fields in all; the old side of the check benchmark's
 * pair), run as the real command into a temp dir under the repo's `.tmp/` (so the output
 * resolves `entdb/runtime/v1` and `@bufbuild/protobuf` as checked-in output does).
 * Prints a table: the first generate, a second one (all unchanged), `--check`, the size
 * of each output file, and `tsc --noEmit` over the output.
 *
 * Run: `node tests/bench/generate-bench.ts`.
 */

import { spawnSync } from "node:child_process";
import { readdirSync, statSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { makeRepoTempDir, REPO_ROOT, removeRepoTempDir } from "../codegen/repo-temp-dir.ts";
import { generateSchemaPair } from "./check-bench.ts";

const BIN = join(REPO_ROOT, "bin", "entdb.ts");
const TSC = join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");

/** Runs a command in `cwd`; returns its wall time, failing loudly on a non-zero exit. */
function timed(args: readonly string[], cwd: string, expectCode = 0): number {
  const start = performance.now();
  const result = spawnSync(process.execPath, args, { cwd, encoding: "utf8" });
  const ms = performance.now() - start;
  if (result.status !== expectCode) {
    throw new Error(
      `'${args.join(" ")}' exited ${result.status}:\n${result.stdout}\n${result.stderr}`,
    );
  }
  return ms;
}

function filesBelow(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath, d.name)))
    .sort();
}

function main(): void {
  const dir = makeRepoTempDir("generate-bench");
  try {
    writeFileSync(join(dir, "schema.entdb"), generateSchemaPair().old);
    // The repo's compiler options, over the output only.
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        extends: relative(dir, join(REPO_ROOT, "tsconfig.json")),
        include: ["generated"],
        exclude: [],
      }),
    );
    const rows: [string, string][] = [];
    const generate = ["--out", "generated", "schema.entdb"];
    rows.push(["generate (first run)", ms(timed([BIN, "generate", ...generate], dir))]);
    rows.push(["generate (unchanged)", ms(timed([BIN, "generate", ...generate], dir))]);
    rows.push(["generate --check", ms(timed([BIN, "generate", "--check", ...generate], dir))]);
    let total = 0;
    for (const file of filesBelow(join(dir, "generated"))) {
      const size = statSync(join(dir, "generated", file)).size;
      total += size;
      rows.push([`size ${file}`, kb(size)]);
    }
    rows.push(["size schema.lock.json", kb(statSync(join(dir, "schema.lock.json")).size)]);
    rows.push(["size out dir total", kb(total)]);
    rows.push(["tsc --noEmit on the output", ms(timed([TSC, "--noEmit", "-p", "."], dir))]);
    const width = Math.max(...rows.map(([name]) => name.length));
    console.log(`entdb generate, 500 types / 10,000 fields (${process.version})`);
    for (const [name, value] of rows) console.log(`${name.padEnd(width)}  ${value.padStart(10)}`);
  } finally {
    removeRepoTempDir(dir);
  }
}

function ms(value: number): string {
  return `${Math.round(value)} ms`;
}

function kb(bytes: number): string {
  return `${(bytes / 1024).toFixed(0)} KiB`;
}

main();
