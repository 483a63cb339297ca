import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { StoreError } from "../store/store-error.ts";
import { TenantDb } from "../store/tenant-db.ts";
import { tenantFileName } from "../store/tenant-id.ts";
import { ReadOnlyTenants } from "./read-only-tenants.ts";
import { TENANT_SLOTS, ThreadState } from "./thread-state.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A data dir with a writer's connection to `tenant`, as the applier holds it, and a serving thread's view. */
function setup(tenant = "acme", maxOpenTenants = 4) {
  const dataDir = mkdtempSync(join(tmpdir(), "entdb-threads-"));
  dirs.push(dataDir);
  mkdirSync(join(dataDir, "tenants"));
  const state = new ThreadState();
  const writerOf = (t: string) => {
    const db = TenantDb.open(t, join(dataDir, "tenants", tenantFileName(t)), true, {})!;
    let offset = 0;
    const insert = db.db.prepare(
      "INSERT INTO nodes (id, type_id, payload, version, owner, created_at, updated_at) VALUES (?, 1, '{}', 1, 'u', 0, 0)",
    );
    const commit = db.db.transaction((id: string) => {
      insert.run(id);
      offset++;
      db.writeState({ partition: 0, appliedOffset: offset, schemaVersion: 0 });
    });
    return {
      db,
      write(id: string) {
        commit(id);
        db.commitState({ partition: 0, appliedOffset: offset, schemaVersion: 0 });
      },
    };
  };
  const writer = writerOf(tenant);
  // A serving thread's view of the same memory, as another thread has it.
  const threadView = new ThreadState(state.buffer);
  const tenants = new ReadOnlyTenants({
    dataDir,
    state: threadView,
    maxOpenTenants,
    versions: () => new Map(),
  });
  return { dataDir, state, writer, writerOf, tenants };
}

const count = (db: TenantDb) => db.stmt("SELECT count(*) AS n FROM nodes").get() as { n: bigint };

describe("a serving thread's read-only tenant handles", () => {
  it("trust what they keep only until the tenant's commit counter moves", () => {
    const { state, writer, tenants } = setup();
    try {
      writer.write("n1");
      const first = tenants.readTenant("acme")!;
      expect(first.state.appliedOffset).toBe(1);
      const commits = first.commits;
      writer.write("n2");
      // Rows are read from the file (WAL: a new read sees every commit); what the handle
      // keeps (its state, and through `commits` the caches) waits for the counter.
      const again = tenants.readTenant("acme")!;
      expect(again).toBe(first);
      expect(count(again).n).toBe(2n);
      expect(again.state.appliedOffset).toBe(1);
      expect(again.commits).toBe(commits);
      state.bumpCommits(ThreadState.slot("acme"));
      const fresh = tenants.readTenant("acme")!;
      expect(fresh).toBe(first);
      expect(fresh.state.appliedOffset).toBe(2);
      expect(fresh.commits).toBe(commits + 1);
      // Read only: the serving thread cannot write the file.
      expect(() => fresh.db.exec("DELETE FROM nodes")).toThrow(/readonly/);
    } finally {
      writer.db.close();
      tenants.close();
    }
  });

  it("read a tenant without a file as none, and open it once the writer made it", () => {
    const { writerOf, writer, tenants } = setup();
    try {
      expect(tenants.readTenant("globex")).toBeUndefined();
      const globex = writerOf("globex");
      globex.write("g1");
      expect(count(tenants.readTenant("globex")!).n).toBe(1n);
      globex.db.close();
    } finally {
      writer.db.close();
      tenants.close();
    }
  });

  it("refuse a bad tenant id and a file that is another tenant's", () => {
    const { dataDir, writer, tenants } = setup();
    try {
      expect(() => tenants.readTenant("../x")).toThrow(StoreError);
      // The file of "acme" put where "initech" should be.
      writer.write("n1");
      writer.db.db.pragma("wal_checkpoint(TRUNCATE)");
      copyFileSync(
        join(dataDir, "tenants", tenantFileName("acme")),
        join(dataDir, "tenants", tenantFileName("initech")),
      );
      let error: unknown;
      try {
        tenants.readTenant("initech");
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).code).toBe("tenant-unavailable");
      expect((error as StoreError).message).toMatch(/belongs to tenant "acme"/);
    } finally {
      writer.db.close();
      tenants.close();
    }
  });

  it("keep at most maxOpenTenants handles open, closing the least recently used", () => {
    const { writerOf, writer, tenants } = setup("t0", 2);
    const others = ["t1", "t2"].map((t) => writerOf(t));
    try {
      const h0 = tenants.readTenant("t0")!;
      const h1 = tenants.readTenant("t1")!;
      tenants.readTenant("t0");
      tenants.readTenant("t2");
      expect(h0.isOpen).toBe(true);
      expect(h1.isOpen).toBe(false);
    } finally {
      writer.db.close();
      for (const o of others) o.db.close();
      tenants.close();
    }
  });
});

describe("a handle opened before a hold", () => {
  it("is not trusted after the hold is lifted: the file may be another one by then", () => {
    const { dataDir, state, writer, tenants } = setup();
    writer.write("n1");
    const before = tenants.readTenant("acme")!;
    expect(count(before).n).toBe(1n);
    // The main thread holds the tenant; meanwhile its file is replaced by one with two
    // nodes (a rebuild), as a retry does before it lifts the hold.
    const slot = ThreadState.slot("acme");
    state.hold(slot);
    writer.db.close();
    const file = join(dataDir, "tenants", tenantFileName("acme"));
    for (const suffix of ["", "-wal", "-shm"]) rmSync(file + suffix, { force: true });
    const rebuilt = setup("acme");
    rebuilt.writer.write("n1");
    rebuilt.writer.write("n2");
    rebuilt.writer.db.close();
    copyFileSync(join(rebuilt.dataDir, "tenants", tenantFileName("acme")), file);
    state.release(slot);

    const after = tenants.readTenant("acme")!;
    expect(after).not.toBe(before);
    expect(count(after).n).toBe(2n);
    tenants.close();
  });
});

describe("the threads' shared state", () => {
  it("is seen alike through every view of its memory", () => {
    const main = new ThreadState();
    const thread = new ThreadState(main.buffer);
    const slot = ThreadState.slot("acme");
    expect(slot).toBe(ThreadState.slot("acme"));
    expect(slot).toBeGreaterThanOrEqual(0);
    expect(slot).toBeLessThan(TENANT_SLOTS);
    expect(thread.commits(slot)).toBe(0);
    main.bumpCommits(slot);
    main.bumpCommits(slot);
    expect(thread.commits(slot)).toBe(2);
    expect(thread.held(slot)).toBe(false);
    const before = thread.holds(slot);
    main.hold(slot);
    main.hold(slot);
    expect(thread.held(slot)).toBe(true);
    main.release(slot);
    main.release(slot);
    expect(thread.held(slot)).toBe(false);
    // A hold and its release leave a mark a handle opened before them can see.
    expect(thread.holds(slot)).toBe(before + 2);
    main.hold(slot);
    expect(thread.held(slot)).toBe(true);
    main.setServedVersion(7);
    expect(thread.servedVersion).toBe(7);
    main.setRebuilding(true);
    expect(thread.rebuilding).toBe(true);
    main.setRebuilding(false);
    expect(thread.rebuilding).toBe(false);
  });
});
