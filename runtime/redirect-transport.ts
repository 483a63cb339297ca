/**
 * Follows the redirects of a cluster (docs/kafka.md, "Several servers"): a server that
 * does not own a call's tenant answers FAILED_PRECONDITION with an `entdbcluster.v1.TenantOwner`
 * detail (and the `entdb-tenant-owner` header) naming the server that does. This
 * transport then sends the same call there, with the same message (so a plan keeps its
 * idempotency key) and headers, and remembers the tenant's owner for its later calls.
 *
 * Bounded: a call follows at most `maxHops` redirects, then fails with the last one. A
 * remembered owner that cannot be reached (UNAVAILABLE: it died, the cluster is moving
 * its partitions) is forgotten, so the client's retry goes to the first server again and
 * learns the new owner from it. A stream is followed only before its first message; a
 * redirect after that ends it (the owner is remembered, so the caller's next call, such
 * as a watch resuming, goes there).
 * Browser-safe: no Node built-ins.
 */

import type {
  DescMessage,
  DescMethodStreaming,
  DescMethodUnary,
  MessageInitShape,
} from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ContextValues,
  type StreamResponse,
  type Transport,
  type UnaryResponse,
} from "@connectrpc/connect";
import { TenantOwnerSchema } from "../generated/entdbcluster/v1/cluster_pb.js";

/** The response header a redirect names the owner's URL in. */
export const TENANT_OWNER_HEADER = "entdb-tenant-owner";
/** The request header typed services take the tenant from. */
const TENANT_HEADER = "entdb-tenant";

/** Default largest number of redirects one call follows. */
export const DEFAULT_MAX_HOPS = 2;

/** How {@link followRedirects} reaches the other servers of a cluster. */
export interface RedirectOptions {
  /** A transport to the server at `baseUrl`, made like the first one (same protocol, token). */
  readonly transportFor: (baseUrl: string) => Transport;
  /** Redirects one call follows at most (default {@link DEFAULT_MAX_HOPS}). */
  readonly maxHops?: number;
}

/** Where a redirect sends a tenant: its owner's URL, and the tenant the server named. */
export interface Redirect {
  readonly tenant: string | undefined;
  readonly url: string;
}

/** The redirect `err` carries, or undefined when it is not one. */
export function redirectOf(err: unknown): Redirect | undefined {
  if (!(err instanceof ConnectError) || err.code !== Code.FailedPrecondition) return undefined;
  const detail = err.findDetails(TenantOwnerSchema)[0];
  if (detail !== undefined && detail.url !== "") return { tenant: detail.tenant, url: detail.url };
  const url = err.metadata.get(TENANT_OWNER_HEADER);
  return url ? { tenant: undefined, url } : undefined;
}

/** A transport that follows cluster redirects from `transport`; see the top of the file. */
export function followRedirects(transport: Transport, options: RedirectOptions): Transport {
  const maxHops = options.maxHops ?? DEFAULT_MAX_HOPS;
  /** Tenant → its owner's URL, as the last redirect said. */
  const owners = new Map<string, string>();
  const transports = new Map<string, Transport>();
  const at = (url: string | undefined): Transport => {
    if (url === undefined) return transport;
    let found = transports.get(url);
    if (found === undefined) {
      found = options.transportFor(url);
      transports.set(url, found);
    }
    return found;
  };
  /**
   * Runs `attempt` against the remembered owner of `tenant` (or the first server), and
   * again at each owner a redirect names, up to `maxHops` times.
   */
  const follow = async <T>(
    tenant: string | undefined,
    attempt: (t: Transport) => Promise<T>,
  ): Promise<T> => {
    let url = tenant === undefined ? undefined : owners.get(tenant);
    for (let hops = 0; ; hops++) {
      try {
        return await attempt(at(url));
      } catch (err) {
        const redirect = redirectOf(err);
        if (redirect === undefined) {
          if (url !== undefined && tenant !== undefined && isUnavailable(err))
            owners.delete(tenant);
          throw err;
        }
        const named = redirect.tenant ?? tenant;
        if (named !== undefined) owners.set(named, redirect.url);
        if (hops >= maxHops || redirect.url === url) throw err;
        url = redirect.url;
      }
    }
  };
  return {
    unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: MessageInitShape<I>,
      contextValues?: ContextValues,
    ): Promise<UnaryResponse<I, O>> {
      return follow(tenantOf(input, header), (t) =>
        t.unary(method, signal, timeoutMs, header, input, contextValues),
      );
    },
    async stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      timeoutMs: number | undefined,
      header: HeadersInit | undefined,
      input: AsyncIterable<MessageInitShape<I>>,
      contextValues?: ContextValues,
    ): Promise<StreamResponse<I, O>> {
      // Only a stream whose requests are all sent at once can be sent again; a client
      // or bidi stream goes to the first server as it is.
      if (method.methodKind !== "server_streaming")
        return at(undefined).stream(method, signal, timeoutMs, header, input, contextValues);
      const requests: MessageInitShape<I>[] = [];
      for await (const request of input) requests.push(request);
      const tenant = tenantOf(requests[0], header);
      const open = (t: Transport) =>
        t.stream(method, signal, timeoutMs, header, replay(requests), contextValues);
      // A redirect may come as the call's answer or as the stream's end before its
      // first message: both are followed, by opening the stream again at the owner.
      const first = await follow(tenant, async (t) => {
        const response = await open(t);
        const iterator = response.message[Symbol.asyncIterator]();
        const head = await iterator.next();
        return { response, iterator, head };
      });
      async function* messages() {
        if (first.head.done === true) return;
        yield first.head.value;
        try {
          for (let next = await first.iterator.next(); next.done !== true; ) {
            yield next.value;
            next = await first.iterator.next();
          }
        } catch (err) {
          // The server stopped owning the tenant mid-stream: the caller resumes (a watch
          // does), and its next call goes to the owner.
          const redirect = redirectOf(err);
          const named = redirect?.tenant ?? tenant;
          if (redirect !== undefined && named !== undefined) owners.set(named, redirect.url);
          throw err;
        }
      }
      return { ...first.response, message: messages() };
    },
  };
}

async function* replay<T>(requests: readonly T[]): AsyncIterable<T> {
  yield* requests;
}

function isUnavailable(err: unknown): boolean {
  return err instanceof ConnectError && err.code === Code.Unavailable;
}

/** The call's tenant: the request's `tenant` field, else the `entdb-tenant` header. */
function tenantOf(input: unknown, header: HeadersInit | undefined): string | undefined {
  if (typeof input === "object" && input !== null && "tenant" in input) {
    const tenant = (input as { readonly tenant: unknown }).tenant;
    if (typeof tenant === "string" && tenant !== "") return tenant;
  }
  return new Headers(header).get(TENANT_HEADER) ?? undefined;
}
