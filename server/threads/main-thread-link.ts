/**
 * How a serving thread hands the main thread what it does not serve itself: over the
 * main thread's private socket (serve-threads.ts), an HTTP/2 stream is replayed on one
 * cleartext HTTP/2 session (headers, body, then the answer's headers, data and trailers
 * back, resets both ways; a deadline travels in its header, `grpc-timeout` or
 * `connect-timeout-ms`, and the main thread enforces it), and an HTTP/1.1 connection is
 * tunnelled byte for byte. The main thread answers both exactly as it answers a client
 * connected to it.
 *
 * A stream the main thread cannot be reached for (it is shutting down) is reset with
 * REFUSED_STREAM before any answer, which clients treat as safe to retry.
 */

import * as http2 from "node:http2";
import * as net from "node:net";

const {
  NGHTTP2_CANCEL,
  NGHTTP2_FLAG_END_STREAM,
  NGHTTP2_INTERNAL_ERROR,
  NGHTTP2_NO_ERROR,
  NGHTTP2_REFUSED_STREAM,
} = http2.constants;

/** A serving thread's connection to the main thread. */
export class MainThreadLink {
  readonly #path: string;
  #session: http2.ClientHttp2Session | undefined;
  readonly #tunnels = new Set<net.Socket>();
  #closed = false;

  constructor(path: string) {
    this.#path = path;
  }

  /** The session to the main thread, connected on first use and again after it closed. */
  #connect(): http2.ClientHttp2Session {
    const open = this.#session;
    if (open !== undefined && !open.closed && !open.destroyed) return open;
    const session = http2.connect("http://localhost", {
      createConnection: () => net.connect(this.#path),
      // Forwarded calls from many clients share this one session.
      peerMaxConcurrentStreams: 1 << 30,
    });
    session.on("error", () => {});
    session.once("close", () => {
      if (this.#session === session) this.#session = undefined;
    });
    this.#session = session;
    return session;
  }

  /**
   * Replays `stream` on the main thread and relays its answer. `body`: the request's
   * bytes when this thread already read them all; otherwise the stream's body is piped.
   */
  forward(
    stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    body?: Uint8Array,
  ): void {
    stream.on("error", () => {});
    if (this.#closed) {
      stream.close(NGHTTP2_REFUSED_STREAM);
      return;
    }
    const out: http2.OutgoingHttpHeaders = {};
    for (const name in headers) out[name] = headers[name];
    // The bytes read are sent again as they are, but a gRPC-Web body's end envelope is not.
    if (body !== undefined && out["content-length"] !== undefined)
      out["content-length"] = String(body.byteLength);
    // Aborted when the client resets the stream before its body ended: the replay is
    // reset too (RST_STREAM CANCEL), before its body ends, as the client's was.
    // `close(NGHTTP2_CANCEL)` would end the body first (END_STREAM, then the reset), and
    // the main thread would read a body cut short (INVALID_ARGUMENT).
    const reset = new AbortController();
    let upstream: http2.ClientHttp2Stream;
    try {
      upstream = this.#connect().request(out, { endStream: false, signal: reset.signal });
    } catch {
      stream.close(NGHTTP2_REFUSED_STREAM);
      return;
    }
    let answered = false;
    let trailers: http2.IncomingHttpHeaders | undefined;
    upstream.on("error", () => {});
    upstream.once("response", (answer, flags) => {
      if (stream.destroyed) return;
      answered = true;
      const copy: http2.OutgoingHttpHeaders = {};
      for (const name in answer) copy[name] = answer[name];
      // An answer without a body (gRPC's trailers-only answer among them) ends here.
      if ((flags & NGHTTP2_FLAG_END_STREAM) !== 0) {
        stream.respond(copy, { endStream: true });
        return;
      }
      // Only gRPC answers end with trailers; any other answer ends with its last data.
      const type = answer["content-type"];
      const grpc = typeof type === "string" && /^application\/grpc(?!-web)/.test(type);
      stream.respond(copy, { waitForTrailers: grpc });
      if (grpc)
        stream.once("wantTrailers", () => {
          const t: http2.OutgoingHttpHeaders = {};
          for (const name in trailers) t[name] = trailers[name];
          if (Object.keys(t).length > 0) stream.sendTrailers(t);
          else stream.close(NGHTTP2_INTERNAL_ERROR);
        });
      upstream.pipe(stream);
    });
    upstream.once("trailers", (t) => {
      trailers = t;
    });
    upstream.once("close", () => {
      if (stream.destroyed || stream.closed) return;
      const code = upstream.rstCode ?? NGHTTP2_NO_ERROR;
      if (!answered) stream.close(code === NGHTTP2_NO_ERROR ? NGHTTP2_REFUSED_STREAM : code);
      else if (code !== NGHTTP2_NO_ERROR) stream.close(code);
    });
    // The client went away first: cancel the call on the main thread too.
    stream.once("close", () => {
      if (!upstream.closed && !upstream.destroyed) upstream.close(NGHTTP2_CANCEL);
    });
    if (body !== undefined) upstream.end(body);
    else {
      // Node emits "aborted" before it ends the reset stream's body (which would end the replay's).
      stream.once("aborted", () => reset.abort());
      stream.pipe(upstream);
    }
  }

  /** Tunnels an HTTP/1.1 connection (of which `head` was read already) to the main thread. */
  tunnel(socket: net.Socket, head: Buffer): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    const upstream = net.connect(this.#path);
    this.#tunnels.add(upstream);
    const end = () => {
      this.#tunnels.delete(upstream);
      upstream.destroy();
      socket.destroy();
    };
    upstream.once("error", end);
    upstream.once("close", end);
    socket.once("error", end);
    socket.once("close", end);
    upstream.write(head);
    socket.pipe(upstream);
    upstream.pipe(socket);
    socket.resume();
  }

  /** Refuses new work and drops the session and the tunnels now, calls in flight included. */
  destroy(): void {
    this.#closed = true;
    this.#session?.destroy();
    for (const t of this.#tunnels) t.destroy();
  }

  /** Refuses new work; resolves once the session's streams and the tunnels ended (or `graceMs` passed). */
  async close(graceMs = 5_000): Promise<void> {
    this.#closed = true;
    const session = this.#session;
    const waits: Promise<void>[] = [];
    if (session !== undefined && !session.destroyed) {
      waits.push(new Promise((resolve) => session.close(() => resolve())));
    }
    for (const t of this.#tunnels)
      waits.push(new Promise((resolve) => t.once("close", () => resolve())));
    const timer = setTimeout(() => {
      session?.destroy();
      for (const t of this.#tunnels) t.destroy();
    }, graceMs);
    await Promise.all(waits);
    clearTimeout(timer);
  }
}
