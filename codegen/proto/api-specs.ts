/**
 * The API around the schema's types: the shared messages every file declares once
 * (write receipts, filters, ordering), and per node type a stored-node wrapper, CRUD +
 * query request/response messages and a service; per edge type a stored-edge wrapper,
 * link/unlink/list messages and a service. Field numbers here are fixed forever: they
 * are the wire contract of every generated client.
 */

import type { EdgeType, NodeType, Schema } from "../../schema/index.ts";
import { nodeById } from "../../schema/index.ts";
import {
  edgeTypeNames,
  FILTER_OPS,
  nodeTypeNames,
  qualifiedName,
  SHARED_NAMES,
  WKT,
} from "./proto-names.ts";
import type { EnumSpec, MessageSpec, ServiceSpec } from "./proto-spec.ts";
import { field, messageType, scalar } from "./proto-spec.ts";

const TIMESTAMP = messageType(WKT.timestamp.typeName);

// The docs below repeat on every type's messages, in the `.proto` and in the `.d.ts`;
// on a 500-type schema each extra word costs tens of kilobytes of generated code.
const IDEMPOTENCY_DOC = "Retries with this key return the first outcome and write nothing.";
const AFTER_POSITION_DOC =
  "Waits until the tenant applied this WriteReceipt position (read your writes);\n0 reads at once.";
const EXPECTED_VERSION_DOC = "Fails with FAILED_PRECONDITION unless the node is at this version.";
const LIMIT_DOC = "The most results to return; 0 means the server's default page size.";
const AFTER_DOC = "The next_cursor of the previous page; empty for the first page.";
const NEXT_CURSOR_DOC = "Pass as `after` to get the next page; empty on the last page.";
const CHANGED_NODE_DOC = "The node as the caller reads it when the change is sent.";

const FILTER_OP_DOCS: Record<(typeof FILTER_OPS)[number], string> = {
  EQ: "Equal to the one value.",
  NE: "Not equal to the one value.",
  LT: "Less than the one value.",
  LTE: "Less than or equal to the one value.",
  GT: "Greater than the one value.",
  GTE: "Greater than or equal to the one value.",
  IN: "Equal to one of the values.",
  CONTAINS: "A list field holds the one value.",
  PREFIX: "A string field starts with the one value.",
};

/** The enum shared by every generated file: the comparison of a `FieldFilter`. */
export function sharedEnums(): EnumSpec[] {
  return [
    {
      name: SHARED_NAMES.filterOp,
      doc: "How a FieldFilter compares a field with its values.",
      values: [
        { name: "FILTER_OP_UNSPECIFIED", number: 0 },
        ...FILTER_OPS.map((op, i) => ({
          name: `FILTER_OP_${op}`,
          number: i + 1,
          doc: FILTER_OP_DOCS[op],
        })),
      ],
    },
  ];
}

/** The messages shared by every generated file. */
export function sharedMessages(pkg: string): MessageSpec[] {
  const q = (name: string): string => qualifiedName(pkg, name);
  return [
    {
      name: SHARED_NAMES.writeReceipt,
      doc: "Where a write landed in the tenant's log. Pass `position` as `after_position`\nto read your own write.",
      fields: [
        field("position", 1, scalar("int64"), "implicit", {
          doc: "The offset of the write in its log partition.",
        }),
        field("partition", 2, scalar("int32"), "implicit", {
          doc: "The log partition that holds the tenant.",
        }),
        field("applied", 3, scalar("bool"), "implicit", {
          doc: "Whether the write was applied to the tenant's data before the response.",
        }),
      ],
    },
    {
      name: SHARED_NAMES.filterValue,
      doc: "One operand of a filter: a value of the filtered field's kind. Enums are\ncompared by number, refs and strings as strings.",
      fields: [],
      oneofs: [
        {
          name: "kind",
          fields: [
            field("string_value", 1, scalar("string")),
            field("int_value", 2, scalar("int64")),
            field("float_value", 3, scalar("double")),
            field("bool_value", 4, scalar("bool")),
            field("timestamp_value", 5, TIMESTAMP),
            field("bytes_value", 6, scalar("bytes")),
            field("enum_value", 7, scalar("int32")),
          ],
        },
      ],
    },
    {
      name: SHARED_NAMES.fieldFilter,
      doc: "A condition on one field of a node type.",
      fields: [
        field("field", 1, scalar("string"), "implicit", { doc: "The field's schema name." }),
        field("op", 2, { enum: q(SHARED_NAMES.filterOp) }),
        field("values", 3, messageType(q(SHARED_NAMES.filterValue)), "repeated", {
          doc: "One value, or any number for FILTER_OP_IN.",
        }),
      ],
    },
    {
      name: SHARED_NAMES.orderBy,
      doc: "A sort key of a query.",
      fields: [
        field("field", 1, scalar("string"), "implicit", { doc: "The field's schema name." }),
        field("descending", 2, scalar("bool")),
      ],
    },
  ];
}

