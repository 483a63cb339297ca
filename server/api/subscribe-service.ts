/**
 * `entdb.v1.EntDbService/Subscribe`: a tenant's changes, in log order, from a resume
 * position (docs/subscriptions.md).
 *
 * Gap-free hand-over from history to live: the call registers its queue with the change
 * feed and reads the tenant's applied offset in one synchronous step, so every event at
 * or past that offset reaches the queue (the applier publishes synchronously after
 * commit) and none before it does. Events before it are read back from the log. Each
 * response names its event's position; the next offset to send only ever grows, so
 * nothing is sent twice, and a client that resumes after the last position it received
 * misses nothing, also after a restart (the log and the applied state are durable).
 *
 * A live stream with nothing to send gets a checkpoint every `heartbeatMs`, so proxies
 * keep it open and the client holds a fresh position to resume from. A server of a cluster
 * that stops serving the stream's tenant wakes it ({@link ChangeFeed.recheckAll}), and it
 * ends at once with the redirect a new call gets.
 *
 * Access: the caller must pass the tenant guard like any read, is checked again before
 * each response (a removed member's stream ends with PERMISSION_DENIED), and each change
 * is filtered by what its scope reads at delivery (see {@link visibleChange}).
 */

import { create, fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import {
  type Change,
  ChangeKind,
  type SubscribeRequest,
  type SubscribeResponse,
  SubscribeResponseSchema,
} from "../../generated/entdb/v1/entdb_pb.js";
import { type WalEvent, WalEventSchema } from "../../generated/entdb/v1/wal_pb.js";
import type { ReadScope } from "../acl/read-scope.ts";
import type { AppliedEvent } from "../apply/index.ts";
import { TOMBSTONE_RETENTION_DAYS } from "../store/node-tombstones.ts";
import { readRange } from "../wal/read-range.ts";
import type { WalPosition } from "../wal/wal.ts";
import { type ChangeSelection, changesOf, matches, selectionOf } from "./change-events.ts";
import type { ChangeFeed } from "./change-feed.ts";
import type { ApiDeps } from "./entdb-service.ts";
import { checkPosition, checkPositionLogged } from "./log-position.ts";
import { checkOwnMailbox } from "./mailbox-service.ts";

/** What Subscribe needs beyond the other handlers' deps. */
export interface SubscribeDeps {
  readonly feed: ChangeFeed;
  /** The bounds of a subscription's queue (events, bytes), named in the cut-off message. */
  readonly bufferLimit: number;
  readonly bufferBytes: number;
  /** Milliseconds of quiet after which a live stream is sent a checkpoint (a heartbeat). */
  readonly heartbeatMs: number;
  /** Whether `scope` reads every node of a type in a tenant (store/type-visibility.ts). */
  readsEveryNodeOf(tenant: string, typeId: number, scope: ReadScope): boolean;
  /**
   * Whether `scope` reads a deleted node as its tombstone stands (store/node-tombstones.ts);
   * undefined when the node has no tombstone.
   */
  readsDeletedNode(
    tenant: string,
    typeId: number,
    nodeId: string,
    scope: ReadScope,
  ): boolean | undefined;
  /** Whether a deleted node was in `recipient`'s mailbox when it was deleted (its tombstone says). */
  wasInMailbox(tenant: string, recipient: string, nodeId: string): boolean;
  /**
   * The ingress time (microseconds) before which deletions have lost their tombstones
   * (pruned, store/node-tombstones.ts); undefined when none was pruned.
   */
  tombstonesPrunedBefore(tenant: string): bigint | undefined;
  /** Told of each batch of log records a subscription's catch-up read back (the server counts them). */
  onHistoryRead?(records: number): void;
  /** Told when a subscription is cut off for falling behind (the server logs it). */
  onCutOff?(tenant: string, position: WalPosition | undefined): void;
}

/** The call-scoped checks the service already has. */
export interface SubscribeGuards {
  /** Authenticates the call and checks its tenant access; returns the tenant id. */
  tenantOf(ctx: HandlerContext, tenant: string): string;
  /** The caller's read scope in a tenant it passed the guard for. */
  scopeOf(ctx: HandlerContext, tenant: string): ReadScope;
  /** Maps an error to the Connect error to answer. */
  toConnect(err: unknown): ConnectError;
}

/** Creates the server-streaming handler. */
export function createSubscribeHandler(
  deps: ApiDeps,
  guards: SubscribeGuards,
): (request: SubscribeRequest, ctx: HandlerContext) => AsyncGenerator<SubscribeResponse> {
  return async function* subscribe(request, ctx) {
    const sub = deps.subscriptions;
    if (!sub) throw new ConnectError("Subscriptions are not served here.", Code.Unimplemented);
    let tenant: string;
    let selection: ChangeSelection;
    try {
      tenant = guards.tenantOf(ctx, request.tenant);
      selection = selectionOf(request, deps.served().model);
      if (selection.mailbox !== undefined)
        checkOwnMailbox(ctx, selection.mailbox, "set `mailbox` to your own principal");
    } catch (err) {
      throw guards.toConnect(err);
    }
    const partition = deps.wal.partitionFor(tenant);
    const queue = sub.feed.listen(tenant);
    try {
      let applied: number;
      let next: number;
      try {
        // Same synchronous step as `listen` (see the module comment).
        applied = deps.reader.appliedOffset(tenant);
        if (request.after) {
          const at = checkPosition(deps.wal, tenant, request.after, "after");
          next = at.offset + 1;
          if (next > applied) await checkPositionLogged(deps.wal, at, "after");
        } else next = request.fromStart ? 0 : applied;
      } catch (err) {
        throw guards.toConnect(err);
      }
      const recipient = selection.mailbox;
      const inMailbox = (nodeId: string) =>
        recipient !== undefined && deps.reader.inMailbox(tenant, recipient, nodeId);
      // A deleted node's mailbox items went with it: its tombstone names who held it.
      const wasInMailbox = (nodeId: string) =>
        recipient !== undefined && sub.wasInMailbox(tenant, recipient, nodeId);
      const deliver = (
        position: WalPosition,
        changes: readonly Change[],
        ingressMicros: bigint,
      ): SubscribeResponse | undefined => {
        guards.tenantOf(ctx, tenant);
        const scope = guards.scopeOf(ctx, tenant);
        const visible: Change[] = [];
        let prunedBefore: bigint | undefined | null = null;
        for (const c of changes) {
          const deleted = c.kind === ChangeKind.NODE_DELETED;
          if (deleted) {
            // A deletion whose tombstone was pruned cannot be judged (who read it, whose
            // mailbox held it): the stream ends rather than leave it out unsaid.
            if (prunedBefore === null) prunedBefore = sub.tombstonesPrunedBefore(tenant);
            if (
              prunedBefore !== undefined &&
              ingressMicros < prunedBefore &&
              (recipient !== undefined || matches(selection, c))
            )
              throw beforeRetainedHistory(tenant, position);
          }
          if (!matches(selection, c, deleted ? wasInMailbox : inMailbox)) continue;
          const shown = visibleChange(deps, sub, tenant, scope, c);
          if (shown) visible.push(shown);
        }
        if (visible.length === 0) return undefined;
        return create(SubscribeResponseSchema, {
          position: { partition: position.partition, offset: BigInt(position.offset) },
          changes: visible,
        });
      };
      const responseOf = (e: AppliedEvent): SubscribeResponse | undefined => {
        // A live event is one object for every subscriber: its changes are worked out once.
        let changes = changesByEvent.get(e.event);
        if (changes === undefined) {
          const key = e.event.idempotencyKey;
          const outcome = key === "" ? undefined : deps.reader.outcomeByKey(tenant, key);
          changes = changesOf(e.event, e.position, outcome);
          changesByEvent.set(e.event, changes);
        }
        return deliver(e.position, changes, ingressMicros(e.event));
      };
      const cutOff = () => {
        sub.onCutOff?.(tenant, next > 0 ? { partition, offset: next - 1 } : undefined);
        const resume =
          next > 0
            ? `resume with \`after\` = ${partition}:${next - 1} (every event up to it was delivered)`
            : "subscribe again";
        return new ConnectError(
          `The subscription fell more than ${sub.bufferLimit} events or ${mib(sub.bufferBytes)} MiB behind tenant '${tenant}'; ${resume}, and read faster.`,
          Code.ResourceExhausted,
        );
      };
      /** The offset after the last event a response named; -1 before the first. */
      let lastSent = -1;

      // History, read back from the log.
      if (next < applied) {
        for await (const batch of readRange(deps.wal, partition, next, applied)) {
          // A client that left, or whose deadline passed, stops a long catch-up between
          // batches (the stream then ends below, as its signal's reason), also one whose
          // events select nothing and so yield nothing. The embedded log answers a read at
          // once: without a turn of the event loop between batches, the whole catch-up
          // would run before the call's end (or any other call) is seen.
          await new Promise<void>((resolve) => setImmediate(resolve));
          if (ctx.signal.aborted) break;
          sub.onHistoryRead?.(batch.length);
          for (const entry of batch) {
            if (entry.tenant !== tenant) continue;
            let response: SubscribeResponse | undefined;
            try {
              const event = fromBinary(WalEventSchema, entry.payload);
              response =
                event.tenant === tenant
                  ? responseOf({ position: entry.position, event, bytes: entry.payload.length })
                  : undefined;
            } catch (err) {
              throw guards.toConnect(err);
            }
            next = entry.position.offset + 1;
            if (response) {
              lastSent = next;
              yield response;
            }
            // Checked after the event, not before: every connection moves the client on
            // by one event at least, however busy the tenant is.
            if (queue.overflowed) throw cutOff();
          }
        }
        next = Math.max(next, applied);
      }

      // Live: what the applier commits from `applied` on.
      let live = false;
      while (!ctx.signal.aborted) {
        // When caught up, say how far the stream got (once at first, then whenever
        // events that selected nothing moved it), so a client knows it is live and
        // resumes past those events instead of reading them again. Before the tenant's
        // first event there is no position to name: the checkpoint has none.
        if (queue.size === 0 && (!live || lastSent !== next)) {
          live = true;
          lastSent = next;
          yield create(
            SubscribeResponseSchema,
            next > 0 ? { position: { partition, offset: BigInt(next - 1) } } : {},
          );
        }
        await queue.wait(ctx.signal, sub.heartbeatMs);
        if (queue.overflowed) throw cutOff();
        if (queue.takeRecheck()) {
          // This server may have stopped serving the tenant (a server of a cluster lost its
          // partition): the stream ends now with the answer a new call gets, the redirect.
          try {
            guards.tenantOf(ctx, tenant);
          } catch (err) {
            throw guards.toConnect(err);
          }
          if (queue.size === 0) continue;
        }
        if (queue.size === 0 && !ctx.signal.aborted) {
          // Quiet for a heartbeat: a checkpoint keeps proxies from closing the idle
          // stream and gives the client the freshest position to resume from.
          try {
            guards.tenantOf(ctx, tenant);
          } catch (err) {
            throw guards.toConnect(err);
          }
          lastSent = next;
          yield create(
            SubscribeResponseSchema,
            next > 0 ? { position: { partition, offset: BigInt(next - 1) } } : {},
          );
          continue;
        }
        for (const e of queue.drain()) {
          if (e.position.offset < next) continue;
          let response: SubscribeResponse | undefined;
          try {
            response = responseOf(e);
          } catch (err) {
            throw guards.toConnect(err);
          }
          next = e.position.offset + 1;
          if (response) {
            lastSent = next;
            yield response;
          }
          if (queue.overflowed) throw cutOff();
        }
      }
      const reason = ctx.signal.reason;
      if (reason instanceof ConnectError) throw reason;
    } finally {
      queue.close();
    }
  };
}

/** OUT_OF_RANGE for a history that reaches a deletion whose tombstone was pruned. */
function beforeRetainedHistory(tenant: string, position: WalPosition): ConnectError {
  return new ConnectError(
    `The resume position is older than the retained history: the deletion at ${position.partition}:${position.offset} of tenant '${tenant}' is older than the ${TOMBSTONE_RETENTION_DAYS} days its tombstone is kept, so who may be told of it is no longer known. Subscribe without \`after\` and \`from_start\` (from now) and read the current state again.`,
    Code.OutOfRange,
  );
}

/** The event's ingress time in microseconds, as the applier stamped its writes with it. */
function ingressMicros(event: WalEvent): bigint {
  const t = event.ingressTime;
  if (!t) return 0n;
  return t.seconds * 1_000_000n + BigInt(Math.floor(t.nanos / 1000));
}

function mib(bytes: number): string {
  return String(Math.round((bytes / (1024 * 1024)) * 10) / 10);
}

/** The changes of live events, shared by the subscriptions they are handed to. */
const changesByEvent = new WeakMap<object, readonly Change[]>();

/**
 * The change as the caller may be told of it, or undefined if it may not. A node
 * change is sent, with the node as the caller reads it now, when it reads the node at
 * delivery; a node deletion when it would read the node now, judged on its tombstone
 * (owner, `inherit_access` refs, and the grants, which outlive the node), or, for a
 * deletion without one (applied before tombstones were kept), when it reads every node
 * of the type; an edge change when it reads both ends. `change` itself is shared and
 * left as it is.
 */
function visibleChange(
  deps: ApiDeps,
  sub: SubscribeDeps,
  tenant: string,
  scope: ReadScope,
  change: Change,
): Change | undefined {
  switch (change.kind) {
    case ChangeKind.NODE_CREATED:
    case ChangeKind.NODE_UPDATED: {
      const node = deps.reader.getNode(tenant, change.typeId, change.nodeId, scope);
      return node ? { ...change, node } : undefined;
    }
    case ChangeKind.NODE_DELETED: {
      const reads =
        sub.readsDeletedNode(tenant, change.typeId, change.nodeId, scope) ??
        sub.readsEveryNodeOf(tenant, change.typeId, scope);
      return reads ? change : undefined;
    }
    default: {
      const edge = change.edge;
      if (!edge) return undefined;
      const ids = edge.fromId === edge.toId ? [edge.fromId] : [edge.fromId, edge.toId];
      return deps.reader.getNodes(tenant, 0, ids, scope).length === ids.length ? change : undefined;
    }
  }
}
