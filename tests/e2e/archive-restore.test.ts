/**
 * Losing every disk: a real `entdb serve` archives its log to a real S3-compatible server
 * (moto, via tests/infra/s3.sh), or to a directory, while clients write concurrently; its
 * data dir is then deleted, `entdb restore` rebuilds it from the archive alone (the same
 * tests for both kinds of archive), and a server started on it
 * serves every acknowledged write once, with tenant databases byte-identical in a
 * canonical dump, and continues the log (and the archive) after the restored end.
 * Also: a corrupted archive object is refused by name, point-in-time restores of one
 * tenant match a reference replay of the original log cut at the same position, and an
 * S3 outage during writes delays the archive without losing or skipping anything, and a
 * directory that cannot hold an archive is refused in one line before anything is written.
 */

import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { fromBinary } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WalEventSchema } from "../../generated/entdb/v1/wal_pb.js";
import { SCHEMA_LOG_KEY } from "../../server/apply/index.ts";
import {
  decodeSegment,
  listSegments,
  openObjectStore,
  parseArchiveUrl,
  parseSnapshotKey,
  S3ObjectStore,
  snapshotPrefix,
} from "../../server/archive/index.ts";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import { tenantFileName } from "../../server/store/tenant-id.ts";
import type { WalEntry } from "../../server/wal/index.ts";
import { openEmbeddedWal, partitionForTenant, readWalToEnd } from "../../server/wal/index.ts";
import { startFaultProxy } from "../infra/fault-proxy.ts";
import { S3_TEST_ENV, startTestS3, type TestS3 } from "../infra/s3-server.ts";
import { canMount, mountTmpfs } from "../infra/tmpfs.ts";
import { type EntDbClient, entDbClient, runCommand, TRACKER, teamOp } from "./e2e-helpers.ts";
import { REPO_ROOT, runServeToExit, startServerProcess, tempDataDir } from "./server-process.ts";

const TENANTS = ["acme", "globex", "initech", "umbrella"];
const CLIENTS_PER_TENANT = 3;
const PLANS_PER_CLIENT = 15;
// No local retention: these tests read the whole local log after a run, as the reference.
const ENV = { ...S3_TEST_ENV, ENTDB_ARCHIVE_FLUSH_MS: "50", ENTDB_LOG_RETENTION_INTERVAL_MS: "0" };

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

function entdb(args: readonly string[]) {
  return runCommand(process.execPath, [join(REPO_ROOT, "bin", "entdb.ts"), ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...S3_TEST_ENV },
    timeout: 120_000,
  });
}

/** Canonical dump of every tenant database of a stopped server's data dir, by file name. */
function dumps(dataDir: string): Map<string, string> {
  const dir = join(dataDir, "tenants");
  const out = new Map<string, string>();
  for (const name of readdirSync(dir).sort())
    if (!name.endsWith("-wal") && !name.endsWith("-shm"))
      out.set(name, canonicalDump(join(dir, name)));
  return out;
}

/** The slugs of every Team of a tenant. */
async function slugs(api: EntDbClient, tenant: string): Promise<string[]> {
  const res = await api.queryNodes({ tenant, typeId: TRACKER.team, limit: 1000 });
  return res.nodes
    .map((n) => {
      const v = n.fields[TRACKER.teamSlug]?.kind;
      return v?.case === "stringValue" ? v.value : "";
    })
    .sort();
}

/** Writes concurrently; returns the acknowledged slugs per tenant. */
async function writeConcurrently(
  api: EntDbClient,
  round: string,
  /** Filled with one past the highest acknowledged offset of each tenant. */
  ends?: Map<string, number>,
): Promise<Map<string, string[]>> {
  const acked = new Map<string, string[]>(TENANTS.map((t) => [t, []]));
  await Promise.all(
    TENANTS.flatMap((tenant) =>
      Array.from({ length: CLIENTS_PER_TENANT }, async (_, c) => {
        for (let i = 0; i < PLANS_PER_CLIENT; i++) {
          const slug = `${tenant}-${round}-${c}-${i}`;
          const res = await api.executePlan({
            tenant,
            idempotencyKey: slug,
            operations: [teamOp(slug, slug)],
          });
          if (res.receipt) acked.get(tenant)!.push(slug);
          const offset = Number(res.receipt?.position?.offset ?? -1n) + 1;
          if (ends && offset > (ends.get(tenant) ?? 0)) ends.set(tenant, offset);
        }
      }),
    ),
  );
  return acked;
}

/** Every archived entry, per partition, decoded and checked; `archive` is a URL or a directory. */
/** Each partition's records as [offset, tenant, payload hex], to compare two logs. */
function recordRows(log: WalEntry[][]): [number, string, string][][] {
  return log.map((p) =>
    p.map((e) => [e.position.offset, e.tenant, Buffer.from(e.payload).toString("hex")]),
  );
}

