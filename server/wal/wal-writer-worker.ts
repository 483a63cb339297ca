/**
 * The worker-thread side of `thread-wal-writer.ts`: owns the SQLite connection and
 * executes requests strictly one at a time, in arrival order (the message port delivers
 * in order and every handler is synchronous), which is what keeps commits ordered.
 * Started only by `openThreadWalWriter`; not an entry point of its own.
 */

import { parentPort, workerData } from "node:worker_threads";
import { InternalError } from "../internal-error.ts";
import { SqliteWalFile, toWalError } from "./sqlite-wal-file.ts";
import type { WalWorkerData, WalWorkerReply, WalWorkerRequest } from "./thread-wal-writer.ts";
import { packedPayloads, ROW_FIELDS } from "./wal-row-pack.ts";

const parent = parentPort;
if (parent === null)
  throw new InternalError("invariant", "wal-writer-worker.ts must run as a worker thread.");
const { options, answers: port, answered } = workerData as WalWorkerData;

/** Posts an answer, then raises the flag `takeCompletions` looks at (`thread-wal-writer.ts`). */
const answer = (message: WalWorkerReply, transfer?: readonly ArrayBuffer[]): void => {
  port.postMessage(message, transfer);
  Atomics.store(answered, 0, 1);
};
const reply = (message: WalWorkerReply): void => answer(message);

let file: SqliteWalFile | undefined;
try {
  file = SqliteWalFile.open(options);
  parent.postMessage({
    kind: "opened",
    partitions: file.partitions,
    ends: file.ends,
    starts: file.starts,
    identity: file.identity,
  });
} catch (error) {
  const walError = toWalError(error, options.path);
  parent.postMessage({
    kind: "failed",
    id: 0,
    code: walError.code,
    message: walError.message,
  } satisfies WalWorkerReply);
  parent.close();
  port.close();
}

parent.on("message", (request: WalWorkerRequest) => {
  if (file === undefined) {
    reply({ kind: "failed", id: request.id, code: "closed", message: "The log is closed." });
    return;
  }
  try {
    switch (request.kind) {
      case "commit": {
        const { tenants, layout, chunks } = request;
        const payloads = packedPayloads(layout, chunks);
        file.commit(
          payloads.map((payload, i) => ({
            partition: layout[i * ROW_FIELDS]!,
            offset: layout[i * ROW_FIELDS + 1]!,
            tenant: tenants[i]!,
            payload,
          })),
        );
        // The buffers go back, so the main thread keeps the bytes without copying them.
        answer({ kind: "done", id: request.id, chunks }, [...chunks]);
        return;
      }
      case "truncate":
        reply({
          kind: "done",
          id: request.id,
          deleted: file.truncate(request.partition, request.below, request.limit),
        });
        return;
      case "read":
        reply({
          kind: "done",
          id: request.id,
          entries: file.read(request.partition, request.from, request.limit),
        });
        return;
      case "close":
        file.close();
        file = undefined;
        reply({ kind: "done", id: request.id });
        port.close();
        parent.close();
        return;
    }
  } catch (error) {
    const walError = toWalError(error, options.path);
    reply({ kind: "failed", id: request.id, code: walError.code, message: walError.message });
  }
});
