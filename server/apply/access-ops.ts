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

import type { Operation } from "../../generated/entdb/v1/plan_pb.js";
import type { AccessChange, WalEvent } from "../../generated/entdb/v1/wal_pb.js";
import { nodeById, type Schema } from "../../schema/served.ts";
import { type Capability, capabilityLevel, isCapability } from "../acl/capability.ts";
import { isTenantRole, parsePrincipal, type TenantRole } from "../acl/principal.ts";
import { roleCanManage, roleCanWrite } from "../acl/tenant-roles.ts";
import { principalsInDb, roleInDb } from "../store/access-tables.ts";
import type { TenantDb } from "../store/tenant-db.ts";
import { inheritedFrom, MAX_INHERIT_DEPTH } from "../store/visibility-sql.ts";
import { PlanRejection, type RejectionCode, type RejectionReason } from "./plan-rejection.ts";
import type { PlanRun } from "./plan-run.ts";

/**
 * Rejects the plan of `event` unless its actor may write the tenant, and returns the
 * check each operation must pass (none for dev-mode events): updating a node or linking
 * an edge from it takes `edit` on it, deleting it takes `delete`, removing an edge takes
 * `edit` on its from node, and a node the actor may not read reads as missing (the
 * executor's own NOT_FOUND or MISSING_REF answer, so nothing tells them apart).
 */
export function checkPlanAccess(
  db: TenantDb,
  event: WalEvent,
  schema: Schema,
  nowMicros: bigint,
): ((run: PlanRun, operation: Operation) => void) | undefined {
  if (event.openAccess) return undefined;
  const role = roleInDb(db, event.actor, event.actorGroups);
  if (!roleCanWrite(role))
    throw reject(
      "permission_denied",
      "PERMISSION_DENIED",
      role === undefined
        ? `'${event.actor}' is not a member of tenant '${db.tenant}'.`
        : `'${event.actor}' is a ${role} of tenant '${db.tenant}' and may not write.`,
    );
  const subject = {
    actor: event.actor,
    principals: principalsInDb(db, event.actor, event.actorGroups),
  };
  return (run, operation) => {
    const op = operation.op;
    switch (op.case) {
      case "updateNode":
      case "deleteNode": {
        const id = run.resolve(op.value.id);
        const need = op.case === "updateNode" ? "edit" : "delete";
        const level = levelOn(db, schema, subject, id, nowMicros);
        if (level === undefined) return;
        if (level === 0)
          throw run.reject(
            "not_found",
            "NOT_FOUND",
            `No node of type ${op.value.typeId} has id ${JSON.stringify(id)}.`,
            { typeId: op.value.typeId },
          );
        if (level < capabilityLevel(need)) throw lacks(run, event.actor, need, id);
        return;
      }
      case "createEdge":
      case "deleteEdge": {
        const from = run.resolve(op.value.fromId);
        const level = levelOn(db, schema, subject, from, nowMicros);
        if (level === 0) throw missingEnd(run, "from", from, op.value.edgeTypeId);
        if (level !== undefined && level < capabilityLevel("edit"))
          throw lacks(run, event.actor, "edit", from);
        if (op.case === "createEdge") {
          const to = run.resolve(op.value.toId);
          if (levelOn(db, schema, subject, to, nowMicros) === 0)
            throw missingEnd(run, "to", to, op.value.edgeTypeId);
        }
        return;
      }
      default:
        return;
    }
  };
}

/**
 * Whether the actor of `event` may read a node, by id, at `nowMicros`: as its reads
 * decide (store/visibility-sql.ts): false for a node that does not exist, and true for
 * every node in dev mode (`open_access`). Decided by the applier, so a replay decides
 * the same.
 */
export function actorReads(
  db: TenantDb,
  event: WalEvent,
  schema: Schema,
  nowMicros: bigint,
): (id: string) => boolean {
  // Dev mode reads every node; one that does not exist has nothing (no item) to decide.
  if (event.openAccess) return () => true;
  const subject = {
    actor: event.actor,
    principals: principalsInDb(db, event.actor, event.actorGroups),
  };
  return (id) => (levelOn(db, schema, subject, id, nowMicros) ?? 0) >= capabilityLevel("read");
}

/** Who an applier decision is for: the actor and every principal it stands for. */
interface Subject {
  readonly actor: string;
  readonly principals: readonly string[];
}

/**
 * The capability level `subject` holds on node `id` at `nowMicros`: 5 (admin) for its
 * owner; 0 if an unexpired deny names one of its principals; otherwise the strongest
 * unexpired grant, and at least 1 (read) when the node's type is not private. Undefined
 * when the node does not exist.
 */