/** `/ready`'s answer once it is 200 with no archive lag, or the last one after 20 s. */
async function readyOnceArchived(
  httpPort: number,
): Promise<{ status: string; archive_lag_records: number } | undefined> {
  let body: { status: string; archive_lag_records: number } | undefined;
  for (let i = 0; i < 200; i++) {
    const probe = await fetch(`http://127.0.0.1:${httpPort}/ready`);
    body = (await probe.json()) as { status: string; archive_lag_records: number };
    if (probe.status === 200 && body.archive_lag_records === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return body;
}

async function archivedEntries(archive: string, partitions: number): Promise<WalEntry[][]> {
  const location = parseArchiveUrl(archive);
  const store = await openObjectStore(location, {
    endpoint: location.kind === "s3" ? s3.endpoint : undefined,
    create: false,
  });
  try {
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
  } finally {
    store.close();
  }
}

/**
 * An archive the disaster tests run against: a fresh prefix of a bucket on the test S3
 * server, or a directory that `entdb serve` makes. The same tests run on both.
 */
interface ArchiveTarget {
  /** What `--archive` and `--from` take. */
  readonly url: string;
  /** `entdb serve`'s archive flags. */
  readonly serveArgs: readonly string[];
  /** `entdb restore --from FROM --data-dir DIR` (FROM: this archive unless given); callers add the rest. */
  restoreArgs(dir: string, from?: string): string[];
  /**
   * A copy of the archive in which the object at `key` lost its last 10 bytes: the copy's
   * location and the damaged object's name there as an operator finds it (its file's path,
   * or its s3:// URL).
   */
  damagedCopy(key: string): Promise<{ readonly url: string; readonly name: string }>;
  /**
   * Cuts the body of the object at `key` to its first `bytes`, in place, metadata kept;
   * returns the object's name as {@link damagedCopy} does.
   */
  truncate(key: string, bytes: number): Promise<string>;
}

async function s3Target(prefix: string): Promise<ArchiveTarget> {
  const bucket = await s3.newBucket();
  const url = `s3://${bucket}/${prefix}`;
  return {
    url,
    serveArgs: ["--archive", url, "--s3-endpoint", s3.endpoint],
    restoreArgs: (dir, from = url) => restoreFrom(from, dir),
    async damagedCopy(damaged) {
      // A copy under a new prefix whose one object is truncated (S3 objects are immutable
      // to the archiver, so the damage is done with a plain put).
      const location = parseArchiveUrl(url);
      const all = new S3ObjectStore({ location, endpoint: s3.endpoint });
      for (const { key } of await all.list(`${prefix}/`)) {
        const object = await all.get(key);
        const target = `damaged/${key.slice(prefix.length + 1)}`;
        const body =
          key === damaged ? object.body.subarray(0, object.body.length - 10) : object.body;
        await s3.client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: target,
            Body: body,
            Metadata: object.metadata,
          }),
        );
      }
      all.close();
      return {
        url: `s3://${bucket}/damaged`,
        name: `s3://${bucket}/damaged/${damaged.slice(prefix.length + 1)}`,
      };
    },
    async truncate(key, bytes) {
      const all = new S3ObjectStore({ location: parseArchiveUrl(url), endpoint: s3.endpoint });
      const object = await all.get(key);
      all.close();
      await s3.client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: object.body.subarray(0, bytes),
          Metadata: object.metadata,
        }),
      );
      return `s3://${bucket}/${key}`;
    },
  };
}

function dirTarget(): ArchiveTarget {
  // Not made beforehand: `entdb serve --archive` makes it, its parent existing.
  const url = join(freshDir("archive-dir"), "archive");
  return {
    url,
    serveArgs: ["--archive", url],
    restoreArgs: (dir, from = url) => ["restore", "--from", from, "--data-dir", dir],
    async damagedCopy(key) {
      const copy = join(freshDir("archive-dir-damaged"), "archive");
      cpSync(url, copy, { recursive: true });
      const file = join(copy, key);
      truncateSync(file, statSync(file).size - 10);
      return { url: copy, name: file };
    },
    async truncate(key, bytes) {
      // The file holds a header line, then the body.
      const store = await openObjectStore(parseArchiveUrl(url), { create: false });
      const body = (await store.get(key)).body.length;
      const file = join(url, key);
      truncateSync(file, statSync(file).size - body + bytes);
      return file;
    },
  };
}

/** `entdb restore --from ARCHIVE --data-dir DIR` against the test S3 server; callers add the rest. */
function restoreFrom(archive: string, dir: string): string[] {
  return ["restore", "--from", archive, "--s3-endpoint", s3.endpoint, "--data-dir", dir];
}

/** What the disaster test leaves for the tests that follow it. */
interface Disaster {
  /** The original server's tenants, by file name. */
  readonly dumps: Map<string, string>;
  /** A copy of the original log, for reference replays. */
  readonly log: string;
  /** The acknowledged slugs per tenant. */
  readonly acked: Map<string, string[]>;
}

/**
 * Clients write concurrently, the server is stopped (SIGTERM flushes the archive), the
 * data dir deleted and restored from the archive alone: byte-identical, every write there,
 * and a server on it continues the log and the archive.
 */
