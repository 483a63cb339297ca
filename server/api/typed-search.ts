/**
 * `Search` on the typed service of a node type with searchable fields
 * (`acme.tracker.TaskService/Search`), answered through `EntDbService/Search`: the
 * request names fields and filters by schema name, hits come as the type's own node
 * message, and snippets as the type's fields message (each matching searchable field
 * holds its excerpt), so `buf curl` needs no type or field ids.
 */

import { create, type DescMessage, type DescService, type Message } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import {
  type Node,
  SearchRequestSchema,
  SearchResponseSchema,
  SnippetEscape,
} from "../../generated/entdb/v1/entdb_pb.js";
import { ValueSchema } from "../../generated/entdb/v1/values_pb.js";
import type { NodeType, Schema } from "../../schema/index.ts";
import type { ApiDeps } from "./entdb-service.ts";
import { invalidArgument } from "./ingress/ingress-error.ts";
import { type Generic, methodOf, positionOf, tenantOf } from "./typed-call.ts";
import { type Fields, fieldByName, filterOf, valuesToFields } from "./typed-values.ts";

/** The `Search` handler of `type`'s typed service. */
export function typedSearchHandler(
  service: DescService,
  type: NodeType,
  fieldsDesc: DescMessage,
  schema: Schema,
  generic: Generic,
  deps: ApiDeps,
  toNode: (node: Node) => Message,
): (req: Fields, ctx: HandlerContext) => Promise<Message> {
  const method = methodOf(service, "Search");
  return async (req, ctx) => {
    const tenant = tenantOf(ctx);
    const where = (req["where"] as Fields[] | undefined) ?? [];
    const orderBy = (req["orderBy"] as Fields[] | undefined) ?? [];
    if (orderBy.length > 1)
      throw invalidArgument("Search orders by one field; pass at most one order_by.");
    const first = orderBy[0];
    const after = positionOf(req["afterPosition"], tenant, deps);
    const res = create(
      SearchResponseSchema,
      await generic.search(
        create(SearchRequestSchema, {
          tenant,
          query: String(req["query"] ?? ""),
          typeIds: [type.id],
          filters: where.map((w) => filterOf(w, type, schema)),
          ...(first
            ? {
                orderBy: {
                  fieldId:
                    first["field"] === "id"
                      ? 0
                      : fieldByName(type, String(first["field"] ?? "")).id,
                  descending: first["descending"] === true,
                },
              }
            : {}),
          limit: Number(req["limit"] ?? 0),
          cursor: String(req["after"] ?? ""),
          highlightStart: String(req["highlightStart"] ?? ""),
          highlightEnd: String(req["highlightEnd"] ?? ""),
          snippetEscape: snippetEscapeOf(req["snippetEscape"]),
          ...(after ? { afterPosition: after } : {}),
        }),
        ctx,
      ),
    );
    return create(method.output, {
      hits: res.hits.map((hit) => ({
        node: hit.node ? toNode(hit.node) : undefined,
        score: hit.score,
        snippets: create(
          fieldsDesc,
          valuesToFields(
            Object.fromEntries(
              hit.snippets.map((s) => [
                s.fieldId,
                create(ValueSchema, { kind: { case: "stringValue", value: s.text } }),
              ]),
            ),
            type,
            schema,
          ),
        ),
      })),
      nextCursor: res.nextCursor,
    } as Fields);
  };
}

/** The typed request's `snippet_escape` ("" or "html") as `EntDbService/Search` takes it. */
function snippetEscapeOf(value: unknown): SnippetEscape {
  const given = String(value ?? "");
  if (given === "") return SnippetEscape.UNSPECIFIED;
  if (given === "html") return SnippetEscape.HTML;
  throw invalidArgument(
    `\`snippet_escape\` is ${JSON.stringify(given)}; set "html" to HTML-escape snippet text, or leave it empty for the stored text as it is.`,
  );
}
