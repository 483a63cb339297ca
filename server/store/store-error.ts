/**
 * The one error class of the tenant store and its readers. The API maps `code` to a
 * Connect code (`server/api/api-errors.ts`); messages say what to fix and name ids,
 * never schema names (those are the API's to add).
 */

/**
 * What went wrong:
 * - `invalid-tenant`: the tenant id is not acceptable (see `tenant-id.ts`);
 * - `invalid-argument`: a read asked for something impossible (a filter operator the
 *   field's kind does not support, an unknown field id, a malformed cursor);
 * - `failed-precondition`: the request depends on state that is gone (an expired search
 *   cursor); starting again works;
 * - `too-many`: a read asked for more items than the store returns at once;
 * - `tenant-unavailable`: this tenant's database cannot be used (corrupt file, failed
 *   schema change, unknown schema version); other tenants are unaffected;
 * - `corrupt`: stored data does not fit the schema (a bug or a damaged file; the API
 *   reports it as an internal error and logs it);
 * - `closed`: the store was closed.
 */
export type StoreErrorCode =
  | "invalid-tenant"
  | "invalid-argument"
  | "failed-precondition"
  | "too-many"
  | "tenant-unavailable"
  | "corrupt"
  | "closed";

/** Raised by the store. `fieldId` names the field an `invalid-argument` is about. */
export class StoreError extends Error {
  override readonly name = "StoreError";
  readonly code: StoreErrorCode;
  readonly fieldId: number | undefined;

  constructor(
    code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown; fieldId?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.fieldId = options?.fieldId;
  }
}
