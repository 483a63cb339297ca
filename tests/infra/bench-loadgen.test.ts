/**
 * Keeps the Go load generator of `npm run bench:pg` (tests/bench/loadgen) compiling
 * and vetted, so the benchmark does not rot between runs. Go is required here: a
 * machine without it fails this test with a message that says so. The benchmark itself
 * is never run as a test.
 */

import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildLoadgen, goBinary } from "../bench/go-toolchain.ts";
import { removeDataDir } from "../e2e/server-process.ts";

const dir = mkdtempSync(join(tmpdir(), "entdb-loadgen-"));
afterAll(() => removeDataDir(dir));

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
});
