/**
 * The large synthetic schema the proto benchmark measures: 500 types (450 node types,
 * 50 edge types) with 10,000 fields in all, every field kind represented.
 */

import type { Field, FieldType, Schema } from "../../schema/model.ts";
import { edgeOf, enumOf, fieldOf, nodeOf, schemaOf } from "./model-builders.ts";

const NODE_TYPES = 450;
const EDGE_TYPES = 50;
const FIELDS_PER_TYPE = 20;

/** The synthetic schema: field kinds rotate so every mapping is exercised. */
export function largeSchema(): Schema {
  const kinds = (i: number, t: number): FieldType => {
    const all: FieldType[] = [
      { kind: "string" },
      { kind: "int" },
      { kind: "float" },
      { kind: "bool" },
      { kind: "timestamp" },
      { kind: "bytes" },
      { kind: "json" },
      { kind: "enum", enumName: `Kind${t % 10}` },
      { kind: "ref", targetId: (t % NODE_TYPES) + 1 },
      { kind: "list", element: { kind: "string" } },
      { kind: "list", element: { kind: "int" } },
    ];
    return all[i % all.length]!;
  };
  const fields = (t: number): Field[] =>
    Array.from({ length: FIELDS_PER_TYPE }, (_, i) =>
      fieldOf(i + 1, `field_${i + 1}`, kinds(i, t), i % 7 === 0 ? { doc: `Field ${i + 1}.` } : {}),
    );
  return schemaOf("bench.large", {
    enums: Array.from({ length: 10 }, (_, i) => enumOf(`Kind${i}`, ["a", "b", "c", "d"])),
    nodes: Array.from({ length: NODE_TYPES }, (_, t) =>
      nodeOf(t + 1, `Type${t + 1}`, fields(t), { doc: `Node type ${t + 1}.` }),
    ),
    edges: Array.from({ length: EDGE_TYPES }, (_, e) =>
      edgeOf(1000 + e, `Link${e + 1}`, (e % NODE_TYPES) + 1, ((e + 1) % NODE_TYPES) + 1, {
        fields: fields(e),
      }),
    ),
  });
}
