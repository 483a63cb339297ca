/**
 * Hand-built models the codegen tests share. They pin every input the generator reads
 * (kinds, options, docs, reservations) independently of the DSL compiler.
 */

import type { Schema } from "../../schema/model.ts";
import { edgeOf, enumOf, fieldOf, nodeOf, schemaOf } from "./model-builders.ts";

/** One node type with two fields: the smallest useful schema. */
export function minimalSchema(): Schema {
  return schemaOf("demo.notes", {
    nodes: [
      nodeOf(1, "Note", [
        fieldOf(1, "title", { kind: "string" }, { required: true }),
        fieldOf(2, "pinned", { kind: "bool" }),
      ]),
    ],
  });
}

/**
 * Every field kind, list kinds, docs on everything that takes one, deprecated fields,
 * enum values, node and edge types, reserved ids and names, and an edge without
 * properties.
 */
export function kitchenSinkSchema(): Schema {
  return schemaOf("acme.sink.v1", {
    enums: [
      enumOf("Color", ["red", "green", "blue"], {
        doc: "A primary color.",
        values: [
          { number: 1, name: "red", deprecated: false, doc: "Warm." },
          { number: 2, name: "green", deprecated: false },
          { number: 4, name: "blue", deprecated: true },
        ],
        reservedNumbers: [{ first: 3, last: 3 }],
        reservedNames: ["yellow"],
      }),
    ],
    nodes: [
      nodeOf(
        1,
        "Item",
        [
          fieldOf(
            1,
            "name",
            { kind: "string" },
            { doc: "Shown in lists.\nAt most 80 characters." },
          ),
          fieldOf(2, "count", { kind: "int" }),
          fieldOf(3, "ratio", { kind: "float" }),
          fieldOf(4, "active", { kind: "bool" }),
          fieldOf(5, "seen_at", { kind: "timestamp" }),
          fieldOf(6, "blob", { kind: "bytes" }),
          fieldOf(7, "extra", { kind: "json" }),
          fieldOf(8, "color", { kind: "enum", enumName: "Color" }),
          fieldOf(9, "parent", { kind: "ref", targetId: 1 }),
          fieldOf(10, "tags", { kind: "list", element: { kind: "string" } }),
          fieldOf(11, "scores", { kind: "list", element: { kind: "int" } }),
          fieldOf(12, "history", { kind: "list", element: { kind: "timestamp" } }),
          fieldOf(13, "palette", { kind: "list", element: { kind: "enum", enumName: "Color" } }),
          fieldOf(14, "related", { kind: "list", element: { kind: "ref", targetId: 2 } }),
          fieldOf(20, "legacy_code", { kind: "string" }, { deprecated: true }),
        ],
        {
          doc: "Something to keep track of.",
          reservedIds: [
            { first: 15, last: 15 },
            { first: 17, last: 19 },
          ],
          reservedNames: ["old_name", "size"],
        },
      ),
      nodeOf(2, "Shelf", [fieldOf(1, "label", { kind: "string" })], { deprecated: true }),
    ],
    edges: [
      edgeOf(10, "Holds", 2, 1, {
        doc: "A shelf holds items.",
        inverseName: "held_by",
        fields: [
          fieldOf(1, "position", { kind: "int" }, { doc: "Slot number, from the left." }),
          fieldOf(3, "note", { kind: "string" }),
        ],
        reservedIds: [{ first: 2, last: 2 }],
      }),
      edgeOf(11, "Near", 1, 1, { deprecated: true }),
    ],
  });
}
