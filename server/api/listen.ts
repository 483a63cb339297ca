/**
 * One port for every protocol: Connect, gRPC and gRPC-Web, over HTTP/1.1 and over
 * cleartext HTTP/2 (h2c with prior knowledge, as gRPC clients speak it).
 *
 * Node's `http2.createServer({ allowHTTP1 })` only falls back to HTTP/1.1 on TLS
 * (via ALPN), so for cleartext we look at the first bytes of each connection: the
 * HTTP/2 client preface starts with "PRI * HTTP/2.0", which no HTTP/1.1 request line
 * does. The bytes we read are pushed back with `unshift` before the socket is handed
 * to the HTTP/1.1 or the HTTP/2 server.
 */

import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { Duplex } from "node:stream";

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

/** Starts a server on `host:port` that serves `handler` over HTTP/1.1 and h2c. */
export async function listenApi(
  handler: DualHandler,
  options: { readonly host: string; readonly port: number },
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
      if (isH2) {
        h2.emit("connection", replaying(socket, head));
      } else {
        socket.unshift(head);
        h1.emit("connection", socket);
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
    socket.resume();
  };
  socket.on("data", onData);
}

/**
 * The HTTP/1.1 server re-reads unshifted bytes, but Node's HTTP/2 session reads from
 * the socket's native handle and would miss them. So HTTP/2 gets a duplex stream
 * that first replays the sniffed bytes, then relays the socket (Node wraps such a
 * stream for the session itself).
 */
function replaying(socket: net.Socket, head: Buffer): Duplex {
  const duplex = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, _encoding, callback) {
      socket.write(chunk, callback);
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(err, callback) {
      socket.destroy(err ?? undefined);
      callback(err);
    },
  });
  duplex.push(head);
  socket.on("data", (chunk: Buffer) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on("end", () => duplex.push(null));
  socket.on("close", () => duplex.destroy());
  socket.on("error", (err) => duplex.destroy(err));
  return duplex;
}
