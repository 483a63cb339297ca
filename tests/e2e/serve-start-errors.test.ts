/**
 * `entdb serve` refusing to start: each refusal is one `error:` line that names what is
 * wrong and the flag that fixes it, never a JSON log line with a stack trace, and the
 * process exits before it listens.
 */

import { existsSync, readdirSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { canonicalDump } from "../../server/store/index.ts";
import { entDbClient, teamPlan } from "./e2e-helpers.ts";
import {
  removeDataDir,
  runServeToExit,
  startServerProcess,
  tempDataDir,
} from "./server-process.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) removeDataDir(dir);
});

function dataDir(): string {
  const dir = tempDataDir("entdb-start-errors-");
  dirs.push(dir);
  return dir;
}

/** A listener on a free loopback port, which `entdb serve` then cannot bind. */
async function occupiedPort(): Promise<{ port: number; server: Server }> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (typeof address !== "object" || address === null) throw new Error("no port");
  return { port: address.port, server };
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

  for (const [flag, env] of [
    ["--port", "ENTDB_GRPC_PORT"],
    ["--http-port", "ENTDB_HTTP_PORT"],
  ] as const) {
    it(`names the address and ${flag} when that port is in use`, async () => {
      const { port, server } = await occupiedPort();
      try {
        const run = await runServeToExit({ dataDir: dataDir(), args: [flag, String(port)] });
        expect(run.code).toBe(1);
        expect(run.stderr).toContain(
          `\nerror: cannot listen on 127.0.0.1:${port}: the port is already in use (another entdb serve, or another program). Stop it, or pass another ${flag} (${env}).\n`,
        );
        expect(run.stderr).not.toContain("could not start");
        expect(run.stderr).not.toContain('"stack"');
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }
    }, 60_000);
  }

  it("does not share the API port of another server when both serve with threads (SO_REUSEPORT)", async () => {
    const first = await startServerProcess({ dataDir: dataDir(), args: ["--serve-threads", "1"] });
    try {
      const run = await runServeToExit({
        dataDir: dataDir(),
        args: ["--serve-threads", "1", "--port", String(first.port)],
        timeoutMs: 20_000,
      });
      expect(run.code).toBe(1);
      expect(run.stderr).toContain(
        `\nerror: cannot listen on 127.0.0.1:${first.port}: the port is already in use (another entdb serve, or another program). Stop it, or pass another --port (ENTDB_GRPC_PORT).\n`,
      );
      await entDbClient(first).executePlan(teamPlan("acme", "first-still-serves"));
    } finally {
      expect(await first.stop()).toBe(0);
    }
  }, 90_000);

  it("refuses a data dir another entdb serve is serving, in one line, and the first keeps serving", async () => {
    const dir = dataDir();
    const first = await startServerProcess({ dataDir: dir });
    try {
      const run = await runServeToExit({ dataDir: dir, timeoutMs: 20_000 });
      expect(run.code).toBe(1);
      expect(run.listened).toBe(false);
      expect(run.stderr).toBe(
        `error: the data dir ${dir} is in use by another entdb serve (it holds the lock on serve.lock); two servers on one data dir would apply the log into the same files. Stop that server first, or choose another --data-dir (ENTDB_DATA_DIR).\n`,
      );
      await entDbClient(first).executePlan(teamPlan("acme", "first-still-serves"));
    } finally {
      expect(await first.stop()).toBe(0);
    }
    // A stopped server (or a killed one: the lock is the process's) leaves the dir free.
    const again = await startServerProcess({ dataDir: dir });
    expect(await again.stop()).toBe(0);
  }, 90_000);

  it("refuses a data dir whose log was deleted, instead of serving it empty, and changes nothing", async () => {
    const dir = dataDir();
    const server = await startServerProcess({ dataDir: dir });
    await entDbClient(server).executePlan(teamPlan("acme", "kept"));
    expect(await server.stop()).toBe(0);
    const tenantFile = join(dir, "tenants", readdirSync(join(dir, "tenants"))[0]!);
    const before = canonicalDump(tenantFile);
    rmSync(join(dir, "wal.sqlite"));
    const files = readdirSync(dir).sort();

    const run = await runServeToExit({ dataDir: dir });
    expect(run.code).toBe(1);
    expect(run.listened).toBe(false);
    expect(run.stderr).toBe(
      `error: the data dir ${dir} has no log (wal.sqlite is missing) but holds what a log was applied into (meta.sqlite, 1 tenant database): starting would begin a new, empty log and serve none of the writes it acknowledged. Put wal.sqlite back (with its wal.sqlite-wal file, if there was one), restore the data dir from the archive (entdb restore --from ARCHIVE --data-dir NEW, ARCHIVE being the s3:// URL or directory given to --archive), serve it with the log it was made with (--wal kafka or kinesis), or choose another --data-dir (ENTDB_DATA_DIR) to start empty.\n`,
    );
    expect(readdirSync(dir).sort()).toEqual(files);
    expect(canonicalDump(tenantFile)).toBe(before);
  }, 60_000);
});
