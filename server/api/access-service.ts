import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { EntDbService } from "../../generated/entdb/v1/entdb_pb.js";
import { AccessChangeSchema } from "../../generated/entdb/v1/wal_pb.js";
import { isCapability } from "../acl/capability.ts";
import { isTenantRole, PrincipalError, parsePrincipal } from "../acl/principal.ts";
import { roleOf } from "../acl/tenant-roles.ts";
import { type Actor, requireActor } from "./auth.ts";
import type { ApiDeps } from "./entdb-service.ts";
import { invalidArgument } from "./ingress/ingress-error.ts";
import { submitLoggedChange } from "./logged-change.ts";
import type { TenantGuard } from "./tenant-guard.ts";

type AccessHandlers = Pick<
  ServiceImpl<typeof EntDbService>,
  | "createTenant"
  | "addTenantMember"
  | "setTenantMemberRole"
  | "removeTenantMember"
  | "createGroup"
  | "addGroupMember"
  | "removeGroupMember"
  | "shareNode"
  | "revokeNode"
  | "listTenants"
  | "listTenantMembers"
  | "listGroups"
>;

type Change = NonNullable<MessageInitShape<typeof AccessChangeSchema>["change"]>;

/** The tenant and membership handlers; `guard` is the service's tenant check. */
export function createAccessHandlers(
  deps: ApiDeps,
  guard: TenantGuard,
  run: <T>(body: () => Promise<T> | T) => Promise<T>,
): AccessHandlers {
  /** Logs `change` for `tenant` and answers with its receipt once applied. */
  const submit = (
    ctx: HandlerContext,
    actor: Actor,
    tenant: string,
    keyText: string,
    change: Change,
  ) =>
    submitLoggedChange(
      deps,
      actor,
      tenant,
      keyText,
      { case: "access", value: create(AccessChangeSchema, { change }) },
      ctx.signal,
    );

  const manage = (ctx: HandlerContext, tenant: string) => {
    const actor = requireActor(ctx.values);
    return { actor, tenant: guard(actor, tenant, "manage") };
  };

  return {
    createTenant: (req, ctx) =>
      run(() => {
        const actor = requireActor(ctx.values);
        if (req.tenant === "") throw invalidArgument("The request has no tenant; set `tenant`.");
        const tenant = deps.checkTenant(req.tenant);
        if (!actor.admin && !deps.openAccess)
          throw new ConnectError(
            `Only a server administrator (--admins) may create tenant '${tenant}'.`,
            Code.PermissionDenied,
          );
        const owner = principal(req.owner, "owner", ["user", "service"]);
        return submit(ctx, actor, tenant, req.idempotencyKey, {
          case: "createTenantOwner",
          value: owner,
        });
      }),
    addTenantMember: (req, ctx) =>
      run(() => {
        const { actor, tenant } = manage(ctx, req.tenant);
        const p = principal(req.principal, "principal", ["user", "service", "group"]);
        const role = roleText(req.role);
        return submit(ctx, actor, tenant, req.idempotencyKey, {
          case: "addMember",
          value: { principal: p, role },
        });
      }),
    setTenantMemberRole: (req, ctx) =>
      run(() => {
        const { actor, tenant } = manage(ctx, req.tenant);
        const p = principal(req.principal, "principal", ["user", "service", "group"]);
        const role = roleText(req.role);
        return submit(ctx, actor, tenant, req.idempotencyKey, {
          case: "setMemberRole",
          value: { principal: p, role },
        });
      }),
    removeTenantMember: (req, ctx) =>
      run(() => {
        const { actor, tenant } = manage(ctx, req.tenant);
        const p = principal(req.principal, "principal", ["user", "service", "group"]);
        return submit(ctx, actor, tenant, req.idempotencyKey, { case: "removeMember", value: p });
      }),
    createGroup: (req, ctx) =>
      run(() => {
        const { actor, tenant } = manage(ctx, req.tenant);
        const group = principal(req.group, "group", ["group"]);
        return submit(ctx, actor, tenant, req.idempotencyKey, {
          case: "createGroup",
          value: group,
        });
      }),
    addGroupMember: (req, ctx) =>
      run(() => {
        const { actor, tenant } = manage(ctx, req.tenant);
        const group = principal(req.group, "group", ["group"]);
        const p = principal(req.principal, "principal", ["user", "service"]);
        return submit(ctx, actor, tenant, req.idempotencyKey, {
          case: "addGroupMember",
          value: { group, principal: p },
        });
      }),
    removeGroupMember: (req, ctx) =>
      run(() => {
        const { actor, tenant } = manage(ctx, req.tenant);
        const group = principal(req.group, "group", ["group"]);
        const p = principal(req.principal, "principal", ["user", "service"]);
        return submit(ctx, actor, tenant, req.idempotencyKey, {
          case: "removeGroupMember",
          value: { group, principal: p },
        });
      }),

    // Any member may ask; the applier decides from the node (admin on it), so whether a
    // node exists is not told before that, and then only as it would be by a read.
    shareNode: (req, ctx) =>
      run(() => {
        const actor = requireActor(ctx.values);
        const tenant = guard(actor, req.tenant, "read");
        const p = principal(req.principal, "principal", GRANTEE_KINDS);
        if (req.nodeId === "") throw invalidArgument("Set `node_id` to the node to share.");
        if (!req.deny && !isCapability(req.capability))
          throw invalidArgument(
            `\`capability\` is '${req.capability.slice(0, 40)}'; it must be read, comment, edit, delete or admin.`,
          );
        return submit(ctx, actor, tenant, req.idempotencyKey, {
          case: "share",
          value: {
            nodeId: req.nodeId,
            principal: p,
            capability: req.deny ? "" : req.capability,
            deny: req.deny,
            ...(req.expiresAt ? { expiresAt: req.expiresAt } : {}),
          },
        });
      }),
    revokeNode: (req, ctx) =>
      run(() => {
        const actor = requireActor(ctx.values);
        const tenant = guard(actor, req.tenant, "read");
        const p = principal(req.principal, "principal", GRANTEE_KINDS);
        if (req.nodeId === "") throw invalidArgument("Set `node_id` to the node to revoke on.");
        return submit(ctx, actor, tenant, req.idempotencyKey, {
          case: "revoke",
          value: { nodeId: req.nodeId, principal: p },
        });
      }),

    listTenants: (_req, ctx) =>
      run(() => {
        const actor = requireActor(ctx.values);
        const everything = actor.admin || deps.openAccess;
        const tenants = [];
        for (const tenant of deps.listTenantIds()) {
          const access = deps.access.get(tenant);
          const role = access?.created ? roleOf(access, actor) : undefined;
          if (role !== undefined || everything) tenants.push({ tenant, role: role ?? "" });
        }
        return { tenants };
      }),
    listTenantMembers: (req, ctx) =>
      run(() => {
        const actor = requireActor(ctx.values);
        const tenant = guard(actor, req.tenant, actor.admin ? "manage" : "read");
        const members = [...(deps.access.get(tenant)?.members ?? new Map())]
          .map(([p, role]) => ({ principal: p, role }))
          .sort((a, b) => (a.principal < b.principal ? -1 : a.principal > b.principal ? 1 : 0));
        return { members };
      }),
    listGroups: (req, ctx) =>
      run(() => {
        const actor = requireActor(ctx.values);
        const tenant = guard(actor, req.tenant, actor.admin ? "manage" : "read");
        const groups = [...(deps.access.get(tenant)?.groups ?? new Map<string, Set<string>>())]
          .map(([group, members]) => ({ group, members: [...members].sort() }))
          .sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
        return { groups };
      }),
  };
}

