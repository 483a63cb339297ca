/**
 * `ExecutePlan`: a plan checked against the served schema, logged, applied, answered with
 * its outcome (DESIGN.md contracts 4, 6 and 7). Handlers append, the applier writes.
 *
 * Ingress (the checks against the schema, ids, defaults, the digest and the log event's
 * bytes) depends on nothing but the request, the caller and the served version, so it
 * may run elsewhere: a serving thread (`--serve-threads`) runs it with
 * {@link prepareHandedPlan} and hands the main thread a {@link PreparedPlan}, which
 * {@link PlanHandlers.executePrepared} logs as `executePlan` would have logged the plan
 * itself. What depends on the main thread's state stays here: the tenant guard, the
 * idempotency key's earlier outcome, the version served at the append, the log and the
 * applier.
 */

import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  type ExecutePlanRequest,
  type ExecutePlanResponse,
  ExecutePlanResponseSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import type { WalEvent } from "../../generated/entdb/v1/wal_pb.js";
import { decodeWalEvent } from "../apply/index.ts";
import type { PlanOutcome } from "../engine.ts";
import { InternalError } from "../internal-error.ts";
import type { WalPosition } from "../wal/wal.ts";
import { errorFromFailure, handlerGuard, refuseAbandonedWrite } from "./api-errors.ts";
import { type Actor, requireActor } from "./auth.ts";
import type { ApiDeps } from "./entdb-service.ts";
import { autoIdempotencyKey, checkSameRequest, digestHex } from "./idempotency.ts";
import { checkText, planDigest, preparePlan } from "./ingress/prepare-plan.ts";
import { encodeWalEvent } from "./ingress/wal-event-wire.ts";
import { appliedOutcome, keyTakenError, outcomeFor } from "./outcome-access.ts";
import type { TenantGuard } from "./tenant-guard.ts";
import { appendWithin, waitAfterAbort } from "./write-wait.ts";

/**
 * A plan whose ingress ran before it reached the thread that logs it: the event to log,
 * as bytes (which say its tenant, key, version and digest), and what the answer needs of
 * the request besides. Structured-clone data (it crosses a message port): one byte array
 * and two flags, since a port's clone costs per field and per array.
 */
export interface PreparedPlan {
  /** The `WalEvent`'s bytes, as the log takes them. */
  readonly payload: Uint8Array;
  /** Whether the request carried its own idempotency key (else the event's was minted for it). */
  readonly keyed: boolean;
  readonly noWait: boolean;
}

/**
 * The fewest operations a plan has for a serving thread to run its ingress. A smaller
 * plan is handed as the request's bytes and run whole by the main thread: for plans of
 * one or two steps, the main thread's saving did not show in alternated runs while the
 * serving thread's added work did; for large plans the main thread's did
 * (docs/performance-log.md, item 37).
 */
export const HANDED_INGRESS_MIN_OPERATIONS = 10;

/** What ingress of a plan needs besides the request: the served version and the server's settings. */
export type PlanIngressDeps = Pick<ApiDeps, "served" | "checkTenant" | "limits" | "openAccess">;

/**
 * Runs ingress of `req` for `actor` as `executePlan` would, or answers undefined when
 * any step refuses it, or the plan is smaller than {@link HANDED_INGRESS_MIN_OPERATIONS}:
 * then the plan is run whole where it is logged, which answers a refusal exactly as it
 * would (the guard and the key's earlier outcome come first there).
 */
export function prepareHandedPlan(
  req: ExecutePlanRequest,
  actor: Actor,
  deps: PlanIngressDeps,
): PreparedPlan | undefined {
  try {
    if (req.operations.length < HANDED_INGRESS_MIN_OPERATIONS || req.tenant === "")
      return undefined;
    const tenant = deps.checkTenant(req.tenant);
    // The main thread's guard takes the event's tenant as the request's: they must check alike.
    if (deps.checkTenant(tenant) !== tenant) return undefined;
    const keyed = req.idempotencyKey !== "";
    const { payload } = ingress(req, tenant, keyed ? req.idempotencyKey : "", actor, deps);
    return { payload, keyed, noWait: req.noWait };
  } catch {
    return undefined;
  }
}

