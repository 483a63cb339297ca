/**
 * A small schema built by hand (no compiler involved) that exercises every field kind,
 * a unique field, a composite unique, defaults, deprecation, doc comments (one with a
 * `*` + `/` sequence), an acronym type name, and edges with and without properties.
 */

import type { Field, FieldType, Schema } from "../../schema/model.ts";

function field(id: number, name: string, type: FieldType, extra: Partial<Field> = {}): Field {
  return {
    id,
    name,
    type,
    required: false,
    unique: false,
    index: false,
    searchable: false,
    deprecated: false,
    ...extra,
  };
}

const common = {
  uniques: [],
  indexes: [],
  visibility: "tenant",
  deprecated: false,
  reservedIds: [],
  reservedNames: [],
} as const;
const edgeCommon = {
  uniquePerFrom: false,
  deprecated: false,
  reservedIds: [],
  reservedNames: [],
} as const;

export const smallSchema: Schema = {
  package: "demo.small",
  enums: [
    {
      name: "Color",
      doc: "A paint color.",
      values: [
        { number: 1, name: "red", deprecated: false },
        { number: 2, name: "dark_blue", deprecated: false, doc: "Like the sea." },
        { number: 3, name: "beige", deprecated: true },
      ],
      reservedNumbers: [],
      reservedNames: [],
    },
  ],
  nodes: [
    {
      ...common,
      id: 1,
      name: "Person",
      doc: "Someone.\nSecond line; ends a comment: */ here.",
      fields: [
        field(1, "email", { kind: "string" }, { required: true, unique: true, doc: "Login." }),
        field(2, "age", { kind: "int" }, { default: { kind: "int", value: 0n } }),
        field(3, "score", { kind: "float" }),
        field(
          4,
          "active",
          { kind: "bool" },
          { required: true, default: { kind: "bool", value: true } },
        ),
        field(5, "born_at", { kind: "timestamp" }),
        field(6, "photo", { kind: "bytes" }),
        field(7, "prefs", { kind: "json" }),
        field(8, "favorite", { kind: "enum", enumName: "Color" }, { required: true }),
        field(9, "best_friend", { kind: "ref", targetId: 1 }),
        field(10, "tags", { kind: "list", element: { kind: "string" } }),
        field(11, "palette", { kind: "list", element: { kind: "enum", enumName: "Color" } }),
        field(12, "friends", { kind: "list", element: { kind: "ref", targetId: 1 } }),
        field(13, "blobs", { kind: "list", element: { kind: "json" } }),
        field(14, "nickname", { kind: "string" }, { deprecated: true, doc: "Use email." }),
      ],
    },
    {
      ...common,
      id: 2,
      name: "URLLink",
      uniques: [{ fieldIds: [1, 2] }],
      fields: [
        field(1, "owner", { kind: "ref", targetId: 1 }, { required: true }),
        field(2, "path", { kind: "string" }, { required: true }),
      ],
    },
    { ...common, id: 3, name: "Empty", deprecated: true, fields: [] },
  ],
  edges: [
    {
      ...edgeCommon,
      id: 10,
      name: "Knows",
      doc: "Acquaintance.",
      fromId: 1,
      toId: 1,
      inverseName: "known_by",
      fields: [
        field(1, "since", { kind: "timestamp" }, { required: true }),
        field(
          2,
          "strength",
          { kind: "int" },
          { required: true, default: { kind: "int", value: 1n } },
        ),
      ],
    },
    { ...edgeCommon, id: 11, name: "Bookmarks", fromId: 1, toId: 2, fields: [] },
  ],
  reservedIds: [],
  reservedNames: [],
};
