/**
 * A restore applies tenants on several threads at once (server/archive/restore-apply.ts)
 * and bulk-loads them (server/apply/bulk-load.ts): whatever the number of threads, the
 * restored tenants equal those the live applier made from the same log, byte for byte
 * in a canonical dump, with the same outcomes recorded for failures of every kind, for
 * tenants that start at different schema versions (copied from templates migrated to
 * them), migrate half-way, or start with an entry recorded as bad.
 */

/** The restored tenants: the scenario's and those appended to it. */
const ALL_TENANTS = [...TENANTS, ...LATER_TENANTS];

import { readdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Applier, SCHEMA_LOG_KEY } from "../../server/apply/index.ts";
import {
  Archiver,
  parseArchiveUrl,
  restoreArchive,
  S3ObjectStore,
} from "../../server/archive/index.ts";
import { createLogger } from "../../server/log.ts";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import { tenantFileName } from "../../server/store/index.ts";
import { openStore } from "../../server/store/store.ts";
import { openEmbeddedWal } from "../../server/wal/index.ts";
import { applyWholeLog } from "../apply/apply-harness.ts";
import { LATER_TENANTS, laterTenants, scenario, TENANTS } from "../apply/replay-scenario.ts";
import { startTestS3, type TestS3 } from "../infra/s3-server.ts";
import {
  lookupOf,
  schemaChangeEvent,
  served,
  TRACKER_V1,
  TRACKER_V2,
  tempDir,
} from "../store/store-fixtures.ts";

const quiet = createLogger("error");
let s3: TestS3;
const dirs: { remove(): void }[] = [];
beforeAll(async () => {
  s3 = await startTestS3();
}, 600_000);
afterAll(() => {
  for (const d of dirs) d.remove();
});

function dir(label: string): string {
  const d = tempDir(label);
  dirs.push(d);
  return d.path;
}

describe("a restore on several threads", () => {
  it("gives every tenant the canonical dump the live applier gave it", async () => {
    const source = dir("threads-source");
    const wal = await openEmbeddedWal({ path: join(source, "wal.sqlite"), partitions: 2 });
    const location = parseArchiveUrl(`s3://${await s3.newBucket()}/threads`);
    const store = new S3ObjectStore({ location, endpoint: s3.endpoint });
    let reference: string[];
    try {
      await wal.append([
        {
          tenant: SCHEMA_LOG_KEY,
          payload: schemaChangeEvent(SCHEMA_LOG_KEY, served(1, TRACKER_V1)),
        },
        ...scenario(11),
        ...laterTenants(),
      ]);
      // The reference: the live applier over the original log.
      const live = openStore({
        dataDir: source,
        schemas: lookupOf(served(1, TRACKER_V1), served(2, TRACKER_V2)),
      });
      const applier = new Applier({ wal, store: live });
      await applyWholeLog(applier);
      live.close();
      reference = ALL_TENANTS.map((t) => canonicalDump(live.tenantPath(t)));
      expect(reference.join("\n")).toContain("UNIQUE_VIOLATION");
      const archiver = await Archiver.start({ wal, store, location, log: quiet });
      await archiver.close(60_000);
    } finally {
      await wal.close();
    }

    try {
      // 5: more threads than tenants, so two of the workers started ahead are ended unused.
      // Small tenants keep their indexes per event (a built template): by default all of
      // them here; with 0 none (every index built at the end); with 50 the appended ones.
      for (const [threads, smallTenantEvents] of [
        [1, undefined],
        [2, 0],
        [3, 50],
        [5, undefined],
      ] as const) {
        const restored = dir(`threads-${threads}`);
        const result = await restoreArchive({
          store,
          location,
          dataDir: restored,
          log: quiet,
          threads,
          ...(smallTenantEvents !== undefined ? { smallTenantEvents } : {}),
        });
        expect(result.parked).toEqual([]);
        expect(result.threadCpuMs).toHaveLength(Math.min(threads, ALL_TENANTS.length));
        // No thread's template or log copy is left, not even of the workers ended unused
        // (each made its template while the archive was read).
        expect(
          readdirSync(restored).filter((name) => /template|\.apply-|\.thread-/.test(name)),
        ).toEqual([]);
        const dumps = ALL_TENANTS.map((t) =>
          canonicalDump(join(restored, "tenants", tenantFileName(t))),
        );
        expect(dumps).toEqual(reference);
        // Planner statistics: gathered at the end for bulk-loaded tenants, not for small
        // ones (a server analyzes those when it opens them, as files it created itself).
        const analyzed = ALL_TENANTS.filter((t) =>
          hasStatistics(join(restored, "tenants", tenantFileName(t))),
        );
        if (smallTenantEvents === undefined) expect(analyzed).toEqual([]);
        // (`only-bad` has nothing applied: no table of it is worth analyzing.)
        if (smallTenantEvents === 0)
          expect(analyzed).toEqual(ALL_TENANTS.filter((t) => t !== "only-bad"));
      }
      // One tenant file open per thread: files are closed between batches and opened
      // again, for their next batch and for their index build.
      for (const [threads, smallTenantEvents] of [
        [1, 0],
        [2, 1000],
      ] as const) {
        const restored = dir(`threads-${threads}-one-open`);
        const result = await restoreArchive({
          store,
          location,
          dataDir: restored,
          log: quiet,
          threads,
          openTenants: threads,
          smallTenantEvents,
        });
        expect(result.parked).toEqual([]);
        const dumps = ALL_TENANTS.map((t) =>
          canonicalDump(join(restored, "tenants", tenantFileName(t))),
        );
        expect(dumps).toEqual(reference);
      }
    } finally {
      store.close();
    }
  }, 120_000);
});

/** Whether the file has `sqlite_stat1` (read without TenantDb.open, whose open analyzes). */
function hasStatistics(path: string): boolean {
  const db = new Database(path, { readonly: true });
  try {
    return (
      db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").get() !== undefined
    );
  } finally {
    db.close();
  }
}
