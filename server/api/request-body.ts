/**
 * Request bodies of the fast paths, read from the stream's events: a Connect unary body
 * whole (unary-fast-path.ts; the bytes and the errors the library's `readAllBytes` gives
 * for a body and its Content-Length), and a gRPC body chunk by chunk (grpc-unary.ts).
 * Reading through the stream's async iterator, as the library does, costs a set of
 * listeners, an end-of-stream watcher and a promise per chunk on every call; a small
 * request's body is one chunk.
 */

import type * as http2 from "node:http2";
import type { Readable } from "node:stream";
import { Code, ConnectError } from "@connectrpc/connect";

/** Receives a request body read by {@link readBodyInto}: its bytes, or why it could not be read. */
export interface BodyReceiver {
  bodyRead(body: Uint8Array): void;
  bodyFailed(error: unknown): void;
}

/**
 * Reads the body of `readable`, at most `readMaxBytes` bytes, and hands it to `receiver`.
 * `contentLength` is the request's Content-Length: a valid one over the limit is refused
 * before anything is read, and a body that ends short of it or runs past it is
 * INVALID_ARGUMENT; without one, a body past the limit is refused as soon as it passes it.
 * Stopping early leaves the stream open and paused: the answer still has to go out on it.
 * A stream closed or reset before its body ended (the client cancelled) fails with CANCELED. The
 * receiver is called once, from the stream's event that completed the body (or at once,
 * for a body refused by its length or one that had ended already), with no promise
 * between: a unary call's whole answer may run from there.
 */
export function readBodyInto(
  readable: Readable,
  readMaxBytes: number,
  contentLength: string | undefined,
  receiver: BodyReceiver,
): void {
  let promised: number | undefined;
  if (contentLength !== undefined) {
    const n = Number.parseInt(contentLength, 10);
    if (Number.isSafeInteger(n) && n >= 0) {
      if (n > readMaxBytes) {
        receiver.bodyFailed(
          new ConnectError(
            `message size ${n} is larger than configured readMaxBytes ${readMaxBytes}`,
            Code.ResourceExhausted,
          ),
        );
        return;
      }
      promised = n;
    }
  }
  readChunksInto(readable, new BodyCollector(readMaxBytes, promised, receiver));
}

/** {@link readBodyInto}, as a promise of the body (what its tests compare with the library's `readAllBytes`). */
export function readBody(
  readable: Readable,
  readMaxBytes: number,
  contentLength: string | undefined,
): Promise<Uint8Array> {
  return new Promise((resolve, reject) =>
    readBodyInto(readable, readMaxBytes, contentLength, { bodyRead: resolve, bodyFailed: reject }),
  );
}

/** A body's chunks, kept until it ended, with its limits checked as they come. */
class BodyCollector implements ChunkSink {
  readonly #chunks: Buffer[] = [];
  #count = 0;
  readonly readMaxBytes: number;
  readonly promised: number | undefined;
  readonly receiver: BodyReceiver;

  constructor(readMaxBytes: number, promised: number | undefined, receiver: BodyReceiver) {
    this.readMaxBytes = readMaxBytes;
    this.promised = promised;
    this.receiver = receiver;
  }

