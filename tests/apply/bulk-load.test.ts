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
import { FirstVersions } from "../../server/archive/first-versions.ts";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import { openStore } from "../../server/store/store.ts";
import { writeTenantTemplate } from "../../server/store/tenant-template.ts";
import { type EmbeddedWal, openEmbeddedWal } from "../../server/wal/embedded-wal.ts";
import type { Wal, WalRecord } from "../../server/wal/wal.ts";
import { ftsState } from "../store/fts-state.ts";
import { lookupOf, served, TRACKER_V1, TRACKER_V2, tempDir } from "../store/store-fixtures.ts";
import { applyWholeLog } from "./apply-harness.ts";
import { LATER_TENANTS, laterTenants, scenario, TENANTS } from "./replay-scenario.ts";

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
  /** Migrations each tenant's events made (bulk only). */
  readonly migrations: Record<string, number>;
}

/**
 * Applies the whole of `wal` into `dataDir`, live or as a bulk load (finished the way a
 * restore finishes it), and returns each tenant's dump.
 */
async function materialize(
  wal: Wal,
  dataDir: string,
  options: {
    maxBatch: number;
    maxOpenTenants: number;
    bulk: boolean;
    /** New files copied from a template; "versions": also from one per first schema version. */
    template?: boolean | "versions";
    /** The log's records, for "versions" (as a restore's read phase sees them). */
    records?: readonly WalRecord[];
    /** With "versions", tenants copied from a template built at their first version. */
    small?: ReadonlySet<string>;
    tenants?: readonly string[];
  },
): Promise<Materialized> {
  const tenants = options.tenants ?? TENANTS;
  const schemas = lookupOf(served(1, TRACKER_V1), served(2, TRACKER_V2));
  const bulk = new BulkLoad();
  // New files copied from a template already in the bulk load's state, as a restore makes them.
  const template = options.template ? join(dataDir, "..", "template.sqlite") : undefined;
  if (template !== undefined) {
    writeTenantTemplate(template, wal.identity);
    bulk.prepareTemplate(template);
  }
  // And per schema version a tenant's first event is at, one migrated to it (restore-apply.ts).
  const first = new FirstVersions();
  const versionTemplates = new Map<number, string>();
  const builtTemplates = new Map<number, string>();
  if (options.template === "versions" && template !== undefined) {
    for (const r of options.records ?? []) first.note(r.tenant, r.payload);
    for (const version of new Set(first.versions.values())) {
      const model = schemas(version)!.model;
      bulk.prepareVersionTemplate(template, `${template}.v${version}`, model, version);
      versionTemplates.set(version, `${template}.v${version}`);
      bulk.prepareVersionTemplate(template, `${template}.b${version}`, model, version, true);
      builtTemplates.set(version, `${template}.b${version}`);
    }
  }
  const templateFor = (tenant: string) => {
    const version = first.versions.get(tenant) ?? 0;
    const built = options.small?.has(tenant) ? builtTemplates.get(version) : undefined;
    return built ?? versionTemplates.get(version) ?? template;
  };
  const store = openStore({
    dataDir,
    schemas,
    maxOpenTenants: options.maxOpenTenants,
    ...(template !== undefined ? { tenantTemplate: templateFor } : {}),
  });
  const migrations: Record<string, number> = {};
  const applier = new Applier({
    wal,
    store,
    maxBatch: options.maxBatch,
    ...(options.bulk
      ? {
          // As a restore applies: lean creates too (RESTORE_APPLIER_OPTIONS).
          leanCreates: true,
          ...bulk.applierHooks,
          afterMigration: (db) => {
            migrations[db.tenant] = (migrations[db.tenant] ?? 0) + 1;
            bulk.afterMigration(db);
          },
        }
      : {}),
  });
  await applyWholeLog(applier);
  expect(applier.parkedTenants().map((p) => p.error.message)).toEqual([]);
  const before = options.bulk ? tenants.map((t) => indexNames(store.tenantPath(t))) : [];
  expect([...bulk.tenants].sort()).toEqual(options.bulk ? [...tenants].sort() : []);
  for (const tenant of bulk.tenants) bulk.finish(store, tenant);
  expect(bulk.tenants).toEqual([]);
  store.close();
  return {
    dumps: tenants.map((t) => canonicalDump(store.tenantPath(t))),
    fts: tenants.map((t) => ftsState(store.tenantPath(t))),
    before,
    migrations,
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

  it("gives the canonical dumps of the live applier from templates migrated to each tenant's first version", async () => {
    const records = [...scenario(11), ...laterTenants()];
    const tenants = [...TENANTS, ...LATER_TENANTS];
    // The scenario's tenants start at v1 and migrate to v2 half-way; two start at v2; the
    // rest start with an entry the applier records as bad, so at version 0.
    const first = new FirstVersions();
    for (const r of records) first.note(r.tenant, r.payload);
    expect(Object.fromEntries(tenants.map((t) => [t, first.versions.get(t)]))).toEqual({
      acme: 1,
      globex: 1,
      Initech: 1,
      late: 2,
      "late-rejected": 2,
      "bad-first": undefined,
      "named-other": undefined,
      "only-bad": undefined,
    });
    const wal = await openWal("bulk-versions-wal");
    await wal.append(records);
    const live = await materialize(wal, dir("versions-live"), {
      maxBatch: 64,
      maxOpenTenants: 256,
      bulk: false,
      tenants,
    });
    const dumpOf = (t: string) => live.dumps[tenants.indexOf(t)]!;
    expect(dumpOf("late")).toContain("UNIQUE_VIOLATION");
    expect(dumpOf("late-rejected")).toContain("MISSING_REF");
    // Its only entry is bad: it stays at version 0, without schema objects.
    expect(dumpOf("only-bad")).toMatch(/\n1 \| "only-bad" \| \d+ \| \d+ \| 0\n/);
    expect(dumpOf("only-bad")).not.toContain("index ux_");
    expect(dumpOf("bad-first")).toContain("index ix_n4_f8:");
    // Copied from built templates (indexes kept per event): none, some, all.
    const some = new Set(["acme", "late", "bad-first", "only-bad"]);
    for (const [maxBatch, maxOpenTenants, small] of [
      [64, 256, new Set<string>()],
      [1, 256, some],
      [500, 1, new Set<string>()],
      [500, 1, some],
      [97, 3, new Set(tenants)],
    ] as const) {
      const bulk = await materialize(
        wal,
        join(dir(`versions-${maxBatch}-${maxOpenTenants}-${small.size}`), "data"),
        { maxBatch, maxOpenTenants, bulk: true, template: "versions", records, tenants, small },
      );
      expect(bulk.dumps).toEqual(live.dumps);
      expect(bulk.fts).toEqual(live.fts);
      // Copies of the migrated templates migrate only later in the log (the scenario's
      // tenants to v2 half-way; the v2 tenants never); a bad first entry's tenant, from
      // the unmigrated template, at each version it meets.
      expect(bulk.migrations).toEqual({
        acme: 1,
        globex: 1,
        Initech: 1,
        "bad-first": 2,
        "named-other": 1,
      });
      // Deferred until the end in the copies of the migrated templates too; kept in
      // those of the built ones (a bad first entry's tenant is copied from neither).
      tenants.forEach((tenant, i) => {
        const names = bulk.before[i]!;
        const built = small.has(tenant) && first.versions.has(tenant);
        expect([tenant, names.includes("nodes_by_type")]).toEqual([tenant, built]);
        expect(names.includes("ix_n4_f8")).toBe(built);
        expect(names.includes("fts_n2")).toBe(built);
        expect(names).toContain("bulk_load_unfinished");
      });
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
