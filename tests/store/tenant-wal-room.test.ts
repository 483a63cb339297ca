/**
 * A tenant file parked by a full disk recovers once its disk has room for the pages its
 * `-wal` file adds to it: the retry opens the file and checkpoints the `-wal` file into
 * it. The room is at most the `-wal` file's size (the park message asks for that much,
 * recovery-room.ts); a quarter of it is not enough when the `-wal` file holds new
 * pages. Runs on small tmpfs mounts (needs root).
 */

import { copyFileSync, mkdirSync, statSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isFullDisk, roomToRecover } from "../../server/store/recovery-room.ts";
import { TenantDb } from "../../server/store/tenant-db.ts";
import { canMount, cannotMountReason, mountTmpfs, type Tmpfs } from "../infra/tmpfs.ts";

if (!canMount) console.warn(`tenant-wal-room.test.ts skipped: ${cannotMountReason()}`);

const MB = 1024 * 1024;

describe("roomToRecover", () => {
  it("names the file and its -wal file's size for a full disk, and nothing for another error", () => {
    const full = Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" });
    const wrapped = new Error("The database of tenant cannot be used", { cause: full });
    expect(isFullDisk(full)).toBe(true);
    expect(isFullDisk(wrapped)).toBe(true);
    expect(isFullDisk(Object.assign(new Error("locked"), { code: "SQLITE_BUSY" }))).toBe(false);
    expect(roomToRecover("/nowhere/t-acme.sqlite", new Error("other"))).toBeUndefined();
    expect(roomToRecover("/nowhere/t-acme.sqlite", wrapped)).toBe(
      "Free space on the disk of /nowhere/t-acme.sqlite; the next retry applies the tenant's events.",
    );
  });
});

describe.runIf(canMount)(
  "a tenant file whose -wal file holds pages its disk has no room for",
  () => {
    let work: Tmpfs;
    let files: { db: string; wal: string };

    beforeAll(() => {
      work = mountTmpfs({ sizeBytes: 32 * MB });
      const path = join(work.dir, "t-acme.sqlite");
      const db = TenantDb.open("acme", path, true);
      if (db === undefined) throw new Error("not made");
      db.db.exec("CREATE TABLE big (id INTEGER PRIMARY KEY, b BLOB)");
      const insert = db.db.prepare("INSERT INTO big (id, b) VALUES (?, randomblob(16000))");
      for (let i = 0; i < 256; i++) insert.run(i);
      // The files as a crash (or a park on a full disk) leaves them: the -wal file not
      // checkpointed. Copied while the handle is open, before its close checkpoints.
      mkdirSync(join(work.dir, "parked"));
      files = { db: join(work.dir, "parked", "db"), wal: join(work.dir, "parked", "wal") };
      copyFileSync(path, files.db);
      copyFileSync(`${path}-wal`, files.wal);
      db.close();
    });

    afterAll(() => work?.unmount());

    /** Recovers a copy on a disk with `free` bytes left: the retry's open and close, then a write and a checkpoint. */
    function recover(free: number): string {
      const need = statSync(files.db).size + statSync(files.wal).size + free + 4 * MB;
      const disk = mountTmpfs({ sizeBytes: need });
      let db: TenantDb | undefined;
      try {
        const path = join(disk.dir, "t-acme.sqlite");
        copyFileSync(files.db, path);
        copyFileSync(files.wal, `${path}-wal`);
        const filler = disk.fill();
        truncateSync(filler, statSync(filler).size - free);
        TenantDb.open("acme", path, false)?.close();
        db = TenantDb.open("acme", path, false);
        if (db === undefined) return "missing";
        db.db.prepare("INSERT INTO big (id, b) VALUES (1000000, x'00')").run();
        const [result] = db.db.pragma("wal_checkpoint(PASSIVE)") as {
          log: number | bigint;
          checkpointed: number | bigint;
        }[];
        return Number(result?.checkpointed) === Number(result?.log) ? "recovered" : "partial";
      } catch (error) {
        return (error as Error).message;
      } finally {
        db?.close();
        disk.unmount();
      }
    }

    it("recovers with the room the park message asks for, not with a quarter of it", () => {
      const wal = statSync(files.wal).size;
      expect(wal).toBeGreaterThan(4 * MB);
      expect(recover(wal)).toBe("recovered");
      expect(recover(Math.floor(wal / 4))).toMatch(/database or disk is full/);
    });
  },
);
