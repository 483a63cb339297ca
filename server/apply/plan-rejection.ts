/**
 * The applier's decisions that reject a plan (DESIGN.md contract 6). Each is a pure
 * function of the event and the tenant's state, so a replay decides the same; the
 * `WriteFailure` is recorded with the idempotency key and returned to every retry.
 * Messages name ids only: they are stored in the tenant database, where no schema
 * name goes (contract 2); the API may add names when it shows them.
 */

import { create } from "@bufbuild/protobuf";
import { type WriteFailure, WriteFailureSchema } from "../../generated/entdb/v1/entdb_pb.js";

/** Connect code names a rejection can carry (snake_case, as `WriteFailure.code`). */
export type RejectionCode =
  | "already_exists"
  | "failed_precondition"
  | "not_found"
  | "invalid_argument"
  | "permission_denied"
  /** Applying the plan failed in a way ingress should have prevented (apply-failure.ts). */
  | "internal";

/** Machine-readable reasons, as `WriteFailure.reason`. */
export type RejectionReason =
  | "UNIQUE_VIOLATION"
  | "UNIQUE_PER_FROM"
  | "ID_EXISTS"
  | "PRECONDITION_FAILED"
  | "MISSING_REF"
  | "NOT_FOUND"
  | "UNKNOWN_TYPE"
  | "UNKNOWN_FIELD"
  | "REQUIRED_FIELD"
  | "INVALID_VALUE"
  | "APPLY_FAILED"
  | "PERMISSION_DENIED"
  | "TENANT_EXISTS"
  | "NO_SUCH_TENANT"
  | "MEMBER_EXISTS"
  | "NOT_A_MEMBER"
  | "GROUP_EXISTS"
  | "NO_SUCH_GROUP"
  | "LAST_OWNER"
  | "INVALID_PRINCIPAL";

/** Thrown inside a plan's savepoint to reject the plan; the applier rolls back and records it. */
export class PlanRejection extends Error {
  override readonly name = "PlanRejection";
  readonly code: RejectionCode;
  readonly failure: WriteFailure;

  constructor(
    code: RejectionCode,
    reason: RejectionReason,
    message: string,
    at: { readonly operationIndex: number; readonly typeId?: number; readonly fieldId?: number },
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.code = code;
    this.failure = create(WriteFailureSchema, {
      code,
      reason,
      message,
      operationIndex: at.operationIndex,
      typeId: at.typeId ?? 0,
      fieldId: at.fieldId ?? 0,
    });
  }
}