async function loseTheDataDir(target: ArchiveTarget): Promise<Disaster> {
  const { url, serveArgs } = target;
  const dataDir = freshDir("archived");
  const server = await startServerProcess({ dataDir, args: [...serveArgs], env: ENV });
  const api = entDbClient(server);
  const acked = await writeConcurrently(api, "a");
  const metrics = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
  expect(metrics).toMatch(/^entdb_archive_lag_records\{partition="0"\} \d+$/m);
  expect(await server.stop()).toBe(0);
  expect(server.logs()).toContain('"msg":"archive flushed"');
  const originalDumps = dumps(dataDir);
  expect([...originalDumps.keys()].length).toBe(TENANTS.length);
  const originalLog = join(freshDir("log-copy"), "wal.sqlite");
  cpSync(join(dataDir, "wal.sqlite"), originalLog);
  rmSync(dataDir, { recursive: true, force: true });

  const restored = freshDir("restored");
  const run = await entdb(target.restoreArgs(restored));
  expect(run.stderr).toMatch(/^restore: read \d+\/\d+ segments/m);
  expect(run.stderr).toMatch(/^restore: apply (\d+)\/\1 events, \d+ events\/s/m);
  expect(run.code).toBe(0);
  // A new data dir lost nothing: no warning (about the meta.sqlite it builds, or else).
  expect(run.stderr).not.toContain('"level":"warn"');
  const events = TENANTS.length * CLIENTS_PER_TENANT * PLANS_PER_CLIENT + 1; // + the schema
  expect(run.stdout).toMatch(
    new RegExp(
      `^restored ${events} events from \\d+ segments and 0 snapshots of ${url} into ${restored}\\n`,
    ),
  );
  expect(dumps(restored)).toEqual(originalDumps);
  const dumped = await entdb(["dump", "--data-dir", restored, "--tenant", "acme"]);
  expect(dumped.code).toBe(0);
  expect(dumped.stdout).toBe(`-- tenant acme\n${originalDumps.get(tenantFileName("acme"))}`);

  // A refused second restore into the now non-empty dir changes nothing.
  const again = await entdb(target.restoreArgs(restored));
  expect(again.code).toBe(2);
  expect(again.stderr).toBe(
    `error: The data dir ${restored} is not empty; restore into an empty or new directory, or pass --force to replace what it holds.\n`,
  );
  // So is a file given as the data dir, with --force too, before the archive is read.
  const file = join(restored, "meta.sqlite");
  const intoFile = await entdb([...target.restoreArgs(file), "--force"]);
  expect(intoFile.code).toBe(2);
  expect(intoFile.stderr).toBe(
    `error: The data dir ${file} is a file, not a directory; restore into an empty or new directory.\n`,
  );

  const revived = await startServerProcess({ dataDir: restored, args: [...serveArgs], env: ENV });
  const api2 = entDbClient(revived);
  for (const tenant of TENANTS)
    expect(await slugs(api2, tenant)).toEqual([...acked.get(tenant)!].sort());
  const ends = (await readWalToEndOf(originalLog)).map((p) => p.length);
  const res = await api2.executePlan({
    tenant: "acme",
    idempotencyKey: "after-restore",
    operations: [teamOp("after", "after-restore")],
  });
  const partition = partitionForTenant("acme", ends.length);
  expect(res.receipt?.position?.partition).toBe(partition);
  expect(res.receipt?.position?.offset).toBe(BigInt(ends[partition]!));
  expect(await revived.stop()).toBe(0);
  const archived = await archivedEntries(url, ends.length);
  expect(archived.map((p) => p.length)).toEqual(
    ends.map((end, p) => (p === partition ? end + 1 : end)),
  );
  return { dumps: originalDumps, log: originalLog, acked };
}

/** A copy of the archive with one segment truncated: the restore names it and is never served. */
async function restoreADamagedSegment(target: ArchiveTarget): Promise<void> {
  const location = parseArchiveUrl(target.url);
  const store = await openObjectStore(location, {
    endpoint: location.kind === "s3" ? s3.endpoint : undefined,
    create: false,
  });
  const partition = partitionForTenant("globex", 8);
  const [segment] = await listSegments(store, location, partition);
  const { body, metadata } = await store.get(segment!.key);
  store.close();
  expect((await archivedEntries(target.url, 8))[partition]!.length).toBeGreaterThan(0);
  const damaged = await target.damagedCopy(segment!.key);
  const damagedDir = freshDir("damaged");
  const from = damaged.url;
  const run = await entdb(target.restoreArgs(damagedDir, from));
  expect(run.code).toBe(1);
  expect(run.stderr).toContain(
    `error: The archived segment ${damaged.name} is corrupt: its sha256 is `,
  );
  expect(run.stderr).toContain(
    `but ${metadata["sha256"]} was recorded (${body.length - 10} bytes: truncated or altered).\n`,
  );
  // What the failed restore wrote is never served: a server refuses the dir, naming the fix.
  const serve = await runServeToExit({ dataDir: damagedDir, env: ENV });
  expect(serve.code).toBe(1);
  expect(serve.listened).toBe(false);
  expect(serve.stderr).toMatch(
    new RegExp(
      `^error: the data dir ${damagedDir} holds a restore that did not finish \\(from ${from}, begun \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\): it may hold part of the log and unsynced files; run that \`entdb restore\` again with --force, or choose another --data-dir \\(ENTDB_DATA_DIR\\)\\.\\n$`,
    ),
  );
  expect(existsSync(join(damagedDir, "wal.sqlite"))).toBe(true);
  // Nor is it dumped as if it were a data dir to compare.
  const dumped = await entdb(["dump", "--data-dir", damagedDir]);
  expect(dumped.code).toBe(1);
  expect(dumped.stdout).toBe("");
  expect(dumped.stderr).toMatch(
    new RegExp(
      `^error: ${damagedDir} holds a restore that did not finish \\(from ${from}, begun [\\dTZ:.-]+\\): its tenant databases may be partial or missing; run that \`entdb restore\` again with --force, then dump\\.\\n$`,
    ),
  );
}

