/**
 * A tenant file copied from a template (server/store/tenant-template.ts, as a restore
 * makes its files) is the database a fresh file is: the same `sqlite_master`, file and
 * connection pragmas, state rows, and canonical dump, before and after a migration;
 * written without syncs and with its rollback journal in memory until `makeDurable`,
 * which puts it back in WAL mode, checkpoints it and syncs it. A
 * template migrated to a schema version (`BulkLoad.prepareVersionTemplate`) gives the
 * file a copy of the unmigrated one has after its first event's migration, and a
 * restore's read phase tells which version each tenant starts at (first-versions.ts).
 */

import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BulkLoad } from "../../server/apply/bulk-load.ts";
import { appliedVersion, FirstVersions } from "../../server/archive/first-versions.ts";
import { BULK_LOAD_UNFINISHED } from "../../server/store/bulk-load-marker.ts";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import { openStore } from "../../server/store/store.ts";
import { TenantDb } from "../../server/store/tenant-db.ts";
import { removeTenantTemplate, writeTenantTemplate } from "../../server/store/tenant-template.ts";
import {
  accessEvent,
  lookupOf,
  op,
  planEvent,
  schemaChangeEvent,
  served,
  T,
  TRACKER_V1,
  TRACKER_V2,
  tempDir,
  v,
} from "../store/store-fixtures.ts";

const IDENTITY = "embedded:template-test";

