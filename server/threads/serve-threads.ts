/**
 * The main thread's side of `entdb serve --serve-threads N`: starts N serving threads
 * (serving-thread.ts) on the API's host:port, listens on a private socket for what they
 * hand on, runs the plans they hand over through their message ports
 * (handed-call-runner.ts), keeps the memory they share (thread-state.ts) current, pulls
 * their call counts into `/metrics`, and stops them first at shutdown.
 *
 * A serving thread that dies is logged as an error and started again after a second;
 * its clients' connections were reset (their calls in flight fail with UNAVAILABLE or a
 * reset stream, which clients may retry) and new connections go to the threads that
 * listen meanwhile.
 */

import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import type * as http2 from "node:http2";
import { getCompileCacheDir } from "node:module";
import { Worker } from "node:worker_threads";
import { Code, ConnectError } from "@connectrpc/connect";
import { Counter } from "prom-client";
import { type ApiListener, type DualHandler, listenApi } from "../api/listen.ts";
import type { ServerMetrics } from "../api/metrics.ts";
import type { FastMethod } from "../api/unary-call.ts";
import type { Logger } from "../log.ts";
import type { ServerConfig } from "../server-config.ts";
import {
  createHandedCallRunner,
  type HandedCallRunnerOptions,
  type InFlight,
} from "./handed-call-runner.ts";
import { type HandedAnswer, type HandedFailure, Outbox } from "./handed-calls.ts";
import type { FromServingThread, ServingThreadData, ToServingThread } from "./thread-messages.ts";
import { ThreadState } from "./thread-state.ts";

// `.ts` run from the sources, `.js` compiled in the published package.
const threadUrl = new URL(
  import.meta.url.endsWith(".ts") ? "./serving-thread.ts" : "./serving-thread.js",
  import.meta.url,
);

/** A serving thread that ended is started again after 1 s; a start that fails, after twice the wait, up to a minute. */
const RESTART_FIRST_MS = 1_000;
const RESTART_MAX_MS = 60_000;

/** What the serving threads need from the main thread. */
export interface ServeThreadsOptions {
  readonly count: number;
  readonly config: ServerConfig;
  /** `Wal.partitions`. */
  readonly partitions: number;
  /** A server of a cluster: the partitions it serves now (`ClusterMembership.shared`). */
  readonly cluster?: SharedArrayBuffer;
  /** The version served now. */
  readonly servedVersion: number;
  /**
   * Whether some tenants are held while they are rebuilt (`Store.rebuilding`); polled until
   * false. Always false for a server of a cluster, whose `cluster` flags say it per partition.
   */
  rebuilding(): boolean;
  /** The main thread's API: what the threads hand on is served by it. */
  readonly handler: DualHandler;
  serveH2Stream(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): boolean;
  /** The main thread's fast-path method at a request path: what runs a handed call (handed-calls.ts). */
  method(path: string): FastMethod | undefined;
  /** Logs a plan whose ingress a serving thread ran (execute-plan.ts). */
  readonly executePrepared: HandedCallRunnerOptions["executePrepared"];
  /** The main thread's API shutdown signal (handed calls' signals follow it). */
  readonly shutdownSignal: AbortSignal;
  readonly metrics: ServerMetrics;
  readonly log: Logger;
}

/** Running serving threads. */
export interface ServeThreads {
  /** Main thread: a transaction of `tenant` committed, or its access changed (before the ack). */
  committed(tenant: string): void;
  /** Main thread: `tenant` was parked or marked unavailable. */
  held(tenant: string): void;
  /**
   * Main thread: `tenant` is served again; its slot's hold is lifted unless a tenant of
   * `stillHeld` (those still unavailable) shares it.
   */
  released(tenant: string, stillHeld: Iterable<string>): void;
  /** Main thread: `version` is served from now on (before the push is acknowledged). */
  served(version: number): void;
  /** Pulls the threads' call counts into the main thread's metrics (before `/metrics` renders). */
  pullMetrics(): Promise<void>;
  /** Stops the threads (they finish their calls in flight), then the private socket. */
  close(): Promise<void>;
}

interface Thread {
  readonly index: number;
  worker: Worker | undefined;
  /** Metric pulls waiting for this thread's answer, by id. */
  readonly pulls: Map<number, () => void>;
}

