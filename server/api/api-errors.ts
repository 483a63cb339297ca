/**
 * Maps errors from the store, the WAL and the applier's recorded failures to Connect
 * errors. Internal errors reach the client sanitized; their detail goes to the log.
 */

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { type WriteFailure, WriteFailureSchema } from "../../generated/entdb/v1/entdb_pb.js";
import { edgeById, nodeById, type Schema } from "../../schema/index.ts";
import { InternalError } from "../internal-error.ts";
import { WalError } from "../wal/wal.ts";

/** Connect code from the snake_case name a WriteFailure records ("already_exists"). */
/**
 * Refuses a write whose caller is gone, called just before it is logged: a call its client
 * cancelled, or whose deadline passed, is answered already (CANCELED, DEADLINE_EXCEEDED),
 * and logging it would apply work nobody waits for, under a key the client thinks is free.
 * Once appended, a write is applied whatever its signal says (a retry with its key then
 * answers its outcome). The shutdown aborts signals too (UNAVAILABLE): a write already
 * received then still runs, as SIGTERM finishes the calls in flight.
 */
export function refuseAbandonedWrite(signal: AbortSignal): void {
  if (!signal.aborted) return;
  const reason = ConnectError.from(signal.reason, Code.Canceled);
  if (reason.code === Code.DeadlineExceeded || reason.code === Code.Canceled) throw reason;
}

/**
 * The error of a write that was logged but whose apply wait ended without its outcome:
 * the server stopped serving its tenant (a server of a cluster lost the partition) while
 * it waited. The code, headers and details stay those of `err` (a redirect stays a
 * redirect, with the owner); the message adds that the write may have been applied and
 * names its key, so the same request sent again (to the owner) answers its outcome and
 * never applies it twice. Errors that are not ConnectErrors pass through unchanged.
 */
export function loggedOutcomeUnknown(err: unknown, key: string): unknown {
  if (!(err instanceof ConnectError)) return err;
  const unknown = new ConnectError(
    `${err.rawMessage} The write was logged with idempotency key '${key}' and may have been applied: send it again with that key, which answers its outcome and never applies it twice.`,
    err.code,
    err.metadata,
    undefined,
    err,
  );
  unknown.details.push(...err.details);
  return unknown;
}

export function codeFromName(name: string): Code {
  const camel = name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
  const key = camel.charAt(0).toUpperCase() + camel.slice(1);
  const code = (Code as unknown as Record<string, Code | undefined>)[key];
  return typeof code === "number" ? code : Code.Internal;
}

/**
 * The ConnectError for a plan the applier rejected. The applier records ids only
 * (no name reaches disk); the answer adds the step and the current names, so the
 * caller sees e.g. "(operation 0: Team.slug)".
 */
export function errorFromFailure(failure: WriteFailure, schema: Schema): ConnectError {
  const message = `${failure.message} (${failureSite(failure, schema)})`;
  return new ConnectError(message, codeFromName(failure.code), undefined, [
    { desc: WriteFailureSchema, value: create(WriteFailureSchema, { ...failure, message }) },
  ]);
}

/** "operation 2: Task.title", naming what the schema calls the failing type and field. */
export function failureSite(failure: WriteFailure, schema: Schema): string {
  const type = nodeById(schema, failure.typeId) ?? edgeById(schema, failure.typeId);
  const field = type?.fields.find((f) => f.id === failure.fieldId);
  const where = type ? `${type.name}${field ? `.${field.name}` : ""}` : "";
  return where
    ? `operation ${failure.operationIndex}: ${where}`
    : `operation ${failure.operationIndex}`;
}

const STORE_CODES: Record<string, Code> = {
  "invalid-tenant": Code.InvalidArgument,
  "invalid-argument": Code.InvalidArgument,
  "too-many": Code.InvalidArgument,
  "failed-precondition": Code.FailedPrecondition,
  "not-found": Code.NotFound,
  "tenant-unavailable": Code.Unavailable,
};

/**
 * A handler's guard: runs its body and turns whatever it throws into a ConnectError
 * ({@link toConnectError}, `log` receiving what is not a known error).
 */
export function handlerGuard(
  log: (err: unknown) => void,
): <T>(body: () => Promise<T> | T) => Promise<T> {
  return async (body) => {
    try {
      return await body();
    } catch (err) {
      throw toConnectError(err, log);
    }
  };
}

/**
 * A read handler's guard: as {@link handlerGuard}, for a body that usually answers at once
 * (a read without `after_position`). Its answer is returned as it is, not wrapped in a
 * promise, and what it throws is thrown (made a ConnectError) rather than returned as a
 * rejection; a body that returns a promise (a read that waits for a position) gets one
 * whose rejection is made a ConnectError. Whoever calls a handler awaits what it returns
 * and catches what it throws: the Connect library's path, the fast paths (unary-call.ts
 * `intercepted`) and a serving thread's handed calls all do. A call answered at once
 * then allocates no promise and no async frame for its handler.
 */
export function handlerGuardNow(
  log: (err: unknown) => void,
): <T>(body: () => Promise<T> | T) => Promise<T> | T {
  const rethrow = (err: unknown): never => {
    throw toConnectError(err, log);
  };
  return (body) => {
    let answer: ReturnType<typeof body>;
    try {
      answer = body();
    } catch (err) {
      return rethrow(err);
    }
    return answer instanceof Promise ? answer.then(undefined, rethrow) : answer;
  };
}

/**
 * Turns any error thrown inside a handler into a ConnectError. Known errors keep
 * their message; anything else becomes INTERNAL with a generic message, and
 * `log` receives the original.
 */
export function toConnectError(err: unknown, log: (err: unknown) => void): ConnectError {
  if (err instanceof ConnectError) return err;
  if (err instanceof WalError) {
    if (err.code === "unavailable")
      return new ConnectError(`The log is unavailable: ${err.message}`, Code.Unavailable);
    if (err.code === "closed")
      return new ConnectError(
        "The server is shutting down; retry on another node or later.",
        Code.Unavailable,
      );
    if (err.code === "too-large" && err.size !== undefined)
      return new ConnectError(
        `The write is ${err.size.bytes} bytes as logged; the log takes at most ${err.size.maxBytes} bytes per write. Split it into smaller plans, or keep large values (files, images) outside EntDB and store a reference.`,
        Code.InvalidArgument,
      );
    if (err.code === "too-large" || err.code === "invalid")
      return new ConnectError(err.message, Code.InvalidArgument);
  }
  // An InternalError's code names the broken promise for the log; it never maps.
  if (
    !(err instanceof InternalError) &&
    err instanceof Error &&
    "code" in err &&
    typeof err.code === "string"
  ) {
    const code = STORE_CODES[err.code];
    if (code !== undefined) return new ConnectError(err.message, code);
  }
  log(err);
  return new ConnectError("Internal error; the server logged the details.", Code.Internal);
}
