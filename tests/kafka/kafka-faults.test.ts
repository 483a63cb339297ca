/**
 * The Kafka log under broker crashes, on a real three-node cluster (KRaft, each node
 * broker and controller) with replication 3 and min.insync.replicas 2:
 * - one node killed under write load, with the options `entdb serve` uses: appends keep
 *   being acknowledged, the longest gap between two acknowledgements (the failover
 *   stall: fencing the dead node, electing leaders, kafkajs's metadata refresh and retry
 *   backoff) is measured, printed and bounded as `docs/kafka.md` states, and every
 *   acknowledged record is read back intact;
 * - two nodes killed: appends fail with `unavailable` within the retry budget, and
 *   after the nodes return, appends work again and nothing acknowledged is lost.
 * Every loop is bounded in count and time. Nodes die by SIGKILL (a crash, not a
 * controlled shutdown).
 */

import { fileURLToPath } from "node:url";
import { Kafka, logLevel } from "kafkajs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type KafkaWalOptions, openKafkaWal } from "../../server/wal/kafka-wal.ts";
import { readWalToEnd } from "../../server/wal/read-wal.ts";
import type { Wal, WalPosition, WalRecord } from "../../server/wal/wal.ts";
import { WalError } from "../../server/wal/wal.ts";
import { type KafkaCluster, startKafkaCluster } from "../infra/kafka-cluster.ts";

const DIR = fileURLToPath(new URL("../../.tmp/kafka-faults", import.meta.url));
const run = Date.now().toString(36);
const encoder = new TextEncoder();
const decoder = new TextDecoder();

let cluster: KafkaCluster;

beforeAll(async () => {
  cluster = await startKafkaCluster({ nodes: 3, dir: DIR, fresh: true });
}, 330_000);

afterAll(async () => {
  await cluster?.stop();
}, 60_000);

/**
 * Retry budget: backoffs 0.2 + 0.4 + 0.8 + 1.5 × 5 ≈ 8.9 s (±20 %), which must outlast
 * the time the cluster needs to fence a dead broker (broker.session.timeout.ms = 3 s in
 * kafka.sh), elect new leaders and, if the dead node was the active controller, a new
 * controller: 2–6 s measured. Each attempt waits at most ackTimeoutMs for the in-sync
 * replicas, so with two nodes down an append fails after about 9 × 2 s + 8.9 s ≈ 27 s.
 */
function walOptions(topic: string): KafkaWalOptions {
  return {
    brokers: cluster.brokers,
    topic,
    partitions: 6,
    replicationFactor: 3,
    minInsyncReplicas: 2,
    connectionTimeoutMs: 1_000,
    ackTimeoutMs: 2_000,
    requestTimeoutMs: 4_000,
    retry: { retries: 8, initialRetryTimeMs: 200, maxRetryTimeMs: 1_500 },
  };
}

/**
 * The options `entdb serve` opens its log with (`server/server.ts`): every timeout and
 * the retry policy at their defaults, so the measured stall is what a server sees.
 */
function serveOptions(topic: string): KafkaWalOptions {
  return { brokers: cluster.brokers, topic, partitions: 6, replicationFactor: 3 };
}

/**
 * Bound on the longest gap between acknowledgements when one of three nodes is killed,
 * as stated in `docs/kafka.md` ("Failover stall"): the cluster's recovery (3 s broker
 * session timeout in `tests/infra/kafka.sh`, plus a controller election when the dead
 * node was the active controller; up to about 7 s measured on a loaded 2-core machine)
 * plus at most one capped backoff (1 s + 20 % jitter), with room for a loaded CI runner.
 */
