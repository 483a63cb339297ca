/**
 * The end of a logged write's wait for its outcome (a plan, an access change, a mailbox
 * change): the call's deadline passed or its client went away while the applier had not
 * applied it yet. The write is logged and will be applied whatever the call does, so the
 * answer says so, with the key to read its outcome by.
 */

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ReceiptSchema } from "../../generated/entdb/v1/values_pb.js";
import type { ApplyProgress } from "../engine.ts";
import type { WalPosition } from "../wal/wal.ts";
import { loggedOutcomeUnknown } from "./api-errors.ts";

/** What identifies a logged write to its caller. */
export interface LoggedWrite {
  readonly tenant: string;
  readonly key: string;
  readonly position: WalPosition;
  readonly schemaVersion: number;
}

/**
 * The error of a write that is logged but whose outcome is not known yet: `code` is the
 * call's (DEADLINE_EXCEEDED, CANCELED), or DEADLINE_EXCEEDED for a change the applier
 * did not apply within the server's own wait. The message names the key and how to read
 * the outcome; the `Receipt` detail (`applied: false`) carries the key and the position.
 */
export function loggedWriteError(code: Code, why: string, write: LoggedWrite): ConnectError {
  const { tenant, key, position } = write;
  return new ConnectError(
    `${why}; the write is logged at ${position.partition}:${position.offset} and will be applied. Send it again with idempotency key '${key}' (it is answered its outcome, never applied twice) or read the outcome with GetReceipt.`,
    code,
    undefined,
    [
      {
        desc: ReceiptSchema,
        value: create(ReceiptSchema, {
          tenant,
          position: { partition: position.partition, offset: BigInt(position.offset) },
          applied: false,
          idempotencyKey: key,
          replayed: false,
          schemaVersion: write.schemaVersion,
        }),
      },
    ],
  );
}

/**
 * What a write's wait does when `waitFor(…, signal)` rejected with `err`. The call's
 * deadline or its client leaving (the signal's reason; the library aborts an HTTP/1.1
 * client's call with an AbortError, which is CANCELED) ends the call with
 * {@link loggedWriteError}; the waiter is gone already. The shutdown (UNAVAILABLE) does
 * not: a write received before SIGTERM still answers its outcome, so the wait goes on
 * without the signal until `deadlineMs` (`Date.now()` based). Any other error (a server
 * of a cluster that lost the tenant's partition answers its redirect) is rethrown with
 * the write's key, by {@link loggedOutcomeUnknown}.
 */
export function waitAfterAbort(
  err: unknown,
  signal: AbortSignal,
  progress: ApplyProgress,
  write: LoggedWrite,
  deadlineMs: number,
): Promise<boolean> {
  if (!signal.aborted || err !== signal.reason) throw loggedOutcomeUnknown(err, write.key);
  const reason = ConnectError.from(err, Code.Canceled);
  if (reason.code === Code.DeadlineExceeded)
    throw loggedWriteError(
      Code.DeadlineExceeded,
      `The call's deadline passed before tenant '${write.tenant}' applied the write`,
      write,
    );
  if (reason.code === Code.Canceled)
    throw loggedWriteError(
      Code.Canceled,
      `The client went away before tenant '${write.tenant}' applied the write`,
      write,
    );
  return progress
    .waitFor(write.tenant, write.position, Math.max(0, deadlineMs - Date.now()))
    .catch((later: unknown) => {
      throw loggedOutcomeUnknown(later, write.key);
    });
}
