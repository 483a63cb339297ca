/**
 * The end of a write's call before its outcome (a plan, an access change, a mailbox
 * change): the call's deadline passed or its client went away while the log had not
 * acknowledged the write yet (it may be logged later, and then applied), or while the
 * applier had not applied it yet (it is logged and will be applied whatever the call
 * does). The answer says which, with the key to send it again or read its outcome by.
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

/**
 * `append` (a write's append to the log), or the call's end when `signal` aborts first
 * with the call's deadline or its client leaving: then it rejects with that code
 * (DEADLINE_EXCEEDED, CANCELED) and a message saying the write may have been logged,
 * with its key. The append goes on (a log that retries through an outage, as kafkajs
 * does, may take far longer than the call): a record it logs later is applied like any
 * other, and a retry with the key answers that outcome, never applying it twice. The
 * shutdown (UNAVAILABLE) does not end the wait: a write received before SIGTERM still
 * answers its outcome. `settled` is called once the append itself ended, either way.
 */
export function appendWithin<T>(
  append: Promise<T>,
  signal: AbortSignal,
  tenant: string,
  key: string,
  settled: (() => void) | undefined,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      const { code } = ConnectError.from(signal.reason, Code.Canceled);
      if (code !== Code.DeadlineExceeded && code !== Code.Canceled) return;
      const why =
        code === Code.DeadlineExceeded ? "The call's deadline passed" : "The client went away";
      reject(
        new ConnectError(
          `${why} before the log acknowledged the write for tenant '${tenant}'; it may have been logged, and then it will be applied. Send it again with idempotency key '${key}' (it is answered its outcome, never applied twice).`,
          code,
        ),
      );
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    append.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        settled?.();
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        settled?.();
        reject(err);
      },
    );
  });
}
