/**
 * Runs protoc-gen-es requests on worker threads while the calling thread runs one of its
 * own, so a large schema's first generate uses every core. Synchronous like the rest of
 * codegen: the caller blocks (`Atomics.wait`) until each worker has answered.
 *
 * Each worker loads its own copy of the plugin, so threads spend more CPU in all and pay
 * off only for many files: `esPluginThreads` says how many to start.
 */

import { availableParallelism } from "node:os";
import { MessageChannel, receiveMessageOnPort, Worker } from "node:worker_threads";
import type { EsPluginWorkerData } from "./es-plugin-worker.ts";

/** Below this many files to generate, everything runs on the calling thread. */
export const FILES_PER_THREAD = 64;

/** The longest a worker may take before generate gives up on it. */
const WORKER_TIMEOUT_MS = 10 * 60 * 1000;

// `.ts` run from the sources, `.js` compiled in the published package.
const WORKER_URL = new URL(
  import.meta.url.endsWith(".ts") ? "./es-plugin-worker.ts" : "./es-plugin-worker.js",
  import.meta.url,
);

/** How many worker threads to start for `files` files: one per spare core, if worth it. */
export function esPluginThreads(files: number, cores = availableParallelism()): number {
  return Math.max(0, Math.min(cores - 1, Math.floor(files / FILES_PER_THREAD) - 1));
}

/** A request running on a worker thread. */
export interface PendingEsRun {
  /**
   * Blocks until the worker answers; returns the binary CodeGeneratorResponse, or throws
   * an Error with the message of what the worker threw.
   */
  wait(): Uint8Array;
}

/** Starts a worker thread running protoc-gen-es on the binary CodeGeneratorRequest. */
export function startEsRun(request: Uint8Array): PendingEsRun {
  const done = new Int32Array(new SharedArrayBuffer(4));
  const { port1, port2 } = new MessageChannel();
  const data: EsPluginWorkerData = { request, port: port2, done };
  const worker = new Worker(WORKER_URL, {
    workerData: data,
    transferList: [port2],
  });
  worker.unref();
  return {
    wait() {
      try {
        if (Atomics.wait(done, 0, 0, WORKER_TIMEOUT_MS) === "timed-out") {
          throw new Error(`no answer from its worker thread in ${WORKER_TIMEOUT_MS / 1000} s`);
        }
        const answer = receiveMessageOnPort(port1)?.message as
          | { readonly response: Uint8Array }
          | { readonly error: string }
          | undefined;
        if (answer === undefined) throw new Error("its worker thread ended without an answer");
        if ("error" in answer) throw new Error(answer.error);
        return answer.response;
      } finally {
        port1.close();
        void worker.terminate();
      }
    },
  };
}
