/**
 * `entdb serve` refusing to start: each refusal is one `error:` line that names what is
 * wrong and the flag that fixes it, never a JSON log line with a stack trace, and the
 * process exits before it listens.
 */

import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { removeDataDir, runServeToExit, tempDataDir } from "./server-process.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) removeDataDir(dir);
});

function dataDir(): string {
  const dir = tempDataDir("entdb-start-errors-");
  dirs.push(dir);
  return dir;
}

describe("entdb serve refusing to start", () => {
  it("names a --schema file that does not exist, and creates no data dir", async () => {
    const parent = dataDir();
    const dir = join(parent, "data");
    const schema = join(parent, "missing.entdb");
    const run = await runServeToExit({ schema, dataDir: dir });
    expect(run.code).toBe(2);
    expect(run.listened).toBe(false);
    expect(run.stderr).toBe(
      `error: cannot read the schema file '${schema}' (--schema, ENTDB_SCHEMA): no such file.\n`,
    );
    expect(existsSync(dir)).toBe(false);
  }, 60_000);

  it("names a --schema path that is a directory", async () => {
    const parent = dataDir();
    const run = await runServeToExit({ schema: parent, dataDir: join(parent, "data") });
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(
      `error: cannot read the schema file '${parent}' (--schema, ENTDB_SCHEMA): is a directory.\n`,
    );
  }, 60_000);
});
