/**
 * An idempotency key names one request. Each logged plan or access change carries the
 * SHA-256 of the request as the client sent it (`WalEvent.plan_digest`), kept with its
 * outcome; a retry under the same key must carry the same digest to get that outcome.
 */

import { hash } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import type { PlanOutcome } from "../engine.ts";
import { mintNodeId } from "./ingress/node-id.ts";

/**
 * The key a request sent without one is logged under: `auto:` and a UUIDv7. Its
 * millisecond prefix makes the keys one server mints ascend, so their outcome rows
 * (`outcomes`, keyed by the idempotency key) are appended at the right edge of the
 * table's B-tree: a commit group writes one or two of its pages, where random keys
 * wrote one page per plan, each written again to the tenant's `-wal` file at every
 * commit and copied at every checkpoint (docs/performance-log.md, "The engine's per-write
 * cost", item 25).
 */
export function autoIdempotencyKey(): string {
  return `auto:${mintNodeId()}`;
}

/** SHA-256 of `bytes`, as `WalEvent.plan_digest` holds it. */
export function sha256(bytes: Uint8Array): Uint8Array {
  // A plain view of the digest's own 32-byte buffer, not a copy of it.
  const digest = hash("sha256", bytes, "buffer");
  return new Uint8Array(digest.buffer, digest.byteOffset, digest.byteLength);
}

/** A digest as stored with an outcome (lowercase hex). */
export function digestHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
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
