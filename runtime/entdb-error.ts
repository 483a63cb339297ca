/**
 * The errors a client call can throw. Every failure the server reports reaches the
 * caller as an `EntDbError` (or one of its subclasses) whose `code` is the Connect code
 * name, so callers branch on a class or a code, never on message text. Mistakes caught
 * before anything is sent (an unsafe integer, a value of the wrong JavaScript type) are
 * plain `RangeError` / `TypeError`s instead: they are bugs in the calling code, not
 * outcomes of a request.
 */

/**
 * What went wrong, as the Connect code name (`already_exists`, …), plus
 * `schema_mismatch` when a response does not fit the client's schema (the client was
 * generated from a different schema than the server serves).
 */
export type EntDbErrorCode =
  | "canceled"
  | "unknown"
  | "invalid_argument"
  | "deadline_exceeded"
  | "not_found"
  | "already_exists"
  | "permission_denied"
  | "resource_exhausted"
  | "failed_precondition"
  | "aborted"
  | "out_of_range"
  | "unimplemented"
  | "internal"
  | "unavailable"
  | "data_loss"
  | "unauthenticated"
  | "schema_mismatch";

/**
 * The server's account of a rejected write (the `WriteFailure` detail), with the type
 * and field it names resolved to the client's names where the client knows them.
 */
export interface WriteFailureInfo {
  /** Machine-readable reason, e.g. `UNIQUE_VIOLATION`, `PRECONDITION_FAILED`, `MISSING_REF`. */
  readonly reason: string;
  /** The failing step's index in the plan. */
  readonly operationIndex: number;
  /** The node or edge type id the failure names; 0 when none. */
  readonly typeId: number;
  /** The field id the failure names; 0 when none. */
  readonly fieldId: number;
  /** The type's name (`Task`), when the client's schema knows the type id. */
  readonly typeName?: string;
  /** The field's property name (`estimateMinutes`), when the client's schema knows it. */
  readonly fieldName?: string;
}

/** Options every error constructor accepts. */
export interface EntDbErrorOptions {
  readonly cause?: unknown;
  readonly failure?: WriteFailureInfo;
  readonly idempotencyKey?: string;
}

/** Base class of every error a client call reports. */
export class EntDbError extends Error {
  override readonly name: string = "EntDbError";
  /** The Connect code name, or `schema_mismatch`. */
  readonly code: EntDbErrorCode;
  /** Set when the server attached a `WriteFailure` detail. */
  readonly failure: WriteFailureInfo | undefined;
  /**
   * The write's idempotency key, on every error of a write (a plan, an access change, a
   * mailbox change), the key the client made included. After an `unavailable`,
   * `deadline_exceeded` or `canceled` the write may have been applied: send it again with this key
   * (the server answers with the first outcome, never applies it twice) or look the
   * outcome up with `getReceipt(key)`. Undefined on errors of reads.
   */
  readonly idempotencyKey: string | undefined;

  constructor(code: EntDbErrorCode, message: string, options?: EntDbErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.failure = options?.failure;
    this.idempotencyKey = options?.idempotencyKey;
  }
}

/** A unique field (or composite unique) already holds the value (`already_exists`). */
export class UniqueViolationError extends EntDbError {
  override readonly name: string = "UniqueViolationError";

  constructor(message: string, options?: EntDbErrorOptions) {
    super("already_exists", message, options);
  }
}

/**
 * A precondition did not hold (`failed_precondition`): the node's version moved on
 * (`expectedVersion`), a referenced node is missing, or a search's `next` expired.
 */
export class PreconditionFailedError extends EntDbError {
  override readonly name: string = "PreconditionFailedError";

  constructor(message: string, options?: EntDbErrorOptions) {
    super("failed_precondition", message, options);
  }
}

/** The node, receipt or type does not exist (`not_found`). */
export class NotFoundError extends EntDbError {
  override readonly name: string = "NotFoundError";

  constructor(message: string, options?: EntDbErrorOptions) {
    super("not_found", message, options);
  }
}

/** The caller may not do this (`permission_denied`). */
export class PermissionDeniedError extends EntDbError {
  override readonly name: string = "PermissionDeniedError";

  constructor(message: string, options?: EntDbErrorOptions) {
    super("permission_denied", message, options);
  }
}

/**
 * The request is malformed (`invalid_argument`). When the server names a field,
 * `fieldId` is set, and `fieldName` too when the client's schema knows that field.
 */
export class InvalidArgumentError extends EntDbError {
  override readonly name: string = "InvalidArgumentError";
  /** The offending field's id, when the server named one. */
  readonly fieldId: number | undefined;
  /** The offending field's property name (`estimateMinutes`), when known. */
  readonly fieldName: string | undefined;

  constructor(message: string, options?: EntDbErrorOptions) {
    super("invalid_argument", message, options);
    const fieldId = options?.failure?.fieldId;
    this.fieldId = fieldId === undefined || fieldId === 0 ? undefined : fieldId;
    this.fieldName = options?.failure?.fieldName;
  }
}

/** The server could not be reached, even after the client's bounded retries (`unavailable`). */
export class UnavailableError extends EntDbError {
  override readonly name: string = "UnavailableError";

  constructor(message: string, options?: EntDbErrorOptions) {
    super("unavailable", message, options);
  }
}
