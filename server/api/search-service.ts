/**
 * `entdb.v1.EntDbService/Search`: checks the request, waits for `after_position` and
 * runs the search in the store for the caller's read scope (server/search/search-sql.ts).
 * Like every read, it never writes.
 */

import type { MessageInitShape } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  type SearchRequest,
  type SearchResponseSchema,
  SnippetEscape,
} from "../../generated/entdb/v1/entdb_pb.js";
import type { LogPosition } from "../../generated/entdb/v1/values_pb.js";
import type { Schema } from "../../schema/index.ts";
import type { ReadScope } from "../acl/read-scope.ts";
import type { TenantReader } from "../engine.ts";
import { searchedTypes } from "../search/search-sql.ts";
import { requireActor } from "./auth.ts";
import type { ApiLimits } from "./entdb-service.ts";
import { invalidArgument } from "./ingress/ingress-error.ts";
import { pageSize } from "./page-size.ts";

/** Longest highlight marker, in characters. */
export const MAX_HIGHLIGHT_LENGTH = 32;
/** Most tokens FTS5 puts in one snippet. */
export const MAX_SNIPPET_TOKENS = 64;
const DEFAULT_SNIPPET_TOKENS = 16;

/** What the handler borrows from the EntDbService it is part of. */
export interface SearchHandlerDeps {
  readonly reader: TenantReader;
  readonly limits: ApiLimits;
  schema(): Schema;
  guard<T>(body: () => Promise<T> | T): Promise<T>;
  readTenantOf(ctx: HandlerContext, tenant: string): string;
  awaitPosition(
    tenant: string,
    position: LogPosition | undefined,
    signal: AbortSignal,
  ): Promise<void>;
  scopeOf(ctx: HandlerContext, tenant: string): ReadScope;
}

/** The Search handler. */
export function createSearchHandler(
  deps: SearchHandlerDeps,
): (
  req: SearchRequest,
  ctx: HandlerContext,
) => Promise<MessageInitShape<typeof SearchResponseSchema>> {
  return (req, ctx) =>
    deps.guard(async () => {
      const tenant = deps.readTenantOf(ctx, req.tenant);
      // Types are checked against the served schema even where the tenant has no data yet.
      searchedTypes(deps.schema(), req.typeIds);
      for (const [name, marker] of [
        ["highlight_start", req.highlightStart],
        ["highlight_end", req.highlightEnd],
      ] as const) {
        if (marker.length > MAX_HIGHLIGHT_LENGTH) {
          throw invalidArgument(
            `${name} is ${marker.length} characters long; the limit is ${MAX_HIGHLIGHT_LENGTH}.`,
          );
        }
      }
      if (req.snippetTokens > MAX_SNIPPET_TOKENS) {
        throw invalidArgument(
          `snippet_tokens is ${req.snippetTokens}; a snippet holds 1 to ${MAX_SNIPPET_TOKENS} tokens (0 means ${DEFAULT_SNIPPET_TOKENS}).`,
        );
      }
      const limit = pageSize(req.limit, deps.limits);
      await deps.awaitPosition(tenant, req.afterPosition, ctx.signal);
      const page = deps.reader.search(
        tenant,
        {
          query: req.query,
          typeIds: req.typeIds,
          filters: req.filters,
          ...(req.orderBy ? { orderBy: req.orderBy } : {}),
          limit,
          cursor: req.cursor,
          highlight: { start: req.highlightStart || "[", end: req.highlightEnd || "]" },
          snippetTokens: req.snippetTokens || DEFAULT_SNIPPET_TOKENS,
          ...(req.snippetEscape === SnippetEscape.HTML ? { escape: "html" as const } : {}),
          ...(req.mailbox ? { mailbox: requireActor(ctx.values).id } : {}),
        },
        deps.scopeOf(ctx, tenant),
      );
      return {
        hits: page.hits.map((hit) => ({
          node: hit.node,
          score: hit.score,
          snippets: hit.snippets.map((s) => ({ fieldId: s.fieldId, text: s.text })),
        })),
        nextCursor: page.nextCursor,
      };
    });
}
