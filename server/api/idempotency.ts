/**
 * An idempotency key names one request. Each logged plan or access change carries the
 * SHA-256 of the request as the client sent it (`WalEvent.plan_digest`), kept with its
 * outcome; a retry under the same key must carry the same digest to get that outcome.
 */

import { hash } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import type { PlanOutcome } from "../engine.ts";

/** SHA-256 of `bytes`, as `WalEvent.plan_digest` holds it. */
export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(hash("sha256", bytes, "buffer"));
}

/** A digest as stored with an outcome (lowercase hex). */
export function digestHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

/**
 * Refuses a retry of `key` that carries another request than the one recorded under it:
 * the first outcome answers only the same request, as payment APIs treat their keys.
 * Outcomes recorded before digests were kept are taken as they are. `what` names the
 * request in the message ("plan", "change").
 */
export function checkSameRequest(
  recorded: PlanOutcome,
  digest: string,
  key: string,
  what: "plan" | "change",
): void {
  if (recorded.planDigest === undefined || recorded.planDigest === digest) return;
  throw new ConnectError(
    `Idempotency key '${key.slice(0, 256)}' was already used for a different ${what} (logged at ${recorded.position.partition}:${recorded.position.offset}); a key names one ${what}. Send a new key for a new ${what}, or the same ${what} to get its outcome.`,
    Code.FailedPrecondition,
  );
}
