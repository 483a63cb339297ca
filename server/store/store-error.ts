/**
 * The one error class of the tenant store and its readers. The API maps `code` to a
 * Connect code (`server/api/api-errors.ts`); messages say what to fix and name ids,
 * never schema names (those are the API's to add).
 */

import type { JsonValue } from "./lossless-json.ts";

/**
 * What went wrong:
 * - `invalid-tenant`: the tenant id is not acceptable (see `tenant-id.ts`);
 * - `invalid-argument`: a read asked for something impossible (a filter operator the
 *   field's kind does not support, an unknown field id, a malformed cursor);
 * - `failed-precondition`: the request depends on state that is gone (an expired search
 *   cursor); starting again works; or a stored value fits an earlier schema version's
 *   kind of its field, which a version pushed with `--allow FIELD_KIND_CHANGED` changed
 *   (`kind-change.ts`); the operator can repair that;
 * - `too-many`: a read asked for more items than the store returns at once;
 * - `tenant-unavailable`: this tenant's database cannot be used (corrupt file, failed
 *   schema change, unknown schema version); other tenants are unaffected;
 * - `corrupt`: stored data does not fit the schema, nor any earlier version of it (a bug
 *   or a damaged file; the API reports it as an internal error and logs it);
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

/**
 * Where a `corrupt` stored value sits, so a reader can tell whether an earlier schema
 * version's kind of the field fits it (`kind-change.ts`).
 */
export interface StoredMismatch {
  /** The node type's or edge type's id. */
  readonly typeId: number;
  readonly fieldId: number;
  /** The stored value, as the lossless parse gives it. */
  readonly json: JsonValue;
  /** The node holding it, or the edge (by its ends). */
  readonly holder:
    | { readonly kind: "node"; readonly id: string }
    | { readonly kind: "edge"; readonly fromId: string; readonly toId: string };
}

/** Raised by the store. `fieldId` names the field an `invalid-argument` is about. */
export class StoreError extends Error {
  override readonly name = "StoreError";
  readonly code: StoreErrorCode;
  readonly fieldId: number | undefined;
  /** For a `corrupt` stored field value: where it is and what it holds. */
  readonly mismatch: StoredMismatch | undefined;

  constructor(
    code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown; fieldId?: number; mismatch?: StoredMismatch },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.fieldId = options?.fieldId;
    this.mismatch = options?.mismatch;
  }
}