/** The wrapper, request and response messages of one node type, in print order. */
export function nodeApiMessages(pkg: string, node: NodeType): MessageSpec[] {
  const n = nodeTypeNames(node.name);
  const q = (name: string): string => qualifiedName(pkg, name);
  const receipt = messageType(q(SHARED_NAMES.writeReceipt));
  const stored = messageType(q(n.node));
  const deprecated = node.deprecated ? { deprecated: true } : {};
  return [
    {
      name: n.node,
      doc: `A stored ${node.name}: its id, fields, version and timestamps.`,
      ...deprecated,
      fields: [
        field("id", 1, scalar("string"), "implicit", { doc: "Minted by the server." }),
        field("fields", 2, messageType(q(n.fields))),
        field("version", 3, scalar("int64"), "implicit", {
          doc: "Starts at 1 and grows with every update.",
        }),
        field("created_at", 4, TIMESTAMP),
        field("updated_at", 5, TIMESTAMP),
      ],
    },
    {
      name: n.createRequest,
      fields: [
        field("fields", 1, messageType(q(n.fields))),
        field("idempotency_key", 2, scalar("string"), "implicit", { doc: IDEMPOTENCY_DOC }),
      ],
    },
    {
      name: n.createResponse,
      fields: [field("node", 1, stored), field("receipt", 2, receipt)],
    },
    {
      name: n.getRequest,
      fields: [
        field("id", 1, scalar("string")),
        field("after_position", 2, scalar("int64"), "implicit", { doc: AFTER_POSITION_DOC }),
      ],
    },
    { name: n.getResponse, fields: [field("node", 1, stored)] },
    {
      name: n.updateRequest,
      fields: [
        field("id", 1, scalar("string")),
        field("patch", 2, messageType(q(n.fields)), "implicit", {
          doc: "The fields to set; fields left unset keep their value.",
        }),
        field("clear_fields", 3, scalar("string"), "repeated", {
          doc: "Schema names of the fields to clear.",
        }),
        field("expected_version", 4, scalar("int64"), "explicit", { doc: EXPECTED_VERSION_DOC }),
        field("idempotency_key", 5, scalar("string"), "implicit", { doc: IDEMPOTENCY_DOC }),
      ],
    },
    {
      name: n.updateResponse,
      fields: [field("node", 1, stored), field("receipt", 2, receipt)],
    },
    {
      name: n.deleteRequest,
      fields: [
        field("id", 1, scalar("string")),
        field("expected_version", 2, scalar("int64"), "explicit", { doc: EXPECTED_VERSION_DOC }),
        field("idempotency_key", 3, scalar("string"), "implicit", { doc: IDEMPOTENCY_DOC }),
      ],
    },
    { name: n.deleteResponse, fields: [field("receipt", 1, receipt)] },
    {
      name: n.queryRequest,
      fields: [
        field("where", 1, messageType(q(SHARED_NAMES.fieldFilter)), "repeated", {
          doc: "Conditions that must all hold.",
        }),
        field("order_by", 2, messageType(q(SHARED_NAMES.orderBy)), "repeated"),
        field("limit", 3, scalar("int32"), "implicit", { doc: LIMIT_DOC }),
        field("after", 4, scalar("string"), "implicit", { doc: AFTER_DOC }),
        field("after_position", 5, scalar("int64"), "implicit", { doc: AFTER_POSITION_DOC }),
      ],
    },
    {
      name: n.queryResponse,
      fields: [
        field("nodes", 1, stored, "repeated"),
        field("next_cursor", 2, scalar("string"), "implicit", { doc: NEXT_CURSOR_DOC }),
      ],
    },
    ...(isSearchable(node) ? searchMessages(pkg, node) : []),
    ...watchMessages(pkg, node),
  ];
}

