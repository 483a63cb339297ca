/**
 * A summary of one V8 CPU profile (`node --cpu-prof`), for `write-profile.ts`: the
 * thread's sampled time, the functions with the most self time, and the inclusive time of
 * every function whose file matches one of `inclusive` (e.g. `server/wal/`: what the log
 * costs this thread, its callees included). Times are the profile's, wall-clock between
 * samples: a thread preempted inside a function is charged to it. A measurement aid.
 */

import { readFileSync } from "node:fs";

/** A node of a V8 CPU profile's call tree. */
export interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
  };
  readonly children?: readonly number[];
}

/** A V8 CPU profile as `node --cpu-prof` writes it. */
export interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Reads the CPU profile at `path`. */
export function readCpuProfile(path: string): CpuProfile {
  return JSON.parse(readFileSync(path, "utf8")) as CpuProfile;
}

/** `functionName path:line`, the path from the repository root or `node_modules`. */
function frameName(node: ProfileNode, root: string): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(`file://${root}/`, "").replace(/^.*\/node_modules\//, "nm/");
  return `${functionName || "(anonymous)"} ${file}:${lineNumber + 1}`;
}

/** The summary as lines of text. `root` is the repository's directory. */
export function summarizeCpuProfile(
  path: string,
  root: string,
  top: number,
  inclusive: readonly string[],
): string {
  const profile = readCpuProfile(path);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);
  const timeOf = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    timeOf.set(id, (timeOf.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const self = new Map<string, number>();
  const within = new Map<string, number>();
  let total = 0;
  for (const [id, us] of timeOf) {
    total += us;
    const leaf = byId.get(id);
    if (leaf === undefined) continue;
    const name = frameName(leaf, root);
    self.set(name, (self.get(name) ?? 0) + us);
    // Each function once per sample, however often it recurs on the stack.
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at);
      if (node === undefined) break;
      const frame = frameName(node, root);
      if (seen.has(frame) || !inclusive.some((part) => node.callFrame.url.includes(part))) continue;
      seen.add(frame);
      within.set(frame, (within.get(frame) ?? 0) + us);
    }
  }
  const line = ([name, us]: [string, number]) =>
    `    ${(us / 1000).toFixed(1).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)} %  ${name}`;
  const sorted = (map: Map<string, number>) => [...map].sort((a, b) => b[1] - a[1]);
  return [
    `  ${(total / 1000).toFixed(0)} ms sampled; self time:`,
    ...sorted(self).slice(0, top).map(line),
    `  inclusive time of functions in ${inclusive.join(", ")}:`,
    ...sorted(within).slice(0, top).map(line),
  ].join("\n");
}
