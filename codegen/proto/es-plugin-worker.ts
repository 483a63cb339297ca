/**
 * The worker-thread side of `es-plugin-threads.ts`: runs protoc-gen-es on one binary
 * CodeGeneratorRequest and answers with the binary CodeGeneratorResponse, or with the
 * message of what it threw.
 *
 * It must always answer and wake the waiting thread, whatever fails, since that thread
 * blocks until it does: so everything but `node:worker_threads` is imported inside the
 * `try`, and the wake-up is in the `finally`.
 */

import { type MessagePort, workerData } from "node:worker_threads";

/** What the thread that starts this worker passes as `workerData`. */
export interface EsPluginWorkerData {
  /** The binary CodeGeneratorRequest. */
  readonly request: Uint8Array;
  /** Where the answer goes: `{ response: Uint8Array }` or `{ error: string }`. */
  readonly port: MessagePort;
  /** Set to 1 and notified once the answer is posted. */
  readonly done: Int32Array;
}

const { request, port, done } = workerData as EsPluginWorkerData;
try {
  const [{ fromBinary, toBinary }, wkt, { loadProtocGenEs }] = await Promise.all([
    import("@bufbuild/protobuf"),
    import("@bufbuild/protobuf/wkt"),
    import("./protoc-gen-es-loader.ts"),
  ]);
  const response = loadProtocGenEs().run(fromBinary(wkt.CodeGeneratorRequestSchema, request));
  port.postMessage({ response: toBinary(wkt.CodeGeneratorResponseSchema, response) });
} catch (err) {
  port.postMessage({ error: err instanceof Error ? err.message : String(err) });
} finally {
  Atomics.store(done, 0, 1);
  Atomics.notify(done, 0);
}
