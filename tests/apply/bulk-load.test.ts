/**
 * The bulk load a restore applies with (server/apply/bulk-load.ts) is a fast path of the
 * live applier: tenants applied from nothing with their non-unique indexes built once at
 * the end must equal tenants applied live, byte for byte in a canonical dump, whatever
 * the log holds (failures of every kind, unique clashes, deletes, edges, searchable
 * fields, a schema change half-way), the batch size or the LRU pressure.
 */

import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Applier } from "../../server/apply/applier.ts";
import { BulkLoad } from "../../server/apply/bulk-load.ts";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import { openStore } from "../../server/store/store.ts";
import { writeTenantTemplate } from "../../server/store/tenant-template.ts";
import { type EmbeddedWal, openEmbeddedWal } from "../../server/wal/embedded-wal.ts";
import type { Wal } from "../../server/wal/wal.ts";
import { ftsState } from "../store/fts-state.ts";
import { lookupOf, served, TRACKER_V1, TRACKER_V2, tempDir } from "../store/store-fixtures.ts";
import { applyWholeLog } from "./apply-harness.ts";
import { scenario, TENANTS } from "./replay-scenario.ts";

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function dir(label: string): string {
  const d = tempDir(label);
  cleanups.push(() => d.remove());
  return d.path;
}

async function openWal(label: string): Promise<EmbeddedWal> {
  const wal = await openEmbeddedWal({
    path: join(dir(label), "wal.sqlite"),
    partitions: 2,
    writer: "inline",
  });
  cleanups.push(() => wal.close());
  return wal;
}

/** The index and table names of a tenant file. */
function indexNames(path: string): string[] {
  const dump = canonicalDump(path);
  return [...dump.matchAll(/^(?:index|table) ([^:]+):/gm)].map((m) => m[1]!);
}

interface Materialized {
  readonly dumps: string[];
  /** Each tenant's full-text index ({@link ftsState}). */
  readonly fts: Record<string, string[]>[];
  /** Each tenant's index names just before the bulk load built them (bulk only). */
  readonly before: string[][];
}

/**
 * Applies the whole of `wal` into `dataDir`, live or as a bulk load (finished the way a
 * restore finishes it), and returns each tenant's dump.
 */
async function materialize(
  wal: Wal,
  dataDir: string,
  options: { maxBatch: number; maxOpenTenants: number; bulk: boolean; template?: boolean },
): Promise<Materialized> {
  const schemas = lookupOf(served(1, TRACKER_V1), served(2, TRACKER_V2));
  const bulk = new BulkLoad();
  // New files copied from a template already in the bulk load's state, as a restore makes them.
  const template = options.template ? join(dataDir, "..", "template.sqlite") : undefined;
  if (template !== undefined) {
    writeTenantTemplate(template, wal.identity);
    bulk.prepareTemplate(template);
  }
  const store = openStore({
    dataDir,
    schemas,
    maxOpenTenants: options.maxOpenTenants,
    ...(template !== undefined ? { tenantTemplate: template } : {}),
  });
  const applier = new Applier({
    wal,
    store,
    maxBatch: options.maxBatch,
    ...(options.bulk ? bulk.applierHooks : {}),
  });
  await applyWholeLog(applier);
  expect(applier.parkedTenants().map((p) => p.error.message)).toEqual([]);
  const before = options.bulk ? TENANTS.map((t) => indexNames(store.tenantPath(t))) : [];
  expect([...bulk.tenants].sort()).toEqual(options.bulk ? [...TENANTS].sort() : []);
  for (const tenant of bulk.tenants) bulk.finish(store, tenant);
  expect(bulk.tenants).toEqual([]);
  store.close();
  return {
    dumps: TENANTS.map((t) => canonicalDump(store.tenantPath(t))),
    fts: TENANTS.map((t) => ftsState(store.tenantPath(t))),
    before,
  };
}