/** A file's schema objects without their root pages, which a drop and a build move. */
const objects = (db: TenantDb) =>
  db.db
    .prepare(
      "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .all() as { name: string }[];
/** Whether a file's header says WAL mode (its read and write format versions, bytes 18 and 19, are 2). */
function walInHeader(path: string): boolean {
  const header = readFileSync(path).subarray(18, 20);
  return header[0] === 2 && header[1] === 2;
}

const PRAGMAS = [
  "journal_mode",
  "user_version",
  "application_id",
  "page_size",
  "auto_vacuum",
  "encoding",
  "synchronous",
  "wal_autocheckpoint",
  "journal_size_limit",
  "foreign_keys",
];

/**
 * Everything compared: objects (root pages included), pragmas, the state rows, the dump.
 * `synchronous` and `journal_mode` are left out while the copy is written without syncs
 * and in `journal_mode = MEMORY` (before makeDurable).
 */
function describeFile(db: TenantDb, unsynced = false): Record<string, unknown> {
  return {
    master: db.db.prepare("SELECT type, name, tbl_name, rootpage, sql FROM sqlite_master").all(),
    pragmas: PRAGMAS.filter((p) => !unsynced || (p !== "synchronous" && p !== "journal_mode")).map(
      (p) => [p, db.db.pragma(p, { simple: true })],
    ),
    state: db.db.prepare("SELECT * FROM tenant_state").all(),
    derivedFrom: db.db.prepare("SELECT * FROM derived_from").all(),
    tables: db.db.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'sqlite_stat%'").all(),
    dump: canonicalDump(db),
  };
}

describe("tenant files copied from a template", () => {
  let dir: ReturnType<typeof tempDir>;
  let template: string;
  beforeEach(() => {
    dir = tempDir("tenant-template");
    template = join(dir.path, "template.sqlite");
    writeTenantTemplate(template, IDENTITY);
  });
  afterEach(() => dir.remove());

  it("are the database a fresh file is, before and after migrations", async () => {
    const fresh = TenantDb.open("acme", join(dir.path, "fresh.sqlite"), true, {
      logIdentity: IDENTITY,
    })!;
    const copied = TenantDb.open("acme", join(dir.path, "copied.sqlite"), true, {
      logIdentity: IDENTITY,
      template,
    })!;
    try {
      expect(copied.state).toEqual(fresh.state);
      expect(copied.logIdentity).toBe(IDENTITY);
      // The copy is written without syncs until makeDurable(); the fresh file syncs.
      expect(copied.db.pragma("synchronous", { simple: true })).toBe(0n);
      expect(fresh.db.pragma("synchronous", { simple: true })).toBe(1n);
      // And with its rollback journal in memory: no `-wal` file to write each page to first.
      expect(copied.db.pragma("journal_mode", { simple: true })).toBe("memory");
      expect(fresh.db.pragma("journal_mode", { simple: true })).toBe("wal");
      expect(describeFile(copied, true)).toEqual(describeFile(fresh, true));
      expect(String(copied.db.prepare("SELECT tenant FROM tenant_state").pluck().get())).toBe(
        "acme",
      );
      for (const model of [TRACKER_V1, TRACKER_V2]) {
        for (const db of [fresh, copied]) db.db.transaction(() => db.migrateTo(model))();
        expect(describeFile(copied, true)).toEqual(describeFile(fresh, true));
      }
      // Made durable: in WAL mode again (in the file's header), syncing again.
      expect(existsSync(join(dir.path, "copied.sqlite-wal"))).toBe(false);
      expect(walInHeader(join(dir.path, "copied.sqlite"))).toBe(false);
      await copied.makeDurable();
      expect(walInHeader(join(dir.path, "copied.sqlite"))).toBe(true);
      expect(describeFile(copied)).toEqual(describeFile(fresh));
    } finally {
      fresh.close();
      copied.close();
    }
    // Closed, the files dump the same too.
    expect(canonicalDump(join(dir.path, "copied.sqlite"))).toBe(
      canonicalDump(join(dir.path, "fresh.sqlite")),
    );
  });

  it("roll back in `journal_mode = MEMORY`, and are in WAL mode once reopened or made durable", async () => {
    const path = join(dir.path, "copied.sqlite");
    const copied = TenantDb.open("acme", path, true, { logIdentity: IDENTITY, template })!;
    const applied = { partition: 0, appliedOffset: 5, schemaVersion: 0 };
    try {
      // A savepoint rolled back (an optimistic run redone event by event) and a failed
      // transaction leave the file as it was.
      copied.db.exec("SAVEPOINT run");
      copied.writeState(applied);
      copied.db.exec("ROLLBACK TO run");
      copied.db.exec("RELEASE run");
      expect(() =>
        copied.db.transaction(() => {
          copied.writeState(applied);
          throw new Error("the event failed");
        })(),
      ).toThrow("the event failed");
      const state = () =>
        copied.db.prepare("SELECT log_partition, applied_offset FROM tenant_state").get();
      expect(state()).toEqual({ log_partition: -1n, applied_offset: 0n });
      copied.db.transaction(() => copied.writeState(applied))();
      expect(state()).toEqual({ log_partition: 0n, applied_offset: 5n });
      expect(copied.db.pragma("journal_mode", { simple: true })).toBe("memory");
    } finally {
      copied.close();
    }
    // Closed before makeDurable (the store's LRU during a restore): opened again as an
    // existing file, in WAL mode as every file a server opens.
    const reopened = TenantDb.open("acme", path, false)!;
    try {
      expect(reopened.db.pragma("journal_mode", { simple: true })).toBe("wal");
      expect(walInHeader(path)).toBe(true);
      expect(reopened.state).toEqual(applied);
    } finally {
      reopened.close();
    }
    // Made durable in the same process: WAL in the header and on the connection.
    const other = TenantDb.open("other", join(dir.path, "other.sqlite"), true, {
      logIdentity: IDENTITY,
      template,
    })!;
    await other.makeDurable();
    expect(other.db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(other.db.pragma("synchronous", { simple: true })).toBe(1n);
    other.close();
    expect(walInHeader(join(dir.path, "other.sqlite"))).toBe(true);
  });

  it("are only made for a file that does not exist: an existing one is opened as it is", () => {
    const path = join(dir.path, "t.sqlite");
    TenantDb.open("acme", path, true, { logIdentity: IDENTITY })!.close();
    const reopened = TenantDb.open("acme", path, true, { logIdentity: IDENTITY, template })!;
    reopened.close();
    expect(() => TenantDb.open("other", path, true, { logIdentity: IDENTITY, template })).toThrow(
      'The database of tenant "other" cannot be used: the file belongs to tenant "acme".',
    );
  });

  it("start in the bulk load's state when the template was prepared for one", () => {
    const bulk = new BulkLoad();
    bulk.prepareTemplate(template);
    const fresh = TenantDb.open("acme", join(dir.path, "fresh.sqlite"), true, {
      logIdentity: IDENTITY,
    })!;
    const store = openStore({
      dataDir: join(dir.path, "data"),
      schemas: lookupOf(served(1, TRACKER_V1)),
      tenantTemplate: template,
      logIdentity: IDENTITY,
    });
    try {
      const copied = store.tenant("acme", true)!;
      // Marked as a bulk load under way (a server sets such a file aside), without the
      // two base indexes, which opening the copy does not make again.
      const deferred = new Set(["nodes_by_type", "nodes_by_owner"]);
      expect(objects(copied).map((o) => o.name)).toEqual(
        [
          ...objects(fresh)
            .map((o) => o.name)
            .filter((n) => !deferred.has(n)),
          BULK_LOAD_UNFINISHED,
        ].sort(),
      );
      // Its first batch has nothing to drop; the build at the end makes them as a fresh
      // file has them, and removes the mark.
      bulk.prepare(copied);
      expect(bulk.tenants).toEqual(["acme"]);
      bulk.finish(store, "acme");
      expect(objects(copied)).toEqual(objects(fresh));
    } finally {
      fresh.close();
      store.close();
    }
  });

  it("migrated to a version are the file the first event's migration makes in the bulk load", async () => {
    const bulk = new BulkLoad();
    bulk.prepareTemplate(template);
    const v2 = join(dir.path, "template.v2.sqlite");
    bulk.prepareVersionTemplate(template, v2, TRACKER_V2, 2);
    // The unmigrated template's copy, migrated as a bulk-loaded tenant's first event does.
    const migrated = TenantDb.open("acme", join(dir.path, "migrated.sqlite"), true, {
      logIdentity: IDENTITY,
      template,
    })!;
    const copied = TenantDb.open("acme", join(dir.path, "copied.sqlite"), true, {
      logIdentity: IDENTITY,
      template: v2,
    })!;
    try {
      migrated.bulkLoading = true;
      migrated.db.transaction(() => {
        migrated.migrateTo(TRACKER_V2);
        migrated.writeState({ partition: -1, appliedOffset: 0, schemaVersion: 2 });
      })();
      migrated.commitState({ partition: -1, appliedOffset: 0, schemaVersion: 2 });
      // Nothing applied (so bulk-loaded), at version 2, with the unique indexes only.
      expect(copied.state).toEqual({ partition: -1, appliedOffset: 0, schemaVersion: 2 });
      // Loaded with the journal in memory, as a copy of the unmigrated template is.
      expect(copied.db.pragma("journal_mode", { simple: true })).toBe("memory");
      expect(migrated.db.pragma("journal_mode", { simple: true })).toBe("memory");
      expect(describeFile(copied, true)).toEqual(describeFile(migrated, true));
      const names = describeFile(copied, true).dump as string;
      expect(names).toContain("index ux_n1_f1:");
      expect(names).not.toContain("index ix_n4_f8:");
      expect(names).not.toContain("fts_n2");
      expect(names).toContain(`table ${BULK_LOAD_UNFINISHED}:`);
      // Its first batch has nothing to drop or migrate.
      bulk.prepare(copied);
      expect(copied.bulkLoading).toBe(true);
      await copied.makeDurable();
      expect(copied.db.pragma("synchronous", { simple: true })).toBe(1n);
    } finally {
      migrated.close();
      copied.close();
    }
    // The template is left as it was, under the template's own tenant id.
    expect(canonicalDump(v2)).toContain('"tenant-template"');
    removeTenantTemplate(v2);
    expect(existsSync(v2)).toBe(false);
  });

  it("built at a version keep every object, marked, and the build only removes the mark", () => {
    const bulk = new BulkLoad();
    bulk.prepareTemplate(template);
    const built = join(dir.path, "template.v2-built.sqlite");
    bulk.prepareVersionTemplate(template, built, TRACKER_V2, 2, true);
    // A fresh file migrated to v2 as the live applier migrates it.
    const fresh = TenantDb.open("acme", join(dir.path, "fresh.sqlite"), true, {
      logIdentity: IDENTITY,
    })!;
    fresh.db.transaction(() => fresh.migrateTo(TRACKER_V2))();
    const store = openStore({
      dataDir: join(dir.path, "data"),
      schemas: lookupOf(served(1, TRACKER_V1), served(2, TRACKER_V2)),
      tenantTemplate: built,
      logIdentity: IDENTITY,
    });
    try {
      const copied = store.tenant("acme", true)!;
      expect(copied.state).toEqual({ partition: -1, appliedOffset: 0, schemaVersion: 2 });
      // A small tenant's copy is written in WAL mode, as its template is, not in `MEMORY`.
      expect(walInHeader(built)).toBe(true);
      expect(copied.db.pragma("journal_mode", { simple: true })).toBe("wal");
      // Everything a live file at v2 has, and the mark of an unfinished bulk load.
      expect(objects(copied).map((o) => o.name)).toEqual(
        [...objects(fresh).map((o) => o.name), BULK_LOAD_UNFINISHED].sort(),
      );
      // Its batches drop nothing and migrate as live; the build only removes the mark.
      bulk.prepare(copied);
      expect(copied.bulkLoading).toBe(false);
      expect(bulk.tenants).toEqual(["acme"]);
      expect(objects(copied).map((o) => o.name)).toContain("ix_n4_f8");
      bulk.finish(store, "acme");
      expect(bulk.tenants).toEqual([]);
      expect(objects(copied)).toEqual(objects(fresh));
    } finally {
      fresh.close();
      store.close();
    }
  });

  it("after the first copy, open with what it read back, and a rewritten template is read again", () => {
    const bulk = new BulkLoad();
    bulk.prepareTemplate(template);
    const built = join(dir.path, "template.built.sqlite");
    /** What opening a file reads back from it, by the handle's own accessors. */
    const reads = (db: TenantDb) => ({
      state: db.state,
      logIdentity: db.logIdentity,
      fts: Object.values(T).map((typeId) => db.ftsFields(typeId) ?? null),
      objects: objects(db)
        .map((o) => o.name)
        .filter((name) => db.hasObject(name)),
    });
    for (const [model, version] of [
      [TRACKER_V2, 2],
      [TRACKER_V1, 1],
    ] as const) {
      // Written again at the same path: its copies must not open with the other version's reads.
      bulk.prepareVersionTemplate(template, built, model, version, true);
      const open = (tenant: string) =>
        TenantDb.open(tenant, join(dir.path, `${tenant}-v${version}.sqlite`), true, {
          logIdentity: IDENTITY,
          template: built,
        })!;
      const first = open("acme");
      const second = open("globex");
      const secondReads = reads(second);
      first.close();
      second.close();
      // The same file opened as an existing one reads everything from it.
      const reopened = TenantDb.open("globex", join(dir.path, `globex-v${version}.sqlite`), false)!;
      try {
        expect(secondReads).toEqual(reads(reopened));
        expect(secondReads.state).toEqual({
          partition: -1,
          appliedOffset: 0,
          schemaVersion: version,
        });
        expect(secondReads.logIdentity).toBe(IDENTITY);
        expect(secondReads.fts.filter((f) => f !== null).length).toBeGreaterThan(0);
        expect(String(reopened.db.prepare("SELECT tenant FROM tenant_state").pluck().get())).toBe(
          "globex",
        );
      } finally {
        reopened.close();
      }
    }
    removeTenantTemplate(built);
  });

  it("are closed without planner statistics when told so, with them otherwise", () => {
    // Read without TenantDb.open, whose `optimize = 0x10002` would analyze the file.
    const statTables = (path: string) => {
      const db = new Database(path, { readonly: true });
      try {
        return db
          .prepare("SELECT name FROM sqlite_master WHERE name = 'sqlite_stat1'")
          .pluck()
          .all();
      } finally {
        db.close();
      }
    };
    for (const optimize of [true, false]) {
      const path = join(dir.path, `stats-${optimize}.sqlite`);
      const db = TenantDb.open("acme", path, true, { logIdentity: IDENTITY, template })!;
      db.db.transaction(() => db.migrateTo(TRACKER_V1))();
      const insert = db.db.prepare(
        "INSERT INTO nodes (id, type_id, payload, version, owner, created_at, updated_at) VALUES (?, 2, '{}', 1, 'user:a', 0, 0)",
      );
      for (let i = 0; i < 50; i++) insert.run(`n${i}`);
      // A read by index, so the planner has used the indexes `PRAGMA optimize` looks at.
      db.db.prepare("SELECT seq FROM nodes WHERE id = ?").get("n1");
      db.optimizeOnClose = optimize;
      db.close();
      expect(statTables(path)).toEqual(optimize ? ["sqlite_stat1"] : []);
    }
  });

  it("are chosen by the version each tenant's first entry is applied at", () => {
    const first = new FirstVersions();
    const plan = (tenant: string, version: number) =>
      planEvent(tenant, "k", [op.createNode(T.Team, "t", { 1: v.str("T"), 2: v.str("s") })], {
        schemaVersion: version,
      });
    first.note("a", plan("a", 2));
    first.note("a", plan("a", 1));
    first.note("b", accessEvent("b", "k", { case: "createTenantOwner", value: "user:0" }));
    first.note("c", new Uint8Array([1, 2, 3, 0xff]));
    first.note("c", plan("c", 1));
    first.note("d", plan("other", 1));
    first.note("e", plan("e", 0));
    first.note("f", schemaChangeEvent("f", served(2, TRACKER_V2)));
    // Only a tenant's first entry counts; one the applier records as bad gives none.
    expect(Object.fromEntries(first.versions)).toEqual({ a: 2, b: 1, f: 2 });
    expect(appliedVersion("c", plan("c", 3))).toBe(3);
  });

  it("leave the template as it was, and the template is removed with what SQLite left beside it", () => {
    const before = canonicalDump(template);
    TenantDb.open("a1", join(dir.path, "a1.sqlite"), true, {
      logIdentity: IDENTITY,
      template,
    })!.close();
    expect(canonicalDump(template)).toBe(before);
    expect(before).toContain("tenant-template");
    removeTenantTemplate(template);
    for (const suffix of ["", "-wal", "-shm"])
      expect(existsSync(`${template}${suffix}`)).toBe(false);
  });
});
