/**
 * Live changes as an async iterator (`for await (const change of db.task.watch())`),
 * over the server-streaming `Subscribe` RPC (docs/subscriptions.md). The iterator
 * remembers the last position the server sent (a change's, or a checkpoint's) and,
 * when the stream breaks (the server restarts, the network drops, the server cut a
 * slow reader off), subscribes again after that position: no change is skipped and
 * none is repeated. `break` out of the loop, or abort `signal`, to stop.
 */

import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import {
  type Change,
  ChangeKind,
  type Edge,
  type Node,
  type SubscribeRequest,
  type SubscribeRequestSchema,
  type SubscribeResponse,
} from "../generated/entdb/v1/entdb_pb.js";
import type { LogPosition } from "./position-tracker.ts";
import { redirectOf } from "./redirect-transport.ts";
import { backoffDelay, DEFAULT_RETRY } from "./retry-policy.ts";

/** What a change did. */
export type ChangeKindName =
  | "nodeCreated"
  | "nodeUpdated"
  | "nodeDeleted"
  | "edgeCreated"
  | "edgeDeleted";

/** One change as the untyped client yields it. */
export interface WatchedChange {
  readonly kind: ChangeKindName;
  /** The log position of the plan that made it; resume after it to continue. */
  readonly position: LogPosition;
  /** The step's index in its plan. */
  readonly operationIndex: number;
  /** The node type (node changes) or the edge type (edge changes). */
  readonly typeId: number;
  /** The node (node changes); empty for an edge change. */
  readonly nodeId: string;
  /** The node as it read when the server sent the change; unset for a deletion. */
  readonly node: Node | undefined;
  /** The edge (edge changes). */
  readonly edge: Edge | undefined;
}

/** What to watch, and from where. Filters combine with OR; none watches everything. */
export interface WatchInit {
  readonly nodeTypeIds?: readonly number[];
  readonly nodeIds?: readonly string[];
  readonly edgeTypeIds?: readonly number[];
  /**
   * The caller's own principal (`"user:bob"`): the changes of the nodes in its mailbox
   * and of the edges from them, deliveries included (docs/mailbox.md). Another
   * principal's mailbox is PERMISSION_DENIED.
   */
  readonly mailbox?: string | undefined;
  /** Start after this position (a change's `position`); default: from now on. */
  readonly after?: LogPosition | undefined;
  /** Start with the tenant's whole history (ignored with `after`). */
  readonly fromStart?: boolean;
  /** Stops the iterator (it then ends without an error). */
  readonly signal?: AbortSignal | undefined;
  /**
   * Reconnects in a row without receiving anything before the iterator gives up and
   * throws the last error (default 10; the delays back off up to 2 s).
   */
  readonly maxReconnects?: number;
}

/** Opens one `Subscribe` stream. */
export type SubscribeCall = (
  request: MessageInitShape<typeof SubscribeRequestSchema>,
  signal: AbortSignal,
) => AsyncIterable<SubscribeResponse>;

const KIND_NAMES: Readonly<Record<number, ChangeKindName>> = {
  [ChangeKind.NODE_CREATED]: "nodeCreated",
  [ChangeKind.NODE_UPDATED]: "nodeUpdated",
  [ChangeKind.NODE_DELETED]: "nodeDeleted",
  [ChangeKind.EDGE_CREATED]: "edgeCreated",
  [ChangeKind.EDGE_DELETED]: "edgeDeleted",
};

/**
 * Whether a broken stream is worth resuming: the server is away or restarting, the
 * connection dropped, the server cut a slow reader off (RESOURCE_EXHAUSTED), or a server
 * of a cluster no longer owns the tenant (a redirect). Bad requests and refusals are not.
 */
export function isResumable(err: unknown): boolean {
  if (!(err instanceof ConnectError)) return true;
  // The server stopped owning the tenant (a cluster moved it): resume at the owner.
  if (redirectOf(err) !== undefined) return true;
  return (
    err.code === Code.Unavailable ||
    err.code === Code.ResourceExhausted ||
    err.code === Code.Unknown ||
    err.code === Code.Internal ||
    err.code === Code.Aborted ||
    err.code === Code.DeadlineExceeded ||
    err.code === Code.Canceled
  );
}

/** The changes of `tenant` matching `init`, resuming after every break. */
export async function* watchChanges(
  tenant: string,
  subscribe: SubscribeCall,
  init: WatchInit = {},
): AsyncGenerator<WatchedChange, void, undefined> {
  const filters: SubscribeRequest["filters"] = [
    ...(init.nodeTypeIds ?? []).map((v) => ({ kind: { case: "nodeTypeId" as const, value: v } })),
    ...(init.nodeIds ?? []).map((v) => ({ kind: { case: "nodeId" as const, value: v } })),
    ...(init.edgeTypeIds ?? []).map((v) => ({ kind: { case: "edgeTypeId" as const, value: v } })),
    ...(init.mailbox === undefined
      ? []
      : [{ kind: { case: "mailbox" as const, value: init.mailbox } }]),
  ] as SubscribeRequest["filters"];
  const maxReconnects = init.maxReconnects ?? 10;
  let after = init.after;
  let fromStart = init.fromStart ?? false;
  let failures = 0;
  const outer = init.signal;
  while (!isAborted(outer)) {
    const call = new AbortController();
    const stop = () => call.abort();
    outer?.addEventListener("abort", stop, { once: true });
    try {
      const request = after
        ? { tenant, filters, after: { partition: after.partition, offset: after.offset } }
        : { tenant, filters, fromStart };
      for await (const response of subscribe(request, call.signal)) {
        failures = 0;
        const position = response.position;
        if (position === undefined) {
          // Before the tenant's first event: "from now" is the start from here on.
          fromStart = true;
          continue;
        }
        const at = { partition: position.partition, offset: position.offset };
        // Advance first: a consumer that breaks out mid-batch is done anyway.
        after = at;
        for (const change of response.changes) {
          const kind = KIND_NAMES[change.kind];
          // A kind this client does not know (a newer server) is left out.
          if (kind !== undefined) yield watched(kind, change, at);
        }
      }
      // The server ended the stream (it shuts down): resume like after a break.
    } catch (err) {
      if (isAborted(outer)) return;
      if (!isResumable(err) || ++failures > maxReconnects) throw err;
    } finally {
      outer?.removeEventListener("abort", stop);
      call.abort();
    }
    await sleep(backoffDelay(DEFAULT_RETRY, Math.max(1, failures)), outer);
  }
}

function watched(kind: ChangeKindName, change: Change, position: LogPosition): WatchedChange {
  return {
    kind,
    position,
    operationIndex: change.operationIndex,
    typeId: change.typeId,
    nodeId: change.nodeId,
    node: change.node,
    edge: change.edge,
  };
}

function isAborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