/** The request, change and response messages of a node type's `Watch`. */
function watchMessages(pkg: string, node: NodeType): MessageSpec[] {
  const n = nodeTypeNames(node.name);
  const q = (name: string): string => qualifiedName(pkg, name);
  const stored = messageType(q(n.node));
  return [
    {
      name: n.watchRequest,
      fields: [
        field("ids", 1, scalar("string"), "repeated", {
          doc: "Only these nodes' changes; empty: every node of the type.",
        }),
        field("after", 2, scalar("int64"), "explicit", {
          doc: "A response's `position`: resumes after it, no change missed or repeated.",
        }),
        field("from_start", 3, scalar("bool"), "implicit", {
          doc: "Without `after`: replays the tenant's history first.",
        }),
      ],
    },
    {
      name: n.change,
      doc: `One step of a plan that changed a ${node.name} node.`,
      fields: [
        field("id", 1, scalar("string"), "implicit", { doc: "The node's id." }),
        field("operation_index", 2, scalar("int32"), "implicit", {
          doc: "The step of the plan that made the change.",
        }),
      ],
      oneofs: [
        {
          name: "kind",
          fields: [
            field("created", 3, stored, "implicit", { doc: CHANGED_NODE_DOC }),
            field("updated", 4, stored, "implicit", { doc: CHANGED_NODE_DOC }),
            field("deleted", 5, scalar("bool"), "implicit", { doc: "The node was deleted." }),
          ],
        },
      ],
    },
    {
      name: n.watchResponse,
      fields: [
        field("position", 1, scalar("int64"), "explicit", {
          doc: "The plan's log offset; unset only before the tenant's first write.",
        }),
        field("partition", 2, scalar("int32"), "implicit", {
          doc: "The log partition that holds the tenant.",
        }),
        field("changes", 3, messageType(q(n.change)), "repeated", {
          doc: "None in a checkpoint: every event up to `position` was considered.",
        }),
      ],
    },
  ];
}

/** Whether a node type has searchable fields, and so a `Search` method. */
export function isSearchable(node: NodeType): boolean {
  return node.fields.some((f) => f.searchable);
}

