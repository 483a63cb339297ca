/**
 * `node tests/bench/wal-loop-cost.ts [bytes] [clients] [busyUs] [seconds] [dir]`: what the
 * embedded log (thread writer, as `entdb serve` runs it) costs the event loop per append,
 * apart from everything else a server does. `clients` closed loops each append one record
 * of `bytes` bytes, await it, then keep the event loop busy for `busyUs` µs (standing in
 * for the apply and the request's own work, so groups form as in the server). Prints
 * appends/s, commits per append, and CPU µs per append of the event loop (less the busy
 * wait) and of the other threads (the writer's, V8's helpers). Defaults: 300 bytes, 32
 * clients, 150 µs, 4 s, a temp dir (must be on the disk to measure, not tmpfs).
 * A measurement, not a test.
 */

import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openEmbeddedWal } from "../../server/wal/embedded-wal.ts";

const [bytesArg = "300", clientsArg = "32", busyArg = "150", secondsArg = "4", dirArg] =
  process.argv.slice(2);
const bytes = Number(bytesArg);
const clients = Number(clientsArg);
const busyUs = Number(busyArg);
const seconds = Number(secondsArg);
const dir = mkdtempSync(join(dirArg ?? tmpdir(), "entdb-wal-loop-cost-"));

/** CPU ticks (user + system) of every thread of this process but the main one. */
function otherThreadTicks(): number {
  let ticks = 0;
  for (const tid of readdirSync("/proc/self/task")) {
    if (Number(tid) === process.pid) continue;
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks;
}

function busy(us: number): void {
  const end = performance.now() + us / 1000;
  while (performance.now() < end);
}

try {
  const wal = await openEmbeddedWal({ path: join(dir, "wal.sqlite"), writer: "thread" });
  const payloads = Array.from({ length: 64 }, (_, i) => {
    const buf = Buffer.allocUnsafeSlow(bytes).fill(i);
    return new Uint8Array(buf.buffer, buf.byteOffset, bytes);
  });
  let stop = false;
  let appends = 0;
  let busyTotal = 0;
  const loop = async (client: number): Promise<void> => {
    let i = client;
    while (!stop) {
      const payload = payloads[i++ % payloads.length] ?? new Uint8Array(bytes);
      await wal.append([{ tenant: `t${client % 4}`, payload }]);
      appends++;
      // Timed by the clock: a thread's CPU time is only read to the scheduler tick.
      const start = performance.now();
      busy(busyUs);
      busyTotal += (performance.now() - start) * 1000;
    }
  };
  // Warm-up, unmeasured.
  setTimeout(() => (stop = true), 1000);
  await Promise.all(Array.from({ length: clients }, (_, c) => loop(c)));
  stop = false;
  appends = 0;
  busyTotal = 0;
  const commits0 = wal.stats.commits;
  const ticks0 = otherThreadTicks();
  const cpu0 = process.threadCpuUsage();
  const t0 = performance.now();
  setTimeout(() => (stop = true), seconds * 1000);
  await Promise.all(Array.from({ length: clients }, (_, c) => loop(c)));
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.threadCpuUsage(cpu0);
  const tickUs = 1e6 / 100;
  const others = (otherThreadTicks() - ticks0) * tickUs;
  const loopUs = cpu.user + cpu.system - busyTotal;
  console.log(
    `${bytes} B, ${clients} clients, ${busyUs} µs busy: ${(appends / elapsed).toFixed(0)} appends/s,` +
      ` ${((wal.stats.commits - commits0) / appends).toFixed(3)} commits per append,` +
      ` event loop ${(loopUs / appends).toFixed(1)} µs per append (busy wait excluded),` +
      ` other threads ${(others / appends).toFixed(1)} µs per append`,
  );
  await wal.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
