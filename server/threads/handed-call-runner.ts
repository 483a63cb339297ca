/**
 * The main thread's side of the calls a serving thread hands it without HTTP/2
 * (handed-calls.ts): runs each with the main thread's own implementation of its method
 * (the one its fast path would run, of the version served now), the request parsed from
 * its bytes and the actor the thread authenticated, or, for a plan whose ingress the
 * thread ran, logs its event (`executePrepared`, api/execute-plan.ts, which runs the
 * request whole if a version was pushed since), and posts back the answer's bytes or
 * the error. The thread ran the call's interceptors (metrics, schema skew) around it:
 * none runs here, so the call is counted once.
 *
 * The call's signal follows the main thread's shutdown and the call's deadline, and is
 * aborted when the thread says its client went away, as the main thread's own calls'
 * signals are. An answer is posted only once the implementation resolved: for a write,
 * once it is durable and applied (the commit counters in thread-state.ts are bumped
 * before the applier's waiters resume, so before this answer is posted).
 */

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { ExecutePlanRequest } from "../../generated/entdb/v1/entdb_pb.js";
import { actorKey } from "../api/auth.ts";
import { CallValues } from "../api/call-values.ts";
import type { PreparedPlan } from "../api/execute-plan.ts";
import { encodeOutput } from "../api/output-encoding.ts";
import {
  type CallContext,
  type CallSignal,
  createCallSignals,
  type FastMethod,
  handlerContext,
  internalError,
  parseInput,
} from "../api/unary-call.ts";
import {
  errorFromWire,
  errorToWire,
  HANDED_METHODS,
  type HandedAnswer,
  type HandedCall,
  type HandedCancel,
  type HandedFailure,
  headersToWire,
} from "./handed-calls.ts";

/** What the runner needs from the main thread. */
export interface HandedCallRunnerOptions {
  /** The main thread's fast-path method at a request path, of the version served now. */
  method(path: string): FastMethod | undefined;
  /**
   * Logs a plan whose ingress the thread ran (`HandedCall.prepared`), as the main
   * thread's `executePlan` would answer its request (`request()` parses it).
   */
  executePrepared(
    plan: PreparedPlan,
    ctx: HandlerContext,
    request: () => ExecutePlanRequest,
  ): Promise<unknown>;
  /** The main thread's API shutdown signal: its calls' signals follow it. */
  readonly shutdownSignal: AbortSignal;
  /** Receives an error that is not a ConnectError (answered as INTERNAL), as the metrics interceptor would. */
  logError(err: unknown): void;
  /**
   * Told of each plan handed over: whether the thread ran its ingress (`thread`) or the
   * main thread runs it whole (`main`), and, for one the thread prepared, when a version
   * pushed since made the main thread run it whole again (`again`).
   */
  countPlan?(how: "thread" | "main" | "again"): void;
  /** Test hook: awaited before a prepared plan is logged (a test pushes a version meanwhile). */
  beforePrepared?(): Promise<void>;
}

/** The request headers a handed call's context holds: none (the methods read none). */
const NO_HEADERS = Object.freeze({});

/** Runs the calls of the serving threads. */
export interface HandedCallRunner {
  /** Runs `call` and posts its answer with `post` (to the thread that handed it). */
  run(
    call: HandedCall,
    post: (answer: HandedAnswer | HandedFailure) => void,
    inFlight: InFlight,
  ): void;
  /** Aborts the signal of the call `cancel` names, if it is still running. */
  cancel(cancel: HandedCancel, inFlight: InFlight): void;
}

/** One serving thread's calls running here, by id. */
export type InFlight = Map<number, CallSignal>;

/** Creates the runner. */
export function createHandedCallRunner(options: HandedCallRunnerOptions): HandedCallRunner {
  const startCall = createCallSignals(options.shutdownSignal);
  const run = async (
    call: HandedCall,
    post: (answer: HandedAnswer | HandedFailure) => void,
    inFlight: InFlight,
  ): Promise<void> => {
    const signal = startCall(call.timeoutMs);
    inFlight.set(call.id, signal);
    let ctx: CallContext | undefined;
    try {
      const target = HANDED_METHODS.has(call.path) ? options.method(call.path) : undefined;
      if (target === undefined)
        throw new ConnectError(`${call.path} is not handed over`, Code.Unimplemented);
      const values = new CallValues().set(actorKey, call.actor);
      ctx = handlerContext(target, call.protocol, call.url, NO_HEADERS, signal, values);
      const { input } = target.method;
      const { prepared } = call;
      options.countPlan?.(prepared === undefined ? "main" : "thread");
      if (prepared !== undefined) await options.beforePrepared?.();
      const answer =
        prepared === undefined
          ? target.impl(parseInput(input, call.body), ctx.context)
          : options.executePrepared(prepared, ctx.context, () => {
              options.countPlan?.("again");
              return parseInput(input, call.body) as ExecutePlanRequest;
            });
      const output = create(target.method.output, (await answer) as never);
      const bytes = encodeOutput(target.method.output, output);
      const written = ctx.headersWritten();
      post(
        written === undefined
          ? { kind: "answer", id: call.id, bytes }
          : {
              kind: "answer",
              id: call.id,
              bytes,
              header: headersToWire(written.header),
              trailer: headersToWire(written.trailer),
            },
      );
    } catch (e) {
      if (!(e instanceof ConnectError)) options.logError(e);
      const error = errorToWire(e instanceof ConnectError ? e : internalError(e));
      const written = ctx?.headersWritten();
      post(
        written === undefined
          ? { kind: "failed", id: call.id, error }
          : {
              kind: "failed",
              id: call.id,
              error,
              header: headersToWire(written.header),
              trailer: headersToWire(written.trailer),
            },
      );
    } finally {
      signal.end();
      inFlight.delete(call.id);
    }
  };
  return {
    run(call, post, inFlight) {
      void run(call, post, inFlight).catch(options.logError);
    },
    cancel(cancel, inFlight) {
      inFlight.get(cancel.id)?.abort(errorFromWire(cancel.error));
    },
  };
}
