/**
 * What the server's connection to a tenant file leaves to others while it writes
 * (docs/durability.md, "What the server holds on a tenant file"): the file stays in
 * SQLite's normal locking mode, so another connection (`entdb dump` on a live data dir,
 * an operator's `sqlite3` shell) reads a consistent state of it, and the applier's
 * checkpoint, held back by such a reader, reports it instead of claiming the pages;
 * a snapshot (the online backup through the server's own connection, a few pages per
 * turn of the event loop) taken while writes go on matches the file as the backup ends.
 */

import { existsSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import { TenantDb } from "../../server/store/tenant-db.ts";
import { tempDir } from "./store-fixtures.ts";

const dirs: { remove(): void }[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

/** A tenant file opened as the server's store opens it, with `n` nodes written. */
function liveTenant(n: number): { db: TenantDb; path: string; write: (id: string) => void } {
  const dir = tempDir("live-tenant");
  dirs.push(dir);
  const path = join(dir.path, "t-acme.sqlite");
  const db = TenantDb.open("acme", path, true, { logIdentity: "embedded:test" })!;
  const insert = db.db.prepare(
    "INSERT INTO nodes (id, type_id, payload, version, owner, created_at, updated_at) VALUES (?, 1, ?, 1, 'u', 0, 0)",
  );
  let offset = 0;
  const write = db.db.transaction((id: string) => {
    insert.run(id, JSON.stringify({ 1: `${id} ${"x".repeat(200)}` }));
    offset++;
    db.writeState({ partition: 0, appliedOffset: offset, schemaVersion: 0 });
  });
  const commit = (id: string) => {
    write(id);
    db.commitState({ partition: 0, appliedOffset: offset, schemaVersion: 0 });
  };
  for (let i = 0; i < n; i++) commit(`n${i}`);
  return { db, path, write: commit };
}

describe("a tenant file the server holds open", () => {
  it("is read by another connection while the server writes it, in a consistent state", () => {
    const { db, path, write } = liveTenant(50);
    try {
      // The server's connection keeps the shared-memory index: no exclusive lock is held.
      expect(db.db.pragma("locking_mode", { simple: true })).toBe("normal");
      expect(existsSync(`${path}-shm`)).toBe(true);
      // A second connection, as `entdb dump` opens it (canonical-dump.ts), sees every commit.
      expect(canonicalDump(path)).toBe(canonicalDump(db));
      const reader = new Database(path, { readonly: true, fileMustExist: true });
      try {
        const count = reader.prepare("SELECT count(*) AS n FROM nodes").pluck();
        expect(count.get()).toBe(50);
        // A read transaction left open (an operator's shell inside BEGIN) sees its snapshot
        // while the server goes on writing; the server is never blocked by it.
        reader.exec("BEGIN");
        expect(count.get()).toBe(50);
        for (let i = 50; i < 80; i++) write(`n${i}`);
        expect(count.get()).toBe(50);
        // The applier's checkpoint (Applier.flush) cannot copy the frames past the
        // reader's snapshot, and says so: its resume point then stays where it is.
        const [held] = db.db.pragma("wal_checkpoint(PASSIVE)") as {
          busy: bigint;
          log: bigint;
          checkpointed: bigint;
        }[];
        expect(held!.busy).toBe(0n);
        expect(held!.checkpointed).toBeLessThan(held!.log);
        reader.exec("COMMIT");
        expect(count.get()).toBe(80);
        const [done] = db.db.pragma("wal_checkpoint(PASSIVE)") as {
          log: bigint;
          checkpointed: bigint;
        }[];
        expect(done!.checkpointed).toBe(done!.log);
      } finally {
        reader.close();
      }
      expect(canonicalDump(path)).toBe(canonicalDump(db));
    } finally {
      db.close();
    }
  });

  it("is snapshotted through its own connection while writes go on, the copy matching the file as the backup ends", async () => {
    const { db, path, write } = liveTenant(2_000);
    const copy = join(path, "..", "snapshot.sqlite");
    let written = 0;
    let writing = true;
    // One write per turn of the event loop, between the backup's steps (the snapshotter's
    // backup yields to the loop after each step, as here).
    const writer = (): void => {
      if (!writing) return;
      write(`live${written++}`);
      setImmediate(writer);
    };
    setImmediate(writer);
    try {
      let steps = 0;
      await db.db.backup(copy, {
        progress: () => {
          steps++;
          return 8;
        },
      });
      writing = false;
      // The backup went over the file in many steps, and writes landed between them.
      expect(steps).toBeGreaterThan(10);
      expect(written).toBeGreaterThan(5);
      expect(canonicalDump(copy)).toBe(canonicalDump(db));
      const reader = new Database(copy, { readonly: true, fileMustExist: true });
      try {
        expect(reader.prepare("SELECT count(*) FROM nodes").pluck().get()).toBe(2_000 + written);
        expect(reader.prepare("SELECT applied_offset FROM tenant_state").pluck().get()).toBe(
          2_000 + written,
        );
      } finally {
        reader.close();
      }
    } finally {
      writing = false;
      db.close();
    }
  });
});
