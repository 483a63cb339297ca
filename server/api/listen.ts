/**
 * One port for every protocol: Connect, gRPC and gRPC-Web, over HTTP/1.1 and over
 * cleartext HTTP/2 (h2c with prior knowledge, as gRPC clients speak it).
 *
 * Node's `http2.createServer({ allowHTTP1 })` only falls back to HTTP/1.1 on TLS
 * (via ALPN), so for cleartext we look at the first bytes of each connection: the
 * HTTP/2 client preface starts with "PRI * HTTP/2.0", which no HTTP/1.1 request line
 * does. The bytes we read are pushed back with `unshift` before the socket is handed
 * to the HTTP/1.1 or the HTTP/2 server, which then reads the socket natively.
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
}

const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/** Options of {@link listenApi}. */
export interface ListenOptions {
  readonly host: string;
  readonly port: number;
  /**
   * Sees each HTTP/2 stream first: returns true when it answers the stream itself, or
   * false to let `handler` serve it through Node's compatibility API.
   */
  readonly serveH2Stream?: (
    stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
  ) => boolean;
}

/** Starts a server on `host:port` that serves `handler` over HTTP/1.1 and h2c. */
export async function listenApi(
  handler: DualHandler,
  options: ListenOptions,
): Promise<ApiListener> {
  const h1 = http.createServer(handler as http.RequestListener);
  h1.keepAliveTimeout = 65_000;
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
  });

  // noDelay: RPC responses are small writes; Nagle's algorithm would hold each back
  // until the client's delayed ACK (~40 ms).
  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
    socket.on("error", () => socket.destroy());
    sniff(socket, (isH2, head) => {
      // The sniffed bytes go back into the socket's buffer. The HTTP/1.1 parser reads
      // them when the socket flows again; an HTTP/2 session reads what is already
      // buffered when it starts, then takes over the native handle itself. So the
      // socket must not flow before the session exists: nothing would read the bytes.
      socket.unshift(head);
      if (isH2) {
        h2.emit("connection", socket);
      } else {
        h1.emit("connection", socket);
        socket.resume();
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as net.AddressInfo;

  return {
    port: address.port,
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
  };
}

/**
 * Reads just enough of the connection to tell HTTP/2 from HTTP/1.1 and hands over
 * the bytes read so far. A client that sends a prefix of the preface and waits is
 * kept waiting until the bytes decide (HTTP/2 clients always send the whole preface).
 */
function sniff(socket: net.Socket, route: (isH2: boolean, head: Buffer) => void): void {
  let seen = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    seen = Buffer.concat([seen, chunk]);
    const n = Math.min(seen.length, H2_PREFACE.length);
    const matches = seen.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
    if (matches && seen.length < H2_PREFACE.length) return; // need more bytes to decide
    socket.off("data", onData);
    socket.pause();
    route(matches, seen);
  };
  socket.on("data", onData);
}
