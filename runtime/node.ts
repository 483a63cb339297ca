/**
 * `entdb/runtime/node`: transports for Node.js — Connect over HTTP/1.1 or HTTP/2, and
 * gRPC (HTTP/2) — via `@connectrpc/connect-node`. The only runtime module that may
 * pull in Node built-ins; generated clients never import it, applications do:
 *
 * ```ts
 * const db = createClient({ transport: createNodeTransport({ baseUrl }), tenant: "acme" });
 * ```
 */

import { Code, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { createBearerAuthInterceptor, type TokenSource } from "./bearer-auth-interceptor.ts";
import { DEFAULT_MAX_HOPS, followRedirects } from "./redirect-transport.ts";

/** Where the server is and how to talk to it. */
export interface NodeTransportOptions {
  /** E.g. `http://127.0.0.1:50051`. */
  readonly baseUrl: string;
  /** `connect` (default) or `grpc`. */
  readonly protocol?: "connect" | "grpc";
  /** HTTP version for Connect (default `1.1`); gRPC always uses HTTP/2. */
  readonly httpVersion?: "1.1" | "2";
  /**
   * Sent as `Authorization: Bearer <token>`. Alternatively give the token to the
   * client, which adds the same interceptor to any transport.
   */
  readonly token?: TokenSource;
  /** Further interceptors, run after the token one. */
  readonly interceptors?: readonly Interceptor[];
  /**
   * Redirects of a cluster a call follows at most (default 2; 0 turns following off): a
   * server that does not own the call's tenant names the one that does, and the call is
   * sent there through a transport made with these same options
   * (`redirect-transport.ts`, docs/kafka.md "Several servers").
   */
  readonly maxRedirects?: number;
}

/**
 * Node's codes of a connection that ended under a call: the server crashed, restarted or
 * was cut off after the request was (perhaps) sent and before its answer arrived.
 */
const CONNECTION_LOST = new Set([
  "ECONNRESET",
  "EPIPE",
  "ECONNABORTED",
  "ERR_STREAM_DESTROYED",
  "ERR_STREAM_PREMATURE_CLOSE",
  "ERR_HTTP2_INVALID_STREAM",
  "ERR_HTTP2_STREAM_ERROR",
  "ERR_HTTP2_SESSION_ERROR",
  "ERR_HTTP2_GOAWAY_SESSION",
  "ERR_HTTP2_STREAM_CANCEL",
]);

/** Whether `err` is the transport's report of a connection lost mid-call, not a server's answer. */
function lostConnection(err: ConnectError): boolean {
  // connect-node reports an HTTP/2 stream reset by its code alone, without a cause.
  if (err.rawMessage.startsWith("http/2 stream closed with error code ")) return true;
  for (let cause: unknown = err.cause, depth = 0; cause instanceof Error && depth < 8; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "string" && CONNECTION_LOST.has(code)) return true;
    cause = cause.cause;
  }
  return false;
}

/**
 * A connection lost before the answer (the server killed or restarting mid-call) becomes
 * UNAVAILABLE, as a refused connection already is, so the client retries it with the same
 * idempotency key and a write the server did apply is answered with its first outcome.
 * connect-node reports it as ABORTED (`read ECONNRESET`, HTTP/1.1) or CANCELED (an HTTP/2
 * stream reset), codes the client does not retry, leaving the caller an error for a write
 * that may have been applied, under a key it never saw. A call the caller aborted stays as
 * it is.
 */
export const connectionLossAsUnavailable: Interceptor = (next) => async (req) => {
  try {
    return await next(req);
  } catch (err) {
    if (!(err instanceof ConnectError) || req.signal.aborted || !lostConnection(err)) throw err;
    throw new ConnectError(
      `lost the connection to the server at ${req.url} before its answer (${err.rawMessage}); the call may be retried`,
      Code.Unavailable,
      undefined,
      undefined,
      err,
    );
  }
};

/** A transport for Node.js; Connect uses the binary protobuf format. It follows cluster redirects. */
export function createNodeTransport(options: NodeTransportOptions): Transport {
  checkBaseUrl(options.baseUrl);
  const maxHops = options.maxRedirects ?? DEFAULT_MAX_HOPS;
  const first = createOneNodeTransport(options);
  if (maxHops === 0) return first;
  return followRedirects(first, {
    maxHops,
    transportFor: (baseUrl) => createOneNodeTransport({ ...options, baseUrl }),
  });
}

/**
 * Refuses a `baseUrl` Node cannot call, when the transport is made: without it the first
 * call fails with a bare "Invalid URL" (`127.0.0.1:50051`, the scheme left out).
 */
function checkBaseUrl(baseUrl: string): void {
  let url: URL | undefined;
  try {
    url = new URL(baseUrl);
  } catch {
    url = undefined;
  }
  if (url?.protocol === "http:" || url?.protocol === "https:") return;
  throw new TypeError(
    `createNodeTransport: baseUrl must be the server's API address, http://HOST:PORT or https://HOST:PORT (e.g. http://127.0.0.1:50051); got '${baseUrl}'.`,
  );
}

function createOneNodeTransport(options: NodeTransportOptions): Transport {
  const interceptors = [
    connectionLossAsUnavailable,
    ...(options.token === undefined ? [] : [createBearerAuthInterceptor(options.token)]),
    ...(options.interceptors ?? []),
  ];
  if (options.protocol === "grpc") {
    return createGrpcTransport({ baseUrl: options.baseUrl, interceptors });
  }
  return createConnectTransport({
    baseUrl: options.baseUrl,
    httpVersion: options.httpVersion ?? "1.1",
    useBinaryFormat: true,
    interceptors,
  });
}
