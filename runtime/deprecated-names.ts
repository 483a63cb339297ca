/**
 * The earlier spellings of the runtime's public names, from before the project settled on
 * one casing of its name, `EntDb` (as in the `entdb.v1.EntDbService` the server speaks).
 * Each is the same value or type as its new name, so `instanceof`, `new` and type
 * annotations keep working; they go in the next major version of the runtime.
 */

import { EntDbClientCore } from "./client-core.ts";
import { EntDbError, type EntDbErrorCode, type EntDbErrorOptions } from "./entdb-error.ts";
import { toEntDbError } from "./error-mapper.ts";

/** @deprecated Renamed to `EntDbError`. */
export const EntdbError = EntDbError;
/** @deprecated Renamed to `EntDbError`. */
export type EntdbError = EntDbError;

/** @deprecated Renamed to `EntDbErrorCode`. */
export type EntdbErrorCode = EntDbErrorCode;

/** @deprecated Renamed to `EntDbErrorOptions`. */
export type EntdbErrorOptions = EntDbErrorOptions;

/** @deprecated Renamed to `EntDbClientCore`. */
export const EntdbClientCore = EntDbClientCore;
/** @deprecated Renamed to `EntDbClientCore`. */
export type EntdbClientCore = EntDbClientCore;

/** @deprecated Renamed to `toEntDbError`. */
export const toEntdbError = toEntDbError;
