/**
 * The errors a server of a cluster answers for a tenant it does not serve. Both carry an
 * `entdbcluster.v1.TenantOwner` detail; the runtime follows the first (runtime/redirect-transport.ts)
 * and retries the second.
 *
 * - Owned elsewhere: FAILED_PRECONDITION (nothing was read or logged, and the same call at
 *   this server will fail the same way until the cluster moves the tenant), the owner's
 *   URL in the detail and in the `entdb-tenant-owner` response header.
 * - Owned by no one (a rebalance, or this server still catching up a partition it was just
 *   given): UNAVAILABLE, the wait in the detail and in `retry-after` (seconds).
 */

import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { TenantOwnerSchema } from "../../generated/entdbcluster/v1/cluster_pb.js";

/** The response header naming the owner's URL. */
export const TENANT_OWNER_HEADER = "entdb-tenant-owner";

/** The call's tenant is owned by the server at `url`. */
export function ownedElsewhere(tenant: string, partition: number, url: string): ConnectError {
  return new ConnectError(
    `Tenant '${tenant}' is served by ${url} (partition ${partition} of the log is owned there, not here); send the call to that server.`,
    Code.FailedPrecondition,
    { [TENANT_OWNER_HEADER]: url },
    [{ desc: TenantOwnerSchema, value: create(TenantOwnerSchema, { tenant, url }) }],
  );
}

/** No server serves the call's tenant right now; `why` ends the message's first sentence. */
export function ownedByNoOne(tenant: string, why: string, retryAfterMs: number): ConnectError {
  return new ConnectError(
    `Tenant '${tenant}' is not served right now: ${why}. Retry in ${retryAfterMs} ms.`,
    Code.Unavailable,
    { "retry-after": String(Math.max(1, Math.ceil(retryAfterMs / 1000))) },
    [
      {
        desc: TenantOwnerSchema,
        value: create(TenantOwnerSchema, { tenant, url: "", retryAfterMs }),
      },
    ],
  );
}
