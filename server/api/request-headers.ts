/**
 * Request headers the API reads besides the protocol's own; CORS lets browsers send them.
 */

/** Header naming the tenant of a typed-service call. */
export const TENANT_HEADER = "entdb-tenant";
