/**
 * Request headers the API reads besides the protocol's own; CORS lets browsers send them.
 */

/** Header naming the tenant of a typed-service call. */
export const TENANT_HEADER = "entdb-tenant";

/**
 * Header carrying the schema fingerprint a generated client was built from
 * (runtime/schema-header.ts); read by schema-skew.ts.
 */
export const SCHEMA_FINGERPRINT_HEADER = "entdb-schema-fingerprint";
