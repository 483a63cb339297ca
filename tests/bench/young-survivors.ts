/**
 * A preload that shows what outlives the young generation's collections:
 * `node --import ./tests/bench/young-survivors.ts bin/entdb.ts serve …` (the flag is kept
 * across `entdb serve`'s restart). V8's sampling heap profiler runs from the start, told
 * to drop every sample a scavenge collects and keep those only a Mark-Compact frees, so
 * what it holds is what each scavenge copied. On `SIGUSR2` it writes the allocation
 * stacks holding the most of it to `$YOUNG_SURVIVORS_OUT` (default
 * `young-survivors.txt` in the working directory), then starts over: signal once after
 * loading data, run the row, signal again. Whether the profiler's own bookkeeping keeps
 * a sample alive longer than it would live is not known; compare rows, not absolutes.
 * A measurement aid, not a test.
 */

import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";

interface ProfileNode {
  readonly callFrame: { functionName: string; url: string; lineNumber: number };
  readonly selfSize: number;
  readonly children: readonly ProfileNode[];
}

const session = new Session();
session.connect();
await session.post("HeapProfiler.enable");
const start = () =>
  session.post("HeapProfiler.startSampling", {
    samplingInterval: 512,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: false,
  });
await start();

process.on("SIGUSR2", async () => {
  const { profile } = (await session.post("HeapProfiler.stopSampling")) as {
    profile: { head: ProfileNode };
  };
  const bytes = new Map<string, number>();
  const walk = (node: ProfileNode, stack: readonly string[]) => {
    const f = node.callFrame;
    const file = f.url.split("/").slice(-2).join("/");
    const here = [...stack, `${f.functionName || "(anonymous)"} ${file}:${f.lineNumber + 1}`];
    if (node.selfSize > 0) {
      const key = here.slice(-5).reverse().join(" <- ");
      bytes.set(key, (bytes.get(key) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, here);
  };
  walk(profile.head, []);
  const total = [...bytes.values()].reduce((a, b) => a + b, 0);
  const lines = [`${(total / 1024).toFixed(0)} KB sampled as surviving scavenges`];
  for (const [stack, n] of [...bytes].sort((a, b) => b[1] - a[1]).slice(0, 40))
    lines.push(`${(n / 1024).toFixed(0).padStart(7)} KB  ${stack}`);
  writeFileSync(
    process.env["YOUNG_SURVIVORS_OUT"] ?? "young-survivors.txt",
    `${lines.join("\n")}\n`,
  );
  await start();
});
