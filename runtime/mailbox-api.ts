/**
 * The caller's own mailbox, from a client (`db.mailbox`, `core.mailbox`; see
 * docs/mailbox.md): list items newest first with filters, count unread ones, and mark
 * them read, unread, archived or starred, and search the nodes in it. Types and reasons are named by accessor name
 * (`message`, `sentTo`) like everywhere else in a generated client; items and hits are
 * unions discriminated by `type`, and a type the client does not know (a newer schema)
 * comes as `type <id>` with the node undecoded.
 * A state change carries one idempotency key across the client's retries and resolves
 * once the server applied it.
 */

import type { Client } from "@connectrpc/connect";
import {
  type EntDbService,
  type ListMailboxResponse,
  type MailboxItem,
  type Node,
  SnippetEscape,
} from "../generated/entdb/v1/entdb_pb.js";
import type { Receipt } from "../generated/entdb/v1/values_pb.js";
import type { ReadOptions, WriteReceipt } from "./client-core-types.ts";
import { idempotencyKeyFor } from "./idempotency-key.ts";
import type {
  TypeNameOf,
  UnknownNode,
  UnknownTypeName,
  UntypedNode,
  UntypedNodeTypes,
} from "./node-type-map.ts";
import { pageLimit } from "./page-limit.ts";
import type { LogPosition } from "./position-tracker.ts";
import { decodeNode } from "./record-codec.ts";
import type { SchemaMeta } from "./schema-meta.ts";
import {
  type AnySearchHit,
  type CrossTypeSearchOptions,
  type SearchPage,
  snippetsOf,
} from "./search-api.ts";
import { checkWellFormed } from "./wire-value-codec.ts";

/** Options of {@link MailboxApi.list}. */
export interface MailboxListOptions extends ReadOptions {
  /** Only items not marked read. */
  readonly unread?: boolean;
  /** Only items whose node is of these types (accessor names). */
  readonly types?: readonly string[];
  /** Only items delivered at or after this time. */
  readonly since?: Date;
  /** Only items delivered before this time. */
  readonly until?: Date;
  /** Archived items too (left out by default). */
  readonly includeArchived?: boolean;
  /** Only starred items. */
  readonly starred?: boolean;
  /**
   * Only items whose node has an edge of type `edge` (accessor name) to node `id`: the
   * items of one thread or under one parent.
   */
  readonly parent?: { readonly edge: string; readonly id: string };
  /** Page size; the server clamps it to its maximum. */
  readonly limit?: number;
  /** The `next` of the previous page, with the same options. */
  readonly after?: string;
}

/** What every item of the caller's mailbox has besides its type and node. */
export interface MailboxEntryBase {
  /** The accessor name of the `mailbox` edge type that delivered it. */
  readonly reason: string;
  readonly deliveredAt: Date;
  readonly read: boolean;
  readonly archived: boolean;
  readonly starred: boolean;
}

/** An item whose node is of type `TType` (the accessor name, `message`), decoded like `get` results. */
export interface TypedMailboxEntry<TType extends string, TNode> extends MailboxEntryBase {
  readonly type: TType;
  readonly node: TNode;
}

/**
 * An item of a type the client does not know (a newer schema on the server): kept on the
 * page by type id, with the node undecoded.
 */
export interface UnknownTypeMailboxEntry extends MailboxEntryBase {
  readonly type: UnknownTypeName;
  readonly node: UnknownNode;
}

/**
 * One item of the caller's mailbox: a union discriminated by `type`, one member per node
 * type of `TNodes` (a generated client's `NodeTypes`: any node type can be in a mailbox,
 * since items stay when a schema stops delivering a type), plus
 * {@link UnknownTypeMailboxEntry}. So `if (item.type === "message") item.node.subject`
 * type-checks. Without a type map, `type` is any string and the node's properties are
 * `unknown`.
 */
export type MailboxEntry<TNodes = UntypedNodeTypes> =
  string extends TypeNameOf<TNodes>
    ? TypedMailboxEntry<string, UntypedNode>
    :
        | { [K in TypeNameOf<TNodes>]: TypedMailboxEntry<K, TNodes[K]> }[TypeNameOf<TNodes>]
        | UnknownTypeMailboxEntry;

/** A page of mailbox items. */
export interface MailboxPage<TNodes = UntypedNodeTypes> {
  readonly items: MailboxEntry<TNodes>[];
  /** Absent on the last page. */
  readonly next: string | undefined;
}

