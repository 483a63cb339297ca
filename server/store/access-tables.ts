/**
 * The access tables of a tenant database: whether the tenant was created (and by whom),
 * its members with their roles, its groups, and the grants and denies on its nodes (and
 * the indexes that access-filtered reads use). They live in the tenant's own file, so
 * tenants are isolated by construction, and only the applier writes them (from
 * `AccessChange` events), so replaying the log rebuilds them like any other table.
 *
 * Created on open when missing (`IF NOT EXISTS`), so files made before they existed
 * gain them without a layout change; SQLite keeps the statements without the
 * `IF NOT EXISTS` clause, so the canonical dump is the same either way.
 */

import { readdirSync } from "node:fs";
import { isTenantRole, TENANT_ROLES, type TenantRole } from "../acl/principal.ts";
import type { TenantDb } from "./tenant-db.ts";
import { tenantIdFromFileName } from "./tenant-id.ts";

/** The statements creating the access tables. */
export const ACCESS_TABLE_DDL: readonly string[] = [
  "CREATE TABLE IF NOT EXISTS access_tenant (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), created_by TEXT NOT NULL, created_at INTEGER NOT NULL) STRICT",
  "CREATE TABLE IF NOT EXISTS access_members (principal TEXT PRIMARY KEY, role TEXT NOT NULL) STRICT, WITHOUT ROWID",
  "CREATE TABLE IF NOT EXISTS access_groups (group_id TEXT PRIMARY KEY) STRICT, WITHOUT ROWID",
  "CREATE TABLE IF NOT EXISTS access_group_members (group_id TEXT NOT NULL, principal TEXT NOT NULL, PRIMARY KEY (group_id, principal)) STRICT, WITHOUT ROWID",
  "CREATE INDEX IF NOT EXISTS access_group_members_by_principal ON access_group_members(principal, group_id)",
  // One grant or deny per node and principal; `level` 1 (read) to 5 (admin), see acl/capability.ts.
  "CREATE TABLE IF NOT EXISTS access_grants (node_id TEXT NOT NULL, principal TEXT NOT NULL, level INTEGER NOT NULL, deny INTEGER NOT NULL, expires_at INTEGER, granted_by TEXT NOT NULL, granted_at INTEGER NOT NULL, PRIMARY KEY (node_id, principal)) STRICT, WITHOUT ROWID",
  // Lets a read learn cheaply whether the tenant has any deny at all.
  "CREATE INDEX IF NOT EXISTS access_denies ON access_grants(node_id) WHERE deny = 1",
  // A principal's grants in node order, with what loading them reads: the granted ids of
  // a principal set are one index range per principal (granted-ids.ts).
  "CREATE INDEX IF NOT EXISTS access_grants_by_principal ON access_grants(principal, deny, node_id, expires_at)",
  // A reader's own nodes of a type in id order: half of a private query (private-query.ts).
  "CREATE INDEX IF NOT EXISTS nodes_by_owner ON nodes(type_id, owner, id)",
];

/**
 * A tenant's membership as its database holds it. `created` is false for a tenant
 * whose database exists only because dev-mode writes made it.
 */
export interface TenantAccess {
  readonly created: boolean;
  /** Principal ("user:alice", "group:eng") → role. */
  readonly members: ReadonlyMap<string, TenantRole>;
  /** Group principal ("group:eng") → its member principals. */
  readonly groups: ReadonlyMap<string, ReadonlySet<string>>;
}

/** Reads the access tables of `db` (committed state, or the caller's transaction). */
export function readTenantAccess(db: TenantDb): TenantAccess {
  const created = db.stmt("SELECT 1 FROM access_tenant WHERE singleton = 1").get() !== undefined;
  const members = new Map<string, TenantRole>();
  for (const row of db.stmt("SELECT principal, role FROM access_members").all() as {
    principal: string;
    role: string;
  }[]) {
    if (isTenantRole(row.role)) members.set(row.principal, row.role);
  }
  const groups = new Map<string, Set<string>>();
  for (const row of db.stmt("SELECT group_id FROM access_groups").all() as { group_id: string }[])
    groups.set(row.group_id, new Set());
  for (const row of db.stmt("SELECT group_id, principal FROM access_group_members").all() as {
    group_id: string;
    principal: string;
  }[])
    groups.get(row.group_id)?.add(row.principal);
  return { created, members, groups };
}

/**
 * The strongest role `principal` holds in the tenant through its own membership, a
 * tenant group listing it, or one of `vouchedGroups`: the same answer as
 * `roleOf(readTenantAccess(db), …)` (acl/tenant-roles.ts), with indexed lookups only,
 * for the applier's check of every plan.
 */
export function roleInDb(
  db: TenantDb,
  principal: string,
  vouchedGroups: readonly string[],
): TenantRole | undefined {
  const rows = db
    .stmt(
      "SELECT role FROM access_members WHERE principal = @p OR principal IN (SELECT group_id FROM access_group_members WHERE principal = @p) OR principal IN (SELECT value FROM json_each(@g))",
    )
    .all({ p: principal, g: JSON.stringify(vouchedGroups) }) as { role: string }[];
  let best: TenantRole | undefined;
  for (const { role } of rows) {
    if (!isTenantRole(role)) continue;
    if (best === undefined || TENANT_ROLES.indexOf(role) > TENANT_ROLES.indexOf(best)) best = role;
  }
  return best;
}

/** The ids of the tenants with a database in `tenantsDir`, sorted. */
export function listTenantIds(tenantsDir: string): string[] {
  const ids: string[] = [];
  for (const name of readdirSync(tenantsDir)) {
    const id = tenantIdFromFileName(name);
    if (id !== undefined) ids.push(id);
  }
  return ids.sort();
}

/**
 * Every principal `principal` stands for in the tenant, its own first: the groups that
 * vouched for it, the tenant groups listing it, its role (`role:NAME`) and, for a member,
 * `tenant:*`. What grants are matched against.
 */
export function principalsInDb(
  db: TenantDb,
  principal: string,
  vouchedGroups: readonly string[],
): string[] {
  const others = new Set<string>(vouchedGroups);
  for (const row of db
    .stmt("SELECT group_id FROM access_group_members WHERE principal = ?")
    .all(principal) as { group_id: string }[])
    others.add(row.group_id);
  const role = roleInDb(db, principal, vouchedGroups);
  if (role !== undefined) {
    others.add(`role:${role}`);
    others.add("tenant:*");
  }
  others.delete(principal);
  return [principal, ...[...others].sort()];
}

/** Whether the tenant has any deny (one indexed probe). */
export function hasDenies(db: TenantDb): boolean {
  return db.stmt("SELECT 1 FROM access_grants WHERE deny = 1 LIMIT 1").get() !== undefined;
}
