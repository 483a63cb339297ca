/**
 * A restore's appliers take the records its read phase holds instead of reading the
 * restored log back (server/archive/restore-records.ts). The fast path must change
 * nothing: restores of the same archive with it and without it (`heldRecordBytes: 0`),
 * on one thread and on several, whole, cut at a point and of one tenant under a new id,
 * give the same canonical dumps, the same bad events, the same parked tenants and the
 * same restored log.
 */

import { existsSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SCHEMA_LOG_KEY } from "../../server/apply/index.ts";
import {
  type ArchiveLocation,
  Archiver,
  parseArchiveUrl,
  type RestoreOptions,
  restoreArchive,
  S3ObjectStore,
} from "../../server/archive/index.ts";
import { HeldRecords, packRecords, unpackRecords } from "../../server/archive/restore-records.ts";
import { createLogger } from "../../server/log.ts";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import { tenantFileName } from "../../server/store/index.ts";
import { openEmbeddedWal, type WalEntry } from "../../server/wal/index.ts";
import { scenario, TENANTS } from "../apply/replay-scenario.ts";
import { startTestS3, type TestS3 } from "../infra/s3-server.ts";
import {
  op,
  planEvent,
  schemaChangeEvent,
  served,
  T,
  T0_MS,
  TRACKER_V1,
  tempDir,
} from "../store/store-fixtures.ts";

/** The restores' error lines (each restore parks hooli and says so), kept off the test output. */
const logged: string[] = [];
const quiet = createLogger("error", (line) => logged.push(line));
let s3: TestS3;
let store: S3ObjectStore;
let location: ArchiveLocation;
const dirs: { remove(): void }[] = [];
/** A tenant whose plan names a schema version nobody registered: parked by every restore. */
const PARKED = "hooli";

beforeAll(async () => {
  s3 = await startTestS3();
  const source = tempDir("held-source");
  dirs.push(source);
  const wal = await openEmbeddedWal({ path: join(source.path, "wal.sqlite"), partitions: 3 });
  location = parseArchiveUrl(`s3://${await s3.newBucket()}/held`);
  store = new S3ObjectStore({ location, endpoint: s3.endpoint });
  try {
    await wal.append([
      { tenant: SCHEMA_LOG_KEY, payload: schemaChangeEvent(SCHEMA_LOG_KEY, served(1, TRACKER_V1)) },
      ...scenario(5),
      // Bad events: under a key that is no tenant id, and a tenant's undecodable payload.
      { tenant: "#junk", payload: new Uint8Array([9, 9, 9]) },
      { tenant: "acme", payload: new Uint8Array([0xff, 0xff]) },
      {
        tenant: PARKED,
        payload: planEvent(PARKED, "k-parked", [op.deleteNode(T.User, "u-1")], {
          schemaVersion: 9,
        }),
      },
      ...scenario(6),
    ]);
    const archiver = await Archiver.start({ wal, store, location, log: quiet });
    await archiver.close(60_000);
  } finally {
    await wal.close();
  }
}, 600_000);

afterAll(() => {
  store?.close();
  for (const d of dirs) d.remove();
});

/** What a restore left: per tenant its canonical dump, the bad events, the parked tenants, the log. */
async function restored(
  label: string,
  options: Partial<RestoreOptions>,
  tenants: readonly string[],
): Promise<Record<string, unknown>> {
  const d = tempDir(label);
  dirs.push(d);
  const result = await restoreArchive({ store, location, dataDir: d.path, log: quiet, ...options });
  // A parked tenant's file is removed (restore-apply.ts): a server rebuilds it from the log.
  const dumps = Object.fromEntries(
    tenants.map((t) => {
      const file = join(d.path, "tenants", tenantFileName(t));
      return [t, existsSync(file) ? canonicalDump(file) : "(removed)"];
    }),
  );
  const meta = new Database(join(d.path, "meta.sqlite"), { readonly: true });
  const bad = meta
    .prepare("SELECT log_partition, log_offset, tenant, error FROM bad_events ORDER BY 1, 2")
    .all();
  meta.close();
  const logFile = new Database(join(d.path, "wal.sqlite"), { readonly: true });
  // The records (a cut or one-tenant restore's log has a new identity: wal_meta differs).
  const log = logFile.prepare("SELECT * FROM wal_records ORDER BY 1, 2").all();
  logFile.close();
  return {
    dumps,
    bad,
    log,
    parked: [...result.parked].sort(),
    ends: result.ends,
    records: result.records,
  };
}

