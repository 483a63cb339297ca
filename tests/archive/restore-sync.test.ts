/**
 * A restore writes `meta.sqlite`, the schema files and the restored log without syncs
 * (its data dir is marked unfinished until it ends) and syncs them once at its end
 * (server/archive/restore-sync.ts): the schema files written so are the same as the
 * durable ones, and the final sync fails, so the restore reports no success, when a file
 * it names is gone.
 */

import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { syncRestoredDataDir } from "../../server/archive/restore-sync.ts";
import { restoreSchemaFiles, writeVersionInfo } from "../../server/schema-registry.ts";
import { MetaDb } from "../../server/store/meta-db.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "entdb-restore-sync-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const recorded = [
  { version: 1, lockJson: '{"version":1}\n' },
  { version: 2, lockJson: '{"version":2,"types":["Team"]}\n' },
];
const info = { registeredAt: "2026-12-07T18:00:00.000Z", principal: "ops", allowedRules: ["r"] };

describe("a restore's unsynced files", () => {
  it("writes the schema files unsynced with the bytes a durable write gives, and no temporary file", async () => {
    const durable = join(dir, "durable");
    const unsynced = join(dir, "unsynced");
    expect(await restoreSchemaFiles(durable, recorded)).toEqual([1, 2]);
    expect(await restoreSchemaFiles(unsynced, recorded, "unsynced")).toEqual([1, 2]);
    await writeVersionInfo(durable, 2, info);
    await writeVersionInfo(unsynced, 2, info, "unsynced");
    const names = readdirSync(join(durable, "schemas")).sort();
    expect(names).toEqual(["v000001.lock.json", "v000002.info.json", "v000002.lock.json"]);
    expect(readdirSync(join(unsynced, "schemas")).sort()).toEqual(names);
    for (const name of names)
      expect(readFileSync(join(unsynced, "schemas", name), "utf8")).toBe(
        readFileSync(join(durable, "schemas", name), "utf8"),
      );
    // A version file already there is not written again.
    expect(await restoreSchemaFiles(unsynced, recorded, "unsynced")).toEqual([]);
  });

  it("syncs meta.sqlite, the schema files and the files named, and fails when one is gone", async () => {
    const meta = new MetaDb(join(dir, "meta.sqlite"), { unsynced: true });
    meta.setLogIdentity("embedded:test");
    meta.close();
    await restoreSchemaFiles(dir, recorded, "unsynced");
    mkdirSync(join(dir, "tenants"));
    const log = join(dir, "wal.sqlite");
    await expect(syncRestoredDataDir(dir, [log])).rejects.toMatchObject({ code: "ENOENT" });
    expect(existsSync(log)).toBe(false);
    await expect(syncRestoredDataDir(dir, [])).resolves.toBeUndefined();
    // Written unsynced, it reads back as any meta.sqlite.
    const reopened = new MetaDb(join(dir, "meta.sqlite"));
    expect(reopened.logIdentity()).toBe("embedded:test");
    reopened.close();
  });
});
