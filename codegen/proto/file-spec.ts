/**
 * Assembles the spec of the one `.proto` a schema generates, in print order: schema
 * enums, then the shared enum; shared messages, then per node type (id order) its
 * fields message and API messages, then the same per edge type; services last.
 */

import type { Schema } from "../../schema/index.ts";
import {
  edgeApiMessages,
  edgeService,
  nodeApiMessages,
  nodeService,
  sharedEnums,
  sharedMessages,
} from "./api-specs.ts";
import { protoFilePath, WKT } from "./proto-names.ts";
import type { FieldSpec, FileSpec, MessageSpec } from "./proto-spec.ts";
import { enumSpecOf, typeFieldsMessage } from "./type-specs.ts";

/** The file spec of `schema`. Names must already have passed `checkProtoNames`. */
export function buildFileSpec(schema: Schema): FileSpec {
  const pkg = schema.package;
  const messages: MessageSpec[] = [...sharedMessages(pkg)];
  for (const node of schema.nodes) {
    messages.push(typeFieldsMessage(pkg, node), ...nodeApiMessages(pkg, node));
  }
  for (const edge of schema.edges) {
    messages.push(typeFieldsMessage(pkg, edge), ...edgeApiMessages(schema, edge));
  }
  return {
    path: protoFilePath(pkg),
    package: pkg,
    imports: importsOf(messages),
    enums: [...schema.enums.map(enumSpecOf), ...sharedEnums()],
    messages,
    services: [
      ...schema.nodes.map((n) => nodeService(pkg, n)),
      ...schema.edges.map((e) => edgeService(schema, e)),
    ],
  };
}

/** The file of each well-known type by type name. */
const WKT_FILES: ReadonlyMap<string, string> = new Map(
  Object.values(WKT).map((wkt) => [wkt.typeName, wkt.file]),
);

/** The well-known-type files the messages use, sorted: only what is referenced. */
function importsOf(messages: readonly MessageSpec[]): string[] {
  const files = new Set<string>();
  const use = (f: FieldSpec): void => {
    const file = "message" in f.type ? WKT_FILES.get(f.type.message) : undefined;
    if (file !== undefined) files.add(file);
  };
  for (const m of messages) {
    m.fields.forEach(use);
    for (const o of m.oneofs ?? []) o.fields.forEach(use);
  }
  return [...files].sort();
}
