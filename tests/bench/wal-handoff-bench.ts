/**
 * `node tests/bench/wal-handoff-bench.ts [rows] [bytes] [commits]`: what handing a commit's
 * rows to the log's writer thread and getting its answer costs, apart from the SQL and
 * the fsync (the worker here answers at once): a structured clone of the rows and a copy
 * of each payload for the in-memory tail (as the thread writer did), against the payloads
 * packed into buffers that are transferred there and back (`wal-row-pack.ts`). Prints
 * the process's CPU µs per commit (both threads, the wake-ups included) and the event
 * loop's own synchronous share, alternating the two ways five times. A measurement, not a test.
 */

import { Worker } from "node:worker_threads";
import type { WalRow } from "../../server/wal/sqlite-wal-file.ts";
import { packedPayloads, packRows } from "../../server/wal/wal-row-pack.ts";

const [rowsArg = "4", bytesArg = "19000", commitsArg = "3000"] = process.argv.slice(2);
const rowCount = Number(rowsArg);
const bytes = Number(bytesArg);
const commits = Number(commitsArg);

const worker = new Worker(
  `const { parentPort } = require("node:worker_threads");
   parentPort.on("message", (m) => {
     if (m.chunks === undefined) parentPort.postMessage({ id: m.id });
     else parentPort.postMessage({ id: m.id, chunks: m.chunks }, m.chunks);
   });`,
  { eval: true },
);

const rowsFor = (commit: number): WalRow[] =>
  Array.from({ length: rowCount }, (_, i) => {
    const buf = Buffer.allocUnsafeSlow(bytes).fill(i);
    return {
      partition: 3,
      offset: commit * rowCount + i,
      tenant: "bench",
      payload: new Uint8Array(buf.buffer, 0, bytes),
    };
  });

function answer(): Promise<{ chunks?: ArrayBuffer[] }> {
  return new Promise((resolve) => worker.once("message", resolve));
}

async function run(way: "clone" | "transfer"): Promise<{ cpu: number; loop: number }> {
  let loop = 0;
  let kept = 0;
  const cpu0 = process.cpuUsage();
  for (let c = 0; c < commits; c++) {
    const rows = rowsFor(c);
    const replied = answer();
    let t = performance.now();
    if (way === "clone") worker.postMessage({ kind: "commit", id: c, rows });
    else {
      const { tenants, layout, chunks } = packRows(rows);
      worker.postMessage({ kind: "commit", id: c, tenants, layout, chunks }, chunks);
      loop += performance.now() - t;
      const reply = await replied;
      t = performance.now();
      for (const payload of packedPayloads(layout, reply.chunks ?? [])) kept += payload.length;
      loop += performance.now() - t;
      continue;
    }
    loop += performance.now() - t;
    await replied;
    t = performance.now();
    for (const row of rows) kept += row.payload.slice().length;
    loop += performance.now() - t;
  }
  const cpu = process.cpuUsage(cpu0);
  if (kept !== commits * rowCount * bytes) throw new Error(`kept ${kept} bytes`);
  return { cpu: (cpu.user + cpu.system) / commits, loop: (loop * 1000) / commits };
}

await run("clone");
await run("transfer");
for (let round = 0; round < 5; round++) {
  for (const way of round % 2 === 0
    ? (["clone", "transfer"] as const)
    : (["transfer", "clone"] as const)) {
    const { cpu, loop } = await run(way);
    console.log(
      `${rowCount} × ${bytes} B, ${way}: ${cpu.toFixed(1)} µs of CPU per commit, event loop's synchronous part ${loop.toFixed(1)} µs`,
    );
  }
}
await worker.terminate();
