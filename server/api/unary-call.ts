/**
 * What the unary fast paths (Connect in unary-fast-path.ts, gRPC in grpc-unary.ts) share:
 * the methods they serve, a call's HandlerContext and abort signal, and running the
 * implementation inside the router's interceptors as the Connect library does. The
 * protocols differ only in how a request is framed and how an answer is written.
 */

import type * as http from "node:http";
import type * as http2 from "node:http2";
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
import {
  ExecutePlanRequestSchema,
  QueryNodesRequestSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import { decodeExecutePlanRequestHere, decodeQueryNodesRequestHere } from "../apply/index.ts";
import { actorKey, refusedBeforeDecode, requireActor } from "./auth.ts";
import { encodeOutput } from "./output-encoding.ts";
import { decodeRequestHere } from "./request-decode.ts";

/** A unary implementation as a router sees it: a request message in, a message (or its init shape) out. */
export type UnaryImpl = (req: Message, ctx: HandlerContext) => unknown;

/** One method the fast paths can serve. */
export interface FastMethod {
  readonly service: DescService;
  /** A unary method (the paths serve no streams). */
  readonly method: DescMethod;
  readonly impl: UnaryImpl;
}

/**
 * How a serving thread (server/threads) hands on the calls it does not serve itself:
 * once a call's request is parsed, before any interceptor runs, `serves` decides; a call
 * it does not serve goes to `send` with its request message's bytes (in a gRPC envelope
 * for gRPC), which answers the stream, and this thread does nothing more with it.
 */
export interface CallForwarding {
  serves(target: FastMethod, input: Message): boolean;
  send(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, body: Uint8Array): void;
}

/** What the fast paths need from the server around them. */
export interface FastPathOptions {
  /** Request path (`/pkg.Service/Method`) → method. */
  readonly methods: ReadonlyMap<string, FastMethod>;
  /** Largest request body accepted, in bytes (the router's `readMaxBytes`). */
  readonly readMaxBytes: number;
  /** The request's context values (authentication) from its Authorization header; never rejects. */
  contextValues(authorization: string | undefined): ContextValues | Promise<ContextValues>;
  /** `--public-reads`: a request without an Authorization header reaches the read handlers (auth.ts `refusedBeforeDecode`). */
  readonly anonymousReads?: boolean;
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
  /** Set on a serving thread only: see {@link CallForwarding}. */
  readonly forward?: CallForwarding;
  /** Runs as each call starts, its body read and parsed (`ApiHandlerOptions.beforeCall`, routes.ts). */
  readonly beforeCall?: () => void;
  /**
   * Counts a call answered with an error before its interceptors ran (refused for its
   * credentials, or its body could not be read or parsed: cut short, over the limit, reset
   * by its client), under the code its client got. The interceptors count every other call.
   */
  countUnintercepted?(target: FastMethod, code: Code): void;
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
  /** Whether {@link end} was called: a close from then on is not the client cancelling. */
  readonly ended: boolean;
}

/**
 * Starts calls whose signals follow `shutdown`: once it is aborted, every call in flight
 * and every new call has its signal aborted with the same reason, as on the library's path.
 */
export function createCallSignals(shutdown: AbortSignal): (timeoutMs?: number) => CallSignal {
  const inFlight = new CallsInFlight();
  shutdown.addEventListener(
    "abort",
    () => {
      // Taken first: an abort may end other calls, which takes them out of the list.
      const calls: Call[] = [];
      for (let call = inFlight.next; call instanceof Call; call = call.next) calls.push(call);
      for (const call of calls) call.abort(shutdown.reason);
    },
    { once: true },
  );
  return (timeoutMs) => new Call(shutdown, inFlight, timeoutMs);
}

/**
 * A list of the calls in flight, linked through the calls themselves: a call joins and
 * leaves it without allocating, where a `Set` that gains and loses an entry per call
 * makes itself a new table every few dozen calls. The list is its own head.
 */
class CallsInFlight {
  next: CallsInFlight | Call = this;
  prev: CallsInFlight | Call = this;
}

/** A call without a deadline has no time left to tell. */
const NO_DEADLINE = (): number | undefined => undefined;

/**
 * One call's {@link CallSignal}. A class, so a call without a deadline (most) allocates
 * its controller and this object, and no closures.
 */
class Call implements CallSignal {
  readonly #controller = new AbortController();
  readonly #timer: NodeJS.Timeout | undefined;
  readonly timeoutMs: () => number | undefined;
  ended = false;
  /** Neighbours in the calls in flight; the call itself while it is in none. */
  next: CallsInFlight | Call = this;
  prev: CallsInFlight | Call = this;

  constructor(shutdown: AbortSignal, inFlight: CallsInFlight, timeoutMs?: number) {
    const controller = this.#controller;
    if (shutdown.aborted) controller.abort(shutdown.reason);
    else {
      this.prev = inFlight.prev;
      this.next = inFlight;
      inFlight.prev.next = this;
      inFlight.prev = this;
    }
    if (timeoutMs === undefined) {
      this.timeoutMs = NO_DEADLINE;
      return;
    }
    // The library's deadline: the same reason, and a time left that counts down.
    const deadline = Date.now() + timeoutMs;
    this.timeoutMs = () => deadline - Date.now();
    const expire = () =>
      controller.abort(new ConnectError("the operation timed out", Code.DeadlineExceeded));
    if (timeoutMs <= 0) expire();
    else this.#timer = setTimeout(expire, timeoutMs);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  abort(reason: unknown): void {
    this.#controller.abort(reason);
  }

  end(): void {
    this.ended = true;
    // Out of the calls in flight (once: a call out of it is its own neighbour).
    this.prev.next = this.next;
    this.next.prev = this.prev;
    this.next = this;
    this.prev = this;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
  }
}

/** The steps a fast path's call takes once its credentials are checked. */
export interface AuthenticatedSteps {
  /** The caller's values: the call goes on. */
  authenticated(values: ContextValues): void;
  /** What went wrong outside the call's own steps (the authenticator threw): logged, no answer. */
  broken(err: unknown): void;
}

/**
 * Checks a call's `authorization` header with `options.contextValues` and goes on with
 * `steps`: at once, or when the authenticator's promise settles.
 */
export function authenticateCall(
  options: Pick<FastPathOptions, "contextValues">,
  headers: http.IncomingHttpHeaders,
  steps: AuthenticatedSteps,
): void {
  try {
    const auth = options.contextValues(single(headers["authorization"]));
    if (auth instanceof Promise) {
      auth.then(
        (values) => steps.authenticated(values),
        (err: unknown) => steps.broken(err),
      );
    } else {
      steps.authenticated(auth);
    }
  } catch (err) {
    steps.broken(err);
  }
}

/** A header's first value. */
export function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Throws UNAUTHENTICATED (as {@link requireActor}) when {@link refusedBeforeDecode} refuses
 * the call, before the fast paths read its body. The actor is asked first: an
 * authenticated call (nearly every one) reads no header here.
 */
export function refuseBeforeDecode(
  values: ContextValues,
  service: string,
  authorization: string | string[] | undefined,
  anonymousReads: boolean,
): void {
  if (values.get(actorKey) !== undefined) return;
  if (refusedBeforeDecode(values, service, single(authorization), anonymousReads))
    requireActor(values);
}

/**
 * The message in `bytes`. A body that is not one is the caller's mistake: the answer is
 * INVALID_ARGUMENT naming the expected message (the library's path says the same;
 * see `routes.ts`). A plan request is read by the logged events' decoder when it covers
 * it (wal-event-decode.ts), a query request by the same reader (its filters hold the
 * same values), a flat request (a get, an edge page) by request-decode.ts: the same
 * message objects, and `fromBinary` for the rest.
 */
export function parseInput(desc: DescMessage, bytes: Uint8Array): Message {
  try {
    return (
      (desc === ExecutePlanRequestSchema
        ? decodeExecutePlanRequestHere(bytes)
        : desc === QueryNodesRequestSchema
          ? decodeQueryNodesRequestHere(bytes)
          : decodeRequestHere(desc, bytes)) ?? fromBinary(desc, bytes)
    );
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

/** The rest of a unary call's chain, in an interceptor's {@link InterceptorNow} form. */
export type NextNow = (req: UnaryRequest) => UnaryResponse | Promise<UnaryResponse>;

/**
 * An interceptor's form for the fast paths: the same work, for a chain whose calls may
 * answer at once. `next` returns a response or a promise of one, and so does what it
 * returns: a response when `next` gave one, so that a call whose handler answers at once
 * (a read) runs the whole chain without a promise or an async frame per interceptor.
 * What it throws is the call's error, as a rejection is.
 */
export type InterceptorNow = (next: NextNow) => NextNow;

const NOW_FORM = Symbol("entdb.interceptorNow");

/**
 * `interceptor`, marked with its {@link InterceptorNow} form. The Connect library's path
 * runs `interceptor`; the fast paths run `now` when every interceptor of the router has
 * one (the server's own: metrics, schema skew), and `interceptor` otherwise. The two must
 * do the same.
 */
export function withNowForm(interceptor: Interceptor, now: InterceptorNow): Interceptor {
  Object.defineProperty(interceptor, NOW_FORM, { value: now });
  return interceptor;
}

/** The {@link InterceptorNow} forms of `interceptors`, or undefined when one has none (kept per list). */
const nowForms = new WeakMap<readonly Interceptor[], readonly InterceptorNow[] | null>();
function nowFormsOf(interceptors: readonly Interceptor[]): readonly InterceptorNow[] | undefined {
  let forms = nowForms.get(interceptors);
  if (forms === undefined) {
    const found = interceptors.map((i) => (i as { [NOW_FORM]?: InterceptorNow })[NOW_FORM]);
    forms = found.every((f) => f !== undefined) ? (found as InterceptorNow[]) : null;
    nowForms.set(interceptors, forms);
  }
  return forms ?? undefined;
}

/**
 * Runs a call's implementation inside `interceptors` (outermost first), as the library
 * does for unary calls: the interceptors see the call's request (its header is built
 * only if one reads it), the implementation sees the request they pass on, and the
 * headers and trailers of the response they return are the call's. Returns the output
 * message, or a promise of it. When every interceptor has an {@link InterceptorNow}
 * form and the implementation answers at once (not a promise), so does this: a read
 * goes through the chain without a promise; what goes wrong is thrown. Otherwise the
 * answer is a promise, and its rejection the error.
 */
export function intercepted(
  target: FastMethod,
  call: CallContext,
  input: Message,
  interceptors: readonly Interceptor[],
): Message | Promise<Message> {
  const forms = nowFormsOf(interceptors);
  if (forms === undefined) return interceptedAsync(target, call, input, interceptors);
  const context = call.context;
  // A FastMethod is unary (`unaryMethods` in routes.ts picks only those).
  const method = target.method as DescMethodUnary;
  const output = method.output;
  const request = callRequest(target, method, call, input);
  if (call instanceof FastCallContext) call.request = request;
  let innermost: UnaryResponse | undefined;
  const respond = (answer: unknown): UnaryResponse => {
    const res = callResponse(target, method, context, create(output, answer as Message));
    innermost = res;
    return res;
  };
  const implementation: NextNow = (req) => {
    if (req.stream) throw new ConnectError("a unary call was made a stream", Code.Internal);
    const answer = target.impl(req.message, req === request ? context : passedOn(context, req));
    return answer instanceof Promise ? answer.then(respond) : respond(answer);
  };
  let next = implementation;
  for (let i = forms.length - 1; i >= 0; i--) {
    const form = forms[i];
    if (form !== undefined) next = form(next);
  }
  const finish = (res: UnaryResponse): Message => {
    if (res.stream)
      throw new ConnectError("a unary call was answered with a stream", Code.Internal);
    if (res !== innermost) {
      // An interceptor answered with a response of its own: its headers are the call's.
      copyHeaders(res.header, context.responseHeader);
      copyHeaders(res.trailer, context.responseTrailer);
    }
    return res.message;
  };
  const res = next(request);
  return res instanceof Promise ? res.then(finish) : finish(res);
}

/** {@link intercepted} through interceptors of which one or more has no {@link InterceptorNow} form. */
async function interceptedAsync(
  target: FastMethod,
  call: CallContext,
  input: Message,
  interceptors: readonly Interceptor[],
): Promise<Message> {
  const context = call.context;
  const method = target.method as DescMethodUnary;
  const output = method.output;
  const request = callRequest(target, method, call, input);
  if (call instanceof FastCallContext) call.request = request;
  let innermost: UnaryResponse | undefined;
  const implementation: AnyFn = async (req) => {
    if (req.stream) throw new ConnectError("a unary call was made a stream", Code.Internal);
    const ctx = req === request ? context : passedOn(context, req);
    const message = create(output, (await target.impl(req.message, ctx)) as Message);
    const res = callResponse(target, method, context, message);
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

/** The context an implementation sees for a request an interceptor passed on in place of the call's. */
function passedOn(context: HandlerContext, req: UnaryRequest): HandlerContext {
  return {
    method: context.method,
    service: req.service,
    requestMethod: context.requestMethod,
    protocolName: context.protocolName,
    url: context.url,
    timeoutMs: context.timeoutMs,
    requestHeader: req.header,
    signal: req.signal,
    values: req.contextValues,
    get responseHeader() {
      return context.responseHeader;
    },
    get responseTrailer() {
      return context.responseTrailer;
    },
  };
}

/** The HandlerContext whose headers a request or response `intercepted` made reads. */
const OF = Symbol("entdb.callContext");
type Of = { readonly [OF]: HandlerContext };

/** Where a fast-path request keeps its call, for {@link requestHeaderValue}. */
const CALL = Symbol("entdb.fastCall");

/*
 * The request and response `intercepted` passes keep their header getters own and
 * enumerable, as the library's are (an interceptor may spread them), but the getters read
 * the context through `this` and are made once, here, with no closure over the call: V8
 * keeps a literal's accessors in an old-generation object, where a getter that closed
 * over the call would keep the whole call alive through every scavenge until a
 * Mark-Compact (docs/performance-log.md, "Why every finished HTTP/2 exchange survives the
 * scavenges"). They are instances of small classes that define the shared getters on
 * themselves: an object literal with a getter and symbol keys is built by the runtime
 * (about 0.7 µs each, twice a call), a class instance with the same own properties in
 * the same order in a fifth of that (docs/performance-log.md, "What changed", item 26).
 */
const REQUEST_HEADER: PropertyDescriptor = {
  get(this: Of) {
    return this[OF].requestHeader;
  },
  enumerable: true,
  configurable: true,
};
const RESPONSE_HEADER: PropertyDescriptor = {
  get(this: Of) {
    return this[OF].responseHeader;
  },
  enumerable: true,
  configurable: true,
};
const RESPONSE_TRAILER: PropertyDescriptor = {
  get(this: Of) {
    return this[OF].responseTrailer;
  },
  enumerable: true,
  configurable: true,
};

/** The request of one intercepted call; its own properties are the library's, in its order. */
class CallRequest {
  declare readonly stream: false;
  declare readonly service: DescService;
  declare readonly method: DescMethodUnary;
  declare readonly requestMethod: string;
  declare readonly url: string;
  declare readonly signal: AbortSignal;
  declare readonly header: Headers;
  declare readonly contextValues: ContextValues;
  declare readonly message: Message;
  declare readonly [CALL]: FastCallContext | undefined;
  declare readonly [OF]: HandlerContext;

  constructor(
    target: FastMethod,
    method: DescMethodUnary,
    call: CallContext,
    context: HandlerContext,
    message: Message,
  ) {
    const self = this as Writable<CallRequest>;
    self.stream = false;
    self.service = target.service;
    self.method = method;
    self.requestMethod = context.requestMethod;
    self.url = context.url;
    self.signal = context.signal;
    Object.defineProperty(this, "header", REQUEST_HEADER);
    self.contextValues = context.values;
    self.message = message;
    self[CALL] = call instanceof FastCallContext ? call : undefined;
    self[OF] = context;
  }
}

/** The response of one intercepted call; its own properties are the library's, in its order. */
class CallResponse {
  declare readonly stream: false;
  declare readonly service: DescService;
  declare readonly method: DescMethodUnary;
  declare readonly header: Headers;
  declare readonly trailer: Headers;
  declare readonly message: Message;
  declare readonly [OF]: HandlerContext;

  constructor(
    target: FastMethod,
    method: DescMethodUnary,
    context: HandlerContext,
    message: Message,
  ) {
    const self = this as Writable<CallResponse>;
    self.stream = false;
    self.service = target.service;
    self.method = method;
    Object.defineProperty(this, "header", RESPONSE_HEADER);
    Object.defineProperty(this, "trailer", RESPONSE_TRAILER);
    self.message = message;
    self[OF] = context;
  }
}

type Writable<T> = { -readonly [K in keyof T]: T[K] };

function callRequest(
  target: FastMethod,
  method: DescMethodUnary,
  call: CallContext,
  message: Message,
): UnaryRequest {
  return new CallRequest(target, method, call, call.context, message) as UnaryRequest;
}

function callResponse(
  target: FastMethod,
  method: DescMethodUnary,
  context: HandlerContext,
  message: Message,
): UnaryResponse {
  return new CallResponse(target, method, context, message) as UnaryResponse;
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
  /** The request message's bytes, once read (see {@link requestBody}). */
  body: Uint8Array | undefined;
  /** The response header and trailer, if the implementation touched either. */
  headersWritten(): { readonly header: Headers; readonly trailer: Headers } | undefined;
}

/**
 * The HandlerContext of one fast-path call, also its {@link CallContext}. The request
 * headers are converted to `Headers` only if something reads them whole (a header's value
 * alone is read from Node's object: {@link requestHeaderValue}), and the response headers
 * and trailers are only created when asked for. A class, so a call allocates one object
 * instead of an object literal with its own accessor closures.
 */
class FastCallContext implements HandlerContext, CallContext {
  readonly method: DescMethod;
  readonly service: DescService;
  readonly signal: AbortSignal;
  readonly timeoutMs: () => number | undefined;
  readonly requestMethod = "POST";
  readonly protocolName: "connect" | "grpc" | "grpc-web";
  readonly values: ContextValues;
  readonly url: string;
  /** Node's request headers (lower-case names, HTTP/2 pseudo-headers included). */
  readonly raw: http.IncomingHttpHeaders;
  /** The request `intercepted` built for this call, to recognize it in an interceptor. */
  request: UnaryRequest | undefined;
  body: Uint8Array | undefined;
  #requestHeader: Headers | undefined;
  #responseHeader: Headers | undefined;
  #responseTrailer: Headers | undefined;

  constructor(
    target: FastMethod,
    protocolName: "connect" | "grpc" | "grpc-web",
    url: string,
    raw: http.IncomingHttpHeaders,
    call: CallSignal,
    values: ContextValues,
  ) {
    this.method = target.method;
    this.service = target.service;
    this.signal = call.signal;
    this.timeoutMs = call.timeoutMs;
    this.protocolName = protocolName;
    this.values = values;
    this.url = url;
    this.raw = raw;
    this.body = undefined;
  }

  get context(): HandlerContext {
    return this;
  }

  get requestHeader(): Headers {
    this.#requestHeader ??= webHeaders(this.raw);
    return this.#requestHeader;
  }

  get responseHeader(): Headers {
    this.#responseHeader ??= new Headers();
    return this.#responseHeader;
  }

  get responseTrailer(): Headers {
    this.#responseTrailer ??= new Headers();
    return this.#responseTrailer;
  }

  headersWritten(): { readonly header: Headers; readonly trailer: Headers } | undefined {
    return this.#responseHeader === undefined && this.#responseTrailer === undefined
      ? undefined
      : {
          header: this.#responseHeader ?? new Headers(),
          trailer: this.#responseTrailer ?? new Headers(),
        };
  }
}

/** The HandlerContext of one call. */
export function handlerContext(
  target: FastMethod,
  protocolName: "connect" | "grpc" | "grpc-web",
  url: string,
  headers: http.IncomingHttpHeaders,
  call: CallSignal,
  values: ContextValues,
): CallContext {
  return new FastCallContext(target, protocolName, url, headers, call, values);
}

/**
 * What `Headers.get(name)` of the call's request headers answers (`name` in lower case),
 * without building a `Headers` of every request header when the call came down a fast
 * path: from Node's header object, as the `Headers` would hold it (repeated values joined
 * with ", ", surrounding HTTP whitespace removed). `from` is the request an interceptor
 * sees or the context a handler sees; a request or context an interceptor made itself
 * is asked through its `header` / `requestHeader`.
 */
export function requestHeaderValue(
  from: { readonly header: Headers } | HandlerContext,
  name: string,
): string | null {
  let call: FastCallContext | undefined;
  if (from instanceof FastCallContext) call = from;
  else if ("header" in from) {
    const own = (from as { [CALL]?: FastCallContext })[CALL];
    if (own !== undefined && own.request === from) call = own;
  }
  if (call === undefined) {
    return "header" in from ? from.header.get(name) : from.requestHeader.get(name);
  }
  const value = call.raw[name];
  if (value === undefined || name.startsWith(":")) return null;
  return trimHttpWhitespace(Array.isArray(value) ? value.join(", ") : value);
}

/**
 * The request message's bytes of a call that came down a fast path, as the client sent
 * them (a serving thread hands them on without encoding the message again); undefined
 * for a context an interceptor made itself.
 */
export function requestBody(ctx: HandlerContext): Uint8Array | undefined {
  return ctx instanceof FastCallContext ? ctx.body : undefined;
}

/** `value` without leading and trailing HTTP whitespace (tab, line feed, carriage return, space). */
function trimHttpWhitespace(value: string): string {
  const isWhite = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
  let start = 0;
  let end = value.length;
  while (start < end && isWhite(value.charCodeAt(start))) start++;
  while (end > start && isWhite(value.charCodeAt(end - 1))) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
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

/** Where an {@link InterceptedCall} is, relative to its interceptors. */
type Stage = 0 | 1 | 2;
const BEFORE: Stage = 0;
const IN: Stage = 1;
const PAST: Stage = 2;

/**
 * The steps every fast path's call takes once its request is parsed: the interceptors and
 * the implementation (at once, or when their promise settles), then the answer's bytes,
 * or the error. A subclass writes them in its protocol (`answer`, `answerError`). Handlers
 * answer bad input with a ConnectError; anything else is a bug, logged with its stack (by
 * the interceptors, if it passed through them: they report what they see) and answered as
 * INTERNAL.
 */
export abstract class InterceptedCall {
  /**
   * Where the call is: before its interceptors (an error here is counted by
   * `countUnintercepted`), in them (they report and count what they see), or past them.
   */
  #stage: Stage = BEFORE;

  /** Logs a bug (an error that is not a ConnectError) with its stack. */
  protected abstract logBug(error: unknown): void;
  /** Writes the answer: the output message's bytes. */
  protected abstract answer(bytes: Uint8Array): void;
  /** Writes the answer: an error. */
  protected abstract answerError(error: ConnectError): void;
  /** Counts the call, answered with `code` before its interceptors ran (`countUnintercepted`). */
  protected abstract countUnintercepted(code: Code): void;

  /** Runs `target`'s interceptors and implementation on `input`; throws what they throw at once. */
  protected intercept(
    target: FastMethod,
    ctx: CallContext,
    input: Message,
    interceptors: readonly Interceptor[],
  ): void {
    this.#stage = IN;
    const answer = intercepted(target, ctx, input, interceptors);
    if (answer instanceof Promise) {
      answer.then(
        (output) => this.#answered(target, output),
        (e: unknown) => this.failed(e),
      );
      return;
    }
    this.#answered(target, answer);
  }

  #answered(target: FastMethod, output: Message): void {
    this.#stage = PAST;
    let bytes: Uint8Array;
    try {
      bytes = encodeOutput(target.method.output, output);
    } catch (e) {
      this.failed(e);
      return;
    }
    this.answer(bytes);
  }

  /** Answers the call with `e`. */
  protected failed(e: unknown): void {
    const stage = this.#stage;
    if (!(e instanceof ConnectError) && stage !== IN) this.logBug(e);
    this.#stage = PAST;
    const error = e instanceof ConnectError ? e : internalError(e);
    if (stage === BEFORE) this.countUnintercepted(error.code);
    this.answerError(error);
  }
}
