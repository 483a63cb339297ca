/**
 * The error of a promise broken inside the server: something one component guarantees
 * to another did not hold, so the cause is a bug, never the request. Its own module so
 * that every layer can throw it without importing another layer.
 *
 * The API answers it as INTERNAL with a generic message and logs it with its stack
 * (`server/api/api-errors.ts`); its `code` is for the log and for tests, never mapped to
 * a client-facing code.
 */

/**
 * Which kind of promise broke:
 * - `invariant`: a component's result contradicts its contract (an append that returned
 *   no position, an applied event that recorded no outcome, a module run where it
 *   cannot work);
 * - `descriptor`: a descriptor built from the schema lacks what the code generator
 *   puts in it (a message, a method, the file itself).
 */
export type InternalErrorCode = "invariant" | "descriptor";

/** A "cannot happen" that happened; the message names what broke and where. */
export class InternalError extends Error {
  override readonly name = "InternalError";
  readonly code: InternalErrorCode;

  constructor(code: InternalErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
