/**
 * The object store, the segment format and the archiver against a real S3-compatible
 * server (moto, started by tests/infra/s3.sh) and a real embedded log.
 */

import type { AddressInfo } from "node:net";
import { createServer } from "node:net";
import { join } from "node:path";
import { CreateBucketCommand, DeleteObjectCommand, HeadObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ArchiveError,
  Archiver,
  decodeSegment,
  encodeSegment,
  encodeSegmentAsync,
  listSegments,
  type ObjectStore,
  parseArchiveUrl,
  S3ObjectStore,
  segmentKey,
} from "../../server/archive/index.ts";
import { createLogger } from "../../server/log.ts";
import type { EmbeddedWal, WalEntry, WalRecord } from "../../server/wal/index.ts";
import { openEmbeddedWal } from "../../server/wal/index.ts";
import { startFaultProxy } from "../infra/fault-proxy.ts";
import { startTestS3, type TestS3 } from "../infra/s3-server.ts";
import { tempDir } from "../store/store-fixtures.ts";

let s3: TestS3;
beforeAll(async () => {
  s3 = await startTestS3();
}, 600_000);

const quiet = createLogger("error");
const dirs: { remove(): void }[] = [];
afterAll(() => {
  for (const d of dirs) d.remove();
});

async function openLog(partitions = 2): Promise<EmbeddedWal> {
  const dir = tempDir("archive-wal");
  dirs.push(dir);
  return openEmbeddedWal({ path: join(dir.path, "wal.sqlite"), partitions });
}

function records(n: number, from = 0): WalRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    tenant: `t${(from + i) % 5}`,
    payload: new TextEncoder().encode(`event ${from + i}`),
  }));
}

/** Every archived entry, per partition, decoded and checked. */
async function archived(store: S3ObjectStore, url: string, partitions: number) {
  const location = parseArchiveUrl(url);
  const out: WalEntry[][] = [];
  for (let p = 0; p < partitions; p++) {
    const entries: WalEntry[] = [];
    for (const segment of await listSegments(store, location, p)) {
      const { body, metadata } = await store.get(segment.key);
      entries.push(...decodeSegment(segment.key, segment, body, metadata));
    }
    out.push(entries);
  }
  return out;
}

// The contract every object store keeps is tests/archive/object-store-contract.test.ts.
describe("S3 object store", () => {
  it("names a missing bucket", async () => {
    const store = new S3ObjectStore({
      location: parseArchiveUrl("s3://no-such-bucket-here/p"),
      endpoint: s3.endpoint,
    });
    await expect(store.list("p/")).rejects.toThrow(
      "The bucket 'no-such-bucket-here' does not exist; create it first.",
    );
    // A put S3 refuses goes again through the SDK client, which reads S3's error.
    const refused = await store
      .putIfAbsent("p/a", new TextEncoder().encode("x"), { k: "1" })
      .catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ArchiveError);
    expect((refused as ArchiveError).code).toBe("not-found");
    expect((refused as ArchiveError).message).toBe(
      "The bucket 'no-such-bucket-here' does not exist; create it first.",
    );
    store.close();
  });

  it("reports a put that gets no answer as unavailable, naming the key and the cause", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const store = new S3ObjectStore({
      location: parseArchiveUrl("s3://bkt/p"),
      endpoint: `http://127.0.0.1:${port}`,
    });
    const error = await store
      .putIfAbsent("p/a", new TextEncoder().encode("x"), {})
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArchiveError);
    expect((error as ArchiveError).code).toBe("unavailable");
    expect((error as ArchiveError).message).toBe(
      `S3 request failed (put p/a in bucket bkt): Error: connect ECONNREFUSED 127.0.0.1:${port}`,
    );
    store.close();
  });
});

describe("segment format", () => {
  const location = parseArchiveUrl("s3://bkt/p");
  const entries: WalEntry[] = records(3).map((r, i) => ({
    ...r,
    position: { partition: 1, offset: 7 + i },
  }));

  it("round-trips records with their positions", () => {
    const segment = encodeSegment("embedded:x", entries);
    expect(segment.range).toEqual({ partition: 1, first: 7, end: 10 });
    const key = segmentKey(location, segment.range);
    expect(key).toBe("p/wal/p00001/00000000000000000007-00000000000000000010.seg.gz");
    expect(decodeSegment(key, segment.range, segment.body, segment.metadata)).toEqual(
      entries.map((e) => ({ ...e, payload: new Uint8Array(e.payload) })),
    );
  });

  it("refuses a truncated or altered object by checksum, naming the key", () => {
    const segment = encodeSegment("embedded:x", entries);
    const key = segmentKey(location, segment.range);
    const cut = segment.body.subarray(0, segment.body.byteLength - 5);
    expect(() => decodeSegment(key, segment.range, cut, segment.metadata)).toThrow(
      new RegExp(
        `^The archived segment ${key} is corrupt: its sha256 is [0-9a-f]{64} but ${segment.metadata["sha256"]} was recorded \\(${cut.byteLength} bytes: truncated or altered\\)\\.$`,
      ),
    );
  });

  it("refuses records that are not consecutive", async () => {
    const holed = [entries[0]!, entries[2]!];
    expect(() => encodeSegment("embedded:x", holed)).toThrow(
      "Segment records must be consecutive: expected 1:8, got 1:9.",
    );
    await expect(encodeSegmentAsync("embedded:x", holed)).rejects.toThrow(
      "Segment records must be consecutive: expected 1:8, got 1:9.",
    );
  });

  it("encodes the same object when compressing on the thread pool as inline", async () => {
    const multiByte = entries.map((e, i) => ({ ...e, tenant: i === 1 ? "tenant-é" : e.tenant }));
    const inline = encodeSegment("embedded:x", multiByte);
    const pooled = await encodeSegmentAsync("embedded:x", multiByte);
    expect(Buffer.from(pooled.body).equals(Buffer.from(inline.body))).toBe(true);
    expect(pooled.metadata).toEqual(inline.metadata);
    expect(pooled.range).toEqual(inline.range);
    const key = segmentKey(location, pooled.range);
    expect(decodeSegment(key, pooled.range, pooled.body, pooled.metadata)).toEqual(
      multiByte.map((e) => ({ ...e, payload: new Uint8Array(e.payload) })),
    );
  });
});

