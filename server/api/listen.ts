/**
 * One port for every protocol: Connect, gRPC and gRPC-Web, over HTTP/1.1 and over
 * cleartext HTTP/2 (h2c with prior knowledge, as gRPC clients speak it).
 *
 * Node's `http2.createServer({ allowHTTP1 })` only falls back to HTTP/1.1 on TLS
 * (via ALPN), so for cleartext we look at the first bytes of each connection: the
 * HTTP/2 client preface starts with "PRI * HTTP/2.0", which no HTTP/1.1 request line
 * does. The bytes we read are pushed back with `unshift` before the socket is handed
 * to the HTTP/1.1 or the HTTP/2 server, which then reads the socket natively.
 *
 * Connection hygiene, so idle or stalled clients cannot hold file descriptors forever
 * (defaults in {@link LISTEN_DEFAULTS}, documented in docs/architecture.md):
 * - a connection must send enough bytes to tell its protocol within `sniffTimeoutMs`
 *   (for HTTP/2 that is the whole client preface), or it is closed;
 * - an HTTP/2 connection must send its SETTINGS frame within `settingsTimeoutMs`, or it
 *   gets GOAWAY SETTINGS_TIMEOUT and is closed (RFC 9113 §3.4);
 * - an HTTP/2 connection with no open stream for `idleTimeoutMs` gets GOAWAY NO_ERROR;
 *   an HTTP/1.1 connection is closed after `idleTimeoutMs` without a request (keep-alive
 *   timeout), and Node's header and request timeouts bound a slow request;
 * - past `maxConnections` open connections a new one is refused clearly: HTTP/1.1 gets a
 *   503 with a Connect error body, HTTP/2 a GOAWAY ENHANCE_YOUR_CALM whose debug data says
 *   why; then it is closed.
 */

import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";

/** A handler that serves both HTTP/1.1 and HTTP/2 requests (what connectNodeAdapter returns). */
export type DualHandler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/** A listening multi-protocol server. */
export interface ApiListener {
  /** The bound port (useful with port 0). */
  readonly port: number;
  readonly host: string;
  /** Stops accepting, closes idle connections, and resolves once all connections ended or `graceMs` passed. */
  close(graceMs?: number): Promise<void>;
  /**
   * Stops accepting and drops every connection now, calls in flight included: what a
   * serving thread does before it ends on a failure (server/threads/thread-failure.ts).
   */
  destroy(): void;
}

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

const { NGHTTP2_SETTINGS_TIMEOUT, NGHTTP2_ENHANCE_YOUR_CALM } = http2.constants;

/** The connection limits {@link listenApi} applies unless told otherwise. */
export const LISTEN_DEFAULTS = {
  sniffTimeoutMs: 10_000,
  settingsTimeoutMs: 10_000,
  idleTimeoutMs: 120_000,
  maxConnections: 1_000,
} as const;

/** Options of {@link listenApi}. */
export interface ListenOptions {
  readonly host: string;
  readonly port: number;
  /**
   * Listen on this Unix socket path instead of `host:port` (a name starting with "\0" is
   * an abstract socket on Linux): the private socket a serving thread hands calls on to
   * the main thread through (server/threads).
   */
  readonly path?: string;
  /**
   * Share `host:port` with other listeners that set it too (SO_REUSEPORT, Linux): the
   * kernel spreads new connections over them. Set on every thread with `--serve-threads`.
   */
  readonly reusePort?: boolean;
  /**
   * With `reusePort`, on the first listener of a process (the main thread): claim the
   * port only if no other socket holds it. SO_REUSEPORT lets any process of the same
   * user join a port whose listeners all set it, so a second `entdb serve
   * --serve-threads` on the same port would silently get half of the connections, for
   * another database. A probe bind without SO_REUSEPORT fails with EADDRINUSE while any
   * socket holds the port; it is closed before the shared bind, and port 0 takes the
   * port the probe got. (Two processes starting in the same instant can still both
   * pass the probe: it narrows the window to the time between two binds.)
   */
  readonly claimPort?: boolean;
  /**
   * Takes each HTTP/1.1 connection, with the bytes read from it so far, instead of the
   * HTTP/1.1 server: a serving thread tunnels it to the main thread.
   */
  readonly takeHttp1?: (socket: net.Socket, head: Buffer) => void;
  /**
   * Sees each HTTP/2 stream first: returns true when it answers the stream itself, or
   * false to let `handler` serve it through Node's compatibility API.
   */
  readonly serveH2Stream?: (
    stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
  ) => boolean;
  /** How long a new connection may take to show its protocol (default 10 s). */
  readonly sniffTimeoutMs?: number;
  /** How long an HTTP/2 connection may take to send SETTINGS after its preface (default 10 s). */
  readonly settingsTimeoutMs?: number;
  /** How long a connection may stay open with nothing in flight (default 120 s). */
  readonly idleTimeoutMs?: number;
  /** Most connections open at once; more are refused with a clear answer (default 1000). */
  readonly maxConnections?: number;
}

