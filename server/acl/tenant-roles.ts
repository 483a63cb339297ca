/**
 * What a tenant role lets a principal do, and which role a caller holds in a tenant.
 * Pure functions of the tenant's membership (`store/access-tables.ts`), used by the API
 * to refuse early and by the applier to decide, so both answer alike.
 *
 * A caller's role is the strongest of: its own membership, the membership of each
 * group the authenticator vouched for (a JWT groups claim), and the membership of each
 * tenant group that lists it. Groups hold users and services, not other groups, so the
 * answer is one lookup per group and needs no cycle check.
 */

import type { TenantAccess } from "../store/access-tables.ts";
import { TENANT_ROLES, type TenantRole } from "./principal.ts";

/** Who asks, as the access decisions see it. */
export interface AccessSubject {
  /** The caller's principal ("user:alice"). */
  readonly id: string;
  /** Group principals the authenticator vouched for. */
  readonly groups: readonly string[];
}

/** The strongest role `subject` holds in the tenant, or undefined for a non-member. */
export function roleOf(access: TenantAccess, subject: AccessSubject): TenantRole | undefined {
  let best = access.members.get(subject.id);
  const consider = (group: string) => {
    const role = access.members.get(group);
    if (role !== undefined && (best === undefined || rank(role) > rank(best))) best = role;
  };
  for (const group of subject.groups) consider(group);
  for (const [group, members] of access.groups) if (members.has(subject.id)) consider(group);
  return best;
}

/** Whether a role may read the tenant's content. Every role may. */
export function roleCanRead(role: TenantRole | undefined): boolean {
  return role !== undefined;
}

/** Whether a role may write content: every role but `viewer`. */
export function roleCanWrite(role: TenantRole | undefined): boolean {
  return role !== undefined && role !== "viewer";
}

/** Whether a role may manage members and groups: `admin` and `owner`. */
export function roleCanManage(role: TenantRole | undefined): boolean {
  return role === "admin" || role === "owner";
}

/** The order of roles, weakest (viewer) first. */
export function rank(role: TenantRole): number {
  return TENANT_ROLES.indexOf(role);
}
