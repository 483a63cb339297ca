/**
 * A {@link WalWriter} whose SQLite connection lives on a worker thread
 * (`wal-writer-worker.ts`), so a commit's fsync does not block the event loop: while the
 * worker commits one group, the main thread keeps accepting requests and forming the
 * next group.
 *
 * Invariants:
 * - The worker handles messages one at a time, in arrival order, so commits reach the
 *   file in the order they were sent and a read sent after a commit sees it.
 * - A commit copies its records' payloads once, into buffers of its own (one per run of
 *   rows of one partition), and transfers those to the worker and back with the answer
 *   (no structured clone of payloads either way); the caller's buffers are never
 *   transferred away from it. The commit resolves with each row's payload as a view of
 *   the returned buffers, which hold rows of one partition only.
 * - The worker is referenced (keeps the process alive) only while a request is
 *   outstanding, like a socket with a pending write; an idle open log does not.
 * - If the worker dies, every outstanding and later request rejects with `unavailable`.
 * - The worker answers requests on a port of their own and, after each answer, sets a
 *   shared flag. The main thread takes answers as port events, or earlier through
 *   `takeCompletions` (a busy event loop's request path): it clears the flag before
 *   draining, so an answer posted meanwhile leaves the flag set and is never missed.
 *   Both ways read the same port queue, so answers settle in the order they were sent.
 * - A `close` that fails ends the thread, so no failed writer keeps the file's lock.
 */

import type { MessagePort } from "node:worker_threads";
import { MessageChannel, receiveMessageOnPort, Worker } from "node:worker_threads";
import type { SqliteWalFileOptions } from "./sqlite-wal-file.ts";
import type { WalEntry, WalErrorCode } from "./wal.ts";
import { WalError } from "./wal.ts";
import { packedPayloads, packRows } from "./wal-row-pack.ts";
import type { WalWriter } from "./wal-writer.ts";

/** A message to the worker. */
export type WalWorkerRequest =
  | {
      readonly kind: "commit";
      readonly id: number;
      /** Per row, its tenant. */
      readonly tenants: readonly string[];
      /** Per row, `ROW_FIELDS` (`wal-row-pack.ts`) numbers: partition, offset, chunk, start, length. */
      readonly layout: Float64Array;
      /** The payloads' bytes, transferred; a row's payload is `length` bytes at `start` of its chunk. */
      readonly chunks: readonly ArrayBuffer[];
    }
  | {
      readonly kind: "read";
      readonly id: number;
      readonly partition: number;
      readonly from: number;
      readonly limit: number;
    }
  | {
      readonly kind: "truncate";
      readonly id: number;
      readonly partition: number;
      readonly below: number;
      readonly limit: number;
    }
  | { readonly kind: "close"; readonly id: number };

/** A message from the worker. `id` 0 answers the open that starts every worker. */
export type WalWorkerReply =
  | {
      readonly kind: "opened";
      readonly partitions: number;
      readonly ends: readonly number[];
      readonly starts: readonly number[];
      readonly identity: string;
    }
  | {
      readonly kind: "done";
      readonly id: number;
      readonly entries?: readonly WalEntry[];
      readonly deleted?: number;
      /** A commit's chunks, transferred back. */
      readonly chunks?: readonly ArrayBuffer[];
    }
  | {
      readonly kind: "failed";
      readonly id: number;
      readonly code: WalErrorCode;
      readonly message: string;
    };

type DoneReply = Extract<WalWorkerReply, { kind: "done" }>;

/** What the worker is started with. */
export interface WalWorkerData {
  readonly options: SqliteWalFileOptions;
  /** Where the worker posts its answers to requests (the open's go to its parent port). */
  readonly answers: MessagePort;
  /** Set to 1 by the worker after each answer it posts on `answers`. */
  readonly answered: Int32Array;
}

interface Outstanding {
  readonly resolve: (reply: DoneReply) => void;
  readonly reject: (error: WalError) => void;
}

// `.ts` run from the sources, `.js` compiled in the published package.
const workerUrl = new URL(
  import.meta.url.endsWith(".ts") ? "./wal-writer-worker.ts" : "./wal-writer-worker.js",
  import.meta.url,
);

