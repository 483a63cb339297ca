/**
 * Snapshots larger than one upload part, against a real S3-compatible server (moto,
 * tests/infra/s3.sh): a snapshot streams up in parts and back into a file byte-identical
 * in its canonical dump, and a damaged snapshot object is named by its checksum or its
 * decompression. (That a multipart put is conditional like a single put is part of the
 * object store contract, tests/archive/object-store-contract.test.ts.)
 */

import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  MULTIPART_PART_BYTES,
  parseArchiveUrl,
  placeSnapshots,
  S3ObjectStore,
  Snapshotter,
  sha256Hex,
  snapshotKey,
} from "../../server/archive/index.ts";
import { createLogger } from "../../server/log.ts";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import { TenantDb, tenantFileName } from "../../server/store/index.ts";
import { startTestS3, type TestS3 } from "../infra/s3-server.ts";
import { tempDir } from "../store/store-fixtures.ts";

let s3: TestS3;
beforeAll(async () => {
  s3 = await startTestS3();
}, 600_000);

const quiet = createLogger("error");
const dirs: { readonly path: string; remove(): void }[] = [];
afterAll(() => {
  for (const d of dirs) d.remove();
});

function dir(prefix: string): string {
  const d = tempDir(prefix);
  dirs.push(d);
  return d.path;
}

async function newStore(prefix: string): Promise<S3ObjectStore> {
  const location = parseArchiveUrl(`s3://${await s3.newBucket()}/${prefix}`);
  return new S3ObjectStore({ location, endpoint: s3.endpoint });
}

async function readAll(store: S3ObjectStore, key: string): Promise<Buffer> {
  const { body } = await store.getStream(key);
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

describe("a snapshot larger than one part", () => {
  it("is uploaded in parts and placed back with the same canonical dump", async () => {
    const store = await newStore("snap");
    try {
      const work = dir("snapshot-stream");
      const path = join(work, "big.sqlite");
      const tenantDb = TenantDb.open("big", path, true, { logIdentity: "embedded:test" })!;
      const insert = tenantDb.db.prepare(
        "INSERT INTO nodes (id, type_id, payload, version, owner, created_at, updated_at) VALUES (?, 1, ?, 1, 'u', 0, 0)",
      );
      tenantDb.db.transaction(() => {
        for (let i = 0; i < 400; i++)
          insert.run(`n${i}`, JSON.stringify({ 5: randomBytes(48 * 1024).toString("base64") }));
        tenantDb.writeState({ partition: 3, appliedOffset: 400, schemaVersion: 0 });
      })();
      const snapshotter = new Snapshotter({
        store,
        location: store.location,
        source: { tenants: () => ["big"], connection: () => tenantDb.db },
        log: quiet,
        logIdentity: "embedded:test",
        workDir: join(work, "snapshots"),
        intervalMs: 0,
        keep: 2,
      });
      const taken = await snapshotter.snapshot("big");
      expect(taken?.key).toBe(snapshotKey(store.location, "big", 400));
      expect(taken?.bytes).toBeGreaterThan(2 * MULTIPART_PART_BYTES);
      const { metadata } = await store.getStream(taken!.key);
      expect(metadata["sha256"]).toBe(sha256Hex(await readAll(store, taken!.key)));
      expect(metadata["position"]).toBe("400");
      // The copy, its compressed form and SQLite's side files are gone.
      expect(readdirSync(join(work, "snapshots"))).toEqual([]);

      const restored = join(work, "restored");
      mkdirSync(join(restored, "tenants"), { recursive: true });
      const used = await placeSnapshots({
        store,
        location: store.location,
        dataDir: restored,
        ends: [400, 400, 400, 400],
        identity: "embedded:test",
      });
      expect(used.map((s) => s.key)).toEqual([taken!.key]);
      const original = canonicalDump(tenantDb);
      tenantDb.close();
      expect(canonicalDump(join(restored, "tenants", tenantFileName("big")))).toBe(original);
    } finally {
      store.close();
    }
  });

  it("names an altered snapshot by its checksum and one that is not gzip by its decompression, by s3:// URL", async () => {
    const store = await newStore("bad");
    try {
      const altered = snapshotKey(store.location, "altered", 7);
      const body = gzipSync(Buffer.from("not a database"));
      await store.putIfAbsent(altered, body.subarray(0, body.byteLength - 4), {
        sha256: sha256Hex(body),
      });
      const restored = dir("snapshot-bad");
      mkdirSync(join(restored, "tenants"), { recursive: true });
      const place = () =>
        placeSnapshots({
          store,
          location: store.location,
          dataDir: restored,
          ends: [100],
          identity: "embedded:test",
        });
      await expect(place()).rejects.toThrow(
        `The archived snapshot s3://${store.location.bucket}/${altered} is corrupt: its sha256 is ${sha256Hex(body.subarray(0, body.byteLength - 4))} but ${sha256Hex(body)} was recorded (${body.byteLength - 4} bytes: truncated or altered).`,
      );
      await store.delete(altered);
      const garbage = Buffer.from("plain bytes, no gzip header");
      const notGzip = snapshotKey(store.location, "plain", 7);
      await store.putIfAbsent(notGzip, garbage, { sha256: sha256Hex(garbage) });
      await expect(place()).rejects.toThrow(
        `The archived snapshot s3://${store.location.bucket}/${notGzip} is corrupt: it does not decompress (incorrect header check).`,
      );
    } finally {
      store.close();
    }
  });
});