/** The plan's log event and its bytes (`key` "" mints one); throws ingress's INVALID_ARGUMENT. */
function ingress(
  req: ExecutePlanRequest,
  tenant: string,
  requestKey: string,
  actor: Actor,
  deps: PlanIngressDeps,
): { readonly event: WalEvent; readonly payload: Uint8Array } {
  const key = requestKey === "" ? autoIdempotencyKey() : requestKey;
  const served = deps.served();
  const event = preparePlan(req.operations, {
    schema: served.model,
    schemaVersion: served.version,
    tenant,
    actor: actor.id,
    idempotencyKey: key,
    limits: { maxOperations: deps.limits.maxOperations, maxIdempotencyKeyLength: 256 },
    actorAdmin: actor.admin,
    openAccess: deps.openAccess,
    actorGroups: actor.groups,
  });
  return { event, payload: encodeWalEvent(event) };
}

/** The two ways a plan reaches its log. */
export interface PlanHandlers {
  executePlan(req: ExecutePlanRequest, ctx: HandlerContext): Promise<ExecutePlanResponse>;
  /**
   * Logs a plan whose ingress ran on a serving thread, answering as `executePlan` would
   * answer its request (`request()` parses it): the guard and the key's earlier outcome
   * first, then, if the version served now is not the one the plan was checked against
   * (a push came in between), the request runs whole through `executePlan` against the
   * version served now.
   */
  executePrepared(
    plan: PreparedPlan,
    ctx: HandlerContext,
    request: () => ExecutePlanRequest,
  ): Promise<ExecutePlanResponse>;
}

