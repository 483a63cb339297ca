/**
 * The mailbox RPCs of `entdb.v1.EntDbService` (docs/mailbox.md): ListMailbox,
 * GetMailboxUnreadCounts and UpdateMailboxItems. A principal reads and changes only its
 * own mailbox: the recipient is always the authenticated caller, and a request naming
 * another is PERMISSION_DENIED before anything is read or logged. A state change is
 * logged as a `MailboxChange` event and answered once the applier applied it, like a
 * plan, with its outcome kept under the idempotency key.
 */

import { create } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { EntDbService } from "../../generated/entdb/v1/entdb_pb.js";
import type { LogPosition } from "../../generated/entdb/v1/values_pb.js";
import { MailboxChangeSchema } from "../../generated/entdb/v1/wal_pb.js";
import type { ReadScope } from "../acl/read-scope.ts";
import { requireActor } from "./auth.ts";
import type { ApiDeps } from "./entdb-service.ts";
import { invalidArgument } from "./ingress/ingress-error.ts";
import { submitLoggedChange } from "./logged-change.ts";
import { pageSize } from "./page-size.ts";
import type { TenantGuard } from "./tenant-guard.ts";

type MailboxHandlers = Pick<
  ServiceImpl<typeof EntDbService>,
  "listMailbox" | "getMailboxUnreadCounts" | "updateMailboxItems"
>;

/** What the handlers borrow from the EntDbService they are part of. */
export interface MailboxHandlerDeps {
  readonly guardTenant: TenantGuard;
  guard<T>(body: () => Promise<T> | T): Promise<T>;
  awaitPosition(
    tenant: string,
    position: LogPosition | undefined,
    signal: AbortSignal,
  ): Promise<void>;
  scopeOf(ctx: HandlerContext, tenant: string): ReadScope;
}

/** Longest node id a MailboxChange may name, in characters. */
const MAX_NODE_ID_LENGTH = 256;

/** The mailbox handlers. */
export function createMailboxHandlers(deps: ApiDeps, m: MailboxHandlerDeps): MailboxHandlers {
  /** The caller and its tenant, refusing another principal's mailbox. */
  const ownMailbox = (ctx: HandlerContext, tenantText: string, recipient: string) => {
    const actor = requireActor(ctx.values);
    const tenant = m.guardTenant(actor, tenantText, "read");
    if (recipient !== "") checkOwnMailbox(ctx, recipient, "leave `recipient` empty");
    return { actor, tenant };
  };

  return {
    listMailbox: (req, ctx) =>
      m.guard(async () => {
        const { actor, tenant } = ownMailbox(ctx, req.tenant, req.recipient);
        const after = micros(req.deliveredAfter);
        const before = micros(req.deliveredBefore);
        const parent = parentFilter(req.parentId, req.parentEdgeTypeId);
        const limit = pageSize(req.limit, deps.limits);
        await m.awaitPosition(tenant, req.afterPosition, ctx.signal);
        const page = deps.reader.mailbox(
          tenant,
          {
            recipient: actor.id,
            unreadOnly: req.unreadOnly,
            typeIds: req.typeIds,
            ...(after === undefined ? {} : { deliveredAfter: after }),
            ...(before === undefined ? {} : { deliveredBefore: before }),
            includeArchived: req.includeArchived,
            starredOnly: req.starredOnly,
            ...(parent === undefined ? {} : { parent }),
            limit,
            cursor: req.cursor,
          },
          m.scopeOf(ctx, tenant),
        );
        return { items: [...page.items], nextCursor: page.nextCursor };
      }),

    getMailboxUnreadCounts: (req, ctx) =>
      m.guard(async () => {
        const { actor, tenant } = ownMailbox(ctx, req.tenant, req.recipient);
        await m.awaitPosition(tenant, req.afterPosition, ctx.signal);
        const counts = deps.reader.mailboxUnreadCounts(tenant, actor.id, m.scopeOf(ctx, tenant));
        return { total: counts.total, byType: [...counts.byType] };
      }),

    updateMailboxItems: (req, ctx) =>
      m.guard(() => {
        const { actor, tenant } = ownMailbox(ctx, req.tenant, "");
        const limit = deps.limits.maxOperations;
        if (req.nodeIds.length === 0 || req.nodeIds.length > limit) {
          throw invalidArgument(
            `The request names ${req.nodeIds.length} node ids; send 1 to ${limit} in \`node_ids\`.`,
          );
        }
        const long = req.nodeIds.find((id) => id.length === 0 || id.length > MAX_NODE_ID_LENGTH);
        if (long !== undefined) {
          throw invalidArgument(
            `A node id in \`node_ids\` is ${long.length} characters long; ids are 1 to ${MAX_NODE_ID_LENGTH}.`,
          );
        }
        if (req.read === undefined && req.archived === undefined && req.starred === undefined) {
          throw invalidArgument(
            "The request changes nothing: set `read`, `archived` or `starred`.",
          );
        }
        const change = create(MailboxChangeSchema, {
          nodeIds: req.nodeIds,
          ...(req.read === undefined ? {} : { read: req.read }),
          ...(req.archived === undefined ? {} : { archived: req.archived }),
          ...(req.starred === undefined ? {} : { starred: req.starred }),
        });
        return submitLoggedChange(
          deps,
          actor,
          tenant,
          req.idempotencyKey,
          { case: "mailbox", value: change },
          ctx.signal,
        );
      }),
  };
}

/** Refuses (PERMISSION_DENIED) a `recipient` that is not the authenticated caller. */
export function checkOwnMailbox(ctx: HandlerContext, recipient: string, fix: string): void {
  const actor = requireActor(ctx.values);
  if (recipient === actor.id) return;
  throw new ConnectError(
    `'${actor.id}' may read and change only its own mailbox, not that of '${recipient.slice(0, 210)}'; ${fix}.`,
    Code.PermissionDenied,
  );
}

/** The thread/parent filter of ListMailbox: both fields set, or neither. */
function parentFilter(
  id: string,
  edgeTypeId: number,
): { id: string; edgeTypeId: number } | undefined {
  if (id === "" && edgeTypeId === 0) return undefined;
  if (id === "" || edgeTypeId === 0) {
    throw invalidArgument(
      `The parent filter needs both \`parent_id\` and \`parent_edge_type_id\`; ${id === "" ? "`parent_id` is empty" : "`parent_edge_type_id` is 0"}.`,
    );
  }
  if (id.length > MAX_NODE_ID_LENGTH) {
    throw invalidArgument(
      `\`parent_id\` is ${id.length} characters long; ids are 1 to ${MAX_NODE_ID_LENGTH}.`,
    );
  }
  return { id, edgeTypeId };
}

/** A request timestamp in microseconds; undefined when unset. */
function micros(t: Timestamp | undefined): bigint | undefined {
  if (t === undefined) return undefined;
  return t.seconds * 1_000_000n + BigInt(Math.floor(t.nanos / 1000));
}
