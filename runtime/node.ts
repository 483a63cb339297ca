/**
 * `entdb/runtime/node`: transports for Node.js — Connect over HTTP/1.1 or HTTP/2, and
 * gRPC (HTTP/2) — via `@connectrpc/connect-node`. The only runtime module that may
 * pull in Node built-ins; generated clients never import it, applications do:
 *
 * ```ts
 * const db = createClient({ transport: createNodeTransport({ baseUrl }), tenant: "acme" });
 * ```
 */

import type { Interceptor, Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { createBearerAuthInterceptor, type TokenSource } from "./bearer-auth-interceptor.ts";

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
}

/** A transport for Node.js; Connect uses the binary protobuf format. */
export function createNodeTransport(options: NodeTransportOptions): Transport {
  const interceptors = [
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
