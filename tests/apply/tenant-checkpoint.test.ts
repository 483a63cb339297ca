import { statSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { Applier } from "../../server/apply/applier.ts";
import { openStore } from "../../server/store/store.ts";
import { TENANT_WAL_AUTOCHECKPOINT_PAGES } from "../../server/store/tenant-db.ts";
import { tenantFileName } from "../../server/store/tenant-id.ts";
import { openEmbeddedWal } from "../../server/wal/embedded-wal.ts";
import {
  lookupOf,
  op,
  planEvent,
  served,
  T,
  TRACKER_V1,
  tempDir,
  v,
} from "../store/store-fixtures.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * A log, a store and an applier that moves the checkpoint only when told (`flush`);
 * `append(n)` logs a create of team n in tenant acme and applies it in a batch of its own,
 * as a server applies writes that arrive one at a time.
 */
async function applying(label: string) {
  const dir = tempDir(label);
  cleanups.push(() => dir.remove());
  const wal = await openEmbeddedWal({
    path: join(dir.path, "wal.sqlite"),
    partitions: 1,
    writer: "inline",
  });
  cleanups.push(() => wal.close());
  const store = openStore({ dataDir: dir.path, schemas: lookupOf(served(1, TRACKER_V1)) });
  cleanups.push(() => store.close());
  const applier = new Applier({ wal, store, checkpointIntervalMs: 3_600_000 });
  const append = async (n: number): Promise<void> => {
    const record = {
      tenant: "acme",
      payload: planEvent("acme", `k${n}`, [
        op.createNode(T.Team, `t${n}`, { 1: v.str(`Team ${n}`), 2: v.str(`team-${n}`) }),
      ]),
    };
    const [position] = await wal.append([record]);
    applier.applyBatch([{ ...record, position: position! }]);
  };
  return { dir, store, applier, append };
}

describe("tenant file checkpoints", () => {
  it("leaves checkpoints of single-write transactions to the applier's flush", async () => {
    const { store, applier, append } = await applying("tenant-checkpoint");
    for (let n = 0; n < 200; n++) await append(n);
    const db = store.tenant("acme", false)!;
    const pageSize = Number(db.db.pragma("page_size", { simple: true }));
    const pages = Number(db.db.pragma("page_count", { simple: true }));
    const walFrames = statSync(`${db.db.name}-wal`).size / (pageSize + 24);
    // Every commit's pages are still in the -wal file, and none reached the database
    // file: SQLite's default checkpoint at 1,000 pages would have copied them there and
    // restarted the -wal file from its top.
    expect(walFrames).toBeGreaterThan(2_000);
    expect(walFrames).toBeLessThan(TENANT_WAL_AUTOCHECKPOINT_PAGES);
    expect(statSync(db.db.name).size).toBeLessThan(pages * pageSize);
    applier.flush();
    expect(statSync(db.db.name).size).toBe(pages * pageSize);
  });

  it("keeps the resume point while a reader holds frames back", async () => {
    const { dir, store, applier, append } = await applying("tenant-checkpoint-reader");
    for (let n = 0; n < 20; n++) await append(n);
    applier.flush();
    expect(store.meta.checkpoint(0)).toBe(20);

    // An operator's shell reading an older snapshot: frames committed after it began
    // cannot be copied into the database file until it ends.
    const reader = new Database(join(dir.path, "tenants", tenantFileName("acme")), {
      readonly: true,
    });
    cleanups.push(() => {
      reader.close();
    });
    reader.exec("BEGIN");
    reader.prepare("SELECT count(*) FROM nodes").get();
    for (let n = 20; n < 30; n++) await append(n);
    applier.flush();
    expect(store.meta.checkpoint(0)).toBe(20);

    reader.exec("COMMIT");
    applier.flush();
    expect(store.meta.checkpoint(0)).toBe(30);
  });
});
