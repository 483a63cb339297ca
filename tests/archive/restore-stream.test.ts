/**
 * A streamed restore (server/archive/restore-stream.ts) applies the log while the archive
 * is still read. It must change nothing: restores of an archive of many small segments,
 * whose tenants are decided part-way through the read (large ones) or only at its end
 * (small ones), give the canonical dumps, bad events and parked tenants of a restore that
 * reads the whole log first (`heldRecordBytes: 0`), on one thread and on several; a
 * segment found corrupt after the appliers started fails the restore by name.
 */

import { existsSync } from "node:fs";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SCHEMA_LOG_KEY } from "../../server/apply/index.ts";
import {
  type ArchiveLocation,
  Archiver,
  listSegments,
  parseArchiveUrl,
  type RestoreOptions,
  restoreArchive,
  S3ObjectStore,
} from "../../server/archive/index.ts";
import { RestoreStream, splitTenants } from "../../server/archive/restore-stream.ts";
import { createLogger } from "../../server/log.ts";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import { tenantFileName } from "../../server/store/index.ts";
import { openEmbeddedWal, type WalEntry } from "../../server/wal/index.ts";
import { startTestS3, type TestS3 } from "../infra/s3-server.ts";
import {
  op,
  planEvent,
  schemaChangeEvent,
  served,
  T,
  TRACKER_V1,
  tempDir,
  v,
} from "../store/store-fixtures.ts";

const quiet = createLogger("error", () => {});
let s3: TestS3;
let store: S3ObjectStore;
let location: ArchiveLocation;
const dirs: { remove(): void }[] = [];
/** Tenants with their event counts: past the small-tenant line of the restores below (40), or not. */
const SIZES: Record<string, number> = {
  acme: 120,
  globex: 90,
  initech: 60,
  hooli: 30,
  umbrella: 12,
  wayne: 41,
};
const TENANT_IDS = Object.keys(SIZES);

/** A Team create, the key and slug of event `n`; every 13th slug repeats one (a unique clash). */
function team(tenant: string, n: number): { tenant: string; payload: Uint8Array } {
  const slug = n % 13 === 0 && n > 0 ? `${tenant}-slug-0` : `${tenant}-slug-${n}`;
  const id = `0190a000-0000-7000-8000-${String(n).padStart(6, "0")}${tenant.length}${tenant.slice(0, 5).padEnd(5, "0")}`;
  return {
    tenant,
    payload: planEvent(tenant, `${tenant}-k${n}`, [
      op.createNode(T.Team, id.slice(0, 36), { 1: v.str(`Team ${n}`), 2: v.str(slug) }),
    ]),
  };
}

beforeAll(async () => {
  s3 = await startTestS3();
  const source = tempDir("stream-source");
  dirs.push(source);
  const wal = await openEmbeddedWal({ path: join(source.path, "wal.sqlite"), partitions: 3 });
  location = parseArchiveUrl(`s3://${await s3.newBucket()}/stream`);
  store = new S3ObjectStore({ location, endpoint: s3.endpoint });
  try {
    await wal.append([
      { tenant: SCHEMA_LOG_KEY, payload: schemaChangeEvent(SCHEMA_LOG_KEY, served(1, TRACKER_V1)) },
    ]);
    // Runs of 7 events, round robin over the tenants that have some left.
    const done = Object.fromEntries(TENANT_IDS.map((t) => [t, 0]));
    for (let round = 0; TENANT_IDS.some((t) => done[t]! < SIZES[t]!); round++)
      for (const tenant of TENANT_IDS) {
        const batch = [];
        for (let i = 0; i < 7 && done[tenant]! < SIZES[tenant]!; i++)
          batch.push(team(tenant, done[tenant]!++));
        if (batch.length > 0) await wal.append(batch);
        // A key that is no tenant id, and an undecodable payload, part-way through.
        if (round === 3 && tenant === "acme")
          await wal.append([
            { tenant: "#junk", payload: new Uint8Array([9, 9, 9]) },
            { tenant: "globex", payload: new Uint8Array([0xff, 0xff]) },
          ]);
      }
    // Segments of 25 records: the read phase takes many steps.
    const archiver = await Archiver.start({ wal, store, location, log: quiet, segmentRecords: 25 });
    await archiver.close(60_000);
  } finally {
    await wal.close();
  }
}, 600_000);

