/**
 * Waits until nodes of a Kafka cluster started by `tests/infra/kafka.sh` serve: each
 * node, asked alone through its own address, answers a metadata request that lists
 * itself (KRaft lists only registered, unfenced brokers) and names a controller. Asking
 * each node itself matters after a restart: a surviving node's stale metadata may still
 * list a dead node as alive. Fails early when a broker process named by `--pids` has
 * died, so a bad config is reported in seconds, not after the whole timeout.
 *
 *   node tests/infra/kafka/wait-ready.ts --nodes 1=127.0.0.1:19092 --timeout 60 --pids 1234
 *
 * Exit 0 when ready; 1 with a one-line reason on stderr otherwise.
 */
import { parseArgs } from "node:util";
import { Kafka, logLevel } from "kafkajs";

const { values } = parseArgs({
  options: {
    nodes: { type: "string" },
    timeout: { type: "string", default: "60" },
    pids: { type: "string", default: "" },
  },
});

/** Node id → its own `host:port`. */
const nodes = new Map(
  (values.nodes ?? "")
    .split(",")
    .filter((n) => n !== "")
    .map((n) => {
      const [id, address] = n.split("=");
      return [Number(id), address ?? ""] as const;
    }),
);
const deadline = Date.now() + Number(values.timeout) * 1000;
const pids = values.pids
  .split(",")
  .filter((p) => p !== "")
  .map(Number);

if (
  nodes.size === 0 ||
  [...nodes].some(([id, address]) => !Number.isInteger(id) || address === "")
) {
  process.stderr.write("wait-ready: need --nodes id=host:port[,…]\n");
  process.exit(1);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Why `id` does not serve yet, or undefined once it does. */
async function notReady(id: number, address: string): Promise<string | undefined> {
  // A fresh client each round: kafkajs caches metadata and connection failures.
  const admin = new Kafka({
    clientId: "entdb-wait-ready",
    brokers: [address],
    connectionTimeout: 1000,
    requestTimeout: 3000,
    retry: { retries: 0 },
    logLevel: logLevel.NOTHING,
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    if (!cluster.brokers.some((b) => b.nodeId === id)) return `node ${id} is not registered yet`;
    if (cluster.controller === null) return `node ${id} knows no controller yet`;
    return undefined;
  } catch (error) {
    return `node ${id}: ${error instanceof Error ? error.message : String(error)}`;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

const waiting = new Map(nodes);
let last = "no answer yet";
while (Date.now() < deadline) {
  const dead = pids.filter((pid) => !alive(pid));
  if (dead.length > 0) {
    process.stderr.write(`wait-ready: broker process ${dead.join(", ")} exited\n`);
    process.exit(1);
  }
  for (const [id, address] of waiting) {
    const why = await notReady(id, address);
    if (why === undefined) waiting.delete(id);
    else last = why;
  }
  if (waiting.size === 0) process.exit(0);
  await sleep(300);
}
process.stderr.write(`wait-ready: not ready within ${values.timeout}s (${last})\n`);
process.exit(1);
