/**
 * `node tests/bench/thread-wake-bench.ts [iterations]`: what waking up costs the main
 * thread in CPU, and what a round trip to a worker thread adds, back to back and when
 * the process slept 1 ms before each (as it does between the writes of one client).
 * The `"thread"` log writer (`thread-wal-writer.ts`) makes such a round trip per commit.
 * Prints CPU µs of the main thread per iteration for: a round trip back to back; a 1 ms
 * sleep alone; a 1 ms sleep then a round trip. The third minus the second is what the
 * round trip itself costs after a sleep.
 *
 * Only whole iterations are timed: a thread's CPU clock (`process.threadCpuUsage`,
 * getrusage) is brought up to date only at scheduler events, so a short span timed right
 * after a wake-up is charged with the wake-up itself. An earlier version timed the
 * `postMessage` call alone and read 60 µs "after a sleep" against 4 µs back to back: the
 * write that wakes the worker brought the clock up to date, and most of the 60 µs was the
 * wake-up from the sleep. A measurement, not a test.
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

const roundTrip = (i: number): Promise<void> => {
  const reply = new Promise<void>((resolve) => {
    answered = resolve;
  });
  worker.postMessage({ kind: "commit", id: i, rows });
  return reply;
};

/** Main-thread CPU µs per iteration of: sleep `sleepMs` (if any), then `step`. */
async function measure(sleepMs: number, step: (i: number) => Promise<void>): Promise<number> {
  const start = process.threadCpuUsage();
  for (let i = 0; i < N; i++) {
    if (sleepMs > 0) await new Promise((resolve) => setTimeout(resolve, sleepMs));
    await step(i);
  }
  const total = process.threadCpuUsage(start);
  return (total.user + total.system) / N;
}

const backToBack = await measure(0, roundTrip);
const sleepOnly = await measure(1, async () => {});
const sleepThenTrip = await measure(1, roundTrip);
const line = (label: string, us: number) =>
  console.log(`${label.padEnd(34)} ${us.toFixed(1).padStart(7)} CPU µs (main thread)`);
line("round trip, back to back", backToBack);
line("1 ms asleep, then nothing", sleepOnly);
line("1 ms asleep, then a round trip", sleepThenTrip);
line("  the round trip's share", sleepThenTrip - sleepOnly);
await worker.terminate();