afterAll(() => {
  store?.close();
  for (const d of dirs) d.remove();
});

/** What a restore left: per tenant its canonical dump, the bad events, the parked tenants. */
async function restored(options: Partial<RestoreOptions>): Promise<Record<string, unknown>> {
  const d = tempDir("stream-restore");
  dirs.push(d);
  const result = await restoreArchive({
    store,
    location,
    dataDir: d.path,
    log: quiet,
    smallTenantEvents: 40,
    ...options,
  });
  const dumps = Object.fromEntries(
    TENANT_IDS.map((t) => {
      const file = join(d.path, "tenants", tenantFileName(t));
      return [t, existsSync(file) ? canonicalDump(file) : "(removed)"];
    }),
  );
  const meta = new Database(join(d.path, "meta.sqlite"), { readonly: true });
  const bad = meta
    .prepare("SELECT log_partition, log_offset, tenant, error FROM bad_events ORDER BY 1, 2")
    .all();
  meta.close();
  return { dumps, bad, parked: [...result.parked].sort(), ends: result.ends };
}

describe("a streamed restore", () => {
  it("gives the data dir of a restore that reads the whole log first, on one thread and on several", async () => {
    const segments = (await Promise.all([0, 1, 2].map((p) => listSegments(store, location, p))))
      .map((list) => list.length)
      .reduce((a, b) => a + b, 0);
    expect(segments).toBeGreaterThan(10);
    const reference = await restored({ heldRecordBytes: 0, threads: 1 });
    expect(JSON.stringify(reference["bad"])).toContain("#junk");
    expect(JSON.stringify(reference["dumps"])).toContain("UNIQUE_VIOLATION");
    expect(Object.values(reference["dumps"] as Record<string, string>)).not.toContain("(removed)");
    for (const threads of [1, 2, 3])
      for (const smallTenantEvents of [40, 0, 1_000])
        expect(await restored({ threads, smallTenantEvents })).toEqual(
          smallTenantEvents === 40
            ? reference
            : await restored({ heldRecordBytes: 0, threads: 1, smallTenantEvents }),
        );
  }, 300_000);

  it("fails by name on a segment found corrupt after its appliers started", async () => {
    // A copy of the archive whose last segment is cut short (S3 objects are immutable:
    // the damage is a new object under a new prefix).
    const damaged = parseArchiveUrl(`s3://${location.bucket}/stream-damaged`);
    const lists = await Promise.all([0, 1, 2].map((p) => listSegments(store, location, p)));
    const last = lists.flat().at(-1)!;
    const damagedKey = damaged.prefix + last.key.slice(location.prefix.length);
    for (const { key } of await store.list(location.prefix)) {
      const { body, metadata } = await store.get(key);
      await s3.client.send(
        new PutObjectCommand({
          Bucket: location.bucket,
          Key: damaged.prefix + key.slice(location.prefix.length),
          Body: key === last.key ? body.subarray(0, body.length - 10) : body,
          Metadata: metadata,
        }),
      );
    }
    const target = new S3ObjectStore({ location: damaged, endpoint: s3.endpoint });
    try {
      const d = tempDir("stream-damaged");
      dirs.push(d);
      await expect(
        restoreArchive({
          store: target,
          location: damaged,
          dataDir: d.path,
          log: quiet,
          threads: 2,
        }),
      ).rejects.toThrow(`The archived segment ${damagedKey} is corrupt`);
      // The data dir stays marked unfinished: no server starts on it.
      expect(existsSync(join(d.path, "restore-unfinished"))).toBe(true);
    } finally {
      target.close();
    }
  }, 120_000);
});