describe("a restore's appliers given the records the read phase holds", () => {
  it("restore the same data dir as appliers that read the log back, on one thread and on several", async () => {
    const all = [...TENANTS, PARKED];
    const reference = await restored("held-off-1", { heldRecordBytes: 0, threads: 1 }, all);
    expect(reference["parked"]).toEqual([PARKED]);
    expect(logged.some((l) => l.includes('"tenant parked while restoring","tenant":"hooli"'))).toBe(
      true,
    );
    expect((reference["dumps"] as Record<string, string>)[PARKED]).toBe("(removed)");
    expect(JSON.stringify(reference["bad"])).toContain("#junk");
    expect(JSON.stringify(reference["dumps"])).toContain("UNIQUE_VIOLATION");
    for (const threads of [1, 2, 3]) {
      const label = `held-on-${threads}`;
      expect(await restored(label, { threads }, all)).toEqual(reference);
    }
    expect(await restored("held-off-2", { heldRecordBytes: 0, threads: 2 }, all)).toEqual(
      reference,
    );
    // Past the budget part-way through the read: the appliers read the log back.
    expect(await restored("held-over", { heldRecordBytes: 20_000, threads: 2 }, all)).toEqual(
      reference,
    );
    // The restored log checkpointed after every segment, and read back by the appliers.
    expect(
      await restored(
        "checkpointed",
        { heldRecordBytes: 0, logCheckpointBytes: 1, threads: 2 },
        all,
      ),
    ).toEqual(reference);
  }, 120_000);

  it("restore the same data dir at a point in time and for one tenant under a new id", async () => {
    for (const options of [
      { tenant: "globex", toPosition: 150 },
      { tenant: "Initech", asTenant: "initech-copy" },
      // acme's log holds an undecodable payload: recorded as a bad event of the new id.
      { tenant: "acme", asTenant: "acme-copy" },
      { toTime: new Date(T0_MS + 1_000) },
    ] satisfies Partial<RestoreOptions>[]) {
      const tenants =
        "asTenant" in options
          ? [options.asTenant]
          : "tenant" in options
            ? [options.tenant]
            : TENANTS;
      const off = await restored("cut-off", { ...options, heldRecordBytes: 0 }, tenants);
      const on = await restored("cut-on", options, tenants);
      expect((off["log"] as unknown[]).length).toBeLessThan(800);
      expect(on).toEqual(off);
      if ("asTenant" in options && options.tenant === "acme")
        expect(off["bad"]).toEqual([expect.objectContaining({ tenant: "acme-copy" })]);
    }
  }, 120_000);
});

describe("HeldRecords", () => {
  const entry = (partition: number, offset: number, tenant: string, bytes: number[]): WalEntry => ({
    tenant,
    payload: new Uint8Array(bytes),
    position: { partition, offset },
  });

  it("keeps records per partition while they fit the budget, and drops them all past it", () => {
    const held = new HeldRecords(2, 1_000);
    held.add(entry(1, 0, "acme", [1, 2]));
    held.add(entry(0, 0, "globex", [3]));
    expect(held.records?.map((p) => p.map((e) => e.position.offset))).toEqual([[0], [0]]);
    for (let i = 1; i < 10; i++) held.add(entry(0, i, "globex", [4]));
    expect(held.records).toBeUndefined();
    expect(new HeldRecords(2, 0).records).toBeUndefined();
  });

  it("packs a thread's records with other tenants' payloads left empty, keys kept", () => {
    const records = [
      [entry(0, 0, "acme", [1, 2]), entry(0, 1, "globex", [3]), entry(0, 2, "#schema", [4, 5])],
      [entry(1, 0, "globex", [6])],
    ];
    const unpacked = unpackRecords(packRecords(records, new Set(["acme"])));
    expect(unpacked).toEqual([
      [entry(0, 0, "acme", [1, 2]), entry(0, 1, "globex", []), entry(0, 2, "#schema", [4, 5])],
      [entry(1, 0, "globex", [])],
    ]);
  });
});
