/**
 * What a failure while applying one event means (DESIGN.md contract 11: a logged event
 * never stops its tenant). Two kinds, told apart by {@link isEnvironmentFault}:
 *
 * - A fault of the environment: the disk, the file, memory, a lock, a schema version
 *   this server does not know. Applying the same event later may well succeed, so the
 *   tenant is parked before the event (the checkpoint stays before it; a restart
 *   retries) and nothing is recorded.
 * - Anything else is a property of the event and the tenant's state: an SQLite error
 *   such as "malformed JSON", a TypeError or RangeError in apply code. Applying it again
 *   fails again, so parking would stop the tenant for good. It becomes the event's
 *   recorded outcome instead ({@link applyFailure}), code `internal`, and the tenant
 *   goes on. Such a failure means ingress let through something it should have refused.
 */

import { StoreError } from "../store/store-error.ts";
import { PlanRejection } from "./plan-rejection.ts";

/**
 * better-sqlite3 `SqliteError` codes (primary codes; extended codes start with them)
 * that say the database, the file system or the process is in trouble, not the event.
 */
const ENVIRONMENT_SQLITE_CODES = [
  "SQLITE_IOERR",
  "SQLITE_FULL",
  "SQLITE_CORRUPT",
  "SQLITE_NOTADB",
  "SQLITE_CANTOPEN",
  "SQLITE_READONLY",
  "SQLITE_NOMEM",
  "SQLITE_BUSY",
  "SQLITE_LOCKED",
  "SQLITE_PROTOCOL",
  "SQLITE_PERM",
  "SQLITE_INTERRUPT",
  "SQLITE_ABORT",
];

/**
 * Whether `err`, thrown while applying an event, is a fault of the environment (park
 * the tenant) rather than a property of the event and the state (record it):
 * - an SQLite error whose code is one of I/O, full, corrupt, not a database, cannot
 *   open, read-only, out of memory, busy, locked, protocol, permission, interrupt, abort;
 * - a `StoreError` `tenant-unavailable` (an unknown schema version, a tenant already
 *   down) or `corrupt` (stored data that does not decode);
 * - any error once the tenant's database is no longer open (`databaseOpen` false).
 * Everything else, including errors that are not `Error`s, is a property of the event.
 */
export function isEnvironmentFault(err: unknown, databaseOpen = true): boolean {
  if (!databaseOpen) return true;
  if (err instanceof StoreError) return err.code === "tenant-unavailable" || err.code === "corrupt";
  if (err instanceof Error && err.name === "SqliteError" && "code" in err) {
    const code = String(err.code);
    return ENVIRONMENT_SQLITE_CODES.some((c) => code === c || code.startsWith(`${c}_`));
  }
  return false;
}

/**
 * The recorded outcome of a plan whose operation `operationIndex` failed with `err`
 * (not an environment fault). The message is a function of the error's class, code
 * and message only, so a replay records the same bytes.
 */
export function applyFailure(err: unknown, operationIndex: number): PlanRejection {
  return new PlanRejection(
    "internal",
    "APPLY_FAILED",
    `The write was logged but changed nothing: applying operation ${operationIndex} failed with ${describe(err)}. The server should have refused this request; report it.`,
    { operationIndex },
    { cause: err },
  );
}

/** "SqliteError SQLITE_ERROR: malformed JSON", "TypeError: x is undefined". */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return `a thrown ${typeof err}`;
  const code = "code" in err && typeof err.code === "string" ? ` ${err.code}` : "";
  return `${err.name}${code}: ${err.message}`;
}