describe("a bulk load", () => {
  it("gives the canonical dumps of the live applier on the replay scenario", async () => {
    const wal = await openWal("bulk-wal");
    await wal.append(scenario());
    const live = await materialize(wal, dir("bulk-live"), {
      maxBatch: 64,
      maxOpenTenants: 256,
      bulk: false,
    });
    const all = live.dumps.join("\n");
    for (const needle of ["UNIQUE_VIOLATION", "MISSING_REF", "UNIQUE_PER_FROM", "summary"])
      expect(all).toContain(needle);

    for (const [maxBatch, maxOpenTenants, template] of [
      [64, 256, false],
      [1, 256, false],
      [500, 1, false],
      [64, 256, true],
      // Reopened at every batch: the access tables' DDL makes `nodes_by_owner` again.
      [500, 1, true],
    ] as const) {
      const bulk = await materialize(
        wal,
        join(dir(`bulk-${maxBatch}-${maxOpenTenants}-${template}`), "data"),
        { maxBatch, maxOpenTenants, bulk: true, template },
      );
      expect(bulk.dumps).toEqual(live.dumps);
      expect(bulk.fts).toEqual(live.fts);
      // The fast path ran: until the end the deferred indexes were missing, the unique
      // ones and edges_by_to were there.
      for (const names of bulk.before) {
        expect(names).not.toContain("nodes_by_type");
        expect(names).not.toContain("nodes_by_owner");
        // A migration makes only the unique indexes (TenantDb.bulkLoading).
        expect(names).not.toContain("ix_n4_f8");
        expect(names).not.toContain("fts_n2");
        expect(names).toContain("edges_by_to");
        expect(names).toContain("ux_n1_f1");
      }
    }
    for (const dump of live.dumps) {
      expect(dump).toContain(
        "index nodes_by_type: CREATE INDEX nodes_by_type ON nodes(type_id, id)",
      );
      expect(dump).toContain("index ix_n4_f8:");
      expect(dump).toMatch(/rows fts_n2 \(rowid, [^)]*\)\n\d+ \| "Team /);
    }
    expect(Object.keys(live.fts[0]!)).toContain("fts_n2 instances");
    expect(live.fts[0]!["fts_n2 instances"]!.length).toBeGreaterThan(10);
  });

  it("gives the canonical dumps of the live applier on random logs", async () => {
    for (const seed of [1, 7, 2024, 31337]) {
      const wal = await openWal(`bulk-random-${seed}`);
      await wal.append(scenario(seed));
      const live = await materialize(wal, dir(`live-${seed}`), {
        maxBatch: 32,
        maxOpenTenants: 2,
        bulk: false,
      });
      const bulk = await materialize(wal, join(dir(`bulk-${seed}`), "data"), {
        maxBatch: 97,
        maxOpenTenants: 2,
        bulk: true,
        template: seed % 2 === 1,
      });
      expect(bulk.dumps).toEqual(live.dumps);
      expect(bulk.fts).toEqual(live.fts);
    }
  });

  it("leaves a tenant that had events applied before alone", async () => {
    const wal = await openWal("bulk-later-wal");
    const records = scenario(5);
    const half = Math.floor(records.length / 2);
    await wal.append(records.slice(0, half));
    const dataDir = dir("bulk-later");
    const schemas = lookupOf(served(1, TRACKER_V1), served(2, TRACKER_V2));
    {
      const store = openStore({ dataDir, schemas });
      const applier = new Applier({ wal, store });
      await applyWholeLog(applier);
      store.close();
    }
    await wal.append(records.slice(half));
    const store = openStore({ dataDir, schemas });
    const bulk = new BulkLoad();
    const applier = new Applier({ wal, store, beforeTenantBatch: (db) => bulk.prepare(db) });
    await applyWholeLog(applier);
    expect(bulk.tenants).toEqual([]);
    for (const t of TENANTS) expect(indexNames(store.tenantPath(t))).toContain("nodes_by_type");
    store.close();
    const live = await materialize(wal, dir("bulk-later-live"), {
      maxBatch: 512,
      maxOpenTenants: 256,
      bulk: false,
    });
    expect(TENANTS.map((t) => canonicalDump(store.tenantPath(t)))).toEqual(live.dumps);
  });
});
