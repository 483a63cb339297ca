/**
 * Turns what a call threw into an `EntDbError`: the Connect code picks the class, and
 * the `WriteFailure` detail (which the server attaches to every rejected write and to
 * every invalid argument) adds the reason, the failing step and the field, named with
 * the client's property names when the client's schema knows the ids.
 */

import { Code, ConnectError } from "@connectrpc/connect";
import { type WriteFailure, WriteFailureSchema } from "../generated/entdb/v1/entdb_pb.js";
import {
  EntDbError,
  type EntDbErrorCode,
  type EntDbErrorOptions,
  InvalidArgumentError,
  NotFoundError,
  PermissionDeniedError,
  PreconditionFailedError,
  UnavailableError,
  UniqueViolationError,
  type WriteFailureInfo,
} from "./entdb-error.ts";
import { indexType, type SchemaMeta, typeById } from "./schema-meta.ts";

const CODE_NAMES: { readonly [code in Code]: EntDbErrorCode } = {
  [Code.Canceled]: "canceled",
  [Code.Unknown]: "unknown",
  [Code.InvalidArgument]: "invalid_argument",
  [Code.DeadlineExceeded]: "deadline_exceeded",
  [Code.NotFound]: "not_found",
  [Code.AlreadyExists]: "already_exists",
  [Code.PermissionDenied]: "permission_denied",
  [Code.ResourceExhausted]: "resource_exhausted",
  [Code.FailedPrecondition]: "failed_precondition",
  [Code.Aborted]: "aborted",
  [Code.OutOfRange]: "out_of_range",
  [Code.Unimplemented]: "unimplemented",
  [Code.Internal]: "internal",
  [Code.Unavailable]: "unavailable",
  [Code.DataLoss]: "data_loss",
  [Code.Unauthenticated]: "unauthenticated",
};

/** The `WriteFailure` detail, with ids resolved to names through `schema`. */
export function failureInfo(failure: WriteFailure, schema?: SchemaMeta): WriteFailureInfo {
  const type = schema === undefined ? undefined : typeById(schema, failure.typeId);
  const fieldName =
    type === undefined || failure.fieldId === 0
      ? undefined
      : indexType(type).propertyById.get(failure.fieldId);
  return {
    reason: failure.reason,
    operationIndex: failure.operationIndex,
    typeId: failure.typeId,
    fieldId: failure.fieldId,
    ...(type === undefined ? {} : { typeName: type.name }),
    ...(fieldName === undefined ? {} : { fieldName }),
  };
}

/**
 * The typed error for a failed call. `EntDbError`s pass through; a `ConnectError`
 * becomes the subclass its code names, carrying the write's `idempotencyKey` when the
 * call was a write; anything else (a bug, a `TypeError` from the codec) is returned as
 * is, because it is not an outcome of the request.
 */
export function toEntDbError(err: unknown, schema?: SchemaMeta, idempotencyKey?: string): unknown {
  if (err instanceof EntDbError || !(err instanceof ConnectError)) return err;
  const detail = err.findDetails(WriteFailureSchema)[0];
  const failure = detail === undefined ? undefined : failureInfo(detail, schema);
  return errorFor(err.code, explainNonApiAnswer(err.rawMessage), {
    cause: err,
    ...(failure ? { failure } : {}),
    ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
  });
}

/**
 * Connect's message for an answer that is no Connect answer at all: a bare "HTTP 405" (a
 * POST to a server that serves no such path, such as EntDB's ops port) or "HTTP 404".
 * Said so, with the likely fix; other messages pass unchanged.
 */
function explainNonApiAnswer(message: string): string {
  const status = /^HTTP (404|405)$/.exec(message)?.[1];
  if (status === undefined) return message;
  return `HTTP ${status}: the server at the transport's baseUrl serves no EntDB API; use its API port (entdb serve --port, default 50051), not its ops port (--http-port, default 8080, for /health, /ready and /metrics).`;
}

/** The error class for a code, as a `GetReceipt` failure or a call error reports it. */
export function errorFor(code: Code, message: string, options: EntDbErrorOptions): EntDbError {
  switch (code) {
    case Code.AlreadyExists:
      return new UniqueViolationError(message, options);
    case Code.FailedPrecondition:
      return new PreconditionFailedError(message, options);
    case Code.NotFound:
      return new NotFoundError(message, options);
    case Code.PermissionDenied:
      return new PermissionDeniedError(message, options);
    case Code.InvalidArgument:
      return new InvalidArgumentError(message, options);
    case Code.Unavailable:
      return new UnavailableError(message, options);
    default:
      return new EntDbError(CODE_NAMES[code], message, options);
  }
}

/** The Connect code for a `WriteFailure.code` name (`already_exists`); `unknown` if unheard of. */
export function codeFromName(name: string): Code {
  for (const [code, codeName] of Object.entries(CODE_NAMES)) {
    if (codeName === name) return Number(code);
  }
  return Code.Unknown;
}
