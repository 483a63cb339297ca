/**
 * What the unary fast paths (Connect in unary-fast-path.ts, gRPC in grpc-unary.ts) share:
 * the methods they serve, a call's HandlerContext and abort signal, and running the
 * implementation inside the router's interceptors as the Connect library does. The
 * protocols differ only in how a request is framed and how an answer is written.
 */

import type * as http from "node:http";
import type { Readable } from "node:stream";
import {
  create,
  type DescMessage,
  type DescMethod,
  type DescMethodUnary,
  type DescService,
  fromBinary,
  type Message,
} from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  type ContextValues,
  type HandlerContext,
  type Interceptor,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";

/** A unary implementation as a router sees it: a request message in, a message (or its init shape) out. */
export type UnaryImpl = (req: Message, ctx: HandlerContext) => unknown;

/** One method the fast paths can serve. */
export interface FastMethod {
  readonly service: DescService;
  /** A unary method (the paths serve no streams). */
  readonly method: DescMethod;
  readonly impl: UnaryImpl;
}

/** What the fast paths need from the server around them. */
export interface FastPathOptions {
  /** Request path (`/pkg.Service/Method`) → method. */
  readonly methods: ReadonlyMap<string, FastMethod>;
  /** Largest request body accepted, in bytes (the router's `readMaxBytes`). */
  readonly readMaxBytes: number;
  /** The request's context values (authentication) from its Authorization header; never rejects. */
  contextValues(authorization: string | undefined): ContextValues | Promise<ContextValues>;
  /** Headers every response carries for this request's Origin (CORS); may be empty. */
  extraHeaders(origin: string | undefined): Readonly<Record<string, string>>;
  /**
   * The router's interceptors, outermost first: each call runs through them around its
   * implementation, after its body is read and parsed (where the library runs them).
   */
  readonly interceptors: readonly Interceptor[];
  /**
   * The router's `shutdownSignal`: once it is aborted, every call in flight and every new
   * call has its signal aborted with the same reason.
   */
  readonly shutdownSignal: AbortSignal;
  /**
   * Receives an error that is not a ConnectError (answered as INTERNAL) thrown outside
   * the interceptors (the interceptors see and report those thrown inside them), and an
   * error thrown while writing a response (the call itself is answered).
   */
  logError(err: unknown): void;
}

/** A call's abort signal and deadline, and what ends them. */
export interface CallSignal {
  readonly signal: AbortSignal;
  /** Milliseconds left until the call's deadline, or undefined without one. */
  timeoutMs(): number | undefined;
  /** Aborts the call's signal with `reason` (a cancelled stream). */
  abort(reason: unknown): void;
  /** The call is answered: it no longer follows the shutdown, and its deadline is cleared. */
  end(): void;
}

/**
 * Starts calls whose signals follow `shutdown`: once it is aborted, every call in flight
 * and every new call has its signal aborted with the same reason, as on the library's path.
 */
export function createCallSignals(shutdown: AbortSignal): (timeoutMs?: number) => CallSignal {
  const inFlight = new Set<AbortController>();
  shutdown.addEventListener(
    "abort",
    () => {
      for (const controller of inFlight) controller.abort(shutdown.reason);
    },
    { once: true },
  );
  return (timeoutMs) => {
    const controller = new AbortController();
    if (shutdown.aborted) controller.abort(shutdown.reason);
    else inFlight.add(controller);
    let timer: NodeJS.Timeout | undefined;
    let timeLeft = (): number | undefined => undefined;
    if (timeoutMs !== undefined) {
      // The library's deadline: the same reason, and a time left that counts down.
      const deadline = Date.now() + timeoutMs;
      timeLeft = () => deadline - Date.now();
      const expire = () =>
        controller.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
      if (timeoutMs <= 0) expire();
      else timer = setTimeout(expire, timeoutMs);
    }
    return {
      signal: controller.signal,
      timeoutMs: timeLeft,
      abort: (reason) => controller.abort(reason),
      end: () => {
        inFlight.delete(controller);
        if (timer !== undefined) clearTimeout(timer);
      },
    };
  };
}

/**
 * The request body's chunks. Stopping early (a body over the limit) must not destroy
 * the stream: the answer still has to go out on it.
 */
export function bodyOf(readable: Readable): AsyncIterable<Uint8Array> {
  return readable.iterator({ destroyOnReturn: false });
}

/** A header's first value. */
export function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * The message in `bytes`. A body that is not one is the caller's mistake: the answer is
 * INVALID_ARGUMENT naming the expected message (the library's path says the same;
 * see `routes.ts`).
 */
export function parseInput(desc: DescMessage, bytes: Uint8Array): Message {
  try {
    return fromBinary(desc, bytes);
  } catch (e) {
    throw new ConnectError(
      malformedBodyMessage(desc.typeName, e instanceof Error ? e.message : String(e)),
      Code.InvalidArgument,
    );
  }
}

/** The message of the INVALID_ARGUMENT answer to a body that does not parse as `inputType`. */
export function malformedBodyMessage(inputType: string, detail: string): string {
  return `The request body is not a valid ${inputType} (${detail.replace(/^parse binary: /, "")}); send a serialized ${inputType}.`;
}

/** What an interceptor wraps: the rest of the chain. */
type AnyFn = Parameters<Interceptor>[0];

/**
 * Runs a call's implementation inside `interceptors` (outermost first), as the library
 * does for unary calls: the interceptors see the call's request (its header is built
 * only if one reads it), the implementation sees the request they pass on, and the
 * headers and trailers of the response they return are the call's. Returns the output
 * message.
 */
