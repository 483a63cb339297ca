/**
 * Local retention of the embedded log with a real `entdb serve --archive` against moto:
 * snapshots every second and a retention round every 200 ms delete the oldest records of
 * `wal.sqlite` while clients write. What is deleted must be archived and covered by each
 * tenant's newest snapshot; a restart on the truncated data dir serves every acknowledged
 * write and continues the log; a restore from the archive gives byte-identical tenants;
 * and a tenant database deleted after truncation is refused by name at start, never
 * rebuilt from part of its history.
 */

import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WalEventSchema } from "../../generated/entdb/v1/wal_pb.js";
import { SCHEMA_LOG_KEY } from "../../server/apply/index.ts";
import {
  decodeSegment,
  listSegments,
  parseArchiveUrl,
  parseSnapshotKey,
  S3ObjectStore,
  snapshotPrefix,
} from "../../server/archive/index.ts";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import { tenantFileName } from "../../server/store/tenant-id.ts";
import type { WalEntry } from "../../server/wal/index.ts";
import { openEmbeddedWal, partitionForTenant } from "../../server/wal/index.ts";
import { S3_TEST_ENV, startTestS3, type TestS3 } from "../infra/s3-server.ts";
import { type EntDbClient, entDbClient, runCommand, TRACKER, teamOp } from "./e2e-helpers.ts";
import { REPO_ROOT, runServeToExit, startServerProcess, tempDataDir } from "./server-process.ts";

const TENANTS = ["ret-acme", "ret-globex", "ret-initech"];
const ENV = {
  ...S3_TEST_ENV,
  ENTDB_ARCHIVE_FLUSH_MS: "50",
  ENTDB_LOG_RETENTION_INTERVAL_MS: "200",
};

let s3: TestS3;
const dirs: string[] = [];
function freshDir(prefix: string): string {
  const dir = tempDataDir(`entdb-${prefix}-`);
  dirs.push(dir);
  return dir;
}
beforeAll(async () => {
  s3 = await startTestS3();
}, 600_000);
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function dumps(dataDir: string): Map<string, string> {
  const dir = join(dataDir, "tenants");
  const out = new Map<string, string>();
  for (const name of readdirSync(dir).sort())
    if (!name.endsWith("-wal") && !name.endsWith("-shm"))
      out.set(name, canonicalDump(join(dir, name)));
  return out;
}

async function write(api: EntDbClient, round: string, plans: number): Promise<string[]> {
  const acked: string[] = [];
  await Promise.all(
    TENANTS.flatMap((tenant) =>
      [0, 1].map(async (c) => {
        for (let i = 0; i < plans; i++) {
          const slug = `${tenant}-${round}-${c}-${i}`;
          const res = await api.executePlan({
            tenant,
            idempotencyKey: slug,
            operations: [teamOp(slug, slug)],
          });
          if (res.receipt) acked.push(slug);
        }
      }),
    ),
  );
  return acked;
}

async function slugs(api: EntDbClient): Promise<string[]> {
  const out: string[] = [];
  for (const tenant of TENANTS) {
    const res = await api.queryNodes({ tenant, typeId: TRACKER.team, limit: 1000 });
    for (const n of res.nodes) {
      const v = n.fields[TRACKER.teamSlug]?.kind;
      out.push(v?.case === "stringValue" ? v.value : "");
    }
  }
  return out.sort();
}

