import { MessageChannel } from "node:worker_threads";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { errorToJsonBytes } from "@connectrpc/connect/protocol-connect";
import { afterEach, describe, expect, it } from "vitest";
import {
  EntDbService,
  type ExecutePlanRequest,
  ExecutePlanRequestSchema,
  ExecutePlanResponseSchema,
  WriteFailureSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import { type Actor, actorKey } from "../api/auth.ts";
import { CallValues } from "../api/call-values.ts";
import type { PreparedPlan } from "../api/execute-plan.ts";
import { encodeOutput } from "../api/output-encoding.ts";
import { createCallSignals, type FastMethod, handlerContext } from "../api/unary-call.ts";
import { createHandedCallRunner, type InFlight } from "./handed-call-runner.ts";
import { type HandedAnswer, type HandedFailure, Outbox } from "./handed-calls.ts";
import { MainThreadCalls, ownBytes } from "./main-thread-calls.ts";
import type { FromServingThread, ToServingThread } from "./thread-messages.ts";

const PATH = "/entdb.v1.EntDbService/ExecutePlan";
const method = EntDbService.method.executePlan;
const ALICE: Actor = { id: "user:alice", groups: ["group:eng"], admin: false };

/** The refusal the implementation below answers for tenant "taken". */
const takenError = () =>
  new ConnectError("Team slug 'a' is taken.", Code.AlreadyExists, undefined, [
    {
      desc: WriteFailureSchema,
      value: create(WriteFailureSchema, { code: "already_exists", reason: "UNIQUE_VIOLATION" }),
    },
  ]);

/**
 * The main thread's ExecutePlan for these tests: answers the actor and tenant it was
 * given, or waits for its call's signal (tenant "wait") and fails with its reason, or
 * refuses with a detail (tenant "taken").
 */
const impl = async (req: unknown, ctx: HandlerContext) => {
  const { tenant } = req as { tenant: string };
  const actor = ctx.values.get(actorKey);
  if (tenant === "wait") {
    await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
    throw ctx.signal.reason;
  }
  if (tenant === "taken") throw takenError();
  return {
    receipt: { tenant, idempotencyKey: `${actor?.id} ${actor?.groups.join(",")}`, applied: true },
  };
};
const target: FastMethod = { service: EntDbService, method, impl };

const channels: MessageChannel[] = [];
afterEach(() => {
  for (const c of channels.splice(0)) {
    c.port1.close();
    c.port2.close();
  }
});

/** A serving thread's calls and a main thread's runner, on the two ends of a real message channel. */
function link() {
  const channel = new MessageChannel();
  channels.push(channel);
  const shutdown = new AbortController();
  const logged: unknown[] = [];
  const prepared: PreparedPlan[] = [];
  const runner = createHandedCallRunner({
    method: (path) => (path === PATH ? target : undefined),
    // Answers the plan it was given, and the request parsed from the bytes handed with it.
    executePrepared: async (plan, ctx, request) => {
      prepared.push(plan);
      return impl(request(), ctx);
    },
    shutdownSignal: shutdown.signal,
    logError: (err) => logged.push(err),
  });
  const inFlight: InFlight = new Map();
  const answers = new Outbox<HandedAnswer | HandedFailure>((messages) =>
    channel.port2.postMessage({ kind: "handed", messages } satisfies ToServingThread),
  );
  let posted = 0;
  channel.port2.on("message", (m: FromServingThread) => {
    if (m.kind !== "handed") return;
    for (const h of m.messages) {
      posted++;
      if (h.kind === "call") runner.run(h, (a) => answers.push(a), inFlight);
      else runner.cancel(h, inFlight);
    }
  });
  const calls = new MainThreadCalls((messages) =>
    channel.port1.postMessage({ kind: "handed", messages } satisfies FromServingThread),
  );
  channel.port1.on("message", (m: ToServingThread) => {
    if (m.kind === "handed") for (const a of m.messages) calls.settle(a);
  });
  const startCall = createCallSignals(new AbortController().signal);
  /** Calls the handed implementation as the thread's fast path would. */
  const call = (
    tenant: string,
    actor: Actor | undefined,
    timeoutMs?: number,
    prepare?: (req: ExecutePlanRequest, actor: Actor) => PreparedPlan | undefined,
  ) => {
    const signal = startCall(timeoutMs);
    const values = new CallValues();
    if (actor !== undefined) values.set(actorKey, actor);
    const ctx = handlerContext(target, "grpc", `http://localhost${PATH}`, {}, signal, values);
    const req = create(ExecutePlanRequestSchema, { tenant });
    ctx.body = toBinary(ExecutePlanRequestSchema, req);
    const answer = calls.implementation(PATH, method, prepare)(req, ctx.context);
    return { answer, signal, ctx };
  };
  return { call, calls, inFlight, logged, posted: () => posted, prepared, shutdown };
}

describe("handed calls over a message port", () => {
  it("answers with the bytes the main thread's implementation encoded, for the actor the thread authenticated", async () => {
    const { call, calls, inFlight } = link();
    const { answer, signal } = call("t1", ALICE);
    const answered = await answer;
    signal.end();
    const expected = create(ExecutePlanResponseSchema, {
      receipt: { tenant: "t1", idempotencyKey: "user:alice group:eng", applied: true },
    });
    const bytes = encodeOutput(ExecutePlanResponseSchema, answered);
    expect(fromBinary(ExecutePlanResponseSchema, bytes)).toEqual(expected);
    expect(new Uint8Array(bytes)).toEqual(
      new Uint8Array(encodeOutput(ExecutePlanResponseSchema, expected)),
    );
    expect(calls.inFlight).toBe(0);
    expect(inFlight.size).toBe(0);
  });

  it("answers an error with its code, message and details as the main thread would", async () => {
    const { call } = link();
    const e = ConnectError.from(await call("taken", ALICE).answer.catch((err: unknown) => err));
    const direct = takenError();
    expect(e.code).toBe(Code.AlreadyExists);
    expect(errorToJsonBytes(e, undefined)).toEqual(errorToJsonBytes(direct, undefined));
    expect(e.findDetails(WriteFailureSchema)[0]?.reason).toBe("UNIQUE_VIOLATION");
  });

  it("refuses a call without an actor on the thread, handing nothing over", async () => {
    const { call, posted } = link();
    expect(() => call("t1", undefined)).toThrow(
      expect.objectContaining({ code: Code.Unauthenticated }),
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(posted()).toBe(0);
  });

  it("carries the deadline: the main thread's signal expires with DEADLINE_EXCEEDED", async () => {
    const { call } = link();
    const e = ConnectError.from(await call("wait", ALICE, 40).answer.catch((err: unknown) => err));
    expect(e.code).toBe(Code.DeadlineExceeded);
    expect(e.rawMessage).toBe("the operation timed out");
  });

  it("tells the main thread when the client went away: its call's signal is aborted as CANCELED", async () => {
    const { call, inFlight } = link();
    const { answer, signal } = call("wait", ALICE);
    const settled = answer.catch((err: unknown) => err);
    while (inFlight.size === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    signal.abort(new ConnectError("the client cancelled the call", Code.Canceled));
    const e = ConnectError.from(await settled);
    expect(e.code).toBe(Code.Canceled);
    expect(e.rawMessage).toBe("the client cancelled the call");
    expect(inFlight.size).toBe(0);
  });

  it("aborts the calls running on the main thread at its shutdown, as its own calls are", async () => {
    const { call, inFlight, shutdown } = link();
    const settled = call("wait", ALICE).answer.catch((err: unknown) => err);
    while (inFlight.size === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    shutdown.abort(new ConnectError("the server is shutting down", Code.Unavailable));
    expect(ConnectError.from(await settled).code).toBe(Code.Unavailable);
  });

  it("hands a plan's prepared event to the main thread byte for byte, with the request's bytes", async () => {
    const { call, prepared } = link();
    const payload = new Uint8Array(300).map((_, i) => (i * 7) & 0xff);
    const plan: PreparedPlan = { payload, keyed: true, noWait: false };
    const seen: [ExecutePlanRequest, Actor][] = [];
    const { answer, signal } = call("t1", ALICE, undefined, (req, actor) => {
      seen.push([req, actor]);
      return plan;
    });
    const answered = await answer;
    signal.end();
    expect(seen.map(([req, actor]) => [req.tenant, actor.id])).toEqual([["t1", ALICE.id]]);
    expect(prepared).toEqual([plan]);
    expect(prepared[0]?.payload).not.toBe(payload);
    // The request parsed on the main thread from the bytes handed with the plan.
    const bytes = encodeOutput(ExecutePlanResponseSchema, answered);
    expect(fromBinary(ExecutePlanResponseSchema, bytes).receipt?.tenant).toBe("t1");
  });

  it("runs the request whole on the main thread when the thread's ingress refused it", async () => {
    const { call, prepared } = link();
    const e = ConnectError.from(
      await call("taken", ALICE, undefined, () => undefined).answer.catch((err: unknown) => err),
    );
    expect(prepared).toEqual([]);
    expect(errorToJsonBytes(e, undefined)).toEqual(errorToJsonBytes(takenError(), undefined));
  });

  it("posts a request body in a buffer of its own, not the read buffer it is a view of", () => {
    const read = new Uint8Array(5_000).map((_, i) => i & 0xff);
    const body = read.subarray(93, 193);
    const own = ownBytes(body);
    expect(own.buffer.byteLength).toBe(100);
    expect([...own]).toEqual([...body]);
    const whole = new Uint8Array(100);
    expect(ownBytes(whole)).toBe(whole);
    expect(structuredClone(own).buffer.byteLength).toBe(100);
    expect(structuredClone(body).buffer.byteLength).toBe(5_000);
  });
});
