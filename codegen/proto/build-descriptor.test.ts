import { create, createFileRegistry, toBinary } from "@bufbuild/protobuf";
import type { DescriptorProto, FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  file_google_protobuf_struct,
  file_google_protobuf_timestamp,
} from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { kitchenSinkSchema, minimalSchema } from "../../tests/codegen/fixture-schemas.ts";
import { edgeOf, enumOf, fieldOf, nodeOf, schemaOf } from "../../tests/codegen/model-builders.ts";
import { CodegenError } from "../codegen-error.ts";
import { buildFileDescriptors } from "./build-descriptor.ts";

const files = buildFileDescriptors(kitchenSinkSchema());

function file(name: string): FileDescriptorProto {
  const found = files.find((f) => f.name === `acme/sink/v1/${name}`);
  if (found === undefined) throw new Error(`no file ${name}`);
  return found;
}

function message(name: string): DescriptorProto {
  const found = files.flatMap((f) => f.messageType).find((m) => m.name === name);
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

describe("buildFileDescriptors", () => {
  const shared = file("schema.proto");

  it("puts the shared declarations and each type in its own file of the package", () => {
    expect(files.map((f) => [f.name, f.package, f.syntax])).toEqual([
      ["acme/sink/v1/schema.proto", "acme.sink.v1", "proto3"],
      ["acme/sink/v1/item.proto", "acme.sink.v1", "proto3"],
      ["acme/sink/v1/shelf.proto", "acme.sink.v1", "proto3"],
      ["acme/sink/v1/holds.proto", "acme.sink.v1", "proto3"],
      ["acme/sink/v1/near.proto", "acme.sink.v1", "proto3"],
    ]);
    expect(shared.enumType.map((e) => e.name)).toEqual(["Color", "FilterOp"]);
    expect(shared.messageType.map((m) => m.name)).toEqual([
      "WriteReceipt",
      "FilterValue",
      "FieldFilter",
      "OrderBy",
    ]);
    expect(shared.service).toEqual([]);
  });

  it("imports the shared file and only the well-known types each file uses", () => {
    expect(files.map((f) => [f.name.slice("acme/sink/v1/".length), f.dependency])).toEqual([
      ["schema.proto", ["google/protobuf/timestamp.proto"]],
      [
        "item.proto",
        [
          "acme/sink/v1/schema.proto",
          "google/protobuf/struct.proto",
          "google/protobuf/timestamp.proto",
        ],
      ],
      ["shelf.proto", ["acme/sink/v1/schema.proto", "google/protobuf/timestamp.proto"]],
      ["holds.proto", ["acme/sink/v1/schema.proto", "google/protobuf/timestamp.proto"]],
      ["near.proto", ["acme/sink/v1/schema.proto", "google/protobuf/timestamp.proto"]],
    ]);
    expect(buildFileDescriptors(minimalSchema()).map((f) => [f.name, f.dependency])).toEqual([
      ["demo/notes/schema.proto", ["google/protobuf/timestamp.proto"]],
      ["demo/notes/note.proto", ["demo/notes/schema.proto", "google/protobuf/timestamp.proto"]],
    ]);
  });

  it("numbers every field by its field id and maps each kind to its proto type", () => {
    const T = FieldDescriptorProto_Type;
    const L = FieldDescriptorProto_Label;
    expect(
      message("Item").field.map((f) => [f.name, f.number, T[f.type], L[f.label], f.typeName]),
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
    const item = message("Item");
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
    expect(message("FilterValue").oneofDecl.map((o) => o.name)).toEqual(["kind"]);
    const update = message("UpdateItemRequest");
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
      message("Item")
        .field.map((f) => f.jsonName)
        .slice(4, 5),
    ).toEqual(["seenAt"]);
    expect(message("ItemNode").field.map((f) => f.jsonName)).toEqual([
      "id",
      "fields",
      "version",
      "createdAt",
      "updatedAt",
    ]);
  });

  it("marks deprecated fields, enum values, types and their services", () => {
    const item = message("Item");
    expect(item.field.filter((f) => f.options?.deprecated === true).map((f) => f.name)).toEqual([
      "legacy_code",
    ]);
    expect(item.options?.deprecated ?? false).toBe(false);
    const deprecatedMessages = files
      .flatMap((f) => f.messageType)
      .filter((m) => m.options?.deprecated === true)
      .map((m) => m.name);
    expect(deprecatedMessages).toEqual(["Shelf", "ShelfNode", "Near", "NearEdge"]);
    const deprecatedServices = files
      .flatMap((f) => f.service)
      .filter((s) => s.options?.deprecated === true)
      .map((s) => s.name);
    expect(deprecatedServices).toEqual(["ShelfService", "NearService"]);
    const color = shared.enumType.find((e) => e.name === "Color")!;
    expect(color.value.map((v) => [v.name, v.number, v.options?.deprecated ?? false])).toEqual([
      ["COLOR_UNSPECIFIED", 0, false],
      ["COLOR_RED", 1, false],
      ["COLOR_GREEN", 2, false],
      ["COLOR_BLUE", 4, true],
    ]);
  });

  it("reserves ids end-exclusive in messages and inclusive in enums, with proto spellings", () => {
    const item = message("Item");
    expect(item.reservedRange.map((r) => [r.start, r.end])).toEqual([
      [15, 16],
      [17, 20],
    ]);
    expect(item.reservedName).toEqual(["old_name", "size"]);
    expect(message("Holds").reservedRange.map((r) => [r.start, r.end])).toEqual([[2, 3]]);
    const color = shared.enumType.find((e) => e.name === "Color")!;
    expect(color.reservedRange.map((r) => [r.start, r.end])).toEqual([[3, 3]]);
    expect(color.reservedName).toEqual(["COLOR_YELLOW"]);
  });

  it("declares the stored-node, request and response messages and the typed services", () => {
    expect(file("item.proto").messageType.map((m) => m.name)).toEqual([
      "Item",
      "ItemNode",
      "CreateItemRequest",
      "CreateItemResponse",
      "GetItemRequest",
      "GetItemResponse",
      "UpdateItemRequest",
      "UpdateItemResponse",
      "DeleteItemRequest",
      "DeleteItemResponse",
      "QueryItemRequest",
      "QueryItemResponse",
      "WatchItemRequest",
      "ItemChange",
      "WatchItemResponse",
    ]);
    expect(message("ItemNode").field.map((f) => [f.name, f.number, f.typeName])).toEqual([
      ["id", 1, ""],
      ["fields", 2, ".acme.sink.v1.Item"],
      ["version", 3, ""],
      ["created_at", 4, ".google.protobuf.Timestamp"],
      ["updated_at", 5, ".google.protobuf.Timestamp"],
    ]);
    expect(message("HoldsEdge").field.map((f) => [f.name, f.number, f.typeName])).toEqual([
      ["from_id", 1, ""],
      ["to_id", 2, ""],
      ["props", 3, ".acme.sink.v1.Holds"],
      ["created_at", 4, ".google.protobuf.Timestamp"],
    ]);
    const services = files.map((f) => [
      f.service.map((s) => s.name).join(),
      f.service.flatMap((s) => s.method.map((m) => `${m.name}(${m.inputType}) ${m.outputType}`)),
    ]);
    expect(services[0]).toEqual(["", []]);
    expect(services[1]).toEqual([
      "ItemService",
      [
        "Create(.acme.sink.v1.CreateItemRequest) .acme.sink.v1.CreateItemResponse",
        "Get(.acme.sink.v1.GetItemRequest) .acme.sink.v1.GetItemResponse",
        "Update(.acme.sink.v1.UpdateItemRequest) .acme.sink.v1.UpdateItemResponse",
        "Delete(.acme.sink.v1.DeleteItemRequest) .acme.sink.v1.DeleteItemResponse",
        "Query(.acme.sink.v1.QueryItemRequest) .acme.sink.v1.QueryItemResponse",
        "Watch(.acme.sink.v1.WatchItemRequest) .acme.sink.v1.WatchItemResponse",
      ],
    ]);
    const watch = files[1]!.service[0]!.method.find((m) => m.name === "Watch")!;
    expect([watch.clientStreaming, watch.serverStreaming]).toEqual([false, true]);
    expect(services[3]).toEqual([
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
    const location = (name: string, path: number[]) =>
      file(name).sourceCodeInfo?.location.find((l) => l.path.join(",") === path.join(","));
    expect(location("item.proto", [4, 0])?.leadingComments).toBe(" Something to keep track of.\n");
    expect(location("item.proto", [4, 0, 2, 0])?.leadingComments).toBe(
      " Shown in lists.\n At most 80 characters.\n",
    );
    expect(location("schema.proto", [5, 0, 2, 1])?.leadingComments).toBe(" Warm.\n");
    // Line 0 of the written file is the header, so "syntax" is line 1, the one import
    // is line 5 and the first enum ("// A primary color." on line 7) starts on line 8.
    expect(location("schema.proto", [5, 0])?.span).toEqual([8, 0, 17, 1]);
    expect(location("schema.proto", [5, 0, 2, 3])?.span).toEqual([13, 2, 37]);
  });

  it("builds descriptors that protobuf-es accepts, byte-identical on every run", () => {
    const registry = createFileRegistry(
      create(FileDescriptorSetSchema, {
        file: [file_google_protobuf_struct.proto, file_google_protobuf_timestamp.proto, ...files],
      }),
    );
    expect(registry.getMessage("acme.sink.v1.Item")?.fields.length).toBe(15);
    expect(registry.getMessage("acme.sink.v1.ItemNode")?.field.fields?.message?.typeName).toBe(
      "acme.sink.v1.Item",
    );
    const link = registry.getService("acme.sink.v1.HoldsService")?.method["link"];
    expect(link?.output.file.name).toBe("acme/sink/v1/holds");
    // The receipt in the response resolves to the shared file.
    expect(link?.output.field["receipt"]?.message?.file.name).toBe("acme/sink/v1/schema");
    const binary = (list: readonly FileDescriptorProto[]) =>
      list.map((f) => toBinary(FileDescriptorProtoSchema, f));
    expect(binary(buildFileDescriptors(kitchenSinkSchema()))).toEqual(binary(files));
  });
});

describe("name collisions", () => {
  it("rejects a node type named like a shared message and suggests a rename", () => {
    const schema = schemaOf("acme.app", {
      nodes: [nodeOf(1, "WriteReceipt", [fieldOf(1, "n", { kind: "int" })])],
    });
    expect(collisionMessage(() => buildFileDescriptors(schema))).toEqual({
      code: "name-collision",
      message:
        "Node type 'WriteReceipt' clashes with the shared definition 'WriteReceipt' that the shared schema.proto declares: the message 'WriteReceipt' would be declared twice. Rename node type 'WriteReceipt' (for example to 'WriteReceiptItem'); a rename is safe because ids, not names, are identity.",
    });
  });

  it("rejects a node type named like another type's generated message", () => {
    const schema = schemaOf("acme.app", {
      nodes: [nodeOf(1, "Task", []), nodeOf(2, "TaskNode", [])],
    });
    expect(collisionMessage(() => buildFileDescriptors(schema))).toEqual({
      code: "name-collision",
      message:
        "The generated name 'TaskNode' is used twice: the message 'TaskNode' of node type 'Task' and the message 'TaskNode' of node type 'TaskNode'. Rename node type 'Task' or node type 'TaskNode'; a rename is safe because ids, not names, are identity.",
    });
  });

  it("rejects a node type named like another type's Watch change message", () => {
    const schema = schemaOf("acme.app", {
      nodes: [nodeOf(1, "Task", []), nodeOf(2, "TaskChange", [])],
    });
    expect(collisionMessage(() => buildFileDescriptors(schema))).toEqual({
      code: "name-collision",
      message:
        "The generated name 'TaskChange' is used twice: the message 'TaskChange' of node type 'Task' and the message 'TaskChange' of node type 'TaskChange'. Rename node type 'Task' or node type 'TaskChange'; a rename is safe because ids, not names, are identity.",
    });
  });

  it("rejects types whose .proto files would have the same path", () => {
    const schema = schemaOf("acme.app", {
      nodes: [nodeOf(1, "HTTPCode", []), nodeOf(2, "Schema", [])],
      edges: [edgeOf(3, "HttpCode", 1, 2)],
    });
    let error: unknown;
    try {
      buildFileDescriptors(schema);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(CodegenError);
    expect((error as CodegenError).details).toEqual([
      "Node type 'Schema' would be generated into 'acme/app/schema.proto', which is already the shared file. Rename node type 'Schema'; a rename is safe because ids, not names, are identity.",
      "Edge type 'HttpCode' would be generated into 'acme/app/http_code.proto', which is already the file of node type 'HTTPCode'. Rename edge type 'HttpCode'; a rename is safe because ids, not names, are identity.",
    ]);
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
      buildFileDescriptors(schema);
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
