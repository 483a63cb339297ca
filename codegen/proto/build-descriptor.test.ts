import { createFileRegistry, toBinary } from "@bufbuild/protobuf";
import type { DescriptorProto, FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
} from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { kitchenSinkSchema, minimalSchema } from "../../tests/codegen/fixture-schemas.ts";
import { enumOf, fieldOf, nodeOf, schemaOf } from "../../tests/codegen/model-builders.ts";
import { CodegenError } from "../codegen-error.ts";
import { buildFileDescriptor } from "./build-descriptor.ts";

function message(file: FileDescriptorProto, name: string): DescriptorProto {
  const found = file.messageType.find((m) => m.name === name);
  if (found === undefined) throw new Error(`no message ${name}`);
  return found;
}

function collisionMessage(build: () => unknown): { code: string; message: string } {
  try {
    build();
  } catch (error) {
    if (error instanceof CodegenError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error("expected a CodegenError");
}

describe("buildFileDescriptor", () => {
  const sink = buildFileDescriptor(kitchenSinkSchema());

  it("names the file after the package and imports only the well-known types it uses", () => {
    expect(sink.name).toBe("acme/sink/v1/schema.proto");
    expect(sink.package).toBe("acme.sink.v1");
    expect(sink.syntax).toBe("proto3");
    expect(sink.dependency).toEqual([
      "google/protobuf/struct.proto",
      "google/protobuf/timestamp.proto",
    ]);
    expect(buildFileDescriptor(minimalSchema()).dependency).toEqual([
      "google/protobuf/timestamp.proto",
    ]);
  });

  it("numbers every field by its field id and maps each kind to its proto type", () => {
    const T = FieldDescriptorProto_Type;
    const L = FieldDescriptorProto_Label;
    expect(
      message(sink, "Item").field.map((f) => [f.name, f.number, T[f.type], L[f.label], f.typeName]),
    ).toEqual([
      ["name", 1, "STRING", "OPTIONAL", ""],
      ["count", 2, "INT64", "OPTIONAL", ""],
      ["ratio", 3, "DOUBLE", "OPTIONAL", ""],
      ["active", 4, "BOOL", "OPTIONAL", ""],
      ["seen_at", 5, "MESSAGE", "OPTIONAL", ".google.protobuf.Timestamp"],
      ["blob", 6, "BYTES", "OPTIONAL", ""],
      ["extra", 7, "MESSAGE", "OPTIONAL", ".google.protobuf.Value"],
      ["color", 8, "ENUM", "OPTIONAL", ".acme.sink.v1.Color"],
      ["parent", 9, "STRING", "OPTIONAL", ""],
      ["tags", 10, "STRING", "REPEATED", ""],
      ["scores", 11, "INT64", "REPEATED", ""],
      ["history", 12, "MESSAGE", "REPEATED", ".google.protobuf.Timestamp"],
      ["palette", 13, "ENUM", "REPEATED", ".acme.sink.v1.Color"],
      ["related", 14, "STRING", "REPEATED", ""],
      ["legacy_code", 20, "STRING", "OPTIONAL", ""],
    ]);
  });

  it("gives singular non-message fields explicit presence through synthetic oneofs", () => {
    const item = message(sink, "Item");
    expect(item.field.filter((f) => f.proto3Optional).map((f) => [f.name, f.oneofIndex])).toEqual([
      ["name", 0],
      ["count", 1],
      ["ratio", 2],
      ["active", 3],
      ["blob", 4],
      ["color", 5],
      ["parent", 6],
      ["legacy_code", 7],
    ]);
    expect(item.oneofDecl.map((o) => o.name)).toEqual([
      "_name",
      "_count",
      "_ratio",
      "_active",
      "_blob",
      "_color",
      "_parent",
      "_legacy_code",
    ]);
    // A real oneof comes first; proto3 `optional` in requests gets its own synthetic one.
    expect(message(sink, "FilterValue").oneofDecl.map((o) => o.name)).toEqual(["kind"]);
    const update = message(sink, "UpdateItemRequest");
    expect(update.field.map((f) => [f.name, f.number, f.proto3Optional])).toEqual([
      ["id", 1, false],
      ["patch", 2, false],
      ["clear_fields", 3, false],
      ["expected_version", 4, true],
      ["idempotency_key", 5, false],
    ]);
    expect(update.oneofDecl.map((o) => o.name)).toEqual(["_expected_version"]);
  });

  it("sets protoc's JSON names", () => {
    expect(
      message(sink, "Item")
        .field.map((f) => f.jsonName)
        .slice(4, 5),
    ).toEqual(["seenAt"]);
    expect(message(sink, "ItemNode").field.map((f) => f.jsonName)).toEqual([
      "id",
      "fields",
      "version",
      "createdAt",
      "updatedAt",
    ]);
  });

  it("marks deprecated fields, enum values, types and their services", () => {
    const item = message(sink, "Item");
    expect(item.field.filter((f) => f.options?.deprecated === true).map((f) => f.name)).toEqual([
      "legacy_code",
    ]);
    expect(item.options?.deprecated ?? false).toBe(false);
    const deprecatedMessages = sink.messageType
      .filter((m) => m.options?.deprecated === true)
      .map((m) => m.name);
    expect(deprecatedMessages).toEqual(["Shelf", "ShelfNode", "Near", "NearEdge"]);
    expect(sink.service.filter((s) => s.options?.deprecated === true).map((s) => s.name)).toEqual([
      "ShelfService",
      "NearService",
    ]);
    const color = sink.enumType.find((e) => e.name === "Color")!;
    expect(color.value.map((v) => [v.name, v.number, v.options?.deprecated ?? false])).toEqual([
      ["COLOR_UNSPECIFIED", 0, false],
      ["COLOR_RED", 1, false],
      ["COLOR_GREEN", 2, false],
      ["COLOR_BLUE", 4, true],
    ]);
  });

  it("reserves ids end-exclusive in messages and inclusive in enums, with proto spellings", () => {
    const item = message(sink, "Item");
    expect(item.reservedRange.map((r) => [r.start, r.end])).toEqual([
      [15, 16],
      [17, 20],
    ]);
    expect(item.reservedName).toEqual(["old_name", "size"]);
    expect(message(sink, "Holds").reservedRange.map((r) => [r.start, r.end])).toEqual([[2, 3]]);
    const color = sink.enumType.find((e) => e.name === "Color")!;
    expect(color.reservedRange.map((r) => [r.start, r.end])).toEqual([[3, 3]]);
    expect(color.reservedName).toEqual(["COLOR_YELLOW"]);
  });

  it("declares the stored-node, request and response messages and the typed services", () => {
    expect(sink.messageType.map((m) => m.name).slice(0, 8)).toEqual([
      "WriteReceipt",
      "FilterValue",
      "FieldFilter",
      "OrderBy",
      "Item",
      "ItemNode",
      "CreateItemRequest",
      "CreateItemResponse",
    ]);
    expect(message(sink, "ItemNode").field.map((f) => [f.name, f.number, f.typeName])).toEqual([
      ["id", 1, ""],
      ["fields", 2, ".acme.sink.v1.Item"],
      ["version", 3, ""],
      ["created_at", 4, ".google.protobuf.Timestamp"],
      ["updated_at", 5, ".google.protobuf.Timestamp"],
    ]);
    expect(message(sink, "HoldsEdge").field.map((f) => [f.name, f.number, f.typeName])).toEqual([
      ["from_id", 1, ""],
      ["to_id", 2, ""],
      ["props", 3, ".acme.sink.v1.Holds"],
      ["created_at", 4, ".google.protobuf.Timestamp"],
    ]);
    const services = sink.service.map((s) => [
      s.name,
      s.method.map((m) => `${m.name}(${m.inputType}) ${m.outputType}`),
    ]);
    expect(services[0]).toEqual([
      "ItemService",
      [
        "Create(.acme.sink.v1.CreateItemRequest) .acme.sink.v1.CreateItemResponse",
        "Get(.acme.sink.v1.GetItemRequest) .acme.sink.v1.GetItemResponse",
        "Update(.acme.sink.v1.UpdateItemRequest) .acme.sink.v1.UpdateItemResponse",
        "Delete(.acme.sink.v1.DeleteItemRequest) .acme.sink.v1.DeleteItemResponse",
        "Query(.acme.sink.v1.QueryItemRequest) .acme.sink.v1.QueryItemResponse",
      ],
    ]);
    expect(services[2]).toEqual([
      "HoldsService",
      [
        "Link(.acme.sink.v1.LinkHoldsRequest) .acme.sink.v1.LinkHoldsResponse",
        "Unlink(.acme.sink.v1.UnlinkHoldsRequest) .acme.sink.v1.UnlinkHoldsResponse",
        "List(.acme.sink.v1.ListHoldsRequest) .acme.sink.v1.ListHoldsResponse",
        "ListInverse(.acme.sink.v1.ListInverseHoldsRequest) .acme.sink.v1.ListHoldsResponse",
      ],
    ]);
  });

  it("attaches doc comments as leading comments with spans into the written file", () => {
    const itemIndex = sink.messageType.findIndex((m) => m.name === "Item");
    const location = (path: number[]) =>
      sink.sourceCodeInfo?.location.find((l) => l.path.join(",") === path.join(","));
    expect(location([4, itemIndex])?.leadingComments).toBe(" Something to keep track of.\n");
    expect(location([4, itemIndex, 2, 0])?.leadingComments).toBe(
      " Shown in lists.\n At most 80 characters.\n",
    );
    expect(location([5, 0, 2, 1])?.leadingComments).toBe(" Warm.\n");
    // Line 0 of the written file is the header, so "syntax" is line 1 and the first
    // enum ("// A primary color." on line 8) starts on line 9.
    expect(location([5, 0])?.span).toEqual([9, 0, 18, 1]);
    expect(location([5, 0, 2, 3])?.span).toEqual([14, 2, 37]);
  });

  it("builds a descriptor that protobuf-es accepts, byte-identical on every run", () => {
    const registry = createFileRegistry(sink, (name) =>
      [file_google_protobuf_struct, file_google_protobuf_timestamp].find(
        (f) => f.proto.name === name,
      ),
    );
    expect(registry.getMessage("acme.sink.v1.Item")?.fields.length).toBe(15);
    expect(toBinary(FileDescriptorProtoSchema, buildFileDescriptor(kitchenSinkSchema()))).toEqual(
      toBinary(FileDescriptorProtoSchema, sink),
    );
  });
});

describe("name collisions", () => {
  it("rejects a node type named like a shared message and suggests a rename", () => {
    const schema = schemaOf("acme.app", {
      nodes: [nodeOf(1, "WriteReceipt", [fieldOf(1, "n", { kind: "int" })])],
    });
    expect(collisionMessage(() => buildFileDescriptor(schema))).toEqual({
      code: "name-collision",
      message:
        "Node type 'WriteReceipt' clashes with the shared definition 'WriteReceipt' that every generated .proto declares: the message 'WriteReceipt' would be declared twice. Rename node type 'WriteReceipt' (for example to 'WriteReceiptItem'); a rename is safe because ids, not names, are identity.",
    });
  });

  it("rejects a node type named like another type's generated message", () => {
    const schema = schemaOf("acme.app", {
      nodes: [nodeOf(1, "Task", []), nodeOf(2, "TaskNode", [])],
    });
    expect(collisionMessage(() => buildFileDescriptor(schema))).toEqual({
      code: "name-collision",
      message:
        "The generated name 'TaskNode' is used twice: the message 'TaskNode' of node type 'Task' and the message 'TaskNode' of node type 'TaskNode'. Rename node type 'Task' or node type 'TaskNode'; a rename is safe because ids, not names, are identity.",
    });
  });

  it("lists every clash at once: enum values, the zero value and JSON names", () => {
    const schema = schemaOf("acme.app", {
      enums: [enumOf("Phase", ["done", "DONE", "unspecified", "in__review", "in_review"])],
      nodes: [
        nodeOf(1, "Person", [
          fieldOf(1, "display_name", { kind: "string" }),
          fieldOf(2, "displayName", { kind: "string" }),
        ]),
      ],
    });
    let error: unknown;
    try {
      buildFileDescriptor(schema);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CodegenError);
    expect((error as CodegenError).details).toEqual([
      "Enum 'Phase' generates 'PHASE_DONE' twice: the value 'PHASE_DONE' (from 'done') and the value 'PHASE_DONE' (from 'DONE'). Rename one of them; a rename is safe because ids, not names, are identity.",
      "Enum 'Phase' generates 'PHASE_UNSPECIFIED' twice: its zero value 'PHASE_UNSPECIFIED' and the value 'PHASE_UNSPECIFIED' (from 'unspecified'). Rename one of them; a rename is safe because ids, not names, are identity.",
      "Values 'in__review' and 'in_review' of enum 'Phase' differ only in case or underscores, which protobuf treats as the same name. Rename one of them.",
      "Fields 'display_name' and 'displayName' of node type 'Person' have the same JSON name 'displayName' in protobuf. Rename one of them; a rename is safe because ids, not names, are identity.",
    ]);
    expect((error as CodegenError).message).toMatch(
      /^4 names clash in the generated \.proto:\n {2}- /,
    );
  });
});
