/**
 * `entdb restore --force` into the data dir of a running server: before, it emptied the
 * dir under the server (its open log included: what the server acknowledged next went to
 * a deleted file) and filled it with the archive's tenants. It is refused before the
 * archive is read, and the server keeps serving what it had.
 */

import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { countNodes, entDbClient, runCommand, teamPlan } from "./e2e-helpers.ts";
import { REPO_ROOT, removeDataDir, startServerProcess, tempDataDir } from "./server-process.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) removeDataDir(dir);
});

describe("entdb restore into a served data dir", () => {
  it("is refused, even with --force, and the server keeps its data", async () => {
    const dataDir = tempDataDir("entdb-restore-live-");
    dirs.push(dataDir);
    const server = await startServerProcess({ dataDir });
    try {
      const api = entDbClient(server);
      await api.executePlan(teamPlan("acme", "kept"));
      const run = await runCommand(
        process.execPath,
        [
          join(REPO_ROOT, "bin", "entdb.ts"),
          "restore",
          "--from",
          "s3://no-such-bucket/prefix",
          "--s3-endpoint",
          "http://127.0.0.1:9",
          "--data-dir",
          dataDir,
          "--force",
        ],
        { cwd: REPO_ROOT, timeout: 60_000 },
      );
      expect(run).toEqual({
        code: 2,
        stdout: "",
        stderr: `error: The data dir ${dataDir} is in use by a running entdb serve (it holds the lock on serve.lock); a restore would replace the files it serves. Stop that server first, or restore into another --data-dir.\n`,
      });
      await api.executePlan(teamPlan("acme", "after"));
      expect(await countNodes(api, "acme", 2)).toBe(2);
    } finally {
      expect(await server.stop()).toBe(0);
    }
  }, 90_000);
});