/** The request, hit and response messages of a searchable type's `Search`. */
function searchMessages(pkg: string, node: NodeType): MessageSpec[] {
  const n = nodeTypeNames(node.name);
  const q = (name: string): string => qualifiedName(pkg, name);
  return [
    {
      name: n.searchRequest,
      fields: [
        field("query", 1, scalar("string"), "implicit", {
          doc: 'Words, "phrases", prefix*, AND, OR, NOT and parentheses.',
        }),
        field("where", 2, messageType(q(SHARED_NAMES.fieldFilter)), "repeated", {
          doc: "Conditions that must all hold.",
        }),
        field("order_by", 3, messageType(q(SHARED_NAMES.orderBy)), "repeated", {
          doc: "Orders by a field instead of by relevance.",
        }),
        field("limit", 4, scalar("int32"), "implicit", { doc: LIMIT_DOC }),
        field("after", 5, scalar("string"), "implicit", { doc: AFTER_DOC }),
        field("after_position", 6, scalar("int64"), "implicit", { doc: AFTER_POSITION_DOC }),
        field("highlight_start", 7, scalar("string"), "implicit", {
          doc: 'Put before each match in snippets; "[" when empty.',
        }),
        field("highlight_end", 8, scalar("string"), "implicit", {
          doc: 'Put after each match in snippets; "]" when empty.',
        }),
        field("snippet_escape", 9, scalar("string"), "implicit", {
          doc: 'How snippet text is escaped: "html" for HTML character references (the markers are put in as given); empty for the stored text as it is.',
        }),
      ],
    },
    {
      name: n.searchHit,
      fields: [
        field("node", 1, messageType(q(n.node))),
        field("score", 2, scalar("double"), "implicit", {
          doc: "Relevance: higher is more relevant.",
        }),
        field("snippets", 3, messageType(q(n.fields)), "implicit", {
          doc: "The searchable fields that matched, as excerpts with the matches marked.",
        }),
      ],
    },
    {
      name: n.searchResponse,
      fields: [
        field("hits", 1, messageType(q(n.searchHit)), "repeated"),
        field("next_cursor", 2, scalar("string"), "implicit", { doc: NEXT_CURSOR_DOC }),
      ],
    },
  ];
}

/** The service of one node type. */
export function nodeService(pkg: string, node: NodeType): ServiceSpec {
  const n = nodeTypeNames(node.name);
  const q = (name: string): string => qualifiedName(pkg, name);
  return {
    name: n.service,
    doc: `Reads and writes ${node.name} nodes.`,
    ...(node.deprecated ? { deprecated: true } : {}),
    methods: [
      {
        name: "Create",
        input: q(n.createRequest),
        output: q(n.createResponse),
        doc: `Creates one ${node.name} node; the server mints its id.`,
      },
      {
        name: "Get",
        input: q(n.getRequest),
        output: q(n.getResponse),
        doc: `Reads one ${node.name} node by id.`,
      },
      {
        name: "Update",
        input: q(n.updateRequest),
        output: q(n.updateResponse),
        doc: "Sets the fields present in `patch` and clears those in `clear_fields`.",
      },
      {
        name: "Delete",
        input: q(n.deleteRequest),
        output: q(n.deleteResponse),
        doc: `Deletes one ${node.name} node by id.`,
      },
      {
        name: "Query",
        input: q(n.queryRequest),
        output: q(n.queryResponse),
        doc: `Lists the ${node.name} nodes that match every filter, a page at a time.`,
      },
      ...(isSearchable(node)
        ? [
            {
              name: "Search",
              input: q(n.searchRequest),
              output: q(n.searchResponse),
              doc: `Full-text search over ${node.name} nodes, most relevant first, a page at a time.`,
            },
          ]
        : []),
      {
        name: "Watch",
        input: q(n.watchRequest),
        output: q(n.watchResponse),
        serverStreaming: true,
        doc: `Streams the changes of ${node.name} nodes as they are applied, from a resume position.`,
      },
    ],
  };
}

