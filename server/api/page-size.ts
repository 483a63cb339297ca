/**
 * How many rows a page read returns, from the `limit` a request gives: 0 asks for the
 * default page, more than the most gives the most (and a cursor), and a negative one is
 * refused, as the generated clients refuse it before sending.
 */

import type { ApiLimits } from "./entdb-service.ts";
import { invalidArgument } from "./ingress/ingress-error.ts";

/** The page size for `limit`; throws INVALID_ARGUMENT for a negative one. */
export function pageSize(
  limit: number,
  limits: Pick<ApiLimits, "defaultPageSize" | "maxPageSize">,
): number {
  if (limit < 0) {
    throw invalidArgument(
      `\`limit\` is ${limit}; set 0 (or leave it out) for a page of ${limits.defaultPageSize}, or a positive number (more than ${limits.maxPageSize} gives ${limits.maxPageSize} and a cursor).`,
    );
  }
  return limit === 0 ? limits.defaultPageSize : Math.min(limit, limits.maxPageSize);
}
