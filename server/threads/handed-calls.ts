/**
 * Unary writes a serving thread hands to the main thread over their message port, without
 * HTTP/2 (docs/architecture.md, "Serving threads"): the thread authenticates the call,
 * reads its body and runs its interceptors (metrics, schema skew) as it does for a read;
 * the implementation is the main thread's, given the request's bytes and the caller's
 * actor (and, for a plan, the log event the thread's ingress built from them), and its
 * answer comes back as the answer message's bytes or as the error (code, message,
 * details, metadata) for the thread to write exactly as the main thread's own fast path
 * would.
 *
 * This module is the message codec both sides share: which methods are handed over, what
 * a call and its answer carry, and an error's round trip. Everything in a message is
 * structured-clone data (strings, numbers, byte arrays, plain arrays and objects).
 */

import { create, type DescMessage, toBinary, toJson } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Actor } from "../api/auth.ts";
import type { PreparedPlan } from "../api/execute-plan.ts";

/**
 * The methods a serving thread hands over (request path → the method's name). Their
 * implementations read nothing of a call but its request and its actor (`ctx.values`);
 * a method that reads headers or a principal's token would need them sent too.
 */
export const HANDED_METHODS: ReadonlySet<string> = new Set(["/entdb.v1.EntDbService/ExecutePlan"]);

/** Serving thread → main thread: run this call. */
export interface HandedCall {
  readonly kind: "call";
  /** Unique among this thread's calls in flight. */
  readonly id: number;
  /** The request path, one of {@link HANDED_METHODS}. */
  readonly path: string;
  /** The request message's bytes (the body without any envelope). */
  readonly body: Uint8Array;
  /** The authenticated caller (the thread answers a call without one itself). */
  readonly actor: Actor;
  readonly protocol: "connect" | "grpc" | "grpc-web";
  readonly url: string;
  /** Milliseconds left of the call's deadline when it was handed over, if it has one. */
  readonly timeoutMs: number | undefined;
  /**
   * A plan's ingress, run by the thread (execute-plan.ts): the main thread logs its event
   * rather than parsing `body` and running ingress again. Absent for a small plan, or when
   * the thread's ingress refused it: the main thread runs it whole (and answers the refusal).
   */
  readonly prepared?: PreparedPlan;
}

/** Serving thread → main thread: the call's client went away, or its deadline passed, first. */
export interface HandedCancel {
  readonly kind: "cancel";
  readonly id: number;
  readonly error: WireError;
}

/** Headers as name/value pairs, in the order `Headers` lists them. */
export type WireHeaders = readonly (readonly [string, string])[];

/** Main thread → serving thread: the call's answer. */
export interface HandedAnswer {
  readonly kind: "answer";
  readonly id: number;
  /** The answer message's bytes, as the fast path would have encoded it. */
  readonly bytes: Uint8Array;
  /** The response header and trailer, when the implementation set any. */
  readonly header?: WireHeaders;
  readonly trailer?: WireHeaders;
}

/** Main thread → serving thread: the call failed. */
export interface HandedFailure {
  readonly kind: "failed";
  readonly id: number;
  readonly error: WireError;
  readonly header?: WireHeaders;
  readonly trailer?: WireHeaders;
}

/** A ConnectError as the wire carries it: what the answer's JSON or trailers are made of. */
export interface WireError {
  readonly code: Code;
  /** The message without the code prefix (`rawMessage`). */
  readonly message: string;
  readonly metadata: WireHeaders;
  readonly details: readonly WireDetail[];
}

/** An error detail, as the Connect library sends it: its type, bytes, and its JSON for reading. */
export interface WireDetail {
  readonly type: string;
  readonly value: Uint8Array;
  /** Present when the detail's JSON form could be written (the library leaves it out otherwise). */
  readonly debug?: unknown;
}

/** `headers` as pairs. */
export function headersToWire(headers: Headers): WireHeaders {
  const out: (readonly [string, string])[] = [];
  headers.forEach((value, key) => {
    out.push([key, value]);
  });
  return out;
}

/** `error` as a {@link WireError}: its details encoded as the library encodes them. */
export function errorToWire(error: ConnectError): WireError {
  const details: WireDetail[] = [];
  for (const detail of error.details) {
    if ("desc" in detail) {
      const message = create(detail.desc as DescMessage, detail.value);
      const value = toBinary(detail.desc as DescMessage, message);
      let debug: unknown;
      try {
        debug = toJson(detail.desc as DescMessage, message);
      } catch {
        // As the library: the JSON form is only for reading, and some messages have none.
      }
      details.push(
        debug === undefined
          ? { type: detail.desc.typeName, value }
          : { type: detail.desc.typeName, value, debug },
      );
    } else {
      details.push(
        detail.debug === undefined
          ? { type: detail.type, value: detail.value }
          : { type: detail.type, value: detail.value, debug: detail.debug },
      );
    }
  }
  return {
    code: error.code,
    message: error.rawMessage,
    metadata: headersToWire(error.metadata),
    details,
  };
}

/**
 * The ConnectError `wire` describes: the same code, message, metadata and details (as
 * incoming details, which the answer's JSON and trailers write byte for byte as the
 * original's, and `findDetails` reads).
 */
export function errorFromWire(wire: WireError): ConnectError {
  const error = new ConnectError(
    wire.message,
    wire.code,
    wire.metadata.length === 0
      ? undefined
      : wire.metadata.map(([k, v]): [string, string] => [k, v]),
  );
  error.details = wire.details.map((d) =>
    d.debug === undefined
      ? { type: d.type, value: d.value }
      : { type: d.type, value: d.value, debug: d.debug as never },
  );
  return error;
}

/** A cancelled or expired call's reason as a {@link WireError} (any reason: CANCELED's). */
export function reasonToWire(reason: unknown): WireError {
  return errorToWire(
    reason instanceof ConnectError
      ? reason
      : new ConnectError("the client cancelled the call", Code.Canceled),
  );
}

/**
 * Messages to one thread, posted together: everything queued in one turn of the event
 * loop goes as one message (`setImmediate`, after the turn's I/O), since posting costs
 * about as much per message as cloning a small one does per call.
 */
export class Outbox<T> {
  readonly #post: (messages: T[]) => void;
  #queue: T[] = [];
  readonly #flush = () => {
    const messages = this.#queue;
    this.#queue = [];
    this.#post(messages);
  };

  constructor(post: (messages: T[]) => void) {
    this.#post = post;
  }

  push(message: T): void {
    if (this.#queue.length === 0) setImmediate(this.#flush);
    this.#queue.push(message);
  }
}
