/**
 * A unary Connect request's body, read whole for the fast path (unary-fast-path.ts): the
 * bytes and the errors the library's `readAllBytes` gives for a body and its
 * Content-Length, read from the stream's events. The library reads through the stream's
 * async iterator, which costs a set of listeners, an end-of-stream watcher and a promise
 * per chunk on every call; a small request's body is one chunk.
 */

import type { Readable } from "node:stream";
import { Code, ConnectError } from "@connectrpc/connect";

/**
 * The body of `readable`, at most `readMaxBytes` bytes. `contentLength` is the request's
 * Content-Length: a valid one over the limit is refused before anything is read, and a
 * body that ends short of it or runs past it is INVALID_ARGUMENT; without one, a body
 * past the limit is refused as soon as it passes it. Stopping early leaves the stream
 * open and paused: the answer still has to go out on it. A stream closed before its body
 * ended (the client cancelled) rejects with CANCELED.
 */
export function readBody(
  readable: Readable,
  readMaxBytes: number,
  contentLength: string | undefined,
): Promise<Uint8Array> {
  let promised: number | undefined;
  if (contentLength !== undefined) {
    const n = Number.parseInt(contentLength, 10);
    if (Number.isSafeInteger(n) && n >= 0) {
      if (n > readMaxBytes) {
        return Promise.reject(
          new ConnectError(
            `message size ${n} is larger than configured readMaxBytes ${readMaxBytes}`,
            Code.ResourceExhausted,
          ),
        );
      }
      promised = n;
    }
  }
  return new Promise((resolve, reject) => {
    if (readable.destroyed) {
      reject(cancelled());
      return;
    }
    const chunks: Buffer[] = [];
    let count = 0;
    const stop = () => {
      readable.off("data", onData);
      readable.off("end", onEnd);
      readable.off("error", onError);
      readable.off("close", onClose);
    };
    const fail = (error: unknown) => {
      stop();
      readable.pause();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      count += chunk.byteLength;
      if (promised !== undefined) {
        if (count > promised) fail(broken(promised, count));
        else chunks.push(chunk);
      } else if (count > readMaxBytes) {
        fail(
          new ConnectError(
            `message size is larger than configured readMaxBytes ${readMaxBytes}`,
            Code.ResourceExhausted,
          ),
        );
      } else chunks.push(chunk);
    };
    const onEnd = () => {
      stop();
      if (promised !== undefined && count < promised) reject(broken(promised, count));
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, count));
    };
    const onError = (error: unknown) => {
      stop();
      reject(error);
    };
    const onClose = () => {
      stop();
      reject(cancelled());
    };
    readable.on("data", onData);
    readable.on("end", onEnd);
    readable.on("error", onError);
    readable.on("close", onClose);
  });
}

/** A body that does not match its Content-Length (the library's words). */
function broken(promised: number, received: number): ConnectError {
  return new ConnectError(
    `protocol error: promised ${promised} bytes, received ${received}`,
    Code.InvalidArgument,
  );
}

function cancelled(): ConnectError {
  return new ConnectError("the client cancelled the call", Code.Canceled);
}