describe("RestoreStream", () => {
  const entry = (partition: number, offset: number, tenant: string): WalEntry => ({
    tenant,
    payload: planEvent(tenant, `${tenant}-${partition}-${offset}`, [], { schemaVersion: 3 }),
    position: { partition, offset },
  });

  it("releases a partition up to its first record of a tenant not given to a thread yet", () => {
    const stream = new RestoreStream(2, 2, 2);
    let changes = 0;
    stream.onChange(() => changes++);
    const keys = ["acme", "#schema", "acme", "globex", "acme", "globex", "globex"];
    keys.forEach((key, offset) => {
      stream.add(entry(0, offset, key));
    });
    stream.segmentRead(0);
    // acme's third record decides it (more than 2); globex has 3 too: both given.
    expect(stream.held.released(0)).toBe(7);
    expect([...stream.tenants[0]!]).toEqual(["acme"]);
    expect([...stream.tenants[1]!]).toEqual(["globex"]);
    stream.add(entry(1, 0, "hooli"));
    stream.add(entry(1, 1, "#junk"));
    stream.segmentRead(1);
    expect(stream.held.released(1)).toBe(0);
    expect(changes).toBe(2);
    stream.end();
    // hooli (1 event) is small, given to the thread with fewer events (globex 3, acme 3: the first).
    expect([...stream.small]).toEqual(["hooli"]);
    expect(stream.tenants[0]!.has("hooli")).toBe(true);
    expect(stream.held.released(1)).toBe(2);
    expect(stream.ended).toBe(true);
    expect(changes).toBe(3);
  });

  it("tells each thread the records since its cursor and its tenants with their first versions", () => {
    const stream = new RestoreStream(1, 2, 0);
    const cursor = stream.cursor();
    stream.add(entry(0, 0, "acme"));
    stream.add(entry(0, 1, "globex"));
    stream.segmentRead(0);
    const first = stream.changesFor(1, cursor);
    expect(first.records.map((r) => [r.partition, r.from, r.entries.length])).toEqual([[0, 0, 2]]);
    expect(first.tenants).toEqual([["globex", 3, false]]);
    expect(first.released).toEqual([2]);
    expect(stream.foreign("acme", 1)).toBe(true);
    expect(stream.foreign("globex", 1)).toBe(false);
    expect(stream.foreign("#schema", 1)).toBe(false);
    stream.add(entry(0, 2, "globex"));
    stream.segmentRead(0);
    const second = stream.changesFor(1, cursor);
    expect(second.records.map((r) => [r.partition, r.from, r.entries.length])).toEqual([[0, 2, 1]]);
    expect(second.tenants).toEqual([]);
    expect(second.ended).toBe(false);
  });

  it("delivers only released records, and wakes its subscribers when more are", async () => {
    const stream = new RestoreStream(1, 1, 5);
    const log = stream.held.log("embedded:test", [3]);
    expect(await log.endOffset(0)).toBe(3);
    const seen: number[] = [];
    let wake = () => {};
    const subscription = log.subscribe({
      startOffset: () => 0,
      handler: async (entries) => {
        for (const e of entries) seen.push(e.position.offset);
        wake();
      },
    });
    const delivered = (n: number) =>
      new Promise<void>((resolve) => {
        wake = () => {
          if (seen.length >= n) resolve();
        };
        wake();
      });
    for (let i = 0; i < 3; i++) stream.add(entry(0, i, "acme"));
    stream.segmentRead(0);
    await new Promise((r) => setTimeout(r, 20));
    // acme has 3 records of at most 5: not decided, nothing released.
    expect(seen).toEqual([]);
    expect(() => stream.held.release(0, 4)).toThrow("holds 3 records");
    stream.end();
    await delivered(3);
    expect(seen).toEqual([0, 1, 2]);
    await subscription.stop();
  });

  it("splits the tenants left at the end onto the threads' loads so far", () => {
    expect(
      splitTenants(
        new Map([
          ["a", 5],
          ["b", 3],
          ["c", 2],
        ]),
        2,
        [6, 0],
      ),
    ).toEqual([["c"], ["a", "b"]]);
  });
});