/** Unread, unarchived items: in all and per type (accessor name). */
export interface MailboxUnreadCounts {
  readonly total: number;
  readonly byType: { readonly [type: string]: number };
}

/**
 * Options of {@link MailboxApi.search}, those of `db.search`: `types` (accessor names;
 * default every searchable type), `limit`, `after`, `highlight`, `snippetTokens`, `escape`.
 */
export type MailboxSearchOptions = CrossTypeSearchOptions;

/** Options of a state change. */
export interface MailboxChangeOptions {
  /** Makes the change safe to retry later; one is made up otherwise. */
  readonly idempotencyKey?: string;
  readonly signal?: AbortSignal;
}

/**
 * The caller's mailbox in the client's tenant. `TNodes` are the node types items can
 * carry and `TSearchable` those search hits can (a generated client's `NodeTypes` and
 * `SearchableNodeTypes`); see {@link MailboxEntry}.
 */
export interface MailboxApi<TNodes = UntypedNodeTypes, TSearchable = TNodes> {
  /** A page of items, newest first. */
  list(options?: MailboxListOptions): Promise<MailboxPage<TNodes>>;
  unreadCounts(options?: ReadOptions): Promise<MailboxUnreadCounts>;
  /**
   * Full-text search (docs/search.md) among the nodes in the mailbox, most relevant
   * first. A hit of a type this client does not know comes as
   * `type <id>` with the node undecoded and no snippets.
   */
  search(
    query: string,
    options?: MailboxSearchOptions,
  ): Promise<SearchPage<AnySearchHit<TSearchable>>>;
  markRead(
    nodeIds: string | readonly string[],
    options?: MailboxChangeOptions,
  ): Promise<WriteReceipt>;
  markUnread(
    nodeIds: string | readonly string[],
    options?: MailboxChangeOptions,
  ): Promise<WriteReceipt>;
  archive(
    nodeIds: string | readonly string[],
    options?: MailboxChangeOptions,
  ): Promise<WriteReceipt>;
  unarchive(
    nodeIds: string | readonly string[],
    options?: MailboxChangeOptions,
  ): Promise<WriteReceipt>;
  star(nodeIds: string | readonly string[], options?: MailboxChangeOptions): Promise<WriteReceipt>;
  unstar(
    nodeIds: string | readonly string[],
    options?: MailboxChangeOptions,
  ): Promise<WriteReceipt>;
}

/** What the client core lends the mailbox API. */
export interface MailboxApiDeps {
  readonly tenant: string;
  readonly client: Client<typeof EntDbService>;
  readonly schema: SchemaMeta | undefined;
  /** Runs a read with retries, waiting for the client's latest write unless told not to. */
  read<T>(
    options: ReadOptions,
    call: (afterPosition: { afterPosition?: LogPosition }) => Promise<T>,
  ): Promise<T>;
  /** Runs a call with retries; a write passes its key, which its errors then carry. */
  call<T>(
    call: () => Promise<T>,
    signal: AbortSignal | undefined,
    idempotencyKey?: string,
  ): Promise<T>;
  receipt(receipt: Receipt | undefined, idempotencyKey: string): WriteReceipt;
}

