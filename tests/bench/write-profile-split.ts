/**
 * `node tests/bench/write-profile-split.ts PROFILE [µs]`: the event loop's samples in one
 * V8 CPU profile of the server (`write-profile.ts create 32 6 --cpu-prof` keeps them),
 * each charged to one part of a write by the frames on its stack, for docs/performance-log.md
 * ("The engine's per-write cost", item 25). A sample goes to the first part in the list
 * below any of whose frames it has (so the request's decode, the encoders and ingress
 * before the apply, the apply's parts before the log, whose subscription delivers to the
 * applier, and HTTP/2 last); SQLite's own time is its caller's. Start-up (module loading,
 * `runServe`) and idle samples are counted apart. With `µs` (the event loop's CPU per
 * write of the profiled run) each part's share is also printed as µs per write. Samples
 * are wall time: a thread preempted inside a function is charged to it. A measurement aid.
 */

import { type ProfileNode, readCpuProfile } from "./cpu-profile-summary.ts";

/** The parts, in the order a sample is matched against them (`function@file` frames). */
const PARTS: readonly (readonly [string, RegExp])[] = [
  ["start-up", /runServe@|compileSourceTextModule|ModuleWrap|amaro|module_job|modules\/esm/],
  ["the tenant file's checkpoint (applier flush)", /^flush@server\/apply\/applier/],
  ["decoding the request", /parseInput@/],
  ["encoding the event", /encodeWalEvent|wal-event-wire/],
  ["encoding the answer", /plan-response-wire/],
  ["ingress and the digest", /preparePlan@|planDigest|sha256@|ingress\//],
  ["the apply: full-text rows", /fts-writes/],
  ["the apply: the node INSERT and createNode", /createNode@server\/apply\/node-ops/],
  [
    "the apply: the plan executor's other work",
    /plan-executor|plan-run|lossless-json|checkPlanAccess|edge-ops/,
  ],
  [
    "the apply: the outcome (duplicate check, encoding, INSERT)",
    /encodeOutcome|storedOutcome|#applyPlan@/,
  ],
  ["recent outcomes (kept, looked up)", /recent-outcomes/],
  ["waking the waiting calls", /apply-waiters|notify@/],
  [
    "the apply: BEGIN/COMMIT, tenant_state, the group",
    /#applyTenant@|applyBatch@|commitState|writeState/,
  ],
  ["the log", /server\/wal\/(?!embedded-wal-subscription)/],
  ["the apply: the subscription's delivery", /embedded-wal-subscription/],
  ["executePlan itself", /entdb-service/],
  [
    "HTTP/2 and the call path",
    /unary-fast-path|unary-call|routes\.ts|h2-answer|request-body|http2|connect|streams\/|node:events|task_queues|timers|api\//,
  ],
];

const [path, perWriteArg] = process.argv.slice(2);
if (path === undefined) {
  console.error("usage: node tests/bench/write-profile-split.ts PROFILE [µs]");
  process.exit(2);
}
const profile = readCpuProfile(path);
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

function frame(node: ProfileNode): string {
  const { functionName, url } = node.callFrame;
  return `${functionName}@${url.replace(/^.*\/(server|node_modules)\//, "$1/")}`;
}

const partOf = new Map<number, string>();
function part(id: number): string {
  const known = partOf.get(id);
  if (known !== undefined) return known;
  const leaf = byId.get(id)!.callFrame.functionName;
  let found: string | undefined;
  if (leaf === "(idle)" || leaf === "(program)") found = leaf;
  else if (leaf === "(garbage collector)") found = "garbage collection";
  else {
    const stack: string[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at))
      stack.push(frame(byId.get(at)!));
    for (const [name, re] of PARTS) {
      if (stack.some((f) => re.test(f))) {
        found = name;
        break;
      }
    }
    found ??= `other: ${stack[0]}`;
  }
  partOf.set(id, found);
  return found;
}

const counts = new Map<string, number>();
for (const s of profile.samples) {
  const name = part(s);
  counts.set(name, (counts.get(name) ?? 0) + 1);
}
const apart = new Set(["(idle)", "start-up"]);
let busy = 0;
for (const [name, n] of counts) if (!apart.has(name)) busy += n;
const perWrite = perWriteArg === undefined ? undefined : Number(perWriteArg);
console.log(`${busy} samples of the event loop's work (no idle, no start-up)`);
for (const [name, n] of [...counts].sort((a, b) => b[1] - a[1])) {
  if (apart.has(name)) {
    console.log(`  ${String(n).padStart(6)} samples  ${name}`);
    continue;
  }
  const share = n / busy;
  const us = perWrite === undefined ? "" : `${(share * perWrite).toFixed(1).padStart(7)} µs`;
  console.log(`  ${(100 * share).toFixed(1).padStart(5)} %${us}  ${name}`);
}
