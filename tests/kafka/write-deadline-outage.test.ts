/**
 * A write's deadline while the Kafka log's only broker is down: `ExecutePlan` with
 * `connect-timeout-ms: 500` ends DEADLINE_EXCEEDED near its deadline, not when kafkajs's
 * retries run out (about 36 s, docs/kafka.md "Appends"), and says the write may have been
 * logged, with its idempotency key (the one it was sent with, or the one the server
 * minted). The append goes on: once the broker is back it succeeds, and the write is
 * applied without being sent again; sent again with its key, it is answered its outcome
 * and not applied twice. A real single-node broker of its own, on its own port and state
 * dir, since the test stops it. Runs with the server's `ENTDB_SERVE_THREADS` (a serving
 * thread hands writes to the main thread).
 */

import { expect, it } from "vitest";
import { connectJsonCall, countNodes, entDbClient, TRACKER, teamOp } from "../e2e/e2e-helpers.ts";
import { startServerProcess, tempDataDir } from "../e2e/server-process.ts";
import { useClusterTopic } from "./cluster-servers.ts";
import { kafkaServeEnv } from "./kafka-serve.ts";

/** The calls' deadline. */
const DEADLINE_MS = 500;
/**
 * A call ends within this of its start: its deadline, with room for a loaded machine;
 * far below the 36 s kafkajs takes to give up on a write with the broker down.
 */
const END_BOUND_MS = 10_000;
/** After the broker is back, the writes left in flight are applied within this. */
const APPLIED_BOUND_MS = 60_000;

const kafka = useClusterTopic("write-deadline", 2);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

it("ends a write at its deadline while the broker is down, and applies it once the broker is back", async () => {
  const dataDir = tempDataDir("entdb-kafka-write-deadline-");
  kafka.dataDirs.push(dataDir);
  const server = await startServerProcess({
    dataDir,
    env: kafkaServeEnv(kafka.topic),
    readyTimeoutMs: 60_000,
  });
  try {
    const api = entDbClient(server);
    await api.executePlan({ tenant: "acme", operations: [teamOp("Before", "before")] });

    await kafka.broker.killNodes(1);
    // One write with a key of its own, one with the key the server mints, each with the
    // deadline in its header (the server's answer is read, not the client's own timeout).
    const teamJson = (slug: string) => ({
      createNode: {
        typeId: TRACKER.team,
        fields: {
          [TRACKER.teamName]: { stringValue: slug },
          [TRACKER.teamSlug]: { stringValue: slug },
        },
      },
    });
    const deadline = { "connect-timeout-ms": String(DEADLINE_MS) };
    const [keyedCall, unkeyedCall] = await Promise.all([
      connectJsonCall(
        server,
        "ExecutePlan",
        { tenant: "acme", idempotencyKey: "while-down", operations: [teamJson("keyed")] },
        deadline,
      ),
      connectJsonCall(
        server,
        "ExecutePlan",
        { tenant: "acme", operations: [teamJson("unkeyed")] },
        deadline,
      ),
    ]);
    console.log(
      `broker down: the writes ended after ${keyedCall.ms} and ${unkeyedCall.ms} ms: ${keyedCall.answer.message}`,
    );
    for (const call of [keyedCall, unkeyedCall]) {
      expect(call.answer.code, call.answer.message).toBe("deadline_exceeded");
      expect(call.answer.message).toMatch(
        /^The call's deadline passed before the log acknowledged the write for tenant 'acme'; it may have been logged, and then it will be applied\. Send it again with idempotency key '[^']+'/,
      );
      expect(call.ms).toBeLessThan(END_BOUND_MS);
    }
    expect(keyedCall.answer.message).toContain("idempotency key 'while-down'");
    const mintedKey = /idempotency key '([^']+)'/.exec(unkeyedCall.answer.message ?? "")?.[1];
    expect(mintedKey).toBeDefined();

    // The appends went on: with the broker back they are logged, and then applied,
    // though nobody sent the writes again.
    await kafka.broker.startNodes(1);
    const back = Date.now();
    while (
      (await countNodes(api, "acme").catch(() => 0)) < 3 &&
      Date.now() - back < APPLIED_BOUND_MS
    )
      await sleep(200);
    expect(await countNodes(api, "acme"), server.logs()).toBe(3);

    // Sent again with their keys: answered their outcome, not applied twice.
    const again = await api.executePlan({
      tenant: "acme",
      idempotencyKey: "while-down",
      operations: [teamOp("keyed", "keyed")],
    });
    expect(again.receipt?.replayed).toBe(true);
    const againMinted = await api.executePlan({
      tenant: "acme",
      idempotencyKey: mintedKey!,
      operations: [teamOp("unkeyed", "unkeyed")],
    });
    expect(againMinted.receipt?.replayed).toBe(true);
    expect(await countNodes(api, "acme")).toBe(3);

    // SIGTERM ends it, with 0, though kafkajs may keep a connection it reopened during the
    // outage (the server then ends its process itself, saying what was left open).
    const stopping = Date.now();
    expect(await server.stop(), server.logs()).toBe(0);
    expect(Date.now() - stopping).toBeLessThan(END_BOUND_MS);
    const leftOpen = server
      .logs()
      .split("\n")
      .find((line) => line.includes("the process did not end after the server stopped"));
    console.log(`stopped in ${Date.now() - stopping} ms; ${leftOpen ?? "it ended by itself"}`);
  } finally {
    await server.stop();
  }
}, 300_000);
