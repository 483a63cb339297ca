/**
 * Keeps the Go load generator of `npm run bench:pg` (tests/bench/loadgen) compiling,
 * vetted and in step with the server's .proto files, so the benchmark does not rot
 * between runs. Go is required here: a machine without it fails this test with a
 * message that says so. The benchmark itself is never run as a test.
 */

import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildLoadgen, goBinary, LOADGEN_DIR } from "../bench/go-toolchain.ts";
import { REPO_ROOT, removeDataDir } from "../e2e/server-process.ts";

const dir = mkdtempSync(join(tmpdir(), "entdb-loadgen-"));
afterAll(() => removeDataDir(dir));

function listFiles(root: string): string[] {
  return readdirSync(root, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => relative(root, join(d.parentPath, d.name)))
    .sort();
}

describe("bench load generator", () => {
  // A cold build fetches and compiles connect-go and protobuf; later ones hit Go's cache.
  it("passes go vet, builds, and refuses bad arguments", { timeout: 300_000 }, () => {
    expect(goBinary()).toMatch(/\/go$/);
    const bin = join(dir, "loadgen");
    buildLoadgen(bin);

    const usage = spawnSync(bin, [], { encoding: "utf8" });
    expect(usage.status).toBe(2);
    expect(usage.stderr).toBe("usage: loadgen load|run|pgbench [flags] (see main.go)\n");

    const ids = join(dir, "ids.json");
    writeFileSync(ids, JSON.stringify({ users: ["u"], teams: ["t"] }));
    const run = spawnSync(
      bin,
      ["run", "--url", "http://127.0.0.1:1", "--op", "nope", "--ids", ids],
      { encoding: "utf8" },
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(
      'loadgen run: --op "nope": use create, node-edge, create-100, get, get-100, query-50, edges-out or edges-in\n',
    );
  });

  it("has Go code that matches a fresh `buf generate`", { timeout: 300_000 }, () => {
    // The plugins at the versions go.mod requires, built from the module cache.
    const plugins = join(dir, "plugins");
    for (const pkg of [
      "google.golang.org/protobuf/cmd/protoc-gen-go",
      "connectrpc.com/connect/cmd/protoc-gen-connect-go",
    ]) {
      // A trailing slash: -o names the directory the binary goes into.
      execFileSync(goBinary(), ["build", "-o", `${plugins}/`, pkg], { cwd: LOADGEN_DIR });
    }
    expect(readdirSync(plugins).sort()).toEqual(["protoc-gen-connect-go", "protoc-gen-go"]);
    const out = join(dir, "generated");
    execFileSync(
      join(REPO_ROOT, "node_modules", ".bin", "buf"),
      [
        "generate",
        "--template",
        join(LOADGEN_DIR, "buf.gen.yaml"),
        "--path",
        "server/api/proto/entdb",
        "--output",
        out,
      ],
      { cwd: REPO_ROOT, env: { ...process.env, PATH: `${plugins}:${process.env["PATH"]}` } },
    );
    const fresh = join(out, "tests", "bench", "loadgen", "gen");
    const committed = join(LOADGEN_DIR, "gen");
    const files = listFiles(fresh);
    expect(files).toContain("entdb/v1/entdbv1connect/entdb.connect.go");
    expect(listFiles(committed)).toEqual(files);
    for (const file of files) {
      expect(readFileSync(join(committed, file), "utf8"), file).toBe(
        readFileSync(join(fresh, file), "utf8"),
      );
    }
  });
});