/** Creates both, over `deps` and the API's tenant guard. */
export function createPlanHandlers(deps: ApiDeps, guardTenant: TenantGuard): PlanHandlers {
  const { limits, reader } = deps;

  /** Runs a handler body, mapping every error to a Connect error. */
  const guard = handlerGuard(deps.logError);

  const respond = (
    outcome: PlanOutcome,
    tenant: string,
    key: string,
    replayed: boolean,
  ): ExecutePlanResponse => {
    if (outcome.failure) throw errorFromFailure(outcome.failure, deps.served().model);
    // Literals, not `create` (which walks each message's fields): every field is given.
    return {
      $typeName: "entdb.v1.ExecutePlanResponse",
      receipt: {
        $typeName: "entdb.v1.Receipt",
        tenant,
        position: {
          $typeName: "entdb.v1.LogPosition",
          partition: outcome.position.partition,
          offset: BigInt(outcome.position.offset),
        },
        applied: true,
        idempotencyKey: key,
        replayed,
        schemaVersion: outcome.schemaVersion,
      },
      results: [...outcome.results],
    };
  };

  /**
   * The outcome an earlier plan under the request's own key recorded, answered again;
   * undefined when there is none. Throws when another principal holds the key or the
   * plan is not the one logged under it.
   */
  const earlierAnswer = (
    tenant: string,
    key: string,
    actor: Actor,
    digest: () => Uint8Array,
  ): ExecutePlanResponse | undefined => {
    const earlier = reader.outcomeByKey(tenant, key);
    if (earlier === undefined) return undefined;
    if (!outcomeFor(earlier, actor, deps.openAccess)) throw keyTakenError(key, tenant);
    checkSameRequest(earlier, digestHex(digest()), key, "plan");
    return respond(earlier, tenant, key, true);
  };

  /**
   * Logs `payload` (the bytes of an event checked against `version`), waits for the
   * applier unless `noWait`, and answers its outcome. `event`, when given, is what
   * `payload` encodes: the applier takes it instead of decoding the bytes again.
   */
  const logAndAnswer = async (
    tenant: string,
    key: string,
    actor: Actor,
    noWait: boolean,
    version: number,
    payload: Uint8Array,
    digest: Uint8Array,
    event: WalEvent | undefined,
    signal: AbortSignal,
  ): Promise<ExecutePlanResponse> => {
    refuseAbandonedWrite(signal);
    // The applier takes this event rather than decoding `payload` (built-events.ts);
    // released when the append fails or the wait for the apply ends.
    const release =
      noWait || event === undefined ? undefined : deps.builtEvents?.add(tenant, payload, event);
    const endTimer = deps.startAppendTimer?.();
    // try blocks, not `.finally().catch()` here and `.finally()` below: three promises
    // and three closures less a plan, and those `finally` makes inside.
    // The call's deadline or its client leaving ends the wait for the log too: a log
    // that retries through an outage (Kafka) may take far longer than the call.
    let position: WalPosition | undefined;
    try {
      [position] = await appendWithin(
        deps.wal.append([{ tenant, payload }]),
        signal,
        tenant,
        key,
        endTimer,
      );
    } catch (err) {
      release?.();
      throw err;
    }
    if (!position) throw new InternalError("invariant", "append returned no position");
    // The receipt of a plan logged but not (yet) applied is made only for the answers
    // that carry it: most plans answer their outcome's.
    if (noWait) return loggedAnswer(tenant, position, key, version);

    // The call's deadline or its client leaving ends the wait (and drops the waiter); the
    // write is applied all the same, and the error says how to read its outcome.
    const waitUntil = Date.now() + limits.applyWaitMs;
    let applied: boolean;
    try {
      applied = await deps.progress.waitFor(tenant, position, limits.applyWaitMs, signal);
    } catch (err) {
      const write = { tenant, key, position, schemaVersion: version };
      applied = await waitAfterAbort(err, signal, deps.progress, write, waitUntil);
    } finally {
      release?.();
    }
    if (!applied) return loggedAnswer(tenant, position, key, version);
    const logged = { tenant, key, position, actor, digest };
    const { outcome, replayed } = appliedOutcome(deps, logged, "plan");
    return respond(outcome, tenant, key, replayed);
  };

  const executePlan = (req: ExecutePlanRequest, ctx: HandlerContext) =>
    guard(async () => {
      const actor = requireActor(ctx.values);
      const tenant = guardTenant(actor, req.tenant, "write");
      const key = req.idempotencyKey === "" ? autoIdempotencyKey() : req.idempotencyKey;
      // Before the lookup: SQLite would match such a key as the text with U+FFFD.
      checkText(key, "The idempotency key");
      if (req.idempotencyKey !== "") {
        const earlier = earlierAnswer(tenant, key, actor, () => planDigest(req.operations));
        if (earlier) return earlier;
      }
      const { event, payload } = ingress(req, tenant, key, actor, deps);
      return logAndAnswer(
        tenant,
        key,
        actor,
        req.noWait,
        event.schemaVersion,
        payload,
        event.planDigest,
        event,
        ctx.signal,
      );
    });

  return {
    executePlan,
    executePrepared: (plan, ctx, request) =>
      guard(async () => {
        // Decoded once, here: the applier takes this event rather than decoding it again.
        const event = decodeWalEvent(plan.payload);
        if (event.body.case !== "plan")
          throw new InternalError("invariant", "a prepared plan's bytes hold another event");
        const actor = requireActor(ctx.values);
        // The event's tenant is the request's, normalized, which the guard takes as it is.
        const tenant = guardTenant(actor, event.tenant, "write");
        const key = event.idempotencyKey;
        if (plan.keyed) {
          const earlier = earlierAnswer(tenant, key, actor, () => event.planDigest);
          if (earlier) return earlier;
        }
        // Checked against another version than the one served now (a push came in
        // between): checked again, against this one, as if it had come to this thread.
        if (deps.served().version !== event.schemaVersion || tenant !== event.tenant)
          return executePlan(request(), ctx);
        return logAndAnswer(
          tenant,
          key,
          actor,
          plan.noWait,
          event.schemaVersion,
          plan.payload,
          event.planDigest,
          event,
          ctx.signal,
        );
      }),
  };
}

function loggedAnswer(
  tenant: string,
  position: WalPosition,
  idempotencyKey: string,
  schemaVersion: number,
): ExecutePlanResponse {
  return create(ExecutePlanResponseSchema, {
    receipt: {
      tenant,
      position: { partition: position.partition, offset: BigInt(position.offset) },
      applied: false,
      idempotencyKey,
      replayed: false,
      schemaVersion,
    },
  });
}