/** Builds the mailbox API over a client core's machinery. */
export function createMailboxApi(deps: MailboxApiDeps): MailboxApi {
  const { tenant, client } = deps;
  const nodes = Object.entries(deps.schema?.nodes ?? {});
  const edges = Object.entries(deps.schema?.edges ?? {});
  const typeId = (key: string, method = "list"): number => {
    const found = nodes.find(([k]) => k === key);
    if (found === undefined) {
      throw new TypeError(
        `db.mailbox.${method}: '${key}' is not a node type of this client; use one of ${nodes.map(([k]) => k).join(", ")}.`,
      );
    }
    return found[1].id;
  };
  const edgeTypeId = (key: string): number => {
    const found = edges.find(([k]) => k === key);
    if (found === undefined) {
      throw new TypeError(
        `db.mailbox.list: '${key}' is not an edge type of this client; use one of ${edges.map(([k]) => k).join(", ")}.`,
      );
    }
    return found[1].id;
  };
  const entry = (item: MailboxItem): MailboxEntry => {
    const node = item.node as Node;
    const type = nodes.find(([, m]) => m.id === node.typeId);
    const ts = item.deliveredAt;
    return {
      type: type?.[0] ?? `type ${node.typeId}`,
      node: type === undefined ? { id: node.id } : (decodeNode(type[1], node) as UntypedNode),
      reason:
        edges.find(([, m]) => m.id === item.reasonEdgeTypeId)?.[0] ??
        `edge type ${item.reasonEdgeTypeId}`,
      deliveredAt: new Date(ts === undefined ? 0 : Number(ts.seconds) * 1000 + ts.nanos / 1e6),
      read: item.read,
      archived: item.archived,
      starred: item.starred,
    };
  };
  const change =
    (state: { read?: boolean; archived?: boolean; starred?: boolean }) =>
    async (
      nodeIds: string | readonly string[],
      options: MailboxChangeOptions = {},
    ): Promise<WriteReceipt> => {
      const key = idempotencyKeyFor(options.idempotencyKey);
      const call = options.signal === undefined ? {} : { signal: options.signal };
      const ids = typeof nodeIds === "string" ? [nodeIds] : [...nodeIds];
      const res = await deps.call(
        () =>
          client.updateMailboxItems({ tenant, nodeIds: ids, ...state, idempotencyKey: key }, call),
        options.signal,
        key,
      );
      return deps.receipt(res.receipt, key);
    };
  return {
    list: async (options = {}) => {
      const call = options.signal === undefined ? {} : { signal: options.signal };
      const res: ListMailboxResponse = await deps.read(options, (afterPosition) =>
        client.listMailbox(
          {
            tenant,
            unreadOnly: options.unread ?? false,
            typeIds: (options.types ?? []).map((key) => typeId(key)),
            ...(options.since === undefined ? {} : { deliveredAfter: timestampOf(options.since) }),
            ...(options.until === undefined ? {} : { deliveredBefore: timestampOf(options.until) }),
            includeArchived: options.includeArchived ?? false,
            starredOnly: options.starred ?? false,
            ...(options.parent === undefined
              ? {}
              : { parentId: options.parent.id, parentEdgeTypeId: edgeTypeId(options.parent.edge) }),
            limit: pageLimit(options.limit),
            cursor: options.after ?? "",
            ...afterPosition,
          },
          call,
        ),
      );
      return {
        items: res.items.map(entry),
        next: res.nextCursor === "" ? undefined : res.nextCursor,
      };
    },
    unreadCounts: async (options = {}) => {
      const call = options.signal === undefined ? {} : { signal: options.signal };
      const res = await deps.read(options, (afterPosition) =>
        client.getMailboxUnreadCounts({ tenant, ...afterPosition }, call),
      );
      const byType: Record<string, number> = {};
      for (const t of res.byType) {
        const key = nodes.find(([, m]) => m.id === t.typeId)?.[0] ?? `type ${t.typeId}`;
        byType[key] = Number(t.unread);
      }
      return { total: Number(res.total), byType };
    },
    search: async (query, options = {}) => {
      // The encoder would send U+FFFD for a lone surrogate: another query than the caller's.
      checkWellFormed(query, "The search query");
      const typeIds = (options.types ?? []).map((key) => typeId(key, "search"));
      const call = options.signal === undefined ? {} : { signal: options.signal };
      const res = await deps.read(options, (afterPosition) =>
        client.search(
          {
            tenant,
            query,
            typeIds,
            mailbox: true,
            limit: pageLimit(options.limit),
            cursor: options.after ?? "",
            highlightStart: options.highlight?.start ?? "",
            highlightEnd: options.highlight?.end ?? "",
            snippetTokens: options.snippetTokens ?? 0,
            ...(options.escape === "html" ? { snippetEscape: SnippetEscape.HTML } : {}),
            ...afterPosition,
          },
          call,
        ),
      );
      return {
        items: res.hits.map((hit): AnySearchHit => {
          const node = hit.node as Node;
          const type = nodes.find(([, m]) => m.id === node.typeId);
          if (type === undefined)
            return {
              type: `type ${node.typeId}`,
              node: { id: node.id },
              score: hit.score,
              snippets: {},
            };
          return {
            type: type[0],
            node: decodeNode(type[1], node) as UntypedNode,
            score: hit.score,
            snippets: snippetsOf(type[1], hit.snippets),
          };
        }),
        next: res.nextCursor === "" ? undefined : res.nextCursor,
      };
    },
    markRead: change({ read: true }),
    markUnread: change({ read: false }),
    archive: change({ archived: true }),
    unarchive: change({ archived: false }),
    star: change({ starred: true }),
    unstar: change({ starred: false }),
  };
}

function timestampOf(date: Date): { seconds: bigint; nanos: number } {
  const ms = date.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds: BigInt(seconds), nanos: (ms - seconds * 1000) * 1_000_000 };
}