/**
 * Binds `host:port` without SO_REUSEPORT and closes it again: rejects with the bind's
 * error (EADDRINUSE) while any other socket holds the port, else resolves with the port
 * bound (the one the kernel picked for port 0). See {@link ListenOptions.claimPort}.
 */
function probeFreePort(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once("error", reject);
    probe.listen({ port, host, exclusive: true }, () => {
      const address = probe.address();
      const bound = typeof address === "object" && address !== null ? address.port : port;
      probe.close(() => resolve(bound));
    });
  });
}

/** Starts a server on `host:port` that serves `handler` over HTTP/1.1 and h2c. */
export async function listenApi(
  handler: DualHandler,
  options: ListenOptions,
): Promise<ApiListener> {
  const sniffTimeoutMs = options.sniffTimeoutMs ?? LISTEN_DEFAULTS.sniffTimeoutMs;
  const settingsTimeoutMs = options.settingsTimeoutMs ?? LISTEN_DEFAULTS.settingsTimeoutMs;
  const idleTimeoutMs = options.idleTimeoutMs ?? LISTEN_DEFAULTS.idleTimeoutMs;
  const maxConnections = options.maxConnections ?? LISTEN_DEFAULTS.maxConnections;
  const h1 = http.createServer(handler as http.RequestListener);
  h1.keepAliveTimeout = idleTimeoutMs;
  // Node starts tracking an http.Server's connections (for closeIdleConnections and
  // the headers/request timeouts) when the server emits 'listening'. This one never
  // listens itself (sockets come from the sniffer), so it is told it is listening.
  h1.emit("listening");
  const h2 = http2.createServer(
    {},
    handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
  );
  const serveH2Stream = options.serveH2Stream;
  if (serveH2Stream !== undefined) {
    // Node turns each stream into a request/response pair in its own 'stream' listener.
    // That listener now runs only for the streams `serveH2Stream` leaves.
    const compat = h2.listeners("stream") as ((...args: unknown[]) => void)[];
    h2.removeAllListeners("stream");
    h2.on("stream", (stream, headers, ...rest: unknown[]) => {
      if (serveH2Stream(stream, headers)) return;
      for (const listener of compat) listener.call(h2, stream, headers, ...rest);
    });
  }
  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.Http2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    session.once("close", () => sessions.delete(session));
    watchH2Session(session, settingsTimeoutMs, idleTimeoutMs);
  });

  // noDelay: RPC responses are small writes; Nagle's algorithm would hold each back
  // until the client's delayed ACK (~40 ms).
  const server = net.createServer({ noDelay: true }, (socket) => {
    const over = sockets.size >= maxConnections;
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    sniff(socket, sniffTimeoutMs, (isH2, head) => {
      if (over) {
        if (isH2) refuseHttp2(socket, maxConnections);
        else refuseHttp1(socket, maxConnections);
        return;
      }
      // The sniffed bytes go back into the socket's buffer. The HTTP/1.1 parser reads
      // them when the socket flows again; an HTTP/2 session reads what is already
      // buffered when it starts, then takes over the native handle itself. So the
      // socket must not flow before the session exists: nothing would read the bytes.
      if (!isH2 && options.takeHttp1 !== undefined) {
        options.takeHttp1(socket, head);
        return;
      }
      socket.unshift(head);
      if (isH2) {
        h2.emit("connection", socket);
      } else {
        h1.emit("connection", socket);
        socket.resume();
      }
    });
  });

  const port =
    options.reusePort === true && options.claimPort === true && options.path === undefined
      ? await probeFreePort(options.host, options.port)
      : options.port;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    const done = () => {
      server.off("error", reject);
      resolve();
    };
    if (options.path !== undefined) server.listen(options.path, done);
    else if (options.reusePort === true)
      server.listen({ port, host: options.host, reusePort: true }, done);
    else server.listen(port, options.host, done);
  });
  const address = server.address();

  return {
    port: typeof address === "object" && address !== null ? address.port : 0,
    host: options.host,
    async close(graceMs = 5_000) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      h1.closeIdleConnections();
      for (const session of sessions) session.close();
      const timer = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      timer.unref();
      // h1 connections with requests in flight end when their responses finish.
      const drain = setInterval(() => h1.closeIdleConnections(), 100);
      await closed;
      clearInterval(drain);
      clearTimeout(timer);
    },
    destroy() {
      server.close();
      for (const session of sessions) session.destroy();
      for (const socket of sockets) socket.destroy();
    },
  };
}

/** The message a connection over the cap is refused with. */
function refusal(maxConnections: number): string {
  return `The server has ${maxConnections} connections open, its limit; retry later, or reuse a connection.`;
}

