/**
 * Assembles the specs of the `.proto` files a schema generates, in print order. The
 * shared file (`schema.proto`) holds the schema's enums, then the shared enum, then the
 * shared messages; then one file per node type (id order) with its fields message, API
 * messages and service, then the same per edge type. Each type's file imports the shared
 * file and only the well-known types it uses.
 *
 * One file per type keeps every file small: protobuf tooling (protoc-gen-es among it)
 * does name lookups over one file's declarations, which grow with the square of a file's
 * size, and types never refer to each other's messages (an edge names its endpoints by id).
 */

import type { EdgeType, NodeType, Schema } from "../../schema/index.ts";
import {
  edgeApiMessages,
  edgeService,
  nodeApiMessages,
  nodeService,
  sharedEnums,
  sharedMessages,
} from "./api-specs.ts";
import { protoFilePath, protoTypeFilePath, WKT } from "./proto-names.ts";
import type { FieldSpec, FileSpec, MessageSpec, ServiceSpec } from "./proto-spec.ts";
import { enumSpecOf, typeFieldsMessage } from "./type-specs.ts";

/**
 * The file specs of `schema`, the shared file first. Names must already have passed
 * `checkProtoNames`.
 */
export function buildFileSpecs(schema: Schema): FileSpec[] {
  const pkg = schema.package;
  const sharedPath = protoFilePath(pkg);
  const messages = sharedMessages(pkg);
  const shared: FileSpec = {
    path: sharedPath,
    package: pkg,
    imports: importsOf(messages),
    enums: [...schema.enums.map(enumSpecOf), ...sharedEnums()],
    messages,
    services: [],
  };
  const typeFile = (
    type: NodeType | EdgeType,
    api: readonly MessageSpec[],
    service: ServiceSpec,
  ): FileSpec => {
    const typeMessages = [typeFieldsMessage(pkg, type), ...api];
    return {
      path: protoTypeFilePath(pkg, type.name),
      package: pkg,
      imports: [sharedPath, ...importsOf(typeMessages)].sort(),
      enums: [],
      messages: typeMessages,
      services: [service],
    };
  };
  return [
    shared,
    ...schema.nodes.map((n) => typeFile(n, nodeApiMessages(pkg, n), nodeService(pkg, n))),
    ...schema.edges.map((e) => typeFile(e, edgeApiMessages(schema, e), edgeService(schema, e))),
  ];
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
