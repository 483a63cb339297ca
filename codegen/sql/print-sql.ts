/**
 * Prints `indexes.sql`: the DDL of a tenant database for a schema, for people to read
 * (code review of a schema change, a DBA looking at a slow query). The statements are
 * exactly those the store runs; the comments name the types and fields each object
 * covers, since the SQL itself speaks only in ids. The output writer adds the
 * `@generated` header.
 */

import type { EdgeType, NodeType, Schema } from "../../schema/index.ts";
import { BASE_TABLE_DDL, type SchemaObject, schemaObjects } from "../store-layout/index.ts";

/** Renders the readable `indexes.sql` for `schema`. Same schema, same bytes. */
export function printSqlFile(schema: Schema): string {
  const lines: string[] = [
    `-- Tenant database layout for package ${schema.package}.`,
    "-- Storage is keyed by ids: payloads are JSON objects keyed by field id, and every",
    "-- index below reads those keys with json_extract. Renaming a type or field changes",
    "-- nothing here; changing an id is a different field.",
    "",
    "-- Tables every tenant database has.",
  ];
  for (const stmt of BASE_TABLE_DDL) lines.push(`${stmt};`);
  const objects = schemaObjects(schema);
  let owner = "";
  for (const object of objects) {
    const heading = headingOf(schema, object);
    if (heading !== owner) {
      lines.push("", `-- ${heading}`);
      owner = heading;
    }
    lines.push(`-- ${describe(schema, object)}`, `${object.sql};`);
  }
  if (objects.length === 0)
    lines.push("", "-- The schema declares no indexes, unique fields or searchable fields.");
  return `${lines.join("\n")}\n`;
}

function headingOf(schema: Schema, object: SchemaObject): string {
  if (object.kind === "edge-index") {
    const edge = schema.edges.find((e) => e.id === object.typeId);
    return `Edge ${edge?.name ?? "?"} (edge type ${object.typeId})`;
  }
  const node = schema.nodes.find((n) => n.id === object.typeId);
  return `Node ${node?.name ?? "?"} (type ${object.typeId})`;
}

function describe(schema: Schema, object: SchemaObject): string {
  const owner: NodeType | EdgeType | undefined =
    object.kind === "edge-index"
      ? schema.edges.find((e) => e.id === object.typeId)
      : schema.nodes.find((n) => n.id === object.typeId);
  const names = object.fieldIds
    .map((id) => `${owner?.fields.find((f) => f.id === id)?.name ?? "?"} (${id})`)
    .join(", ");
  const many = object.fieldIds.length > 1;
  switch (object.kind) {
    case "unique":
      return `${many ? "unique" : "unique field"} ${names}; NULLs do not conflict`;
    case "index":
      return `${many ? "index" : "indexed field"} ${names}, then id for paging`;
    case "edge-index":
      return `indexed property ${names}`;
    case "fts":
      return `full-text search over ${names}; rowid is nodes.seq`;
  }
}
