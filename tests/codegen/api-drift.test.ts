/**
 * The server's own API (`server/api/proto/entdb/v1`) is compiled to protobuf-es
 * TypeScript checked in under `generated/`. This regenerates it with `buf generate`
 * into a scratch dir and fails on any difference, so the two cannot drift.
 */

import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..", "..");
const buf = join(root, "node_modules", ".bin", "buf");

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(dir, join(d.parentPath, d.name)))
    .sort();
}

describe("generated/ for the server API protos", () => {
  const scratch = mkdtempSync(join(root, ".tmp-api-"));
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it("matches a fresh `buf generate` byte for byte", () => {
    execFileSync(buf, ["generate", "--output", scratch], {
      cwd: root,
      env: { ...process.env, PATH: `${join(root, "node_modules", ".bin")}:${process.env["PATH"]}` },
    });
    const fresh = join(scratch, "generated");
    const committed = join(root, "generated");
    const files = listFiles(fresh);
    // Only the folders buf writes: generated/ also holds the examples' clients.
    const ownDirs = new Set(files.map((f) => f.split("/")[0]));
    expect([...ownDirs].sort()).toEqual(["entdb", "entdbcluster", "grpc"]);
    const committedFiles = listFiles(committed).filter((f) => ownDirs.has(f.split("/")[0]));
    expect(files).toEqual(committedFiles);
    for (const file of files) {
      expect(readFileSync(join(committed, file), "utf8"), file).toBe(
        readFileSync(join(fresh, file), "utf8"),
      );
    }
  });
});
