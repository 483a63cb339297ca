/**
 * The applier's access decisions (DESIGN.md contract 12): whether a plan's actor may
 * write the tenant, and the effect of an `AccessChange` (create a tenant, manage
 * members and groups). Each is a pure function of the event and the tenant's tables,
 * read inside the applier's transaction, so a replay decides the same; a refusal is a
 * {@link PlanRejection} recorded with the idempotency key like any other.
 *
 * Who may do what:
 * - a plan: a member whose role may write (`member`, `admin`, `owner`);
 * - create a tenant: a server administrator (`actor_admin`), once;
 * - manage members and groups: the tenant's `admin`s and `owner`s, and server
 *   administrators; making, changing or removing an `owner` takes an owner or a
 *   server administrator, and the last owner cannot be removed or demoted.
 * Events logged in dev mode (`open_access`) pass every check.
 */

import type { AccessChange, WalEvent } from "../../generated/entdb/v1/wal_pb.js";
import { isTenantRole, parsePrincipal, type TenantRole } from "../acl/principal.ts";
import { roleCanManage, roleCanWrite } from "../acl/tenant-roles.ts";
import { roleInDb } from "../store/access-tables.ts";
import type { TenantDb } from "../store/tenant-db.ts";
import { PlanRejection, type RejectionCode, type RejectionReason } from "./plan-rejection.ts";

/** Rejects the plan of `event` unless its actor may write the tenant. */
export function checkPlanAccess(db: TenantDb, event: WalEvent): void {
  if (event.openAccess) return;
  const role = roleInDb(db, event.actor, event.actorGroups);
  if (roleCanWrite(role)) return;
  throw reject(
    "permission_denied",
    "PERMISSION_DENIED",
    role === undefined
      ? `'${event.actor}' is not a member of tenant '${db.tenant}'.`
      : `'${event.actor}' is a ${role} of tenant '${db.tenant}' and may not write.`,
  );
}

/** Applies an access change, or throws the {@link PlanRejection} deciding against it. */
export function applyAccessChange(
  db: TenantDb,
  event: WalEvent,
  change: AccessChange,
  nowMicros: bigint,
): void {
  const tenant = db.tenant;
  const byServer = event.actorAdmin || event.openAccess;
  const actorRole = roleInDb(db, event.actor, event.actorGroups);
  const isOwner = byServer || actorRole === "owner";
  const c = change.change;

  if (c.case === "createTenantOwner") {
    if (!byServer) throw denied(`Only a server administrator may create tenant '${tenant}'.`);
    if (tenantCreated(db))
      throw reject("already_exists", "TENANT_EXISTS", `Tenant '${tenant}' already exists.`);
    const owner = principalOf(c.value, ["user", "service"]);
    db.stmt("INSERT INTO access_tenant (singleton, created_by, created_at) VALUES (1, ?, ?)").run(
      event.actor,
      nowMicros,
    );
    db.stmt("INSERT OR REPLACE INTO access_members (principal, role) VALUES (?, 'owner')").run(
      owner,
    );
    return;
  }
  if (c.case === undefined)
    throw reject("invalid_argument", "INVALID_VALUE", "The access change is empty.");

  if (!byServer && !roleCanManage(actorRole))
    throw denied(
      `'${event.actor}' may not manage the members of tenant '${tenant}': that takes the tenant role admin or owner.`,
    );
  if (!event.openAccess && !tenantCreated(db))
    throw reject(
      "not_found",
      "NO_SUCH_TENANT",
      `Tenant '${tenant}' does not exist; a server administrator creates it with CreateTenant.`,
    );

  switch (c.case) {
    case "addMember": {
      const principal = principalOf(c.value.principal, ["user", "service", "group"]);
      const role = roleNamed(c.value.role);
      const current = memberRole(db, principal);
      if (current !== undefined)
        throw reject(
          "already_exists",
          "MEMBER_EXISTS",
          `'${principal}' is already a ${current} of tenant '${tenant}'; change its role with SetTenantMemberRole.`,
        );
      if (role === "owner" && !isOwner) throw ownersOnly(tenant);
      db.stmt("INSERT INTO access_members (principal, role) VALUES (?, ?)").run(principal, role);
      return;
    }
    case "setMemberRole": {
      const principal = principalOf(c.value.principal, ["user", "service", "group"]);
      const role = roleNamed(c.value.role);
      const current = requireMember(db, principal);
      if ((current === "owner" || role === "owner") && !isOwner) throw ownersOnly(tenant);
      if (current === "owner" && role !== "owner") requireAnotherOwner(db, principal);
      db.stmt("UPDATE access_members SET role = ? WHERE principal = ?").run(role, principal);
      return;
    }
    case "removeMember": {
      const principal = principalOf(c.value, ["user", "service", "group"]);
      const current = requireMember(db, principal);
      if (current === "owner") {
        if (!isOwner) throw ownersOnly(tenant);
        requireAnotherOwner(db, principal);
      }
      db.stmt("DELETE FROM access_members WHERE principal = ?").run(principal);
      return;
    }
    case "createGroup": {
      const group = principalOf(c.value, ["group"]);
      if (groupExists(db, group))
        throw reject(
          "already_exists",
          "GROUP_EXISTS",
          `Group '${group}' already exists in tenant '${tenant}'.`,
        );
      db.stmt("INSERT INTO access_groups (group_id) VALUES (?)").run(group);
      return;
    }
    case "addGroupMember": {
      const group = principalOf(c.value.group, ["group"]);
      const principal = principalOf(c.value.principal, ["user", "service"]);
      requireGroup(db, group);
      const present = db
        .stmt("SELECT 1 FROM access_group_members WHERE group_id = ? AND principal = ?")
        .get(group, principal);
      if (present)
        throw reject("already_exists", "MEMBER_EXISTS", `'${principal}' is already in '${group}'.`);
      db.stmt("INSERT INTO access_group_members (group_id, principal) VALUES (?, ?)").run(
        group,
        principal,
      );
      return;
    }
    case "removeGroupMember": {
      const group = principalOf(c.value.group, ["group"]);
      const principal = principalOf(c.value.principal, ["user", "service"]);
      requireGroup(db, group);
      const removed = db
        .stmt("DELETE FROM access_group_members WHERE group_id = ? AND principal = ?")
        .run(group, principal);
      if (removed.changes === 0)
        throw reject("not_found", "NOT_A_MEMBER", `'${principal}' is not in '${group}'.`);
      return;
    }
  }
}