/** Who a grant or deny may name. */
const GRANTEE_KINDS = ["user", "service", "group", "role", "tenant"] as const;

/** The canonical principal of a request field, or INVALID_ARGUMENT naming the field. */
function principal(text: string, field: string, kinds: readonly string[]): string {
  if (text === "") throw invalidArgument(`Set \`${field}\` to a ${kinds.join(" or ")} principal.`);
  let parsed: ReturnType<typeof parsePrincipal>;
  try {
    parsed = parsePrincipal(text);
  } catch (err) {
    if (err instanceof PrincipalError) {
      // A bare id ("eng" for a group) is the common slip: say which spelling was meant.
      const hint =
        !text.includes(":") && isPrincipal(`group:${text}`)
          ? ` Did you mean ${kinds
              .filter((k) => k === "user" || k === "service" || k === "group")
              .map((k) => `'${k}:${text}'`)
              .join(" or ")}?`
          : "";
      throw invalidArgument(`\`${field}\`: ${err.message}${hint}`);
    }
    throw err;
  }
  if (!kinds.includes(parsed.kind))
    throw invalidArgument(
      `\`${field}\` is '${parsed.text}'; it must be a ${kinds.join(" or ")} principal.`,
    );
  return parsed.text;
}

function isPrincipal(text: string): boolean {
  try {
    parsePrincipal(text);
    return true;
  } catch {
    return false;
  }
}

function roleText(role: string): string {
  if (!isTenantRole(role))
    throw invalidArgument(
      `\`role\` is '${role.slice(0, 40)}'; it must be owner, admin, member or viewer.`,
    );
  return role;
}