/** Answers an HTTP/1.1 connection over the cap with 503 and a Connect error body, then closes it. */
function refuseHttp1(socket: net.Socket, maxConnections: number): void {
  const body = JSON.stringify({ code: "unavailable", message: refusal(maxConnections) });
  endRefused(
    socket,
    Buffer.from(
      `HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    ),
  );
}

/**
 * Answers an HTTP/2 connection over the cap without starting a session: the server
 * preface (an empty SETTINGS frame), then GOAWAY ENHANCE_YOUR_CALM with no stream
 * processed and the reason as debug data (RFC 9113 §6.8), then closes it.
 */
function refuseHttp2(socket: net.Socket, maxConnections: number): void {
  const reason = Buffer.from(refusal(maxConnections));
  const frame = (type: number, payload: Buffer) => {
    const head = Buffer.alloc(9);
    head.writeUIntBE(payload.length, 0, 3);
    head[3] = type;
    return Buffer.concat([head, payload]);
  };
  const goaway = Buffer.alloc(8);
  goaway.writeUInt32BE(0, 0); // last stream id: none was processed
  goaway.writeUInt32BE(NGHTTP2_ENHANCE_YOUR_CALM, 4);
  endRefused(
    socket,
    Buffer.concat([frame(0x4, Buffer.alloc(0)), frame(0x7, Buffer.concat([goaway, reason]))]),
  );
}

/** Writes a refusal and closes; a client that never reads it does not hold the socket. */
function endRefused(socket: net.Socket, answer: Buffer): void {
  socket.resume(); // discard whatever the client sends meanwhile
  socket.end(answer);
  setTimeout(() => socket.destroy(), 1_000).unref();
}

/**
 * Holds an HTTP/2 session to the SETTINGS deadline and closes it once it has had no
 * open stream for `idleTimeoutMs` (GOAWAY NO_ERROR: in-flight streams would finish).
 */
function watchH2Session(
  session: http2.ServerHttp2Session,
  settingsTimeoutMs: number,
  idleTimeoutMs: number,
): void {
  const settings = setTimeout(() => {
    session.goaway(NGHTTP2_SETTINGS_TIMEOUT);
    session.destroy();
  }, settingsTimeoutMs);
  settings.unref();
  session.once("remoteSettings", () => clearTimeout(settings));
  // One idle timer per session, not one per stream: a stream only counts itself in and
  // out, and a timer that fires while streams are open, or before the session has been
  // idle long enough, waits again for the rest. Clearing and re-arming a timer for every
  // stream cost a timer list insertion and removal per call (and the `once` wrapper a
  // closure per stream).
  let open = 0;
  let idleSince = performance.now();
  let idle: NodeJS.Timeout | undefined;
  const check = () => {
    idle = undefined;
    if (session.closed || session.destroyed) return;
    if (open > 0) return arm(idleTimeoutMs);
    const left = idleTimeoutMs - (performance.now() - idleSince);
    // close() sends GOAWAY NO_ERROR and lets the (no) open streams finish.
    if (left <= 0) session.close();
    else arm(left);
  };
  const arm = (ms: number) => {
    idle = setTimeout(check, ms);
    idle.unref();
  };
  const streamClosed = () => {
    open--;
    if (open === 0) {
      idleSince = performance.now();
      if (idle === undefined && !session.closed && !session.destroyed) arm(idleTimeoutMs);
    }
  };
  session.on("stream", (stream: http2.ServerHttp2Stream) => {
    open++;
    // `on`, not `once`: a stream closes once.
    stream.on("close", streamClosed);
  });
  session.once("close", () => {
    clearTimeout(settings);
    clearTimeout(idle);
  });
  arm(idleTimeoutMs);
}

/**
 * Reads just enough of the connection to tell HTTP/2 from HTTP/1.1 and hands over
 * the bytes read so far. A client that sends a prefix of the preface and waits is
 * kept waiting until the bytes decide (HTTP/2 clients always send the whole preface),
 * but no longer than `timeoutMs` from the connection's start: then it is closed.
 */
function sniff(
  socket: net.Socket,
  timeoutMs: number,
  route: (isH2: boolean, head: Buffer) => void,
): void {
  let seen = Buffer.alloc(0);
  const deadline = setTimeout(() => socket.destroy(), timeoutMs);
  deadline.unref();
  socket.once("close", () => clearTimeout(deadline));
  const onData = (chunk: Buffer) => {
    seen = Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, H2_PREFACE.length);
    const matches = seen.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
    if (matches && seen.length < H2_PREFACE.length) return; // need more bytes to decide
    socket.off("data", onData);
    clearTimeout(deadline);
    socket.pause();
    route(matches, seen);
  };
  socket.on("data", onData);
}