  take(chunk: Buffer): void {
    this.#count += chunk.byteLength;
    if (this.promised !== undefined) {
      if (this.#count > this.promised) throw broken(this.promised, this.#count);
    } else if (this.#count > this.readMaxBytes) {
      throw new ConnectError(
        `message size is larger than configured readMaxBytes ${this.readMaxBytes}`,
        Code.ResourceExhausted,
      );
    }
    this.#chunks.push(chunk);
  }

  end(): void {
    if (this.promised !== undefined && this.#count < this.promised) {
      this.receiver.bodyFailed(broken(this.promised, this.#count));
      return;
    }
    const chunks = this.#chunks;
    this.receiver.bodyRead(
      chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, this.#count),
    );
  }

  fail(error: unknown): void {
    this.receiver.bodyFailed(error);
  }
}

/**
 * Where {@link readChunksInto} sends a stream's chunks, its end, or why it stopped. When
 * `take` throws, reading stops there, the stream is left open and paused (an answer may
 * still go out on it), and `fail` gets what it threw. A stream closed or reset before its end (the
 * client cancelled) fails with CANCELED; a stream error fails with that error.
 */
export interface ChunkSink {
  /** A chunk; what it throws stops the reading and goes to {@link fail}. */
  take(chunk: Buffer): void;
  end(): void;
  fail(error: unknown): void;
}

/** The sink a stream's chunks go to while {@link readChunksInto} reads it. */
const SINK = Symbol("entdb.bodySink");
type Sinked = Readable & { [SINK]?: ChunkSink | undefined };

/**
 * Reads `readable` into `sink` (a body collector, or the gRPC path's call, which reads its
 * envelope as the chunks come). The stream's four listeners are shared by every stream
 * (an emitter calls them with itself as `this`) and find the sink on the stream: a read
 * makes no closures.
 */
export function readChunksInto(readable: Readable, sink: ChunkSink): void {
  // An empty body may have ended before anyone read it (Node emits `end` for a stream
  // that ended with its headers); what ended was read whole.
  if (readable.readableEnded) {
    sink.end();
    return;
  }
  if (readable.destroyed) {
    sink.fail(cancelled());
    return;
  }
  (readable as Sinked)[SINK] = sink;
  readable.on("data", onData);
  readable.on("end", onEnd);
  readable.on("error", onError);
  readable.on("close", onClose);
}

/** Stops reading `readable`; returns its sink, if it was still being read. */
function stop(readable: Sinked): ChunkSink | undefined {
  const sink = readable[SINK];
  readable[SINK] = undefined;
  readable.off("data", onData);
  readable.off("end", onEnd);
  readable.off("error", onError);
  readable.off("close", onClose);
  return sink;
}

function onData(this: Sinked, chunk: Buffer): void {
  const sink = this[SINK];
  if (sink === undefined) return;
  try {
    sink.take(chunk);
  } catch (error) {
    stop(this);
    this.pause();
    sink.fail(error);
  }
}

function onEnd(this: Sinked): void {
  const sink = stop(this);
  // An HTTP/2 client that reset the stream before its body ended (RST_STREAM, no
  // END_STREAM): Node ends the body after the reset, short of what it promised.
  if (resetByClient(this)) sink?.fail(cancelled());
  else sink?.end();
}

/**
 * Whether `readable` is an HTTP/2 stream (or Node's request over one) that its client
 * reset before the body ended: Node marks it aborted, then ends its body. A body that
 * ended (END_STREAM) before a reset came is read as it is.
 */
export function resetByClient(readable: Readable): boolean {
  return (readable as { aborted?: unknown }).aborted === true;
}

function onError(this: Sinked, error: unknown): void {
  // The client went away mid-body (HTTP/1.1 emits "aborted" before the close): a cancel.
  stop(this)?.fail(clientWentAway(error, this.destroyed) ? cancelled() : error);
}

function onClose(this: Sinked): void {
  stop(this)?.fail(cancelled());
}

/** What Node's streams fail with when the peer closed the connection or the stream under them. */
const GONE_CODES: ReadonlySet<string> = new Set([
  "ECONNRESET", // an HTTP/1.1 request whose socket closed mid-body ("aborted")
  "ERR_STREAM_PREMATURE_CLOSE", // a stream closed before its end (HTTP/2 compat, pipelines)
  "ECONNABORTED",
  "EPIPE",
]);

/**
 * Whether `error` is the client going away mid-request rather than a failure of the
 * server: an error of the kind a closed peer gives (a reset socket, a stream closed
 * before its end), while the request is known to be closed (`closed`: its stream is
 * destroyed, or its call's signal aborted). That is the client's doing: logged at debug,
 * never as an error.
 */
export function clientWentAway(error: unknown, closed: boolean): boolean {
  if (!closed) return false;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && GONE_CODES.has(code);
}

/** A body that does not match its Content-Length (the library's words). */
function broken(promised: number, received: number): ConnectError {
  return new ConnectError(
    `protocol error: promised ${promised} bytes, received ${received}`,
    Code.InvalidArgument,
  );
}

/** What a body read fails with when its client went away or reset the stream before its end. */
export function cancelled(): ConnectError {
  return new ConnectError("the client cancelled the call", Code.Canceled);
}

/**
 * How long a body that ended mid-envelope over HTTP/2 waits for a reset before it is read
 * as cut short. Node's client, cancelling a request whose bytes were sent, ends the body
 * (END_STREAM) and resets the stream (RST_STREAM CANCEL) a moment after; the server reads
 * the end first. Only a malformed body waits.
 */
const RESET_GRACE_MS = 50;

/** Whether a request of `contentType` is a series of envelopes (gRPC, gRPC-Web, Connect streaming). */
export function isEnveloped(contentType: string | undefined): boolean {
  return (
    contentType !== undefined &&
    (contentType.startsWith("application/grpc") || contentType.startsWith("application/connect+"))
  );
}

/**
 * The chunks of `body` (the library's reading of an HTTP/2 request), failing with
 * CANCELED when the client reset `stream` before the body ended: Node ends such a body
 * after the reset, and the library would read it as cut short (INVALID_ARGUMENT), a
 * protocol error of the client's. An `enveloped` body that ended mid-envelope waits
 * {@link RESET_GRACE_MS} for a reset that follows its end; without one it is read as
 * it is (and the library refuses it as cut short).
 */
export async function* readUntilReset(
  stream: http2.ServerHttp2Stream,
  body: AsyncIterable<Uint8Array>,
  enveloped: boolean,
): AsyncGenerator<Uint8Array, void, undefined> {
  const ends = enveloped ? new EnvelopeEnds() : undefined;
  try {
    for await (const chunk of body) {
      ends?.take(chunk);
      yield chunk;
    }
  } catch (err) {
    // A body that stopped because its client reset the stream (Node's "aborted", a
    // stream closed before its end): the client's cancel, not a failure of the server's.
    if (resetByClient(stream) || clientWentAway(err, stream.destroyed)) throw cancelled();
    throw err;
  }
  if (ends !== undefined && !ends.complete() && !resetByClient(stream) && !stream.closed) {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        stream.off("aborted", done);
        stream.off("close", done);
        resolve();
      };
      const timer = setTimeout(done, RESET_GRACE_MS);
      stream.once("aborted", done);
      stream.once("close", done);
    });
  }
  if (resetByClient(stream)) throw cancelled();
}

/** Follows an enveloped body's 5-byte envelope headers and lengths: whether it ended between envelopes. */
class EnvelopeEnds {
  /** Bytes of the current envelope's header read (0 to 4), its length as read so far. */
  #headerRead = 0;
  #length = 0;
  /** Bytes of the current envelope's message still to come. */
  #messageLeft = 0;

  take(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.byteLength) {
      if (this.#messageLeft > 0) {
        const n = Math.min(this.#messageLeft, chunk.byteLength - i);
        this.#messageLeft -= n;
        i += n;
        continue;
      }
      // Header byte 0 is the flags; bytes 1 to 4 the message's length, big-endian.
      if (this.#headerRead > 0) this.#length = this.#length * 256 + (chunk[i] ?? 0);
      i++;
      if (++this.#headerRead === 5) {
        this.#messageLeft = this.#length;
        this.#headerRead = 0;
        this.#length = 0;
      }
    }
  }

  complete(): boolean {
    return this.#headerRead === 0 && this.#messageLeft === 0;
  }
}