describe("disaster: the data dir is lost, the archive is not", () => {
  let url = "";
  let target: ArchiveTarget | undefined;
  /** A copy of the original log, for reference replays. */
  let originalLog = "";
  let acked = new Map<string, string[]>();

  it("restores every acknowledged write, byte-identical, and continues the log and the archive", async () => {
    target = await s3Target("prod");
    url = target.url;
    ({ log: originalLog, acked } = await loseTheDataDir(target));
  }, 180_000);

  it("names a corrupted object and restores nothing from it", async () => {
    await restoreADamagedSegment(target!);
  }, 120_000);

  it("restores one tenant to random positions exactly as a replay of the original log cut there", async () => {
    const partition = partitionForTenant("initech", 8);
    const log = await readWalToEndOf(originalLog);
    const own = log[partition]!.filter((e) => e.tenant === "initech");
    // Random positions, named in any failure message.
    const picks = [0, 1, 2].map(() => own[Math.floor(Math.random() * own.length)]!);
    for (const pick of picks) {
      const offset = pick.position.offset;
      const restored = freshDir("pitr");
      const run = await entdb([
        ...restoreFrom(url, restored),
        "--tenant",
        "initech",
        "--to-position",
        String(offset),
      ]);
      expect(run.code, run.stderr).toBe(0);
      // The reference: a new log with the schema changes and initech's events up to the
      // position, replayed by a server's own start-up.
      const reference = freshDir("pitr-ref");
      const wal = await openEmbeddedWal({ path: join(reference, "wal.sqlite") });
      const schema = log.flat().filter((e) => e.tenant === SCHEMA_LOG_KEY);
      const kept = own.filter((e) => e.position.offset <= offset);
      await wal.append([...schema, ...kept].map((e) => ({ tenant: e.tenant, payload: e.payload })));
      await wal.close();
      const server = await startServerProcess({ dataDir: reference });
      expect(await server.stop()).toBe(0);
      const expected = canonicalDump(join(reference, "tenants", tenantFileName("initech")));
      expect(
        canonicalDump(join(restored, "tenants", tenantFileName("initech"))),
        `restored to ${partition}:${offset}`,
      ).toBe(expected);
      expect(expected).toContain(`"initech-`);
      expect(readdirSync(join(restored, "tenants")).filter((n) => n.endsWith(".sqlite"))).toEqual([
        tenantFileName("initech"),
      ]);
    }
  }, 180_000);

  it("restores every tenant to a random time exactly as a replay of the original log cut there", async () => {
    const log = await readWalToEndOf(originalLog);
    const times = log
      .flat()
      .map(ingressMs)
      .sort((a, b) => a - b);
    const at = times[Math.floor(Math.random() * times.length)]!;
    const restored = freshDir("to-time");
    const iso = new Date(at).toISOString();
    const run = await entdb([...restoreFrom(url, restored), "--to-time", iso]);
    expect(run.code, run.stderr).toBe(0);
    // The reference: each partition cut before its first event logged after the time.
    const reference = freshDir("to-time-ref");
    const wal = await openEmbeddedWal({ path: join(reference, "wal.sqlite") });
    for (const entries of log) {
      const cut = entries.findIndex((e) => ingressMs(e) > Date.parse(iso));
      const kept = cut === -1 ? entries : entries.slice(0, cut);
      // One call per record: a call's records are grouped by tenant, which would reorder them.
      for (const e of kept) await wal.append([{ tenant: e.tenant, payload: e.payload }]);
    }
    await wal.close();
    const server = await startServerProcess({ dataDir: reference });
    expect(await server.stop()).toBe(0);
    expect(dumps(restored), `restored to ${iso}`).toEqual(dumps(reference));
  }, 120_000);

  it("refuses restores it cannot do, saying what to give instead", async () => {
    const cases: [string[], string][] = [
      [
        ["--as-tenant", "copy"],
        "error: --as-tenant renames the tenant given with --tenant; add --tenant.\n",
      ],
      [
        ["--to-position", "12"],
        "error: --to-position is an offset within one partition and this log has 8; name the tenant with --tenant (or use --to-time).\n",
      ],
      [
        ["--to-position", "x"],
        "error: --to-position must be a log offset (an integer), got 'x'.\n",
      ],
      [
        ["--to-time", "yesterday"],
        "error: --to-time must be an ISO 8601 time like 2026-01-31T12:00:00Z, got 'yesterday'.\n",
      ],
      [
        ["--tenant", "a/b"],
        "error: --tenant: The tenant id \"a/b\" contains a path separator '/'; use ASCII letters, digits, '.', '_' and '-'.\n",
      ],
    ];
    for (const [args, message] of cases) {
      const dir = freshDir("refused");
      const run = await entdb([...restoreFrom(url, dir), ...args]);
      expect(run.stderr, args.join(" ")).toBe(message);
      expect(run.code).toBe(2);
      expect(readdirSync(dir)).toEqual([]);
    }
    const missing = await entdb([...restoreFrom(`${url}-nothing`, freshDir("missing"))]);
    expect(missing.stderr).toBe(
      `error: There is no archive at ${url}-nothing (no log.json); check --from and the S3 endpoint.\n`,
    );
    expect(missing.code).toBe(1);
    // --force replaces a data dir only once the archive is found: a mistyped --from keeps it.
    const kept = freshDir("kept");
    writeFileSync(join(kept, "keep"), "what the dir held");
    const typo = await entdb([...restoreFrom(`${url}-nothing`, kept), "--force"]);
    expect(typo.code, typo.stderr).toBe(1);
    expect(readdirSync(kept)).toEqual(["keep"]);
    // A tenant the archive never saw is refused, not restored as an empty tenant.
    for (const [extra, target] of [
      [[], ""],
      [["--to-time", "2026-01-01T00:00:00Z"], " up to the target"],
    ] as const) {
      const none = freshDir("no-tenant");
      const run = await entdb([...restoreFrom(url, none), "--tenant", "nobody", ...extra]);
      // After the progress lines of the segments it read.
      expect(run.stderr.split("\n").filter((line) => !line.startsWith("restore: "))).toEqual([
        target === ""
          ? `error: The archive at ${url} holds no event of tenant 'nobody'; nothing was restored. Check --tenant (entdb tenant list names a server's tenants).`
          : `error: The archive at ${url} holds no event of tenant 'nobody' up to the target; nothing was restored. Check --tenant, and the target against the tenant's first write.`,
        "",
      ]);
      expect(run.code).toBe(1);
      expect(readdirSync(none)).toEqual([]);
    }
    // Also for a real tenant cut before its first event, into a dir restore makes.
    const made = join(freshDir("made"), "restored");
    const early = await entdb([
      ...restoreFrom(url, made),
      "--tenant",
      "acme",
      "--to-time",
      "2026-01-01T00:00:00Z",
    ]);
    expect(early.code, early.stderr).toBe(1);
    expect(existsSync(made)).toBe(false);
  }, 120_000);

  it("restores a tenant under a new id, beside nothing it could touch", async () => {
    const restored = freshDir("as-tenant");
    const run = await entdb([
      ...restoreFrom(url, restored),
      "--tenant",
      "umbrella",
      "--as-tenant",
      "umbrella-copy",
    ]);
    expect(run.code, run.stderr).toBe(0);
    const server = await startServerProcess({ dataDir: restored });
    const api = entDbClient(server);
    expect(await slugs(api, "umbrella-copy")).toEqual([...acked.get("umbrella")!].sort());
    expect(await slugs(api, "umbrella")).toEqual([]);
    expect(await server.stop()).toBe(0);
  }, 120_000);
});

