/**
 * The archive of a Kafka log: a real `entdb serve` on a fresh topic of the single-node
 * broker archives it to a real S3-compatible server (moto, tests/infra/s3.sh) while
 * clients write concurrently. The archive must hold every record of the topic exactly
 * once, at its Kafka offset (the producer is idempotent and not transactional, so the
 * topic's offsets are dense: no control records, no holes). `entdb restore` into an
 * empty data dir must give byte-identical canonical dumps, and a server started on the
 * restored dir with the same topic must continue the live log exactly after the restored
 * positions: after a full restore its next write lands at the topic's end, and after a
 * restore cut at a time between two rounds of writes it applies the later round from
 * Kafka and ends byte-identical to the original. A topic whose retention deleted records
 * before they were archived is never archived with a hole: the archiver stops and says
 * so where `/ready` reads it, and its shutdown line names the deleted range; a server
 * whose data dir would have to be rebuilt from such deleted records refuses to start.
 */

import { readdirSync } from "node:fs";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  Archiver,
  decodeSegment,
  listSegments,
  parseArchiveUrl,
  S3ObjectStore,
} from "../../server/archive/index.ts";
import { createLogger } from "../../server/log.ts";
import { canonicalDump } from "../../server/store/canonical-dump.ts";
import { partitionForTenant } from "../../server/wal/index.ts";
import { openKafkaWal } from "../../server/wal/kafka-wal.ts";
import { type EntDbClient, entDbClient, runCommand, TRACKER, teamOp } from "../e2e/e2e-helpers.ts";
import {
  REPO_ROOT,
  removeDataDir,
  runServeToExit,
  type ServerProcess,
  startServerProcess,
  tempDataDir,
} from "../e2e/server-process.ts";
import { type KafkaCluster, singleNodeKafka } from "../infra/kafka-cluster.ts";
import { S3_TEST_ENV, startTestS3, type TestS3 } from "../infra/s3-server.ts";
import {
  deleteKafkaTopic,
  freshTopicName,
  type KafkaServeTopic,
  kafkaServeEnv,
} from "./kafka-serve.ts";

const PARTITIONS = 4;
const TENANTS = ["k-acme", "k-globex", "k-initech", "k-umbrella"];
const CLIENTS_PER_TENANT = 3;
const PLANS_PER_CLIENT = 10;
/** A start joins a fresh consumer group and reads the topic's offsets: allow for a slow machine. */
const READY_TIMEOUT_MS = 60_000;

let cluster: KafkaCluster | undefined;
let s3: TestS3;
let topic: KafkaServeTopic;
const dirs: string[] = [];

beforeAll(async () => {
  cluster = await singleNodeKafka();
  s3 = await startTestS3();
  topic = { brokers: cluster.brokers, topic: freshTopicName("archive"), partitions: PARTITIONS };
}, 600_000);

afterAll(async () => {
  for (const dir of dirs) removeDataDir(dir);
  if (topic !== undefined) await deleteKafkaTopic(topic).catch(() => {});
  await cluster?.stop();
}, 60_000);

function freshDir(prefix: string): string {
  const dir = tempDataDir(`entdb-kafka-${prefix}-`);
  dirs.push(dir);
  return dir;
}

function serve(dataDir: string, args: readonly string[]): Promise<ServerProcess> {
  return startServerProcess({
    dataDir,
    args,
    env: { ...kafkaServeEnv(topic), ...S3_TEST_ENV, ENTDB_ARCHIVE_FLUSH_MS: "50" },
    readyTimeoutMs: READY_TIMEOUT_MS,
  });
}

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

/** The topic's high watermark per partition. */
async function topicEnds(): Promise<number[]> {
  const admin = new Kafka({
    clientId: "entdb-test-offsets",
    brokers: [...topic.brokers],
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic.topic);
    return Array.from({ length: PARTITIONS }, (_, p) =>
      Number(offsets.find((o) => o.partition === p)?.high ?? -1),
    );
  } finally {
    await admin.disconnect();
  }
}

/** Every archived offset per partition, in key order, read and checked through restore's decoder. */
async function archivedOffsets(url: string): Promise<number[][]> {
  const location = parseArchiveUrl(url);
  const store = new S3ObjectStore({ location, endpoint: s3.endpoint });
  try {
    const out: number[][] = [];
    for (let p = 0; p < PARTITIONS; p++) {
      const offsets: number[] = [];
      for (const segment of await listSegments(store, location, p)) {
        const { body, metadata } = await store.get(segment.key);
        for (const entry of decodeSegment(segment.key, segment, body, metadata))
          offsets.push(entry.position.offset);
      }
      out.push(offsets);
    }
    return out;
  } finally {
    store.close();
  }
}

