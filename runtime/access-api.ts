/**
 * Membership and sharing of one tenant, from a client (`core.access`; see
 * docs/access-control.md): add and remove members and groups, share a node with a
 * capability, deny it, revoke, and list. Each change carries one idempotency key across
 * the client's retries, so a retried change is applied once, and resolves once the
 * server applied it; a refusal rejects with the typed error (`PermissionDeniedError`, …).
 */

import type { Client } from "@connectrpc/connect";
import type { EntDbService } from "../generated/entdb/v1/entdb_pb.js";
import type { Receipt } from "../generated/entdb/v1/values_pb.js";
import type { WriteReceipt } from "./client-core-types.ts";
import { idempotencyKeyFor } from "./idempotency-key.ts";

/** A tenant role, weakest first: viewer reads, member writes, admin and owner manage. */
export type TenantRole = "viewer" | "member" | "admin" | "owner";

/** A capability on a node, weakest first; each implies the ones before it. */
export type Capability = "read" | "comment" | "edit" | "delete" | "admin";

/** Options of one membership or sharing change. */
export interface AccessChangeOptions {
  /** Makes the change safe to retry later; one is made up otherwise. */
  readonly idempotencyKey?: string;
  readonly signal?: AbortSignal;
}

/** Options of {@link AccessApi.share}. */
export interface ShareOptions extends AccessChangeOptions {
  /** When the grant lapses; never when unset. */
  readonly expiresAt?: Date;
}

/** What the client core lends the access API: its client, retries and receipts. */
export interface AccessApiDeps {
  readonly tenant: string;
  readonly client: Client<typeof EntDbService>;
  /** Runs a call with retries; a write passes its key, which its errors then carry. */
  call<T>(
    call: () => Promise<T>,
    signal: AbortSignal | undefined,
    idempotencyKey?: string,
  ): Promise<T>;
  receipt(receipt: Receipt | undefined, idempotencyKey: string): WriteReceipt;
}

/** Membership and sharing of the client's tenant. */
export interface AccessApi {
  /** Gives `principal` (user:, service:, group:, role: or tenant:*) `capability` on a node. */
  share(
    nodeId: string,
    principal: string,
    capability: Capability,
    options?: ShareOptions,
  ): Promise<WriteReceipt>;
  /** Denies `principal` a node: overrides grants and visibility, not ownership. */
  deny(nodeId: string, principal: string, options?: ShareOptions): Promise<WriteReceipt>;
  /** Removes `principal`'s grant or deny on a node. */
  revoke(nodeId: string, principal: string, options?: AccessChangeOptions): Promise<WriteReceipt>;
  addMember(
    principal: string,
    role: TenantRole,
    options?: AccessChangeOptions,
  ): Promise<WriteReceipt>;
  setMemberRole(
    principal: string,
    role: TenantRole,
    options?: AccessChangeOptions,
  ): Promise<WriteReceipt>;
  removeMember(principal: string, options?: AccessChangeOptions): Promise<WriteReceipt>;
  createGroup(group: string, options?: AccessChangeOptions): Promise<WriteReceipt>;
  addGroupMember(
    group: string,
    principal: string,
    options?: AccessChangeOptions,
  ): Promise<WriteReceipt>;
  removeGroupMember(
    group: string,
    principal: string,
    options?: AccessChangeOptions,
  ): Promise<WriteReceipt>;
  /** The tenant's members, sorted by principal. */
  members(options?: {
    readonly signal?: AbortSignal;
  }): Promise<{ readonly principal: string; readonly role: string }[]>;
  /** The tenant's groups with their members, sorted. */
  groups(options?: {
    readonly signal?: AbortSignal;
  }): Promise<{ readonly group: string; readonly members: readonly string[] }[]>;
}

/** Builds the access API over a client core's machinery. */
export function createAccessApi(deps: AccessApiDeps): AccessApi {
  const { tenant, client } = deps;
  /** Runs one change with one key across retries and returns its receipt. */
  const change = async (
    options: AccessChangeOptions,
    send: (
      idempotencyKey: string,
      call: { signal?: AbortSignal },
    ) => Promise<{ readonly receipt?: Receipt | undefined }>,
  ): Promise<WriteReceipt> => {
    const key = idempotencyKeyFor(options.idempotencyKey);
    const call = options.signal === undefined ? {} : { signal: options.signal };
    const res = await deps.call(() => send(key, call), options.signal, key);
    return deps.receipt(res.receipt, key);
  };
  const grant = (
    nodeId: string,
    principal: string,
    capability: Capability | "",
    deny: boolean,
    options: ShareOptions,
  ) =>
    change(options, (idempotencyKey, call) =>
      client.shareNode(
        {
          tenant,
          nodeId,
          principal,
          capability,
          deny,
          idempotencyKey,
          ...(options.expiresAt ? { expiresAt: timestampOf(options.expiresAt) } : {}),
        },
        call,
      ),
    );
  return {
    share: (nodeId, principal, capability, options = {}) =>
      grant(nodeId, principal, capability, false, options),
    deny: (nodeId, principal, options = {}) => grant(nodeId, principal, "", true, options),
    revoke: (nodeId, principal, options = {}) =>
      change(options, (idempotencyKey, call) =>
        client.revokeNode({ tenant, nodeId, principal, idempotencyKey }, call),
      ),
    addMember: (principal, role, options = {}) =>
      change(options, (idempotencyKey, call) =>
        client.addTenantMember({ tenant, principal, role, idempotencyKey }, call),
      ),
    setMemberRole: (principal, role, options = {}) =>
      change(options, (idempotencyKey, call) =>
        client.setTenantMemberRole({ tenant, principal, role, idempotencyKey }, call),
      ),
    removeMember: (principal, options = {}) =>
      change(options, (idempotencyKey, call) =>
        client.removeTenantMember({ tenant, principal, idempotencyKey }, call),
      ),
    createGroup: (group, options = {}) =>
      change(options, (idempotencyKey, call) =>
        client.createGroup({ tenant, group, idempotencyKey }, call),
      ),
    addGroupMember: (group, principal, options = {}) =>
      change(options, (idempotencyKey, call) =>
        client.addGroupMember({ tenant, group, principal, idempotencyKey }, call),
      ),
    removeGroupMember: (group, principal, options = {}) =>
      change(options, (idempotencyKey, call) =>
        client.removeGroupMember({ tenant, group, principal, idempotencyKey }, call),
      ),
    members: async (options = {}) => {
      const call = options.signal === undefined ? {} : { signal: options.signal };
      const res = await deps.call(() => client.listTenantMembers({ tenant }, call), options.signal);
      return res.members.map((m) => ({ principal: m.principal, role: m.role }));
    },
    groups: async (options = {}) => {
      const call = options.signal === undefined ? {} : { signal: options.signal };
      const res = await deps.call(() => client.listGroups({ tenant }, call), options.signal);
      return res.groups.map((g) => ({ group: g.group, members: [...g.members] }));
    },
  };
}

function timestampOf(date: Date): { seconds: bigint; nanos: number } {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds: BigInt(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
}
