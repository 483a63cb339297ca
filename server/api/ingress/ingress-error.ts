/**
 * Errors raised while checking a request before anything is logged. Each carries
 * the Connect code and a `WriteFailure` detail naming the step and field, so typed
 * clients can point at the offending field.
 */

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { WriteFailureSchema } from "../../../generated/entdb/v1/entdb_pb.js";

/** Where in a plan a problem is. */
export interface ErrorSite {
  readonly operationIndex?: number;
  readonly typeId?: number;
  readonly fieldId?: number;
}

/** An INVALID_ARGUMENT error with a WriteFailure detail. */
export function invalidArgument(
  message: string,
  site: ErrorSite = {},
  reason = "INVALID_ARGUMENT",
): ConnectError {
  return failure(Code.InvalidArgument, reason, message, site);
}

/** A ConnectError of any code with a WriteFailure detail. */
export function failure(
  code: Code,
  reason: string,
  message: string,
  site: ErrorSite = {},
): ConnectError {
  const detail = create(WriteFailureSchema, {
    code: Code[code].replace(/[A-Z]/g, (c, i: number) => (i ? "_" : "") + c.toLowerCase()),
    reason,
    message,
    operationIndex: site.operationIndex ?? 0,
    typeId: site.typeId ?? 0,
    fieldId: site.fieldId ?? 0,
  });
  return new ConnectError(message, code, undefined, [{ desc: WriteFailureSchema, value: detail }]);
}