function levelOn(
  db: TenantDb,
  schema: Schema,
  subject: Subject,
  id: string,
  nowMicros: bigint,
  depth = MAX_INHERIT_DEPTH,
): number | undefined {
  const row = db.stmt("SELECT type_id, owner, payload FROM nodes WHERE id = ?").get(id) as
    | { type_id: bigint; owner: string; payload: string }
    | undefined;
  if (!row) return undefined;
  if (row.owner === subject.actor) return capabilityLevel("admin");
  const grants = db
    .stmt(
      "SELECT max(deny) AS denied, max(CASE WHEN deny = 0 THEN level ELSE 0 END) AS level FROM access_grants WHERE node_id = ? AND principal IN (SELECT value FROM json_each(?)) AND (expires_at IS NULL OR expires_at > ?)",
    )
    .get(id, JSON.stringify(subject.principals), nowMicros) as {
    denied: bigint | null;
    level: bigint | null;
  };
  if (grants.denied === 1n) return 0;
  const granted = Number(grants.level ?? 0n);
  const type = nodeById(schema, Number(row.type_id));
  let readable = type?.visibility !== "private";
  const parents = type ? inheritedFrom(type) : [];
  if (parents.length > 0) {
    // As the read rule (store/visibility-sql.ts): read as the nodes the inherit_access
    // refs name (one that is gone is unreadable), by the type's visibility when all are unset.
    const payload = JSON.parse(row.payload) as Record<string, unknown>;
    let anyParent = false;
    let parentReadable = false;
    for (const { fieldId } of parents) {
      const ref = payload[String(fieldId)];
      if (typeof ref !== "string") continue;
      anyParent = true;
      if (depth > 0 && (levelOn(db, schema, subject, ref, nowMicros, depth - 1) ?? 0) >= 1)
        parentReadable = true;
    }
    readable = parentReadable || (readable && !anyParent);
  }
  return Math.max(granted, readable ? capabilityLevel("read") : 0);
}

function lacks(run: PlanRun, actor: string, need: Capability, id: string): PlanRejection {
  return run.reject(
    "permission_denied",
    "PERMISSION_DENIED",
    `'${actor}' lacks the ${need} capability on node ${JSON.stringify(id)}; its owner, or a principal with admin on it, can share it.`,
    {},
  );
}

function missingEnd(
  run: PlanRun,
  end: "from" | "to",
  id: string,
  edgeTypeId: number,
): PlanRejection {
  return run.reject(
    "failed_precondition",
    "MISSING_REF",
    `The ${end} node ${JSON.stringify(id)} of edge type ${edgeTypeId} does not exist.`,
    { typeId: edgeTypeId },
  );
}

/** Applies an access change, or throws the {@link PlanRejection} deciding against it. */
export function applyAccessChange(
  db: TenantDb,
  event: WalEvent,
  change: AccessChange,
  nowMicros: bigint,
  schema: Schema,
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

  if (c.case === "share" || c.case === "revoke") {
    shareOrRevoke(db, event, c, nowMicros, schema);
    return;
  }

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

/** Applies a grant, a deny or a revoke on one node; takes `admin` on it. */
function shareOrRevoke(
  db: TenantDb,
  event: WalEvent,
  c: Extract<AccessChange["change"], { case: "share" | "revoke" }>,
  nowMicros: bigint,
  schema: Schema,
): void {
  const nodeId = c.value.nodeId;
  const principal = principalOf(c.value.principal, ["user", "service", "group", "role", "tenant"]);
  let level: number | undefined;
  if (event.openAccess) level = nodeExists(db, nodeId) ? capabilityLevel("admin") : undefined;
  else {
    const subject = {
      actor: event.actor,
      principals: principalsInDb(db, event.actor, event.actorGroups),
    };
    level = levelOn(db, schema, subject, nodeId, nowMicros);
  }
  if (level === undefined || level === 0)
    throw reject("not_found", "NOT_FOUND", `No node has id ${JSON.stringify(nodeId)}.`);
  if (level < capabilityLevel("admin"))
    throw denied(
      `'${event.actor}' lacks the admin capability on node ${JSON.stringify(nodeId)}, which sharing and revoking take.`,
    );
  if (c.case === "revoke") {
    const removed = db
      .stmt("DELETE FROM access_grants WHERE node_id = ? AND principal = ?")
      .run(nodeId, principal);
    if (removed.changes === 0)
      throw reject(
        "not_found",
        "NOT_A_MEMBER",
        `'${principal}' has no grant or deny on node ${JSON.stringify(nodeId)}.`,
      );
    return;
  }
  const grant = c.value;
  let granted = 0;
  if (!grant.deny) {
    if (!isCapability(grant.capability))
      throw reject(
        "invalid_argument",
        "INVALID_VALUE",
        `'${grant.capability}' is not a capability; use read, comment, edit, delete or admin.`,
      );
    granted = capabilityLevel(grant.capability);
  }
  const expires = grant.expiresAt
    ? grant.expiresAt.seconds * 1_000_000n + BigInt(Math.floor(grant.expiresAt.nanos / 1000))
    : null;
  db.stmt(
    "INSERT OR REPLACE INTO access_grants (node_id, principal, level, deny, expires_at, granted_by, granted_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
  ).run(nodeId, principal, granted, grant.deny ? 1 : 0, expires, event.actor, nowMicros);
}

function nodeExists(db: TenantDb, id: string): boolean {
  return db.stmt("SELECT 1 FROM nodes WHERE id = ?").get(id) !== undefined;
}
