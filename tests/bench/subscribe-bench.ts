/**
 * Live subscription benchmark: starts `entdb serve` (embedded WAL) as a child process
 * and measures, through Connect's Node client over HTTP/2:
 *
 * - delivery latency at 100 subscribers: one writer creates a Team at a time (durable
 *   and applied), and every subscriber records when the change reached it. Latency is
 *   measured from the write's acknowledgement to the event (negative when the event
 *   came first: the server sends it as soon as the applier commits, the answer to the
 *   write follows), and from the call to the event;
 * - the server's resident memory (VmRSS) with 1,000 idle subscribers open (each has
 *   received its first checkpoint), against the same server with none.
 *
 * Run: `node tests/bench/subscribe-bench.ts [writes]` (default 200).
 */

import { readFileSync } from "node:fs";
import { type Client, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { EntDbService } from "../../generated/entdb/v1/entdb_pb.js";
import { removeDataDir, startServerProcess } from "../e2e/server-process.ts";

const WRITES = Number(process.argv[2] ?? "200");
const SUBSCRIBERS = 100;
const IDLE = 1_000;
/** Streams per HTTP/2 connection. */
const PER_CONNECTION = 100;

type Api = Client<typeof EntDbService>;

function api(baseUrl: string): Api {
  return createClient(EntDbService, createConnectTransport({ baseUrl, httpVersion: "2" }));
}

function vmRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? "0") / 1024;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? Number.NaN;
}

const fmt = (n: number, digits = 2): string =>
  n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Opens `count` subscriptions of `tenant` over shared connections; resolves once each is live. */
async function openSubscribers(
  baseUrl: string,
  tenant: string,
  count: number,
  signal: AbortSignal,
  onChange: (nodeId: string, at: number) => void,
): Promise<void> {
  const clients = Array.from({ length: Math.ceil(count / PER_CONNECTION) }, () => api(baseUrl));
  const live: Promise<void>[] = [];
  for (let i = 0; i < count; i++) {
    const client = clients[Math.floor(i / PER_CONNECTION)]!;
    live.push(
      new Promise<void>((resolve, reject) => {
        (async () => {
          let first = true;
          for await (const r of client.subscribe({ tenant }, { signal })) {
            const at = performance.now();
            if (first) {
              first = false;
              resolve();
            }
            for (const c of r.changes) onChange(c.nodeId, at);
          }
        })().catch((err: unknown) => (signal.aborted ? resolve() : reject(err)));
      }),
    );
  }
  await Promise.all(live);
}

const server = await startServerProcess();
const pid = server.child.pid ?? 0;
try {
  const writer = api(server.url);
  const team = (slug: string) => ({
    tenant: "bench",
    operations: [
      {
        op: {
          case: "createNode" as const,
          value: {
            typeId: 2,
            fields: {
              1: { kind: { case: "stringValue" as const, value: slug } },
              2: { kind: { case: "stringValue" as const, value: slug } },
            },
          },
        },
      },
    ],
  });
  await writer.executePlan(team("warm-up"));
  await new Promise((r) => setTimeout(r, 500));
  const rssNone = vmRssMb(pid);

  // Latency at 100 subscribers.
  const arrivals = new Map<string, number[]>();
  const abort = new AbortController();
  await openSubscribers(server.url, "bench", SUBSCRIBERS, abort.signal, (id, at) => {
    const list = arrivals.get(id);
    if (list) list.push(at);
    else arrivals.set(id, [at]);
  });
  const fromAck: number[] = [];
  const fromCall: number[] = [];
  for (let i = 0; i < WRITES; i++) {
    const sent = performance.now();
    const r = await writer.executePlan(team(`t-${i}`));
    const acked = performance.now();
    const id = r.results[0]!.id;
    const deadline = Date.now() + 5_000;
    while ((arrivals.get(id)?.length ?? 0) < SUBSCRIBERS && Date.now() < deadline)
      await new Promise((resolve) => setImmediate(resolve));
    for (const at of arrivals.get(id) ?? []) {
      fromAck.push(at - acked);
      fromCall.push(at - sent);
    }
    arrivals.delete(id);
  }
  abort.abort();
  fromAck.sort((a, b) => a - b);
  fromCall.sort((a, b) => a - b);

  // 1,000 idle subscribers.
  await new Promise((r) => setTimeout(r, 500));
  const rssBefore = vmRssMb(pid);
  const idle = new AbortController();
  await openSubscribers(server.url, "idle", IDLE, idle.signal, () => {});
  await new Promise((r) => setTimeout(r, 1_000));
  const rssIdle = vmRssMb(pid);
  idle.abort();

  console.log("| measure | value |");
  console.log("| --- | --- |");
  console.log(
    `| delivery at ${SUBSCRIBERS} subscribers, ack → event, p50 / p99 (${fromAck.length} events) | ${fmt(percentile(fromAck, 50))} ms / ${fmt(percentile(fromAck, 99))} ms |`,
  );
  console.log(
    `| delivery at ${SUBSCRIBERS} subscribers, call → event, p50 / p99 | ${fmt(percentile(fromCall, 50))} ms / ${fmt(percentile(fromCall, 99))} ms |`,
  );
  console.log(`| server RSS, no subscriber | ${fmt(rssNone, 0)} MB |`);
  console.log(
    `| server RSS, ${fmt(IDLE, 0)} idle subscribers (${IDLE / PER_CONNECTION} HTTP/2 connections) | ${fmt(rssIdle, 0)} MB (+${fmt(rssIdle - rssBefore, 1)} MB, ${fmt(((rssIdle - rssBefore) * 1024) / IDLE, 1)} KB each) |`,
  );
} finally {
  await server.stop();
  removeDataDir(server.dataDir);
}