describe("archiver", () => {
  it("cuts a steady stream into one segment per flush interval, not one per upload", async () => {
    const bucket = await s3.newBucket();
    const url = `s3://${bucket}/steady`;
    const location = parseArchiveUrl(url);
    const store = new S3ObjectStore({ location, endpoint: s3.endpoint });
    const wal = await openLog(1);
    const archiver = await Archiver.start({
      wal,
      store,
      location,
      log: quiet,
      flushIntervalMs: 250,
    });
    // About 1 s of small commits every 2 ms, not waiting for each to land: records keep
    // arriving during every upload.
    const started = Date.now();
    const appends: Promise<unknown>[] = [];
    let n = 0;
    while (Date.now() - started < 1000) {
      appends.push(wal.append(records(3, n)));
      n += 3;
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    await Promise.all(appends);
    const elapsed = Date.now() - started;
    await archiver.close();
    const segments = await listSegments(store, location, 0);
    // One per elapsed interval, one for close; a flush chasing new arrivals makes dozens.
    expect(segments.length).toBeLessThanOrEqual(Math.ceil(elapsed / 250) + 1);
    expect((await archived(store, url, 1))[0]!.map((e) => e.position.offset)).toEqual(
      Array.from({ length: n }, (_, i) => i),
    );
    store.close();
    await wal.close();
  });

  it("uploads every partition's waiting records in one round, puts side by side", async () => {
    const bucket = await s3.newBucket();
    const location = parseArchiveUrl(`s3://${bucket}/rounds`);
    const real = new S3ObjectStore({ location, endpoint: s3.endpoint });
    // The real store, noting when each segment put begins.
    const puts: { key: string; at: number }[] = [];
    const store: ObjectStore = {
      putIfAbsent: (...args) => {
        if (args[0].includes("/wal/")) puts.push({ key: args[0], at: Date.now() });
        return real.putIfAbsent(...args);
      },
      putFileIfAbsent: (...args) => real.putFileIfAbsent(...args),
      get: (key) => real.get(key),
      getStream: (key) => real.getStream(key),
      list: (prefix) => real.list(prefix),
      delete: (key) => real.delete(key),
      close: () => real.close(),
    };
    const wal = await openLog(4);
    const archiver = await Archiver.start({
      wal,
      store,
      location,
      log: quiet,
      flushIntervalMs: 600,
    });
    // A record in one partition, then 400 ms later one in another: a timer per partition
    // would put them 400 ms apart, one round puts them together 600 ms after the first.
    const [first] = await wal.append([{ tenant: "t0", payload: new Uint8Array([1]) }]);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const tenant = Array.from({ length: 20 }, (_, i) => `t${i}`).find(
      (t) => wal.partitionFor(t) !== first!.partition,
    )!;
    await wal.append([{ tenant, payload: new Uint8Array([2]) }]);
    for (let i = 0; i < 200 && puts.length < 2; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    expect(puts.map((p) => p.key).sort()).toEqual(
      [first!.partition, wal.partitionFor(tenant)]
        .map((partition) => segmentKey(location, { partition, first: 0, end: 1 }))
        .sort(),
    );
    expect(Math.abs(puts[0]!.at - puts[1]!.at)).toBeLessThan(200);
    await archiver.close();
    await wal.close();
    real.close();
  });

  it("archives everything committed by close, resumes without a duplicate, and refuses another log", async () => {
    const bucket = await s3.newBucket();
    const url = `s3://${bucket}/prod`;
    const location = parseArchiveUrl(url);
    const store = new S3ObjectStore({ location, endpoint: s3.endpoint });
    const wal = await openLog();
    await wal.append(records(50));
    const options = { wal, store, location, log: quiet, segmentRecords: 7, flushIntervalMs: 20 };
    const first = await Archiver.start(options);
    await wal.append(records(30, 50));
    await first.close();
    const once = await archived(store, url, 2);
    const expected = await Promise.all([0, 1].map(async (p) => wal.endOffset(p)));
    expect(once.map((p) => p.length)).toEqual(expected);
    expect(once.flat().length).toBe(80);
    expect(once.map((p) => p.map((e) => e.position.offset))).toEqual(
      expected.map((end) => Array.from({ length: end }, (_, i) => i)),
    );

    await wal.append(records(20, 80));
    const second = await Archiver.start(options);
    await second.close();
    const twice = await archived(store, url, 2);
    expect(
      twice
        .flat()
        .map((e) => Buffer.from(e.payload).toString())
        .sort(),
    ).toEqual(Array.from({ length: 100 }, (_, i) => `event ${i}`).sort());

    const other = await openLog();
    await expect(Archiver.start({ ...options, wal: other })).rejects.toThrow(
      `${url} holds the archive of another log (${wal.identity}, 2 partitions); this server's log is ${other.identity} with 2. Archive it under another prefix.`,
    );
    await wal.close();
    await other.close();
    store.close();
  });

  it("goes on through an S3 outage and catches up with no gap", async () => {
    const bucket = await s3.newBucket();
    const url = `s3://${bucket}/outage`;
    const location = parseArchiveUrl(url);
    const port = Number(new URL(s3.endpoint).port);
    const proxy = await startFaultProxy({ host: "127.0.0.1", port });
    const store = new S3ObjectStore({
      location,
      endpoint: `http://127.0.0.1:${proxy.port}`,
      requestTimeoutMs: 2000,
    });
    const wal = await openLog();
    const archiver = await Archiver.start({
      wal,
      store,
      location,
      log: quiet,
      segmentRecords: 5,
      flushIntervalMs: 10,
      retry: { firstMs: 20, maxMs: 200 },
      degradedAfterMs: 100,
    });
    await wal.append(records(20));
    proxy.cut();
    for (let i = 0; i < 10; i++) await wal.append(records(4, 20 + i * 4));
    await new Promise((r) => setTimeout(r, 500));
    const reasons = archiver.degradedReasons();
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toMatch(
      new RegExp(
        `^Archiving to ${url} has failed for \\d+ s \\(\\d+ records waiting; the log keeps them\\): S3 request failed`,
      ),
    );
    const lag = [...(await archiver.lag()).values()].reduce((a, b) => a + b, 0);
    expect(lag).toBeGreaterThan(0);
    proxy.heal();
    await archiver.close();
    expect(archiver.degradedReasons()).toEqual([]);
    expect([...(await archiver.lag()).values()]).toEqual([0, 0]);
    const all = await archived(store, url, 2);
    expect(all.flat().length).toBe(60);
    await wal.close();
    store.close();
    await proxy.close();
  });

  it("locks each segment in compliance mode when asked, so not even a versioned delete removes it", async () => {
    const bucket = `entdb-test-lock-${Date.now()}`;
    await s3.client.send(
      new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }),
    );
    const location = parseArchiveUrl(`s3://${bucket}/locked`);
    const store = new S3ObjectStore({ location, endpoint: s3.endpoint });
    const wal = await openLog(1);
    await wal.append(records(5));
    const before = Date.now();
    const archiver = await Archiver.start({ wal, store, location, log: quiet, lockDays: 2 });
    await archiver.close();
    const [segment] = await listSegments(store, location, 0);
    const head = await s3.client.send(new HeadObjectCommand({ Bucket: bucket, Key: segment!.key }));
    expect(head.ObjectLockMode).toBe("COMPLIANCE");
    const until = head.ObjectLockRetainUntilDate?.getTime() ?? 0;
    expect(until).toBeGreaterThanOrEqual(before + 2 * 86_400_000 - 1000);
    expect(until).toBeLessThanOrEqual(Date.now() + 2 * 86_400_000 + 1000);
    const refused = await s3.client
      .send(
        new DeleteObjectCommand({ Bucket: bucket, Key: segment!.key, VersionId: head.VersionId }),
      )
      .then(
        () => "deleted",
        (e: Error) => e.name,
      );
    expect(refused).toBe("AccessDenied");
    await wal.close();
    store.close();
  });

  it("refuses an archive that runs ahead of the log", async () => {
    const bucket = await s3.newBucket();
    const location = parseArchiveUrl(`s3://${bucket}/ahead`);
    const store = new S3ObjectStore({ location, endpoint: s3.endpoint });
    const wal = await openLog(1);
    await wal.append(records(3));
    const archiver = await Archiver.start({ wal, store, location, log: quiet });
    await archiver.close();
    // The same log's identity, but a log holding less: what a copy of an older data dir is.
    const older = { ...wal, identity: wal.identity, partitions: 1, endOffset: async () => 1 };
    const error = await Archiver.start({
      wal: older as unknown as EmbeddedWal,
      store,
      location,
      log: quiet,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArchiveError);
    expect((error as ArchiveError).message).toBe(
      `s3://${bucket}/ahead holds partition 0 up to offset 3, but this log ends at 1: the archive is ahead of the log (a log restored to an earlier point, or replaced). Archive it under another prefix.`,
    );
    await wal.close();
    store.close();
  });
});
