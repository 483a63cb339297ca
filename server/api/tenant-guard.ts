/**
 * The API's tenant check: before a handler reads or logs anything for a tenant, the
 * caller must hold a role in it that allows the call. A caller that is not a member
 * gets the same PERMISSION_DENIED whether or not the tenant exists, and learns nothing
 * about its content. Server administrators manage tenants but do not thereby read
 * them. In dev mode (open access) every caller passes. The one exception is a read of a
 * schema with `public` types (`public-read`): every caller passes, and its read scope
 * (acl/read-scope.ts) lets a non-member see public nodes only.
 *
 * This check refuses early, from the committed membership (`acl/access-cache.ts`); the
 * applier decides again for writes, from the log's order, so a membership change that
 * races a write is settled deterministically.
 */

import { Code, ConnectError } from "@connectrpc/connect";
import type { TenantRole } from "../acl/principal.ts";
import { type ReadScope, readScopeOf, UNRESTRICTED } from "../acl/read-scope.ts";
import { roleCanManage, roleCanRead, roleCanWrite, roleOf } from "../acl/tenant-roles.ts";
import type { TenantAccess } from "../store/access-tables.ts";
import type { Actor } from "./auth.ts";
import { invalidArgument } from "./ingress/ingress-error.ts";

/**
 * What a call needs in its tenant. `public-read` is a read of a schema with `public`
 * types: any caller passes, and a non-member's read scope sees public nodes only
 * (api/public-reads.ts).
 */
export type TenantNeed = "read" | "public-read" | "write" | "manage";

/** The committed membership of tenants, as the guard reads it. */
export interface TenantAccessView {
  /** The tenant's membership; undefined when it has no database. */
  get(tenant: string): TenantAccess | undefined;
}

/** What the guard needs. */
export interface TenantGuardDeps {
  readonly access: TenantAccessView;
  /** Dev mode: every caller may do everything. */
  readonly openAccess: boolean;
  /** Validates and normalizes a tenant id. */
  checkTenant(tenant: string): string;
}

/** Checks one call; returns the normalized tenant id or throws the error to answer. */
export type TenantGuard = (actor: Actor, tenant: string, need: TenantNeed) => string;

/** The read scope of `actor` in a tenant it passed the guard for. */
export function readScopeFor(deps: TenantGuardDeps, actor: Actor, tenant: string): ReadScope {
  if (deps.openAccess) return UNRESTRICTED;
  return readScopeOf(actor, deps.access.get(tenant), BigInt(Date.now()) * 1000n);
}

/** Creates the guard. */
export function createTenantGuard(deps: TenantGuardDeps): TenantGuard {
  return (actor, tenantText, need) => {
    if (tenantText === "") throw invalidArgument("The request has no tenant; set `tenant`.");
    const tenant = deps.checkTenant(tenantText);
    if (deps.openAccess || need === "public-read") return tenant;
    const access = deps.access.get(tenant);
    const role = access?.created ? roleOf(access, actor) : undefined;
    if (need === "manage" && actor.admin) return tenant;
    if (allows(role, need)) return tenant;
    throw refusal(actor, tenant, role, need);
  };
}

function allows(role: TenantRole | undefined, need: TenantNeed): boolean {
  if (need === "read") return roleCanRead(role);
  if (need === "write") return roleCanWrite(role);
  return roleCanManage(role);
}

function refusal(
  actor: Actor,
  tenant: string,
  role: TenantRole | undefined,
  need: TenantNeed,
): ConnectError {
  if (role === undefined) {
    return new ConnectError(
      `'${actor.id}' is not a member of tenant '${tenant}'; a tenant admin or owner can add it with AddTenantMember.`,
      Code.PermissionDenied,
    );
  }
  const what = need === "write" ? "write" : "manage its members and groups";
  const takes = need === "write" ? "member, admin or owner" : "admin or owner";
  return new ConnectError(
    `'${actor.id}' is a ${role} of tenant '${tenant}' and may not ${what}; that takes the role ${takes}.`,
    Code.PermissionDenied,
  );
}