/** Starts a worker that opens the file; resolves once it is open (and locked). */
export function openThreadWalWriter(options: SqliteWalFileOptions): Promise<WalWriter> {
  const answers = new MessageChannel();
  const answered = new Int32Array(new SharedArrayBuffer(4));
  // A small young generation: the worker allocates little per commit, and each MB of it
  // is resident memory.
  const worker = new Worker(workerUrl, {
    workerData: { options, answers: answers.port2, answered } satisfies WalWorkerData,
    transferList: [answers.port2],
    resourceLimits: { maxYoungGenerationSizeMb: 8 },
  });
  const port = answers.port1;
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  const outstanding = new Map<number, Outstanding>();
  let nextId = 1;
  let dead: WalError | undefined;

  const kill = (error: WalError): void => {
    // Answers the worker posted before it ended still settle their requests: its exit
    // may be seen before the port's event that would deliver them.
    if (dead === undefined) {
      for (let taken = receiveMessageOnPort(port); taken !== undefined; ) {
        settle(taken.message as WalWorkerReply);
        taken = receiveMessageOnPort(port);
      }
    }
    dead ??= error;
    for (const request of outstanding.values()) request.reject(dead);
    outstanding.clear();
    port.close();
  };

  const send = (
    request: WalWorkerRequest,
    onOk: Outstanding["resolve"],
    transfer?: readonly ArrayBuffer[],
  ): Promise<void> =>
    new Promise((resolve, reject) => {
      if (dead !== undefined) return reject(dead);
      if (outstanding.size === 0) {
        worker.ref();
        port.ref();
      }
      outstanding.set(request.id, {
        resolve: (reply) => {
          onOk(reply);
          resolve();
        },
        reject,
      });
      worker.postMessage(request, transfer);
    });

  return new Promise<WalWriter>((resolveOpen, rejectOpen) => {
    let opened = false;
    worker.on("message", (reply: WalWorkerReply) => {
      if (reply.kind === "opened") {
        opened = true;
        worker.unref();
        resolveOpen(writer(reply.partitions, reply.ends, reply.starts, reply.identity));
        return;
      }
      if (reply.kind === "failed" && reply.id === 0)
        rejectOpen(new WalError(reply.code, reply.message));
    });
    port.on("message", settle);
    port.unref();
    worker.on("error", (error) => {
      const walError = new WalError(
        "unavailable",
        `The log writer thread failed: ${error.message}`,
        {
          cause: error,
        },
      );
      if (!opened) rejectOpen(walError);
      kill(walError);
    });
    worker.on("exit", (exitCode) => {
      const error = new WalError("closed", `The log writer thread exited (code ${exitCode}).`);
      if (!opened) rejectOpen(error);
      kill(error);
    });
  });

  function settle(reply: WalWorkerReply): void {
    if (reply.kind === "opened") return;
    const request = outstanding.get(reply.id);
    if (request === undefined) return;
    outstanding.delete(reply.id);
    if (outstanding.size === 0) {
      worker.unref();
      port.unref();
    }
    if (reply.kind === "done") request.resolve(reply);
    else request.reject(new WalError(reply.code, reply.message));
  }

  function takeCompletions(): void {
    if (outstanding.size === 0 || Atomics.load(answered, 0) === 0) return;
    Atomics.store(answered, 0, 0);
    for (let taken = receiveMessageOnPort(port); taken !== undefined; ) {
      settle(taken.message as WalWorkerReply);
      taken = receiveMessageOnPort(port);
    }
  }

  function writer(
    partitions: number,
    ends: readonly number[],
    starts: readonly number[],
    identity: string,
  ): WalWriter {
    return {
      partitions,
      ends,
      starts,
      identity,
      takeCompletions,
      commit: async (rows) => {
        const { tenants, layout, chunks } = packRows(rows);
        let payloads: Uint8Array[] | undefined;
        const count = chunks.length;
        await send(
          { kind: "commit", id: nextId++, tenants, layout, chunks },
          (reply) => {
            // Without its buffers back the answer still means committed; the caller copies.
            if (reply.chunks?.length === count) payloads = packedPayloads(layout, reply.chunks);
          },
          chunks,
        );
        return payloads;
      },
      read: async (partition, from, limit) => {
        let result: readonly WalEntry[] = [];
        await send({ kind: "read", id: nextId++, partition, from, limit }, (reply) => {
          result = reply.entries ?? [];
        });
        return [...result];
      },
      truncate: async (partition, below, limit) => {
        let deleted = 0;
        await send({ kind: "truncate", id: nextId++, partition, below, limit }, (reply) => {
          deleted = reply.deleted ?? 0;
        });
        return deleted;
      },
      close: async () => {
        try {
          await send({ kind: "close", id: nextId++ }, () => {});
        } catch (error) {
          // A worker that could not close its file still holds the lock; ending the
          // thread releases it (the driver closes its connections at thread exit), so a
          // reopen after a failure is not locked out by this one.
          if (dead === undefined) await worker.terminate();
          throw error;
        }
        // The worker exits by itself after closing the file; waiting means the lock is gone.
        // Referenced meanwhile, or the process could exit first and leave `close` unsettled.
        worker.ref();
        await exited;
      },
    };
  }
}