/** Starts `options.count` serving threads; resolves once every one listens. */
export async function startServeThreads(options: ServeThreadsOptions): Promise<ServeThreads> {
  const { config, log, metrics } = options;
  const state = new ThreadState();
  state.setServedVersion(options.servedVersion);
  state.setRebuilding(options.rebuilding());
  // Holds are only added at start: once none is left, none comes back.
  const rebuildPoll = setInterval(() => {
    if (options.rebuilding()) return;
    state.setRebuilding(false);
    clearInterval(rebuildPoll);
  }, 200);
  rebuildPoll.unref();
  if (!state.rebuilding) clearInterval(rebuildPoll);

  const mainSocket = `\0entdb-${process.pid}-${randomBytes(6).toString("hex")}`;
  const inbox: ApiListener = await listenApi(options.handler, {
    host: "localhost",
    port: 0,
    path: mainSocket,
    serveH2Stream: options.serveH2Stream,
  });

  const threadCalls = new Counter({
    name: "entdb_thread_requests_total",
    help: "RPCs each thread answered itself (0: the main thread; the others: --serve-threads).",
    labelNames: ["thread"] as const,
    registers: [metrics.registry],
  });
  /** The main thread's own count: every count, less the serving threads' (pulled in). */
  let pulledTotal = 0;
  /** Each serving thread's count so far, by its index. */
  const threadTotals = new Map<string, number>();

  const handedPlans = new Counter({
    name: "entdb_handed_plans_total",
    help: "Plans serving threads handed to the main thread, by where their ingress ran: thread, main (a small plan, or one refused there: run whole here), again (run whole again after a push).",
    labelNames: ["ingress"] as const,
    registers: [metrics.registry],
  });
  // Test hook: while this file exists, plans a thread prepared wait here before they are
  // logged, so a test can push a version in between. Never set in production.
  const holdPrepared = process.env["ENTDB_TEST_HOLD_PREPARED_PLANS"];
  const runner = createHandedCallRunner({
    method: options.method,
    executePrepared: options.executePrepared,
    countPlan: (ingress) => handedPlans.inc({ ingress }),
    ...(holdPrepared === undefined
      ? {}
      : {
          beforePrepared: async () => {
            while (existsSync(holdPrepared)) await new Promise((r) => setTimeout(r, 20));
          },
        }),
    shutdownSignal: options.shutdownSignal,
    logError: (err: unknown) => log.error("transport error", { err }),
  });

  let closing = false;
  let nextPull = 0;
  const threads: Thread[] = [];
  /**
   * Starts `thread` again after `delayMs`; a start that fails is tried again after twice
   * the wait, up to a minute, until one starts or the server closes.
   */
  const restart = (thread: Thread, restarts: number, delayMs: number): void => {
    setTimeout(() => {
      if (closing) return;
      start(thread, restarts + 1).catch((err: unknown) => {
        if (closing) return;
        const retryInMs = Math.min(RESTART_MAX_MS, delayMs * 2);
        log.error("serving thread could not start again", { thread: thread.index, err, retryInMs });
        restart(thread, restarts + 1, retryInMs);
      });
    }, delayMs).unref();
  };
  const start = (thread: Thread, restarts = 0): Promise<void> => {
    const cacheDir = getCompileCacheDir();
    const data: ServingThreadData = {
      index: thread.index,
      config,
      state: state.buffer,
      mainSocket,
      partitions: options.partitions,
      ...(options.cluster === undefined ? {} : { cluster: options.cluster }),
    };
    const worker = new Worker(threadUrl, {
      workerData: data,
      ...(cacheDir === undefined ? {} : { env: { ...process.env, NODE_COMPILE_CACHE: cacheDir } }),
    });
    thread.worker = worker;
    return new Promise<void>((resolve, reject) => {
      let listening = false;
      const answers = new Outbox<HandedAnswer | HandedFailure>((messages) =>
        worker.postMessage({ kind: "handed", messages } satisfies ToServingThread),
      );
      const answer = (m: HandedAnswer | HandedFailure) => answers.push(m);
      // The calls this worker handed over that run here now (a worker started again
      // numbers its calls from 0: its own map).
      const handed: InFlight = new Map();
      worker.on("message", (message: FromServingThread) => {
        if (message.kind === "handed") {
          for (const m of message.messages)
            if (m.kind === "call") runner.run(m, answer, handed);
            else runner.cancel(m, handed);
        } else if (message.kind === "listening") {
          listening = true;
          if (restarts > 0) log.info("serving thread started again", { thread: thread.index });
          resolve();
        } else if (message.kind === "metrics") {
          for (const c of message.requests) {
            metrics.requests.labels(c.labels as { method: string; code: string }).inc(c.value);
            const key = String(thread.index);
            threadTotals.set(key, (threadTotals.get(key) ?? 0) + c.value);
            pulledTotal += c.value;
          }
          for (const h of message.seconds) metrics.requestSeconds.merge(h);
          thread.pulls.get(message.id)?.();
          thread.pulls.delete(message.id);
        }
      });
      worker.once("error", (err) => {
        if (!listening) reject(err);
        else log.error("serving thread failed", { thread: thread.index, err });
      });
      worker.once("exit", (code) => {
        thread.worker = undefined;
        for (const done of thread.pulls.values()) done();
        thread.pulls.clear();
        // Its clients' streams were reset with it: their calls are cancelled here, as a
        // reset stream cancels a call (a write already logged is still applied).
        for (const call of handed.values())
          call.abort(new ConnectError("the client cancelled the call", Code.Canceled));
        // One that ends before it listens failed to start (its error, if any, came first).
        if (!listening)
          reject(new Error(`the serving thread exited with code ${code} while starting`));
        if (closing || !listening) return;
        log.error("serving thread stopped; starting it again", { thread: thread.index, code });
        restart(thread, restarts, RESTART_FIRST_MS);
      });
    });
  };
  try {
    for (let i = 1; i <= options.count; i++) {
      const thread: Thread = { index: i, worker: undefined, pulls: new Map() };
      threads.push(thread);
    }
    await Promise.all(threads.map((t) => start(t)));
  } catch (err) {
    closing = true;
    await Promise.all(threads.map((t) => t.worker?.terminate()));
    await inbox.close();
    throw err;
  }
  log.info("serving threads listening", { threads: options.count });

  const tell = (message: ToServingThread) => {
    for (const t of threads) t.worker?.postMessage(message);
  };
  return {
    committed: (tenant) => state.bumpCommits(ThreadState.slot(tenant)),
    held: (tenant) => state.hold(ThreadState.slot(tenant)),
    released(tenant, stillHeld) {
      const slot = ThreadState.slot(tenant);
      for (const other of stillHeld) if (ThreadState.slot(other) === slot) return;
      state.release(slot);
    },
    served(version) {
      state.setServedVersion(version);
      tell({ kind: "schema" });
    },
    async pullMetrics() {
      await Promise.all(
        threads.map(
          (t) =>
            new Promise<void>((resolve) => {
              const worker = t.worker;
              if (worker === undefined) return resolve();
              const id = nextPull++;
              // A thread that does not answer in time is left out of this scrape.
              const late = setTimeout(() => {
                t.pulls.delete(id);
                resolve();
              }, 2_000);
              t.pulls.set(id, () => {
                clearTimeout(late);
                resolve();
              });
              worker.postMessage({ kind: "metrics", id } satisfies ToServingThread);
            }),
        ),
      );
      let total = 0;
      for (const c of metrics.requests.snapshot()) total += c.value;
      threadCalls.reset();
      threadCalls.inc({ thread: "0" }, Math.max(0, total - pulledTotal));
      for (const [thread, n] of threadTotals) threadCalls.inc({ thread }, n);
    },
    async close() {
      closing = true;
      clearInterval(rebuildPoll);
      await Promise.all(
        threads.map(
          (t) =>
            new Promise<void>((resolve) => {
              const worker = t.worker;
              if (worker === undefined) return resolve();
              worker.once("exit", () => resolve());
              worker.on("message", (m: FromServingThread) => {
                if (m.kind === "closed") void worker.terminate();
              });
              worker.postMessage({ kind: "close" } satisfies ToServingThread);
              // A thread that does not finish in time is stopped.
              setTimeout(() => void worker.terminate(), 10_000).unref();
            }),
        ),
      );
      await inbox.close();
    },
  };
}
