/**
 * Request bodies of the fast paths, read from the stream's events: a Connect unary body
 * whole (unary-fast-path.ts; the bytes and the errors the library's `readAllBytes` gives
 * for a body and its Content-Length), and a gRPC body chunk by chunk (grpc-unary.ts).
 * Reading through the stream's async iterator, as the library does, costs a set of
 * listeners, an end-of-stream watcher and a promise per chunk on every call; a small
 * request's body is one chunk.
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
  const chunks: Buffer[] = [];
  let count = 0;
  return readChunks(readable, (chunk) => {
    count += chunk.byteLength;
    if (promised !== undefined) {
      if (count > promised) throw broken(promised, count);
    } else if (count > readMaxBytes) {
      throw new ConnectError(
        `message size is larger than configured readMaxBytes ${readMaxBytes}`,
        Code.ResourceExhausted,
      );
    }
    chunks.push(chunk);
  }).then(() => {
    if (promised !== undefined && count < promised) throw broken(promised, count);
    return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, count);
  });
}

/**
 * Hands each chunk of `readable` to `take` and resolves at its end. When `take` throws,
 * reading stops there, the stream is left open and paused (an answer may still go out on
 * it), and the promise rejects with what it threw. A stream closed before its end (the
 * client cancelled) rejects with CANCELED; a stream error rejects with that error.
 */
export function readChunks(readable: Readable, take: (chunk: Buffer) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    // An empty body may have ended before anyone read it (Node emits `end` for a stream
    // that ended with its headers); what ended was read whole.
    if (readable.readableEnded) {
      resolve();
      return;
    }
    if (readable.destroyed) {
      reject(cancelled());
      return;
    }
    const stop = () => {
      readable.off("data", onData);
      readable.off("end", onEnd);
      readable.off("error", onError);
      readable.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      try {
        take(chunk);
      } catch (error) {
        stop();
        readable.pause();
        reject(error);
      }
    };
    const onEnd = () => {
      stop();
      resolve();
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
