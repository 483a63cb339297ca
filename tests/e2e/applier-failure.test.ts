/**
 * The applier stopping on its own leaves nothing to apply writes or bring tenants up to
 * date. A real cause: a log with a record missing below its end (a damaged disk), found
 * while tenants are rebuilt from it. The server must not serve those tenants as if they
 * were current (DESIGN.md contract 8): it says why and exits with status 1, and a restart
 * on the same damaged log does the same.
 */

import { rmSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { entDbClient, teamPlan } from "./e2e-helpers.ts";
import {
  removeDataDir,
  runServeToExit,
  startServerProcess,
  tempDataDir,
} from "./server-process.ts";

const dir = tempDataDir("entdb-applier-failure-");
afterAll(() => removeDataDir(dir));

describe("a log with a record missing below its end", () => {
  let missing = "";

  beforeAll(async () => {
    const server = await startServerProcess({ dataDir: dir });
    const api = entDbClient(server);
    for (let i = 0; i < 30; i++) await api.executePlan(teamPlan("acme", `team-${i}`));
    expect(await server.stop()).toBe(0);
    // The tenants are rebuilt from the log at the next start...
    rmSync(join(dir, "tenants"), { recursive: true, force: true });
    for (const side of ["", "-wal", "-shm"])
      rmSync(join(dir, `meta.sqlite${side}`), { force: true });
    // ...which has lost the eleventh of acme's records.
    const db = new Database(join(dir, "wal.sqlite"));
    try {
      const row = db
        .prepare(
          "SELECT partition_no AS p, log_offset AS o FROM wal_records WHERE partition_no = " +
            "(SELECT partition_no FROM wal_records GROUP BY 1 ORDER BY count(*) DESC LIMIT 1) " +
            "ORDER BY log_offset LIMIT 1 OFFSET 10",
        )
        .get() as { p: number; o: number } | undefined;
      if (row === undefined) throw new Error("the log holds fewer than 11 records");
      db.prepare("DELETE FROM wal_records WHERE partition_no = ? AND log_offset = ?").run(
        row.p,
        row.o,
      );
      missing = `Partition ${row.p} of the log has no record at offset ${row.o}`;
    } finally {
      db.close();
    }
  }, 60_000);

  it("stops the server with status 1 and says where the log is damaged, at every start", async () => {
    for (let run = 0; run < 2; run++) {
      const exit = await runServeToExit({ dataDir: dir, timeoutMs: 30_000 });
      expect(exit.code).toBe(1);
      const lines = exit.stderr
        .split("\n")
        .filter((line) => line.startsWith("{"))
        .map(
          (line) => JSON.parse(line) as { level: string; msg: string; err?: { message?: string } },
        );
      const fatal = lines.find(
        (l) => l.level === "error" && l.msg.startsWith("the applier stopped"),
      );
      expect(fatal?.err?.message).toContain(missing);
      expect(fatal?.err?.message).toContain("entdb restore --from ARCHIVE --data-dir NEW");
      expect(lines.at(-1)?.msg).toBe("stopped");
    }
  }, 90_000);
});
