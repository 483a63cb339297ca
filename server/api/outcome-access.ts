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
import type { Actor } from "./auth.ts";

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
