/**
 * `entdb/runtime/web`: transports for browsers (and any runtime with `fetch`) —
 * Connect or gRPC-Web — via `@connectrpc/connect-web`. Browser-safe: nothing
 * reachable from here imports a Node built-in (a test checks).
 */

import { Code, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { createBearerAuthInterceptor, type TokenSource } from "./bearer-auth-interceptor.ts";
import { DEFAULT_MAX_HOPS, followRedirects } from "./redirect-transport.ts";

/** Where the server is and how to talk to it. */
export interface WebTransportOptions {
  /** E.g. `https://db.example.com`. */
  readonly baseUrl: string;
  /** `connect` (default) or `grpc-web`. */
  readonly protocol?: "connect" | "grpc-web";
  /** Sent as `Authorization: Bearer <token>`. */
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
  /** A `fetch` to use instead of the global one. */
  readonly fetch?: typeof globalThis.fetch;
}

/**
 * A `fetch` that rejects (the browser says only "Failed to fetch": no network, the
 * server down or restarting, a CORS refusal) becomes UNAVAILABLE, as connect-node
 * reports a refused connection, so the client retries it with the same idempotency
 * key. Connect-web itself would report it as UNKNOWN. A call the caller aborted stays
 * as it is.
 */
export const fetchFailureAsUnavailable: Interceptor = (next) => async (req) => {
  try {
    return await next(req);
  } catch (err) {
    if (err instanceof ConnectError || req.signal.aborted) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConnectError(
      `could not reach the server at ${req.url} (${reason}); the call may be retried`,
      Code.Unavailable,
      undefined,
      undefined,
      err,
    );
  }
};

/** A transport over `fetch`; both protocols use the binary protobuf format. It follows cluster redirects. */
export function createWebTransport(options: WebTransportOptions): Transport {
  const maxHops = options.maxRedirects ?? DEFAULT_MAX_HOPS;
  const first = createOneWebTransport(options);
  if (maxHops === 0) return first;
  return followRedirects(first, {
    maxHops,
    transportFor: (baseUrl) => createOneWebTransport({ ...options, baseUrl }),
  });
}

function createOneWebTransport(options: WebTransportOptions): Transport {
  const interceptors = [
    fetchFailureAsUnavailable,
    ...(options.token === undefined ? [] : [createBearerAuthInterceptor(options.token)]),
    ...(options.interceptors ?? []),
  ];
  const common = {
    baseUrl: options.baseUrl,
    interceptors,
    useBinaryFormat: true,
    ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
  };
  return options.protocol === "grpc-web"
    ? createGrpcWebTransport(common)
    : createConnectTransport(common);
}