async function waitForLog(logs: () => string, text: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!logs().includes(text)) {
    if (Date.now() > deadline) throw new Error(`no '${text}' in the server log:\n${logs()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The archive written by the first test (snapshots included), for the second. */
let archiveUrl = "";

describe("local retention of the embedded log", () => {
  it("deletes only archived, snapshot-covered records; restart and restore still work; a lost tenant is refused", async () => {
    const url = `s3://${await s3.newBucket()}/ret`;
    archiveUrl = url;
    const args = ["--archive", url, "--s3-endpoint", s3.endpoint, "--snapshot-interval", "1"];
    const dataDir = freshDir("retention");
    let server = await startServerProcess({ dataDir, args, env: ENV });
    const acked = await write(entDbClient(server), "a", 12);
    // The applier checkpoints at most once a second, when it applies something: write
    // again after a second so that round a is checkpointed (retention never passes it).
    await new Promise((resolve) => setTimeout(resolve, 1100));
    acked.push(...(await write(entDbClient(server), "a2", 1)));
    await waitForLog(server.logs, '"msg":"log records deleted after archiving"', 30_000);
    acked.push(...(await write(entDbClient(server), "b", 6)));
    expect(await server.stop()).toBe(0);

    // What the local log lost is in the archive, and below every tenant's newest snapshot.
    const wal = await openEmbeddedWal({ path: join(dataDir, "wal.sqlite") });
    const starts = Array.from({ length: wal.partitions }, (_, p) => wal.logStart(p));
    const ends = await Promise.all(starts.map((_, p) => wal.endOffset(p)));
    await wal.close();
    expect(starts.some((start) => start > 0)).toBe(true);
    const location = parseArchiveUrl(url);
    const store = new S3ObjectStore({ location, endpoint: s3.endpoint });
    const archived: WalEntry[] = [];
    const newest = new Map<string, number>();
    try {
      for (let p = 0; p < starts.length; p++) {
        const segments = await listSegments(store, location, p);
        expect(segments.at(-1)?.end ?? 0, `partition ${p} archived`).toBe(ends[p]);
        for (const segment of segments) {
          const { body, metadata } = await store.get(segment.key);
          archived.push(...decodeSegment(segment.key, segment, body, metadata));
        }
      }
      for (const object of await store.list(snapshotPrefix(location))) {
        const snapshot = parseSnapshotKey(location, object.key, object.size);
        if (snapshot && snapshot.position > (newest.get(snapshot.tenant) ?? -1))
          newest.set(snapshot.tenant, snapshot.position);
      }
    } finally {
      store.close();
    }
    let deletedRecords = 0;
    for (const tenant of TENANTS) {
      const p = partitionForTenant(tenant, starts.length);
      const deleted = archived.filter(
        (e) => e.tenant === tenant && e.position.partition === p && e.position.offset < starts[p]!,
      );
      deletedRecords += deleted.length;
      for (const e of deleted)
        expect(e.position.offset, `${tenant} at ${p}:${e.position.offset}`).toBeLessThan(
          newest.get(tenant) ?? 0,
        );
    }

    expect(deletedRecords).toBeGreaterThan(0);

    // A restart on the truncated dir: everything served, the log continues at its end.
    server = await startServerProcess({ dataDir, args, env: ENV });
    const api = entDbClient(server);
    expect(await slugs(api)).toEqual([...acked].sort());
    const res = await api.executePlan({
      tenant: "ret-acme",
      idempotencyKey: "after-restart",
      operations: [teamOp("after", "after-restart")],
    });
    const partition = partitionForTenant("ret-acme", starts.length);
    expect(res.receipt?.position?.offset).toBe(BigInt(ends[partition]!));
    expect(await server.stop()).toBe(0);
    const original = dumps(dataDir);

    // A restore from the archive holds everything, the deleted records included.
    const restored = freshDir("retention-restored");
    const run = await runCommand(
      process.execPath,
      [
        join(REPO_ROOT, "bin", "entdb.ts"),
        "restore",
        "--from",
        url,
        "--s3-endpoint",
        s3.endpoint,
        "--data-dir",
        restored,
      ],
      { cwd: REPO_ROOT, env: { ...process.env, ...S3_TEST_ENV }, timeout: 120_000 },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(dumps(restored)).toEqual(original);

    // A tenant database lost after truncation cannot be rebuilt from the local log.
    const lost = TENANTS.find((t) => starts[partitionForTenant(t, starts.length)]! > 0)!;
    const lostPartition = partitionForTenant(lost, starts.length);
    rmSync(join(dataDir, "tenants", tenantFileName(lost)));
    const refused = await runServeToExit({ dataDir, args, env: ENV });
    expect(refused.code).toBe(1);
    expect(refused.listened).toBe(false);
    const wal2 = await openEmbeddedWal({ path: join(dataDir, "wal.sqlite") });
    const start = wal2.logStart(lostPartition);
    await wal2.close();
    expect(refused.stderr).toContain(
      `error: The data dir ${dataDir} cannot be rebuilt from its log: tenant '${lost}' must be rebuilt (its database is missing), ` +
        `which needs partition ${lostPartition} from offset 0, but the log starts at ${start} (local retention deleted older records after archiving them). ` +
        "Restore it from the archive into a new directory (entdb restore --from ARCHIVE --data-dir NEW, ARCHIVE being the s3:// URL or directory given to --archive) and serve that.\n",
    );
  }, 180_000);

  it("restores one tenant from its snapshot, renumbered into the new log, exactly as a replay of its events", async () => {
    expect(archiveUrl).not.toBe("");
    const restored = freshDir("one-tenant");
    const run = await runCommand(
      process.execPath,
      [
        join(REPO_ROOT, "bin", "entdb.ts"),
        "restore",
        "--from",
        archiveUrl,
        "--s3-endpoint",
        s3.endpoint,
        "--data-dir",
        restored,
        "--tenant",
        "ret-globex",
        "--as-tenant",
        "ret-copy",
      ],
      { cwd: REPO_ROOT, env: { ...process.env, ...S3_TEST_ENV }, timeout: 120_000 },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^restored \d+ events from \d+ segments and 1 snapshots of /);

    // The reference: the schema changes and ret-globex's events as ret-copy, in the
    // restore's order (by original partition, then offset), replayed by a server's start-up.
    const location = parseArchiveUrl(archiveUrl);
    const store = new S3ObjectStore({ location, endpoint: s3.endpoint });
    const entries: WalEntry[] = [];
    try {
      for (let p = 0; p < 8; p++)
        for (const segment of await listSegments(store, location, p)) {
          const { body, metadata } = await store.get(segment.key);
          entries.push(...decodeSegment(segment.key, segment, body, metadata));
        }
    } finally {
      store.close();
    }
    const reference = freshDir("one-tenant-ref");
    const wal = await openEmbeddedWal({ path: join(reference, "wal.sqlite") });
    for (const e of entries) {
      if (e.tenant === SCHEMA_LOG_KEY) await wal.append([{ tenant: e.tenant, payload: e.payload }]);
      else if (e.tenant === "ret-globex") {
        const event = fromBinary(WalEventSchema, e.payload);
        event.tenant = "ret-copy";
        await wal.append([{ tenant: "ret-copy", payload: toBinary(WalEventSchema, event) }]);
      }
    }
    await wal.close();
    const server = await startServerProcess({ dataDir: reference });
    expect(await server.stop()).toBe(0);
    const expected = canonicalDump(join(reference, "tenants", tenantFileName("ret-copy")));
    expect(expected).toContain('"ret-globex-a-0-0"');
    expect(canonicalDump(join(restored, "tenants", tenantFileName("ret-copy")))).toBe(expected);
  }, 120_000);
});