export async function intercepted(
  target: FastMethod,
  call: CallContext,
  input: Message,
  interceptors: readonly Interceptor[],
): Promise<Message> {
  const { context } = call;
  // A FastMethod is unary (`unaryMethods` in routes.ts picks only those).
  const method = target.method as DescMethodUnary;
  const output = method.output;
  const request: UnaryRequest = {
    stream: false,
    service: target.service,
    method,
    requestMethod: context.requestMethod,
    url: context.url,
    signal: context.signal,
    get header() {
      return context.requestHeader;
    },
    contextValues: context.values,
    message: input,
  };
  let innermost: UnaryResponse | undefined;
  const implementation: AnyFn = async (req) => {
    if (req.stream) throw new ConnectError("a unary call was made a stream", Code.Internal);
    // An interceptor that passed on a request of its own has the implementation see it.
    const ctx: HandlerContext =
      req === request
        ? context
        : {
            ...context,
            service: req.service,
            requestHeader: req.header,
            signal: req.signal,
            values: req.contextValues,
          };
    const message = create(output, (await target.impl(req.message, ctx)) as Message);
    const res: UnaryResponse = {
      stream: false,
      service: target.service,
      method,
      get header() {
        return context.responseHeader;
      },
      get trailer() {
        return context.responseTrailer;
      },
      message,
    };
    innermost = res;
    return res;
  };
  let next = implementation;
  for (let i = interceptors.length - 1; i >= 0; i--) {
    const interceptor = interceptors[i];
    if (interceptor !== undefined) next = interceptor(next);
  }
  const res = await next(request);
  if (res.stream) throw new ConnectError("a unary call was answered with a stream", Code.Internal);
  if (res !== innermost) {
    // An interceptor answered with a response of its own: its headers are the call's.
    copyHeaders(res.header, context.responseHeader);
    copyHeaders(res.trailer, context.responseTrailer);
  }
  return res.message;
}

/** Replaces the contents of `to` with those of `from` (the library's `copyHeaders`). */
function copyHeaders(from: Headers, to: Headers): void {
  if (from === to) return;
  const keys: string[] = [];
  to.forEach((_, key) => {
    keys.push(key);
  });
  for (const key of keys) to.delete(key);
  from.forEach((value, key) => {
    to.set(key, value);
  });
}

/** What the library answers for an error that is not a ConnectError. */
export function internalError(cause: unknown): ConnectError {
  return new ConnectError("internal error", Code.Internal, undefined, undefined, cause);
}

/** A call's HandlerContext, and the response headers its implementation wrote, if any. */
export interface CallContext {
  readonly context: HandlerContext;
  /** The response header and trailer, if the implementation touched either. */
  headersWritten(): { readonly header: Headers; readonly trailer: Headers } | undefined;
}

/**
 * The HandlerContext of one call. The request headers are converted to `Headers` only if
 * an implementation reads them, and the response headers and trailers are only created
 * when asked for.
 */
export function handlerContext(
  target: FastMethod,
  protocolName: "connect" | "grpc" | "grpc-web",
  url: string,
  headers: http.IncomingHttpHeaders,
  call: CallSignal,
  values: ContextValues,
): CallContext {
  let requestHeader: Headers | undefined;
  let responseHeader: Headers | undefined;
  let responseTrailer: Headers | undefined;
  const context: HandlerContext = {
    method: target.method,
    service: target.service,
    signal: call.signal,
    timeoutMs: call.timeoutMs,
    requestMethod: "POST",
    get requestHeader() {
      requestHeader ??= webHeaders(headers);
      return requestHeader;
    },
    get responseHeader() {
      responseHeader ??= new Headers();
      return responseHeader;
    },
    get responseTrailer() {
      responseTrailer ??= new Headers();
      return responseTrailer;
    },
    protocolName,
    values,
    url,
  };
  return {
    context,
    headersWritten: () =>
      responseHeader === undefined && responseTrailer === undefined
        ? undefined
        : { header: responseHeader ?? new Headers(), trailer: responseTrailer ?? new Headers() },
  };
}

export function isEmpty(headers: Headers): boolean {
  let empty = true;
  headers.forEach(() => {
    empty = false;
  });
  return empty;
}

/** Node's request headers as `Headers`, without HTTP/2 pseudo-headers. */
function webHeaders(headers: http.IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [key, value] of Object.entries(headers)) {
    if (key.startsWith(":") || value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) out.append(key, v);
    else out.set(key, value);
  }
  return out;
}

/**
 * Most body bytes an HTTP/1.1 connection reads and drops after an early answer (a body
 * over the limit) before it is closed instead.
 */
const DISCARD_MAX_BYTES = 64 * 1024 * 1024;

/**
 * Reads and drops the rest of a request answered before its body was read. HTTP/1.1
 * cannot stop one request, and closing the connection with body bytes unread makes the
 * kernel reset it: the client, still sending, gets EPIPE or ECONNRESET and may never
 * read the answer already on its way. Reading the rest keeps the answer deliverable and
 * the connection reusable; past `max` bytes the connection is closed after all.
 */
export function discardRest(req: http.IncomingMessage, max = DISCARD_MAX_BYTES): void {
  let read = 0;
  req.on("data", (chunk: Buffer) => {
    read += chunk.length;
    if (read > max) req.socket.destroy();
  });
  req.resume();
}
