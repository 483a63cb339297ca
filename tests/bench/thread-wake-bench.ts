/**
 * `node tests/bench/thread-wake-bench.ts [round trips]`: what a round trip to a worker
 * thread costs the main thread in CPU when both threads are busy (back to back) and when
 * each round trip starts after the process slept 1 ms, as every write does when one
 * client sends them one at a time. The log writer's thread (`thread-wal-writer.ts`)
 * makes such a round trip per commit. Prints CPU µs of the main thread per
 * `postMessage` and per round trip. A measurement, not a test.
 */

import { Worker } from "node:worker_threads";

const N = Number(process.argv[2] ?? "3000");
// The same shape as a log commit of one 300-byte record.
const rows = [{ partition: 0, offset: 1, tenant: "bench", payload: new Uint8Array(300) }];
const worker = new Worker(
  `const { parentPort } = require("node:worker_threads");
   parentPort.on("message", (m) => parentPort.postMessage({ kind: "done", id: m.id }));`,
  { eval: true },
);
let answered: () => void = () => {};
worker.on("message", () => answered());

async function measure(sleepMs: number): Promise<{ post: number; roundTrip: number }> {
  let post = 0;
  const start = process.threadCpuUsage();
  for (let i = 0; i < N; i++) {
    if (sleepMs > 0) await new Promise((resolve) => setTimeout(resolve, sleepMs));
    const reply = new Promise<void>((resolve) => {
      answered = resolve;
    });
    const before = process.threadCpuUsage();
    worker.postMessage({ kind: "commit", id: i, rows });
    const used = process.threadCpuUsage(before);
    post += used.user + used.system;
    await reply;
  }
  const total = process.threadCpuUsage(start);
  return { post: post / N, roundTrip: (total.user + total.system) / N };
}

for (const [label, sleepMs] of [
  ["back to back", 0],
  ["after 1 ms asleep", 1],
] as const) {
  const { post, roundTrip } = await measure(sleepMs);
  console.log(
    `${label.padEnd(18)} postMessage ${post.toFixed(1).padStart(6)} CPU µs, round trip ${roundTrip.toFixed(1).padStart(6)} CPU µs (main thread)`,
  );
}
await worker.terminate();