function tenantCreated(db: TenantDb): boolean {
  return db.stmt("SELECT 1 FROM access_tenant WHERE singleton = 1").get() !== undefined;
}

function memberRole(db: TenantDb, principal: string): TenantRole | undefined {
  const row = db.stmt("SELECT role FROM access_members WHERE principal = ?").get(principal) as
    | { role: string }
    | undefined;
  return row !== undefined && isTenantRole(row.role) ? row.role : undefined;
}

function requireMember(db: TenantDb, principal: string): TenantRole {
  const role = memberRole(db, principal);
  if (role === undefined)
    throw reject(
      "not_found",
      "NOT_A_MEMBER",
      `'${principal}' is not a member of tenant '${db.tenant}'.`,
    );
  return role;
}

function requireAnotherOwner(db: TenantDb, principal: string): void {
  const row = db
    .stmt("SELECT count(*) AS n FROM access_members WHERE role = 'owner' AND principal != ?")
    .get(principal) as { n: bigint };
  if (row.n === 0n)
    throw reject(
      "failed_precondition",
      "LAST_OWNER",
      `'${principal}' is the last owner of tenant '${db.tenant}'; make another member an owner first.`,
    );
}

function groupExists(db: TenantDb, group: string): boolean {
  return db.stmt("SELECT 1 FROM access_groups WHERE group_id = ?").get(group) !== undefined;
}

function requireGroup(db: TenantDb, group: string): void {
  if (!groupExists(db, group))
    throw reject(
      "not_found",
      "NO_SUCH_GROUP",
      `Group '${group}' does not exist in tenant '${db.tenant}'.`,
    );
}

/** The canonical principal of `text` if its kind is one of `kinds`; a rejection otherwise. */
function principalOf(text: string, kinds: readonly string[]): string {
  let parsed: ReturnType<typeof parsePrincipal>;
  try {
    parsed = parsePrincipal(text);
  } catch (err) {
    throw reject("invalid_argument", "INVALID_PRINCIPAL", (err as Error).message);
  }
  if (!kinds.includes(parsed.kind))
    throw reject(
      "invalid_argument",
      "INVALID_PRINCIPAL",
      `'${parsed.text}' cannot be used here; expected a ${kinds.join(" or ")} principal.`,
    );
  return parsed.text;
}

function roleNamed(role: string): TenantRole {
  if (!isTenantRole(role))
    throw reject(
      "invalid_argument",
      "INVALID_VALUE",
      `'${role}' is not a tenant role; use owner, admin, member or viewer.`,
    );
  return role;
}

function ownersOnly(tenant: string): PlanRejection {
  return denied(
    `Only an owner of tenant '${tenant}' or a server administrator may make, change or remove an owner.`,
  );
}

function denied(message: string): PlanRejection {
  return reject("permission_denied", "PERMISSION_DENIED", message);
}

function reject(code: RejectionCode, reason: RejectionReason, message: string): PlanRejection {
  return new PlanRejection(code, reason, message, { operationIndex: 0 });
}