/** The wrapper, request and response messages of one edge type, in print order. */
export function edgeApiMessages(schema: Schema, edge: EdgeType): MessageSpec[] {
  const e = edgeTypeNames(edge.name);
  const q = (name: string): string => qualifiedName(schema.package, name);
  const receipt = messageType(q(SHARED_NAMES.writeReceipt));
  const props = messageType(q(e.props));
  const stored = messageType(q(e.edge));
  const idempotency = field("idempotency_key", 0, scalar("string"), "implicit", {
    doc: IDEMPOTENCY_DOC,
  });
  const { from, to } = endpointNames(schema, edge);
  return [
    {
      name: e.edge,
      doc: `A stored ${edge.name} edge, from ${from} to ${to}.`,
      ...(edge.deprecated ? { deprecated: true } : {}),
      fields: [
        field("from_id", 1, scalar("string"), "implicit", { doc: `The id of the ${from} node.` }),
        field("to_id", 2, scalar("string"), "implicit", { doc: `The id of the ${to} node.` }),
        field("props", 3, props),
        field("created_at", 4, TIMESTAMP),
      ],
    },
    {
      name: e.linkRequest,
      fields: [
        field("from_id", 1, scalar("string")),
        field("to_id", 2, scalar("string")),
        field("props", 3, props),
        { ...idempotency, number: 4 },
      ],
    },
    {
      name: e.linkResponse,
      fields: [field("edge", 1, stored), field("receipt", 2, receipt)],
    },
    {
      name: e.unlinkRequest,
      fields: [
        field("from_id", 1, scalar("string")),
        field("to_id", 2, scalar("string")),
        { ...idempotency, number: 3 },
      ],
    },
    { name: e.unlinkResponse, fields: [field("receipt", 1, receipt)] },
    {
      name: e.listRequest,
      fields: [
        field("from_id", 1, scalar("string")),
        field("limit", 2, scalar("int32"), "implicit", { doc: LIMIT_DOC }),
        field("after", 3, scalar("string"), "implicit", { doc: AFTER_DOC }),
        field("after_position", 4, scalar("int64"), "implicit", { doc: AFTER_POSITION_DOC }),
      ],
    },
    {
      name: e.listInverseRequest,
      fields: [
        field("to_id", 1, scalar("string")),
        field("limit", 2, scalar("int32"), "implicit", { doc: LIMIT_DOC }),
        field("after", 3, scalar("string"), "implicit", { doc: AFTER_DOC }),
        field("after_position", 4, scalar("int64"), "implicit", { doc: AFTER_POSITION_DOC }),
      ],
    },
    {
      name: e.listResponse,
      fields: [
        field("edges", 1, stored, "repeated"),
        field("next_cursor", 2, scalar("string"), "implicit", { doc: NEXT_CURSOR_DOC }),
        field("total", 3, scalar("int64"), "implicit", {
          doc: "How many edges the whole list holds, across all pages.",
        }),
      ],
    },
  ];
}

/** The service of one edge type. */
export function edgeService(schema: Schema, edge: EdgeType): ServiceSpec {
  const e = edgeTypeNames(edge.name);
  const q = (name: string): string => qualifiedName(schema.package, name);
  const { from, to } = endpointNames(schema, edge);
  const inverse =
    edge.inverseName === undefined ? "" : `\nClients name this traversal '${edge.inverseName}'.`;
  return {
    name: e.service,
    doc: `Links and lists ${edge.name} edges from ${from} to ${to}.`,
    ...(edge.deprecated ? { deprecated: true } : {}),
    methods: [
      {
        name: "Link",
        input: q(e.linkRequest),
        output: q(e.linkResponse),
        doc: `Creates the ${edge.name} edge from from_id (${from}) to to_id (${to}).`,
      },
      {
        name: "Unlink",
        input: q(e.unlinkRequest),
        output: q(e.unlinkResponse),
        doc: `Removes the ${edge.name} edge from from_id to to_id.`,
      },
      {
        name: "List",
        input: q(e.listRequest),
        output: q(e.listResponse),
        doc: `Lists the ${edge.name} edges leaving from_id (${from}), a page at a time.`,
      },
      {
        name: "ListInverse",
        input: q(e.listInverseRequest),
        output: q(e.listResponse),
        doc: `Lists the ${edge.name} edges arriving at to_id (${to}), a page at a time.${inverse}`,
      },
    ],
  };
}

/** The endpoint type names, for doc comments. */
function endpointNames(schema: Schema, edge: EdgeType): { from: string; to: string } {
  const name = (id: number): string => nodeById(schema, id)?.name ?? `node type ${id}`;
  return { from: name(edge.fromId), to: name(edge.toId) };
}
