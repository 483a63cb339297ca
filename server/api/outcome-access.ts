/**
 * Who is answered a recorded plan outcome. An outcome names the ids a plan created or
 * changed and, when the plan failed, the applier's message: what the principal that logged
 * the plan may read, not what another member may. So an outcome is answered only to the
 * principal that logged it (`PlanOutcome.actor`, the event's actor), and in dev mode to
 * every caller. Tenant owners, admins and server administrators are not answered another
 * principal's outcome: managing members does not read content.
 *
 * For any other caller the outcome does not exist: GetReceipt answers the NOT_FOUND of a
 * key never used, and ExecutePlan under the key is refused before anything is logged,
 * without the outcome, its position or whether the plans are the same. Idempotency keys
 * stay one namespace per tenant, so that refusal does tell the caller the key is taken.
 * Outcomes recorded before the actor was kept are answered to nobody but in dev mode; a
 * rebuild from the log records their actor.
 */

import { Code, ConnectError } from "@connectrpc/connect";
import type { PlanOutcome } from "../engine.ts";
import { InternalError } from "../internal-error.ts";
import type { WalPosition } from "../wal/wal.ts";
import type { Actor } from "./auth.ts";
import type { ApiDeps } from "./entdb-service.ts";
import { checkSameRequest, digestHex } from "./idempotency.ts";

/** `outcome` when `actor` may be answered it, otherwise undefined (as for no outcome). */
export function outcomeFor(
  outcome: PlanOutcome | undefined,
  actor: Actor,
  openAccess: boolean,
): PlanOutcome | undefined {
  if (outcome === undefined || openAccess) return outcome;
  return outcome.actor === actor.id ? outcome : undefined;
}

/** The refusal of a plan or change logged under a key another principal already used. */
export function keyTakenError(key: string, tenant: string): ConnectError {
  return new ConnectError(
    `Idempotency key '${key.slice(0, 256)}' is already used in tenant '${tenant}' by another principal; send a new key.`,
    Code.FailedPrecondition,
  );
}

/**
 * The outcome recorded under `key` once the plan or change this caller logged at
 * `position` is applied, and whether it is another's: a concurrent request with the same
 * key may have been logged first, and its outcome stands, answered only if `actor` may
 * read it and it was the same request (`digest`).
 */
export function appliedOutcome(
  deps: Pick<ApiDeps, "progress" | "reader" | "openAccess">,
  logged: {
    readonly tenant: string;
    readonly key: string;
    readonly position: WalPosition;
    readonly actor: Actor;
    readonly digest: Uint8Array;
  },
  what: "plan" | "change",
): { readonly outcome: PlanOutcome; readonly replayed: boolean } {
  const { tenant, key, position, actor, digest } = logged;
  const outcome = deps.progress.recentOutcome(tenant, key) ?? deps.reader.outcomeByKey(tenant, key);
  if (!outcome)
    throw new InternalError(
      "invariant",
      `applied event ${position.partition}:${position.offset} recorded no outcome`,
    );
  const replayed =
    outcome.position.offset !== position.offset ||
    outcome.position.partition !== position.partition;
  if (replayed && !outcomeFor(outcome, actor, deps.openAccess)) throw keyTakenError(key, tenant);
  if (replayed) checkSameRequest(outcome, digestHex(digest), key, what);
  return { outcome, replayed };
}
