/**
 * A subscription of a shared consumer group (`groupId`, docs/kafka.md "Subscriptions")
 * after its only broker was down long enough for its consumer to crash: kafkajs restarts
 * the consumer in place, it joins as a new member while the group still holds the old
 * one (which could not leave while the broker was down), and the group assigns no
 * partition until the old member's session expires. So the subscription stands still for
 * about `groupSessionTimeoutMs` after the broker is back. One outage, two groups: one
 * with the default 30 s session, one with 6 s (the broker's default minimum); each must
 * receive a record appended after the broker's return within its session plus 15 s, and
 * the 6 s group well before the 30 s group's session could expire. A real single-node
 * broker of its own, on its own port and state dir, since the test kills it.
 */

import { randomInt, randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEFAULT_KAFKA_GROUP_SESSION_TIMEOUT_MS,
  type KafkaWalOptions,
  openKafkaWal,
  type Wal,
  type WalSubscription,
} from "../../server/wal/index.ts";
import { REPO_ROOT } from "../e2e/server-process.ts";
import { type KafkaCluster, startKafkaCluster } from "../infra/kafka-cluster.ts";

const dir = join(REPO_ROOT, ".tmp", `kafka-shared-outage-${process.pid}`);
let cluster: KafkaCluster | undefined;
const SHORT_SESSION_MS = 6_000;

beforeAll(async () => {
  cluster = await startKafkaCluster({
    nodes: 1,
    dir,
    fresh: true,
    port: randomInt(21_000, 29_000),
  });
}, 330_000);

afterAll(async () => {
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A member of a shared group: what it received, and when its consumer crashed. */
interface Member {
  readonly wal: Wal;
  readonly subscription: WalSubscription;
  readonly got: string[];
  crashed: boolean;
}

async function member(options: KafkaWalOptions): Promise<Member> {
  const got: string[] = [];
  const state = { crashed: false };
  const wal = await openKafkaWal({
    ...options,
    // Few retries: the consumer crashes (and is restarted) a few seconds into the outage.
    retry: { retries: 3, initialRetryTimeMs: 100, maxRetryTimeMs: 500 },
    log: (entry) => {
      if (/restart/i.test(entry.message) || /crash/i.test(entry.message)) state.crashed = true;
    },
    logLevel: "error",
  });
  const subscription = wal.subscribe({
    startOffset: () => 0,
    handler: async (entries) => {
      for (const entry of entries) got.push(entry.tenant);
    },
  });
  return {
    wal,
    subscription,
    got,
    get crashed() {
      return state.crashed;
    },
    set crashed(value) {
      state.crashed = value;
    },
  };
}

async function until(what: string, condition: () => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`);
    await sleep(50);
  }
}

describe("a shared consumer group after a broker outage", () => {
  it("delivers again within its members' session timeout, which groupSessionTimeoutMs sets", async () => {
    const topic = `shared-outage-${randomUUID().slice(0, 8)}`;
    const base = {
      brokers: cluster!.brokers,
      topic,
      partitions: 2,
      replicationFactor: 1,
      minInsyncReplicas: 1,
    };
    const long = await member({ ...base, groupId: `long-${topic}` });
    const short = await member({
      ...base,
      groupId: `short-${topic}`,
      groupSessionTimeoutMs: SHORT_SESSION_MS,
    });
    const members = { long, short };
    try {
      await long.wal.append([{ tenant: "before", payload: new Uint8Array([1]) }]);
      await until(
        "both groups to receive the first record",
        () => long.got.includes("before") && short.got.includes("before"),
        60_000,
      );

      await cluster!.killNodes(1);
      await until("both consumers to crash", () => long.crashed && short.crashed, 90_000);
      await cluster!.startNodes(1);
      const back = Date.now();
      // Appended once the producer reconnects (its own retries may run out meanwhile).
      for (;;) {
        try {
          await long.wal.append([{ tenant: "after", payload: new Uint8Array([2]) }]);
          break;
        } catch (error) {
          if (Date.now() - back > 60_000) throw error;
          await sleep(200);
        }
      }
      const resumed: Record<string, number> = {};
      await until(
        "both groups to receive the record appended after the outage",
        () => {
          for (const [name, m] of Object.entries(members))
            if (resumed[name] === undefined && m.got.includes("after"))
              resumed[name] = Date.now() - back;
          return Object.keys(resumed).length === 2;
        },
        DEFAULT_KAFKA_GROUP_SESSION_TIMEOUT_MS + 30_000,
      );
      console.log(
        `broker back: the 30 s group received after ${resumed["long"]} ms, the 6 s group after ${resumed["short"]} ms`,
      );
      expect(resumed["short"]).toBeLessThan(SHORT_SESSION_MS + 15_000);
      expect(resumed["long"]).toBeLessThan(DEFAULT_KAFKA_GROUP_SESSION_TIMEOUT_MS + 15_000);
      expect(resumed["short"]).toBeLessThan(resumed["long"] ?? 0);
    } finally {
      await Promise.all([long, short].map((m) => m.subscription.stop()));
      await Promise.all([long, short].map((m) => m.wal.close()));
    }
  }, 330_000);
});