/** Writes concurrently; returns the acknowledged slugs. */
async function writeConcurrently(api: EntDbClient, round: string): Promise<string[]> {
  const acked: string[] = [];
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
          if (res.receipt) acked.push(slug);
        }
      }),
    ),
  );
  return acked;
}

/** The slugs of every Team of every tenant. */
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

describe("the archive of a Kafka log", () => {
  it("holds the topic record for record, restores byte-identical, and a server on the restored dir continues the live log", async () => {
    const url = `s3://${await s3.newBucket()}/kafka`;
    const archiveArgs = ["--archive", url, "--s3-endpoint", s3.endpoint];
    const dataDir = freshDir("original");

    // Round a, then a stop (SIGTERM flushes the archive) to take the state at the cut.
    let server = await serve(dataDir, archiveArgs);
    const ackedA = await writeConcurrently(entDbClient(server), "a");
    expect(ackedA.length).toBe(TENANTS.length * CLIENTS_PER_TENANT * PLANS_PER_CLIENT);
    expect(await server.stop()).toBe(0);
    expect(server.logs()).toContain('"msg":"archive flushed"');
    const dumpsA = dumps(dataDir);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const cut = new Date();
    await new Promise((resolve) => setTimeout(resolve, 50));

    // Round b on a restarted server: its archiver resumes where the archive ends.
    server = await serve(dataDir, archiveArgs);
    const ackedB = await writeConcurrently(entDbClient(server), "b");
    expect(await server.stop()).toBe(0);
    expect(server.logs()).toContain('"msg":"archive flushed"');
    const dumpsB = dumps(dataDir);
    expect([...dumpsB.keys()].length).toBe(TENANTS.length);

    // The archive is the topic: every offset from 0 to the high watermark, once, in order.
    const ends = await topicEnds();
    expect(ends.reduce((a, b) => a + b, 0)).toBe(ackedA.length + ackedB.length + 1); // + the schema
    expect(await archivedOffsets(url)).toEqual(
      ends.map((end) => Array.from({ length: end }, (_, i) => i)),
    );

    // A full restore: no log file (the topic is the log), byte-identical tenants.
    const restored = freshDir("restored");
    const run = await entdb([
      "restore",
      "--from",
      url,
      "--s3-endpoint",
      s3.endpoint,
      "--data-dir",
      restored,
    ]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(
      new RegExp(
        `^restored ${ackedA.length + ackedB.length + 1} events from \\d+ segments and 0 snapshots of ${url} into ${restored}\\n`,
      ),
    );
    expect(run.stdout).toContain(
      `next positions ${ends.map((end, p) => `${p}:${end}`).join(" ")}\n`,
    );
    expect(readdirSync(restored)).not.toContain("wal.sqlite");
    expect(dumps(restored)).toEqual(dumpsB);

    // A server on it, same topic and archive: every acknowledged write once, and its
    // next write is the topic's next offset, archived after the restored end.
    server = await serve(restored, archiveArgs);
    const api = entDbClient(server);
    expect(await slugs(api)).toEqual([...ackedA, ...ackedB].sort());
    const res = await api.executePlan({
      tenant: "k-acme",
      idempotencyKey: "after-restore",
      operations: [teamOp("after", "after-restore")],
    });
    const partition = partitionForTenant("k-acme", PARTITIONS);
    expect(res.receipt?.position?.partition).toBe(partition);
    expect(res.receipt?.position?.offset).toBe(BigInt(ends[partition]!));
    expect(await server.stop()).toBe(0);
    const after = ends.map((end, p) => (p === partition ? end + 1 : end));
    expect(await topicEnds()).toEqual(after);
    expect(await archivedOffsets(url)).toEqual(
      after.map((end) => Array.from({ length: end }, (_, i) => i)),
    );
    const withAfter = dumps(restored);

    // A restore cut between the rounds holds round a only; a server on it applies the
    // rest of the topic from there and ends where the original did (plus the last write).
    const cutDir = freshDir("cut");
    const cutRun = await entdb([
      "restore",
      "--from",
      url,
      "--s3-endpoint",
      s3.endpoint,
      "--data-dir",
      cutDir,
      "--to-time",
      cut.toISOString(),
    ]);
    expect(cutRun.code, cutRun.stderr).toBe(0);
    expect(cutRun.stdout).toMatch(new RegExp(`^restored ${ackedA.length + 1} events from `));
    expect(dumps(cutDir)).toEqual(dumpsA);
    server = await serve(cutDir, []);
    expect(await slugs(entDbClient(server))).toEqual(
      [...ackedA, ...ackedB, "after-restore"].sort(),
    );
    expect(await server.stop()).toBe(0);
    expect(dumps(cutDir)).toEqual(withAfter);
  }, 300_000);
});

describe("a topic that lost records before they were archived", () => {
  it("is not archived past the hole, and the archiver reports itself degraded", async () => {
    const lost = { ...topic, topic: freshTopicName("archive-lost"), partitions: 1 };
    const wal = await openKafkaWal({
      brokers: lost.brokers,
      topic: lost.topic,
      partitions: 1,
      replicationFactor: 1,
    });
    const admin = new Kafka({
      clientId: "entdb-test-retention",
      brokers: [...lost.brokers],
      logLevel: logLevel.NOTHING,
    }).admin();
    const lines: string[] = [];
    const log = createLogger("info", (line) => lines.push(line));
    const url = `s3://${await s3.newBucket()}/lost`;
    const location = parseArchiveUrl(url);
    const store = new S3ObjectStore({ location, endpoint: s3.endpoint });
    try {
      for (let i = 0; i < 4; i++)
        await wal.append([{ tenant: "acme", payload: new TextEncoder().encode(`v${i}`) }]);
      // What retention does to old segments: the log start moves past unarchived records.
      // (kafkajs finds the partition leaders only for topics whose offsets it fetched.)
      await admin.connect();
      await admin.fetchTopicOffsets(lost.topic);
      await admin.deleteTopicRecords({
        topic: lost.topic,
        partitions: [{ partition: 0, offset: "2" }],
      });

      const archiver = await Archiver.start({ wal, store, location, log, flushIntervalMs: 20 });
      const deadline = Date.now() + 20_000;
      while (archiver.degradedReasons().length === 0 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 50));
      expect(archiver.degradedReasons()).toEqual([
        `Archiving to ${url} stopped: it can no longer read the log (The subscriber asks for partition 0 of topic "${lost.topic}" from offset 0, but the log starts at 2: retention deleted records that were never applied.). ` +
          "Nothing after the archived end is archived until this is fixed and the server restarted.",
      ]);
      // close gives up at once (nothing more can come) and names what stays unarchived,
      // and which of it the log no longer holds: the line must not say the log keeps it.
      const closing = Date.now();
      await archiver.close(10_000);
      expect(Date.now() - closing).toBeLessThan(5_000);
      expect(await listSegments(store, location, 0)).toEqual([]);
      const shutdown = lines
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => String(l["msg"]).startsWith("archive incomplete at shutdown"));
      expect(shutdown.map((l) => [l["msg"], l["unarchived"], l["deleted"]])).toEqual([
        [
          "archive incomplete at shutdown; the log deleted some of these records before they were archived",
          ["0:0-4"],
          ["0:0-2"],
        ],
      ]);
    } finally {
      store.close();
      await admin.disconnect();
      await wal.close();
      await deleteKafkaTopic(lost).catch(() => {});
    }
  }, 120_000);

  it("makes a server whose data dir needs deleted records refuse to start, saying to restore from the archive", async () => {
    const lost = { ...topic, topic: freshTopicName("rebuild-lost"), partitions: 2 };
    const wal = await openKafkaWal({
      brokers: lost.brokers,
      topic: lost.topic,
      partitions: 2,
      replicationFactor: 1,
    });
    const admin = new Kafka({
      clientId: "entdb-test-retention",
      brokers: [...lost.brokers],
      logLevel: logLevel.NOTHING,
    }).admin();
    try {
      // Records in partition 1 only; retention then deletes the first two of them.
      const tenant = TENANTS.find((t) => partitionForTenant(t, 2) === 1)!;
      for (let i = 0; i < 4; i++)
        await wal.append([{ tenant, payload: new TextEncoder().encode(`v${i}`) }]);
      await admin.connect();
      await admin.fetchTopicOffsets(lost.topic);
      await admin.deleteTopicRecords({
        topic: lost.topic,
        partitions: [{ partition: 1, offset: "2" }],
      });
      expect(await wal.readLogStarts()).toEqual([0, 2]);
      expect(wal.logStart(1)).toBe(2);

      // An empty data dir must read every partition from 0: refused before listening,
      // not failed later by the applier.
      const dataDir = freshDir("rebuild-lost");
      const refused = await runServeToExit({
        dataDir,
        env: kafkaServeEnv(lost),
        timeoutMs: READY_TIMEOUT_MS,
      });
      expect(refused.code).toBe(1);
      expect(refused.listened).toBe(false);
      expect(refused.stderr).toContain(
        `error: The data dir ${dataDir} cannot be rebuilt from its log: meta.sqlite must be rebuilt (meta.sqlite is missing), ` +
          "which needs partition 1 from offset 0, but the log starts at 2 (the topic's retention deleted older records). " +
          "Restore it from the archive into a new directory (entdb restore --from ARCHIVE --data-dir NEW, ARCHIVE being the s3:// URL or directory given to --archive) and serve that.\n",
      );
    } finally {
      await admin.disconnect();
      await wal.close();
      await deleteKafkaTopic(lost).catch(() => {});
    }
  }, 120_000);
});
