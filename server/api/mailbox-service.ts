/**
 * The mailbox RPCs of `entdb.v1.EntDbService` (docs/mailbox.md): ListMailbox,
 * GetMailboxUnreadCounts and UpdateMailboxItems. A principal reads and changes only its
 * own mailbox: the recipient is always the authenticated caller, and a request naming
 * another is PERMISSION_DENIED before anything is read or logged. A state change is
 * logged as a `MailboxChange` event and answered once the applier applied it, like a
 * plan, with its outcome kept under the idempotency key.
 */

import { randomUUID } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { type Timestamp, timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type { EntDbService } from "../../generated/entdb/v1/entdb_pb.js";
import type { LogPosition } from "../../generated/entdb/v1/values_pb.js";
import { MailboxChangeSchema, WalEventSchema } from "../../generated/entdb/v1/wal_pb.js";
import type { ReadScope } from "../acl/read-scope.ts";
import type { PlanOutcome } from "../engine.ts";
import { InternalError } from "../internal-error.ts";
import { codeFromName } from "./api-errors.ts";
import { type Actor, requireActor } from "./auth.ts";
import { type ApiDeps, fromWalPosition } from "./entdb-service.ts";
import { checkSameRequest, digestHex, sha256 } from "./idempotency.ts";
import { invalidArgument } from "./ingress/ingress-error.ts";
import { keyTakenError, outcomeFor } from "./outcome-access.ts";
import type { TenantGuard } from "./tenant-guard.ts";

type MailboxHandlers = Pick<
  ServiceImpl<typeof EntDbService>,
  "listMailbox" | "getMailboxUnreadCounts" | "updateMailboxItems"
>;

/** What the handlers borrow from the EntDbService they are part of. */
export interface MailboxHandlerDeps {
  readonly guardTenant: TenantGuard;
  guard<T>(body: () => Promise<T> | T): Promise<T>;
  awaitPosition(tenant: string, position: LogPosition | undefined): Promise<void>;
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
        await m.awaitPosition(tenant, req.afterPosition);
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
            limit: req.limit,
            cursor: req.cursor,
          },
          m.scopeOf(ctx, tenant),
        );
        return { items: [...page.items], nextCursor: page.nextCursor };
      }),

    getMailboxUnreadCounts: (req, ctx) =>
      m.guard(async () => {
        const { actor, tenant } = ownMailbox(ctx, req.tenant, req.recipient);
        await m.awaitPosition(tenant, req.afterPosition);
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
        return submit(deps, actor, tenant, req.idempotencyKey, change);
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

/** Logs `change` for `tenant` and answers with its receipt once applied. */
async function submit(
  deps: ApiDeps,
  actor: Actor,
  tenant: string,
  keyText: string,
  change: ReturnType<typeof create<typeof MailboxChangeSchema>>,
) {
  if (keyText.length > 256)
    throw invalidArgument(`The idempotency key is ${keyText.length} characters; the limit is 256.`);
  const key = keyText === "" ? `auto:${randomUUID()}` : keyText;
  const digest = sha256(toBinary(MailboxChangeSchema, change));
  const earlier = keyText === "" ? undefined : deps.reader.outcomeByKey(tenant, key);
  if (earlier && !outcomeFor(earlier, actor, deps.openAccess)) throw keyTakenError(key, tenant);
  if (earlier) {
    checkSameRequest(earlier, digestHex(digest), key, "change");
    return respond(earlier, tenant, key, true);
  }
  const served = deps.served();
  const event = create(WalEventSchema, {
    tenant,
    actor: actor.id,
    idempotencyKey: key,
    schemaVersion: served.version,
    ingressTime: timestampNow(),
    actorAdmin: actor.admin,
    openAccess: deps.openAccess,
    actorGroups: [...actor.groups],
    body: { case: "mailbox", value: change },
    planDigest: digest,
  });
  const [position] = await deps.wal.append([{ tenant, payload: toBinary(WalEventSchema, event) }]);
  if (!position) throw new InternalError("invariant", "append returned no position");
  const applied = await deps.progress.waitFor(tenant, position, deps.limits.applyWaitMs);
  if (!applied) {
    throw new ConnectError(
      `Tenant '${tenant}' has not applied the change within ${deps.limits.applyWaitMs} ms; read it back with GetReceipt and idempotency key '${key}'.`,
      Code.DeadlineExceeded,
    );
  }
  const outcome = deps.progress.recentOutcome(tenant, key) ?? deps.reader.outcomeByKey(tenant, key);
  if (!outcome)
    throw new InternalError(
      "invariant",
      `applied event ${position.partition}:${position.offset} recorded no outcome`,
    );
  const replayed =
    outcome.position.offset !== position.offset ||
    outcome.position.partition !== position.partition;
  if (replayed && !outcomeFor(outcome, actor, deps.openAccess)) throw keyTakenError(key, tenant);
  if (replayed) checkSameRequest(outcome, digestHex(digest), key, "change");
  return respond(outcome, tenant, key, replayed);
}

function respond(outcome: PlanOutcome, tenant: string, key: string, replayed: boolean) {
  if (outcome.failure) {
    throw new ConnectError(outcome.failure.message, codeFromName(outcome.failure.code));
  }
  return {
    receipt: {
      tenant,
      position: fromWalPosition(outcome.position),
      applied: true,
      idempotencyKey: key,
      replayed,
      schemaVersion: outcome.schemaVersion,
    },
  };
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
