/**
 * The errors of the archive: the object store, the segment format, the archiver and
 * restore. `code` says what the caller can do about it.
 */

/**
 * - `invalid`: a bad argument (an archive location, a key, a target position); nothing was read or written.
 * - `unavailable`: the object store did not answer or refused the request; retrying may help.
 * - `corrupt`: an object failed its checksum or does not decode; the message names it.
 * - `gap`: the archive misses a range of the log (or holds two copies of one).
 * - `foreign`: the archive belongs to another log than the one given.
 * - `not-found`: there is no archive (or no such object) at the location.
 */
export type ArchiveErrorCode =
  | "invalid"
  | "unavailable"
  | "corrupt"
  | "gap"
  | "foreign"
  | "not-found";

/** An archive failure; the message says what to fix. */
export class ArchiveError extends Error {
  override readonly name = "ArchiveError";
  readonly code: ArchiveErrorCode;

  constructor(code: ArchiveErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
