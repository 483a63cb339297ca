/**
 * `node tests/bench/read-profile-split.ts PROFILE [calls] [n]`: the event loop's samples
 * in one V8 CPU profile of the server (`write-profile.ts get 32 6 --cpu-prof` keeps
 * them), each charged by the function it was taken in (its leaf frame) to one part of a
 * read call: garbage collection, Node's HTTP/2, Node's streams, events and ticks, native
 * code, our call path, the store, the answer's bytes. Start-up (module loading), the
 * data's load before the run (writes: the applier and the log) and idle samples are
 * counted apart. With `calls` (the calls the profiled run answered, warm-up included)
 * each part is also printed as µs per call; with `n`, each part's `n` leaf functions with
 * the most. Then the inclusive time of the functions of ours with the most. Samples are
 * wall time: a thread preempted inside a function is charged to it. A measurement aid,
 * for docs/performance-log.md ("What changed", item 40).
 */

import { type ProfileNode, readCpuProfile } from "./cpu-profile-summary.ts";

/** The parts, matched against the leaf's `function@file` in this order. */
const PARTS: readonly (readonly [string, RegExp])[] = [
  ["garbage collection", /^\(garbage collector\)@/],
  ["native code outside JavaScript ((program))", /^\(program\)@/],
  ["the store: statements, caches, the tenant", /server\/store\/|better-sqlite3/],
  ["the answer's bytes", /node-wire|output-encoding|h2-answer-wire/],
  ["decoding the request", /request-decode|wal-event-decode|@bufbuild/],
  ["the handler", /entdb-service|read-service|typed-/],
  ["authentication and access", /auth|server\/acl\//],
  ["metrics", /lean-metrics|prom-client/],
  ["our call path: fast paths, interceptors, body", /server\/api\/|server\/threads\//],
  ["Node's HTTP/2 (JavaScript)", /internal\/http2\//],
  [
    "Node's streams, events, ticks, timers",
    /internal\/streams|node:events|task_queues|timers|internal\/process|^runMicrotasks@|^processTicksAndRejections@/,
  ],
  ["native calls (writeBuffer, nghttp2 and others)", /@$/],
  ["other JavaScript", /./],
];

const WRITES = /@server\/(apply|wal)\/|execute-plan|ingress/;
const START_UP =
  /compileSourceTextModule|ModuleWrap|amaro|module_job|modules\/esm|bootstrap|runServe@/;

const [path, callsArg, detailArg] = process.argv.slice(2);
const detail = Number(detailArg ?? 0);
if (path === undefined) throw new Error("usage: read-profile-split.ts PROFILE [calls]");
const profile = readCpuProfile(path);
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map<number, number>();
for (const node of profile.nodes)
  for (const child of node.children ?? []) parent.set(child, node.id);
const frame = (node: ProfileNode) =>
  `${node.callFrame.functionName}@${node.callFrame.url.replace(/^file:\/\/.*?\/(server|node_modules)\//, "$1/")}${node.callFrame.url === "" ? "" : `:${node.callFrame.lineNumber + 1}`}`;

const parts = new Map<string, number>();
const ours = new Map<string, number>();
let busy = 0;
let idle = 0;
let startUp = 0;
let load = 0;
const leaves = new Map<string, Map<string, number>>();
for (let i = 0; i < profile.samples.length; i++) {
  const leaf = byId.get(profile.samples[i] ?? -1);
  const us = profile.timeDeltas[i] ?? 0;
  if (leaf === undefined) continue;
  if (leaf.callFrame.functionName === "(idle)") {
    idle += us;
    continue;
  }
  const stack: string[] = [];
  for (let at: number | undefined = leaf.id; at !== undefined; at = parent.get(at)) {
    const node = byId.get(at);
    if (node !== undefined) stack.push(frame(node));
  }
  if (stack.some((f) => START_UP.test(f))) {
    startUp += us;
    continue;
  }
  // The data's load before the measured run: writes, which no read call makes.
  if (stack.some((f) => WRITES.test(f))) {
    load += us;
    continue;
  }
  busy += us;
  const name = PARTS.find(([, pattern]) => pattern.test(stack[0] ?? ""))?.[0] ?? "other JavaScript";
  parts.set(name, (parts.get(name) ?? 0) + us);
  const inPart = leaves.get(name) ?? new Map<string, number>();
  inPart.set(stack[0] ?? "", (inPart.get(stack[0] ?? "") ?? 0) + us);
  leaves.set(name, inPart);
  for (const f of new Set(stack)) if (f.includes("@server/")) ours.set(f, (ours.get(f) ?? 0) + us);
}

const calls = callsArg === undefined ? undefined : Number(callsArg);
const line = (name: string, us: number) =>
  `  ${((100 * us) / busy).toFixed(1).padStart(5)} %${calls === undefined ? "" : `  ${(us / calls).toFixed(2).padStart(6)} µs/call`}  ${name}`;
console.log(
  `busy ${(busy / 1000).toFixed(0)} ms (idle ${(idle / 1000).toFixed(0)} ms, start-up ${(startUp / 1000).toFixed(0)} ms and the data's load ${(load / 1000).toFixed(0)} ms apart)`,
);
for (const [name, us] of [...parts].sort((a, b) => b[1] - a[1])) {
  console.log(line(name, us));
  const top = [...(leaves.get(name) ?? [])].sort((a, b) => b[1] - a[1]).slice(0, detail);
  for (const [leaf, leafUs] of top) console.log(`    ${line(leaf, leafUs)}`);
}
console.log("inclusive, functions of ours:");
for (const [name, us] of [...ours].sort((a, b) => b[1] - a[1]).slice(0, 30))
  console.log(line(name, us));