describe("disaster with a directory archive (the embedded default's)", () => {
  let target: ArchiveTarget | undefined;

  it("restores every acknowledged write, byte-identical, and continues the log and the archive", async () => {
    target = dirTarget();
    await loseTheDataDir(target);
    // The archive is plain files under the directory, one per object.
    expect(readdirSync(target.url).sort()).toEqual(["log.json", "wal"]);
    const partitions = readdirSync(join(target.url, "wal"));
    expect(partitions.length).toBeGreaterThan(0);
    for (const p of partitions) {
      expect(p).toMatch(/^p\d{5}$/);
      for (const name of readdirSync(join(target.url, "wal", p)))
        expect(name).toMatch(/^\d{20}-\d{20}\.seg\.gz$/);
    }
  }, 180_000);

  it("names a corrupted segment file and restores nothing from it", async () => {
    await restoreADamagedSegment(target!);
  }, 120_000);

  it("refuses a directory it cannot use, in one line, before anything is written", async () => {
    const base = freshDir("archive-bad");
    writeFileSync(join(base, "a-file"), "x");
    const cases: [readonly string[], string][] = [
      [
        ["--archive", "relative/../x"],
        "error: --archive: 'relative/../x' has a '..' component; write the directory without it (after a symbolic link, '..' is not the parent the path seems to name).\n",
      ],
      [
        ["--archive", join(base, "a-file")],
        `error: --archive: The archive directory ${join(base, "a-file")} is a file, not a directory; give --archive a directory (it is made if missing).\n`,
      ],
      [
        ["--archive", join(base, "no-parent", "archive")],
        `error: --archive: The archive directory ${join(base, "no-parent", "archive")} cannot be made: its parent ${join(base, "no-parent")} does not exist. Create the parent (mount the disk) first.\n`,
      ],
      [
        ["--archive", base, "--s3-endpoint", s3.endpoint],
        `error: --s3-endpoint (ENTDB_S3_ENDPOINT) is only used with an s3:// archive, but ${base} is a directory; drop --s3-endpoint or give an s3://BUCKET/PREFIX archive.\n`,
      ],
    ];
    for (const [args, message] of cases) {
      const dataDir = freshDir("archive-bad-data");
      const exit = await runServeToExit({ dataDir, args, env: ENV });
      expect(exit.stderr, args.join(" ")).toBe(message);
      expect(exit.code).toBe(2);
      expect(exit.listened).toBe(false);
      expect(readdirSync(dataDir)).toEqual([]);
    }
    expect(readdirSync(base)).toEqual(["a-file"]);

    const restoreCases: [readonly string[], string, number][] = [
      [
        ["--from", join(base, "none")],
        `error: There is no archive at ${join(base, "none")}: the directory does not exist.\n`,
        1,
      ],
      [
        ["--from", base],
        `error: There is no archive at ${base}: it holds no log.json (the file entdb serve --archive writes first); check --from.\n`,
        1,
      ],
      [
        ["--from", base, "--s3-endpoint", s3.endpoint],
        `error: --s3-endpoint (ENTDB_S3_ENDPOINT) is only used with an s3:// archive, but ${base} is a directory; drop --s3-endpoint or give an s3://BUCKET/PREFIX archive.\n`,
        2,
      ],
      [
        ["--from", "relative/../x"],
        "error: 'relative/../x' has a '..' component; write the directory without it (after a symbolic link, '..' is not the parent the path seems to name).\n",
        2,
      ],
    ];
    const inside = join(base, "restored");
    const overlap = await entdb(["restore", "--from", base, "--data-dir", inside, "--force"]);
    expect(overlap.stderr).toBe(
      `error: The archive directory ${base} and the data dir ${inside} overlap: losing, deleting or restoring over the data dir would take the archive with it. Give the archive a directory of its own, on another disk or mount.\n`,
    );
    expect(overlap.code).toBe(2);
    for (const [args, message, code] of restoreCases) {
      const dataDir = freshDir("archive-bad-restore");
      const run = await entdb(["restore", ...args, "--data-dir", dataDir]);
      expect(run.stderr, args.join(" ")).toBe(message);
      expect(run.code).toBe(code);
      expect(readdirSync(dataDir)).toEqual([]);
    }
    expect(readdirSync(base)).toEqual(["a-file"]);
  }, 120_000);

  it.runIf(canMount)(
    "a full archive disk: writes go on, /ready names ENOSPC, and the archive catches up with no gap",
    async () => {
      const disk = mountTmpfs({ sizeBytes: 16 * 1024 * 1024 });
      try {
        const archive = join(disk.dir, "archive");
        const dataDir = freshDir("archive-full");
        const server = await startServerProcess({
          dataDir,
          args: ["--archive", archive],
          env: { ...ENV, ENTDB_ARCHIVE_DEGRADED_AFTER_MS: "300" },
        });
        const api = entDbClient(server);
        await writeConcurrently(api, "before");
        disk.fill();
        const during = await writeConcurrently(api, "during");
        expect(during.get("acme")!.length).toBe(CLIENTS_PER_TENANT * PLANS_PER_CLIENT);
        let body: { status: string; reasons?: string[]; archive_lag_records: number } | undefined;
        for (let i = 0; i < 100; i++) {
          const ready = await fetch(`http://127.0.0.1:${server.httpPort}/ready`);
          body = (await ready.json()) as typeof body;
          if (ready.status === 503) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(body?.status).toBe("degraded");
        expect(body?.reasons?.[0]).toMatch(
          new RegExp(
            `^Archiving to ${archive} has failed for \\d+ s \\(\\d+ records waiting; the log keeps them\\): Archive directory ${archive}: cannot write ${archive}/wal/p\\d{5}/\\d{20}-\\d{20}\\.seg\\.gz: ENOSPC \\(no space left on device`,
          ),
        );
        expect(body?.archive_lag_records).toBeGreaterThan(0);
        disk.free();
        await writeConcurrently(api, "after");
        expect(await readyOnceArchived(server.httpPort)).toEqual({
          status: "ready",
          archive_lag_records: 0,
        });
        expect(await server.stop()).toBe(0);
        const local = await readWalToEndOf(join(dataDir, "wal.sqlite"));
        const archived = await archivedEntries(archive, local.length);
        // Every record, at its offset, with its bytes: no gap, no duplicate.
        expect(recordRows(archived)).toEqual(recordRows(local));
        // No temp file of a failed write is left behind.
        for (const p of readdirSync(join(archive, "wal")))
          expect(readdirSync(join(archive, "wal", p)).filter((n) => n.startsWith("."))).toEqual([]);
      } finally {
        disk.unmount();
      }
    },
    180_000,
  );

  it.runIf(canMount)(
    "refuses a directory on a read-only disk, naming it",
    async () => {
      const disk = mountTmpfs({ sizeBytes: 1024 * 1024, readOnly: true });
      try {
        for (const archive of [disk.dir, join(disk.dir, "archive")]) {
          const dataDir = freshDir("archive-ro-data");
          const exit = await runServeToExit({ dataDir, args: ["--archive", archive], env: ENV });
          expect(exit.stderr).toMatch(
            archive === disk.dir
              ? new RegExp(
                  `^error: --archive: The archive directory ${archive} is not writable: EROFS \\([^\\n]*\\)\\.\\n$`,
                )
              : new RegExp(
                  `^error: --archive: The archive directory ${archive} cannot be made: its parent ${disk.dir} is not writable: EROFS \\([^\\n]*\\)\\.\\n$`,
                ),
          );
          expect(exit.code).toBe(2);
          expect(readdirSync(dataDir)).toEqual([]);
        }
      } finally {
        disk.unmount();
      }
    },
    60_000,
  );
});

describe("snapshots", () => {
  const targets = [
    { name: "S3", make: () => s3Target("snap") },
    { name: "a directory", make: async () => dirTarget() },
  ];
  it.each(targets)(
    "are taken during writes, kept by count, checked, and start the restore ($name)",
    async ({ make }) => {
      const target = await make();
      const url = target.url;
      const location = parseArchiveUrl(url);
      const dataDir = freshDir("snap");
      const server = await startServerProcess({
        dataDir,
        args: [...target.serveArgs, "--snapshot-interval", "1", "--snapshot-keep", "3"],
        env: ENV,
      });
      const api = entDbClient(server);
      const store = await openObjectStore(location, {
        endpoint: location.kind === "s3" ? s3.endpoint : undefined,
        create: false,
      });
      const snapshots = async () =>
        (await store.list(snapshotPrefix(location)))
          .map((o) => parseSnapshotKey(location, o.key, o.size))
          .filter((x) => x !== undefined);
      // Three rounds of writes, each followed by a snapshot round that sees it.
      const acked = new Map<string, string[]>(TENANTS.map((t) => [t, []]));
      const ends = new Map<string, number>();
      let afterB = "";
      for (const round of ["a", "b", "c"]) {
        for (const [tenant, list] of await writeConcurrently(api, round, ends))
          acked.get(tenant)!.push(...list);
        // Until a snapshot round has seen the whole round of every tenant.
        const deadline = Date.now() + 30_000;
        const seen = async () => {
          const taken = await snapshots();
          return TENANTS.every((t) =>
            taken.some((x) => x.tenant === t && x.position >= (ends.get(t) ?? 0)),
          );
        };
        while (!(await seen())) {
          expect(Date.now(), `snapshots of round ${round}`).toBeLessThan(deadline);
          await new Promise((r) => setTimeout(r, 200));
        }
        if (round === "b") {
          afterB = new Date().toISOString();
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      // A listing can show a snapshot a moment before the server has counted its upload.
      const uploaded = async () => {
        const metrics = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
        return Number(/^entdb_archive_snapshots_uploaded (\d+)$/m.exec(metrics)?.[1]);
      };
      const countedBy = Date.now() + 10_000;
      let counted = await uploaded();
      while (counted < 12 && Date.now() < countedBy) {
        await new Promise((r) => setTimeout(r, 100));
        counted = await uploaded();
      }
      expect(counted).toBeGreaterThanOrEqual(12);
      expect(await server.stop()).toBe(0);
      const original = dumps(dataDir);

      const taken = await snapshots();
      for (const tenant of TENANTS) {
        const own = taken.filter((x) => x.tenant === tenant);
        expect(own.length, `snapshots of ${tenant}`).toBe(3);
        const newest = own.sort((a, b) => b.position - a.position)[0]!;
        const { body, metadata } = await store.get(newest.key);
        expect(metadata["sha256"]).toBe(createHash("sha256").update(body).digest("hex"));
        expect(metadata["tenant"]).toBe(tenant);
        expect(metadata["schema-version"]).toBe("1");
        expect(metadata["partition"]).toBe(String(partitionForTenant(tenant, 8)));
        expect(metadata["position"]).toBe(String(newest.position));
      }

      const log = await readWalToEndOf(join(dataDir, "wal.sqlite"));
      rmSync(dataDir, { recursive: true, force: true });

      // To a point between snapshots: the newest snapshot at or before it, then the log.
      const pointInTime = freshDir("snap-to-time");
      const cut = await entdb([...target.restoreArgs(pointInTime), "--to-time", afterB]);
      expect(cut.code, cut.stderr).toBe(0);
      const cutEnds = log.map((p) => p.filter((e) => ingressMs(e) <= Date.parse(afterB)).length);
      const usable = TENANTS.filter((t) =>
        taken.some((x) => x.tenant === t && x.position <= cutEnds[partitionForTenant(t, 8)]!),
      ).length;
      expect(usable).toBeGreaterThan(0);
      expect(cut.stdout).toContain(` segments and ${usable} snapshots of `);
      const reference = freshDir("snap-to-time-ref");
      const wal = await openEmbeddedWal({ path: join(reference, "wal.sqlite") });
      for (const entries of log)
        for (const e of entries)
          if (ingressMs(e) <= Date.parse(afterB))
            await wal.append([{ tenant: e.tenant, payload: e.payload }]);
      await wal.close();
      const refServer = await startServerProcess({ dataDir: reference });
      expect(await refServer.stop()).toBe(0);
      expect(dumps(pointInTime)).toEqual(dumps(reference));

      const restored = freshDir("snap-restored");
      const run = await entdb([...target.restoreArgs(restored)]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain(" segments and 4 snapshots of ");
      // Tenant files placed from snapshots in a new data dir: no meta.sqlite was lost.
      expect(run.stderr).not.toContain('"level":"warn"');
      expect(dumps(restored)).toEqual(original);
      const revived = await startServerProcess({ dataDir: restored });
      const api2 = entDbClient(revived);
      for (const tenant of TENANTS)
        expect(await slugs(api2, tenant)).toEqual([...acked.get(tenant)!].sort());
      expect(await revived.stop()).toBe(0);

      // A damaged snapshot is refused by name.
      const newest = taken
        .filter((x) => x.tenant === "acme")
        .sort((a, b) => b.position - a.position)[0]!;
      store.close();
      const damaged = await target.truncate(newest.key, 100);
      const bad = await entdb([...target.restoreArgs(freshDir("snap-bad"))]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain(
        `error: The archived snapshot ${damaged} is corrupt: its sha256 is `,
      );
      expect(bad.stderr).toContain("(100 bytes: truncated or altered).");
    },
    240_000,
  );
});

describe("entdb serve --archive", () => {
  it("refuses to start on a bucket that does not exist, saying so", async () => {
    const exit = await runServeToExit({
      args: ["--archive", "s3://entdb-no-such-bucket/prod", "--s3-endpoint", s3.endpoint],
      env: ENV,
    });
    expect(exit.code).toBe(1);
    expect(exit.listened).toBe(false);
    expect(exit.stderr).toContain(
      "error: The bucket 'entdb-no-such-bucket' does not exist; create it first.\n",
    );
  }, 60_000);
});

describe("an S3 outage during writes", () => {
  it("writes go on, nothing acknowledged is lost, and the archive catches up with no gap", async () => {
    const bucket = await s3.newBucket();
    const url = `s3://${bucket}/outage`;
    const proxy = await startFaultProxy({
      host: "127.0.0.1",
      port: Number(new URL(s3.endpoint).port),
    });
    const dataDir = freshDir("outage");
    const server = await startServerProcess({
      dataDir,
      args: ["--archive", url, "--s3-endpoint", `http://127.0.0.1:${proxy.port}`],
      env: { ...ENV, ENTDB_ARCHIVE_DEGRADED_AFTER_MS: "300" },
    });
    const api = entDbClient(server);
    await writeConcurrently(api, "before");
    proxy.cut();
    const during = await writeConcurrently(api, "during");
    await new Promise((r) => setTimeout(r, 800));
    const ready = await fetch(`http://127.0.0.1:${server.httpPort}/ready`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as {
      status: string;
      reasons: string[];
      archive_lag_records: number;
    };
    expect(body.status).toBe("degraded");
    expect(body.reasons[0]).toMatch(
      new RegExp(
        `^Archiving to ${url} has failed for \\d+ s \\(\\d+ records waiting; the log keeps them\\): S3 request failed`,
      ),
    );
    const lag = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
    const behind = [
      ...lag.matchAll(/^entdb_archive_lag_records\{partition="\d+"\} (\d+)$/gm),
    ].reduce((n, m) => n + Number(m[1]), 0);
    expect(behind).toBeGreaterThan(0);
    // /ready names the same lag as /metrics (no write ran between the two probes).
    expect(body.archive_lag_records).toBe(behind);
    proxy.heal();
    await writeConcurrently(api, "after");
    // Once S3 answers again, /ready is ready and the archive catches up to no lag.
    expect(await readyOnceArchived(server.httpPort)).toEqual({
      status: "ready",
      archive_lag_records: 0,
    });
    expect(await server.stop()).toBe(0);
    await proxy.close();
    const local = await readWalToEndOf(join(dataDir, "wal.sqlite"));
    const archived = await archivedEntries(url, local.length);
    // Every record, at its offset, with its bytes: no gap, no duplicate.
    expect(recordRows(archived)).toEqual(recordRows(local));
    expect(during.get("acme")!.length).toBe(CLIENTS_PER_TENANT * PLANS_PER_CLIENT);
  }, 180_000);
});

function ingressMs(entry: WalEntry): number {
  const time = fromBinary(WalEventSchema, entry.payload).ingressTime;
  if (!time)
    throw new Error(`no ingress time at ${entry.position.partition}:${entry.position.offset}`);
  return timestampMs(time);
}

async function readWalToEndOf(path: string): Promise<WalEntry[][]> {
  expect(existsSync(path)).toBe(true);
  const wal = await openEmbeddedWal({ path });
  try {
    return await readWalToEnd(wal);
  } finally {
    await wal.close();
  }
}
