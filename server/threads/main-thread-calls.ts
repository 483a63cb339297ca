/**
 * A serving thread's side of the calls it hands to the main thread without HTTP/2
 * (handed-calls.ts): an implementation for each handed method that posts the call's
 * request bytes and actor to the main thread (and, for a plan, the log event this thread's
 * ingress built: api/execute-plan.ts) and resolves with its answer, which the
 * thread's fast path writes as it writes its own (same status, headers, trailers, error
 * JSON or grpc-status). The call's interceptors (metrics, schema skew) run here, around
 * this implementation, so the call is counted once, by this thread.
 *
 * A call's cancel (its client went away) or deadline is told to the main thread, whose
 * call signal follows it as the main thread's own calls' signals do; as there, a write
 * whose signal was aborted may still be logged and applied.
 */

import {
  type DescMessage,
  type DescMethodUnary,
  type Message,
  type MessageShape,
  toBinary,
} from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { type Actor, requireActor } from "../api/auth.ts";
import type { PreparedPlan } from "../api/execute-plan.ts";
import { encodedAnswer } from "../api/output-encoding.ts";
import { requestBody } from "../api/unary-call.ts";
import {
  errorFromWire,
  type HandedAnswer,
  type HandedCall,
  type HandedCancel,
  type HandedFailure,
  Outbox,
  reasonToWire,
} from "./handed-calls.ts";

/** One call waiting for the main thread's answer. */
interface Pending {
  readonly output: DescMessage;
  readonly ctx: HandlerContext;
  readonly resolve: (answer: Message) => void;
  readonly reject: (err: unknown) => void;
  readonly onAbort: () => void;
}

/** The calls a serving thread has handed to the main thread and not yet had answered. */
export class MainThreadCalls {
  readonly #outbox: Outbox<HandedCall | HandedCancel>;
  readonly #pending = new Map<number, Pending>();
  #next = 0;

  /** `post` sends messages to the main thread (the thread's parent port). */
  constructor(post: (messages: (HandedCall | HandedCancel)[]) => void) {
    this.#outbox = new Outbox(post);
  }

  /** Calls waiting for their answer. */
  get inFlight(): number {
    return this.#pending.size;
  }

  /**
   * The implementation of `method` (at request path `path`): the main thread's, handed
   * over. `prepare`, for a plan, runs its ingress here (execute-plan.ts), so the main
   * thread gets the event to log with the request's bytes.
   */
  implementation<I extends DescMessage, O extends DescMessage>(
    path: string,
    method: DescMethodUnary<I, O>,
    prepare?: (req: MessageShape<I>, actor: Actor) => PreparedPlan | undefined,
  ): (req: MessageShape<I>, ctx: HandlerContext) => Promise<MessageShape<O>> {
    const { input, output } = method;
    return (req, ctx) => {
      // A call without an actor is refused as the implementation's first step refuses it.
      const actor = requireActor(ctx.values);
      const body = ownBytes(requestBody(ctx) ?? toBinary(input, req));
      const prepared = prepare?.(req, actor);
      const id = this.#next++;
      return new Promise<MessageShape<O>>((resolve, reject) => {
        const onAbort = () =>
          this.#outbox.push({ kind: "cancel", id, error: reasonToWire(ctx.signal.reason) });
        this.#pending.set(id, {
          output,
          ctx,
          resolve: resolve as (answer: Message) => void,
          reject,
          onAbort,
        });
        const call: HandedCall = {
          kind: "call",
          id,
          path,
          body,
          actor: { id: actor.id, groups: [...actor.groups], admin: actor.admin },
          protocol: ctx.protocolName as HandedCall["protocol"],
          url: ctx.url,
          timeoutMs: ctx.timeoutMs(),
        };
        this.#outbox.push(prepared === undefined ? call : { ...call, prepared });
        if (ctx.signal.aborted) onAbort();
        else ctx.signal.addEventListener("abort", onAbort, { once: true });
      });
    };
  }

  /** Settles the call `message` answers (a call no longer waiting is ignored). */
  settle(message: HandedAnswer | HandedFailure): void {
    const call = this.#pending.get(message.id);
    if (call === undefined) return;
    this.#pending.delete(message.id);
    call.ctx.signal.removeEventListener("abort", call.onAbort);
    if (message.header !== undefined)
      for (const [k, v] of message.header) call.ctx.responseHeader.append(k, v);
    if (message.trailer !== undefined)
      for (const [k, v] of message.trailer) call.ctx.responseTrailer.append(k, v);
    if (message.kind === "answer") call.resolve(encodedAnswer(call.output, message.bytes));
    else call.reject(errorFromWire(message.error));
  }
}

/**
 * `bytes` in an `ArrayBuffer` of their own. A request body read from HTTP/2 is a view of
 * the session's read buffer (several KB, every frame of one read), and a message port
 * clones a view's whole buffer: copying the few bytes here is cheaper on both threads.
 */
export function ownBytes(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes
    : bytes.slice();
}