const FAILOVER_GAP_BOUND_MS = 12_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${what}.`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Acknowledged records by position (`partition/offset`), to compare with what is read back. */
type Acked = Map<string, string>;

function remember(
  acked: Acked,
  records: readonly WalRecord[],
  positions: readonly WalPosition[],
): void {
  records.forEach((record, i) => {
    const { partition, offset } = positions[i]!;
    acked.set(`${partition}/${offset}`, `${record.tenant}:${decoder.decode(record.payload)}`);
  });
}

/** Reads the whole log and checks every acknowledged record sits at its position, intact. */
async function expectAllAcknowledged(wal: Wal, acked: Acked): Promise<void> {
  const stored = await withTimeout(readWalToEnd(wal), 60_000, "reading the log back");
  const found = new Map(
    stored
      .flat()
      .map((e) => [
        `${e.position.partition}/${e.position.offset}`,
        `${e.tenant}:${decoder.decode(e.payload)}`,
      ]),
  );
  const missing = [...acked].filter(([position, value]) => found.get(position) !== value);
  expect(missing).toEqual([]);
}

/** The node leading partition 0 of `topic`. */
async function leaderOfPartition0(topic: string): Promise<number> {
  const admin = new Kafka({
    clientId: "faults-test",
    brokers: [...cluster.brokers],
    logLevel: logLevel.NOTHING,
  }).admin();
  await admin.connect();
  try {
    const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
    return metadata.topics[0]!.partitions.find((p) => p.partitionId === 0)!.leader;
  } finally {
    await admin.disconnect();
  }
}

function batch(writer: number, seq: number): WalRecord[] {
  return [0, 1, 2].map((i) => ({
    tenant: `tenant-${(seq * 3 + i) % 30}`,
    payload: encoder.encode(`w${writer}-${seq}-${i}`),
  }));
}

describe("kafka log with broker faults", () => {
  it("keeps acknowledging appends while one of three brokers is killed, and loses none", async () => {
    const topic = `faults-one-${run}`;
    const wal = await openKafkaWal(serveOptions(topic));
    const victim = await leaderOfPartition0(topic);
    const acked: Acked = new Map();
    const failures: unknown[] = [];
    /** When each acknowledgement arrived, in arrival order (one event loop: no races). */
    const ackTimes: number[] = [];
    let killedAt = Number.POSITIVE_INFINITY;
    let ackedAfterKill = 0;
    let longestAppendMs = 0;
    let warm = false;
    let stop = false;
    const deadline = Date.now() + 60_000;
    const writer = async (w: number): Promise<void> => {
      // Bounded: 1000 appends or the deadline, whichever first.
      for (let seq = 0; seq < 1000 && !stop && Date.now() < deadline; seq++) {
        const records = batch(w, seq);
        const started = Date.now();
        try {
          remember(acked, records, await wal.append(records));
          ackTimes.push(Date.now());
          if (warm) longestAppendMs = Math.max(longestAppendMs, Date.now() - started);
          if (started > killedAt) ackedAfterKill++;
        } catch (error) {
          failures.push(error);
        }
        await sleep(5);
      }
    };
    const writers = [0, 1, 2, 3].map(writer);
    // Kill only once appends flow steadily: the first ones also start the producer and
    // load metadata, which is not the stall measured here. Bounded by 30 s.
    const flowing = Date.now() + 30_000;
    while (acked.size < 60 && Date.now() < flowing) await sleep(100);
    warm = true;
    await sleep(500);
    const ackedBeforeKill = acked.size;
    killedAt = Date.now();
    await cluster.killNodes(victim);
    try {
      await sleep(12_000);
    } finally {
      stop = true;
      await Promise.all(writers);
      // Back for the next case even if an assertion below fails.
      await cluster.startNodes(victim);
    }

    // From the last acknowledgement before the kill to the end.
    const fromKill = ackTimes.slice(
      Math.max(
        0,
        ackTimes.findLastIndex((t) => t <= killedAt),
      ),
    );
    let longestGapMs = 0;
    for (let i = 1; i < fromKill.length; i++) {
      longestGapMs = Math.max(longestGapMs, fromKill[i]! - fromKill[i - 1]!);
    }
    const firstAfterKill = ackTimes.find((time) => time > killedAt + 100);
    console.log(
      `kafka-faults: node ${victim} killed; longest gap between acknowledgements` +
        ` ${longestGapMs} ms, first acknowledgement ${(firstAfterKill ?? Number.NaN) - killedAt} ms` +
        ` after the kill, longest append ${longestAppendMs} ms (bound ${FAILOVER_GAP_BOUND_MS} ms)`,
    );
    expect(failures).toEqual([]);
    expect(ackedBeforeKill).toBeGreaterThan(0);
    expect(ackedAfterKill).toBeGreaterThan(10);
    expect(longestGapMs).toBeLessThan(FAILOVER_GAP_BOUND_MS);
    expect(longestAppendMs).toBeLessThan(FAILOVER_GAP_BOUND_MS);
    await expectAllAcknowledged(wal, acked);
    await wal.close();
  }, 120_000);

  it("fails appends with unavailable while two of three brokers are down, and keeps every acknowledged record", async () => {
    const topic = `faults-two-${run}`;
    const wal = await openKafkaWal(walOptions(topic));
    const acked: Acked = new Map();
    for (let seq = 0; seq < 10; seq++) {
      const records = batch(0, seq);
      remember(acked, records, await wal.append(records));
    }
    await cluster.killNodes(2, 3);

    const started = Date.now();
    const error = await withTimeout(
      wal.append(batch(1, 0)).then(
        () => "acknowledged",
        (e: unknown) => e,
      ),
      60_000,
      "an append with two brokers down to settle",
    );
    const failedAfterMs = Date.now() - started;
    expect(error).toBeInstanceOf(WalError);
    expect((error as WalError).code).toBe("unavailable");
    expect((error as WalError).message).toMatch(
      /^Kafka did not acknowledge 3 records for partitions [0-5](, [0-5])* of topic "faults-two-[a-z0-9]+": .+ \(after 8 retries\)\.$/,
    );
    expect(failedAfterMs).toBeLessThan(45_000);

    await cluster.startNodes(2, 3);
    // Bounded: the cluster needs a moment to elect leaders again.
    let recovered: WalPosition[] | undefined;
    const records = batch(2, 0);
    for (let attempt = 0; attempt < 6 && recovered === undefined; attempt++) {
      recovered = await wal.append(records).catch(() => undefined);
    }
    expect(recovered).toBeDefined();
    remember(acked, records, recovered!);
    await expectAllAcknowledged(wal, acked);
    await wal.close();
  }, 180_000);
});
