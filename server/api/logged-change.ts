/**
 * The write path of the changes that are not plans: access changes (tenants, members,
 * groups, shares) and mailbox state changes. Like a plan, a change is logged as a WAL
 * event under an idempotency key and answered with a receipt once the applier decided
 * it; a retry with the same key gets the first decision, and a different change under a
 * used key is FAILED_PRECONDITION (`idempotency.ts`).
 */

import { create, toBinary } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { WriteFailureSchema } from "../../generated/entdb/v1/entdb_pb.js";
import {
  type AccessChange,
  AccessChangeSchema,
  type MailboxChange,
  MailboxChangeSchema,
  WalEventSchema,
} from "../../generated/entdb/v1/wal_pb.js";
import type { PlanOutcome } from "../engine.ts";
import { InternalError } from "../internal-error.ts";
import { codeFromName, refuseAbandonedWrite } from "./api-errors.ts";
import type { Actor } from "./auth.ts";
import { type ApiDeps, fromWalPosition } from "./entdb-service.ts";
import { autoIdempotencyKey, checkSameRequest, digestHex, sha256 } from "./idempotency.ts";
import { invalidArgument } from "./ingress/ingress-error.ts";
import { checkText } from "./ingress/prepare-plan.ts";
import { appliedOutcome, keyTakenError, outcomeFor } from "./outcome-access.ts";
import { appendWithin, loggedWriteError, waitAfterAbort } from "./write-wait.ts";

/** A change that is logged as its own kind of WAL event. */
export type LoggedChange =
  | { readonly case: "access"; readonly value: AccessChange }
  | { readonly case: "mailbox"; readonly value: MailboxChange };

/**
 * Logs `change` for `tenant` and answers with its receipt once applied. `signal` is the
 * call's: a change whose caller is gone before it is logged is refused, not logged.
 */
export async function submitLoggedChange(
  deps: ApiDeps,
  actor: Actor,
  tenant: string,
  keyText: string,
  change: LoggedChange,
  signal: AbortSignal,
) {
  if (keyText.length > 256)
    throw invalidArgument(`The idempotency key is ${keyText.length} characters; the limit is 256.`);
  checkText(keyText, "The idempotency key");
  const key = keyText === "" ? autoIdempotencyKey() : keyText;
  const digest = sha256(
    change.case === "access"
      ? toBinary(AccessChangeSchema, change.value)
      : toBinary(MailboxChangeSchema, change.value),
  );
  const earlier = keyText === "" ? undefined : deps.reader.outcomeByKey(tenant, key);
  if (earlier && !outcomeFor(earlier, actor, deps.openAccess)) throw keyTakenError(key, tenant);
  if (earlier) {
    checkSameRequest(earlier, digestHex(digest), key, "change");
    return respond(earlier, tenant, key, true);
  }
  const event = create(WalEventSchema, {
    tenant,
    actor: actor.id,
    idempotencyKey: key,
    schemaVersion: deps.served().version,
    ingressTime: timestampNow(),
    actorAdmin: actor.admin,
    openAccess: deps.openAccess,
    actorGroups: [...actor.groups],
    body: change,
    planDigest: digest,
  });
  refuseAbandonedWrite(signal);
  const [position] = await appendWithin(
    deps.wal.append([{ tenant, payload: toBinary(WalEventSchema, event) }]),
    signal,
    tenant,
    key,
    undefined,
  );
  if (!position) throw new InternalError("invariant", "append returned no position");
  // The call's deadline or its client leaving ends the wait (and drops the waiter); the
  // change is applied all the same, and the error says how to read its outcome.
  const { applyWaitMs } = deps.limits;
  const write = { tenant, key, position, schemaVersion: event.schemaVersion };
  const waitUntil = Date.now() + applyWaitMs;
  const applied = await deps.progress
    .waitFor(tenant, position, applyWaitMs, signal)
    .catch((err: unknown) => waitAfterAbort(err, signal, deps.progress, write, waitUntil));
  if (!applied) {
    throw loggedWriteError(
      Code.DeadlineExceeded,
      `Tenant '${tenant}' has not applied the change within ${applyWaitMs} ms`,
      write,
    );
  }
  const logged = { tenant, key, position, actor, digest };
  const { outcome, replayed } = appliedOutcome(deps, logged, "change");
  return respond(outcome, tenant, key, replayed);
}

function respond(outcome: PlanOutcome, tenant: string, key: string, replayed: boolean) {
  if (outcome.failure) {
    const f = outcome.failure;
    throw new ConnectError(f.message, codeFromName(f.code), undefined, [
      { desc: WriteFailureSchema, value: f },
    ]);
  }
  return {
    receipt: {
      tenant,
      position: fromWalPosition(outcome.position),
      applied: true,
      idempotencyKey: key,
      replayed,
      schemaVersion: outcome.schemaVersion,
    },
  };
}
