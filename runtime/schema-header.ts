/**
 * The schema a generated client was built from, sent with every call as
 * `entdb-schema-fingerprint`. The server uses it to tell a client that is newer than the
 * schema it serves (FAILED_PRECONDITION naming what it does not know yet) from a plain
 * bad request; a client of an older, registered version is served as usual
 * (docs/schema-evolution.md).
 */

import type { Interceptor } from "@connectrpc/connect";

/** The request header carrying the client's schema fingerprint. */
export const SCHEMA_FINGERPRINT_HEADER = "entdb-schema-fingerprint";

/** An interceptor that sends `fingerprint` (a `sha256:…` schema fingerprint) with every call. */
export function createSchemaFingerprintInterceptor(fingerprint: string): Interceptor {
  return (next) => (req) => {
    req.header.set(SCHEMA_FINGERPRINT_HEADER, fingerprint);
    return next(req);
  };
}
