import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { kitchenSinkSchema } from "../../tests/codegen/fixture-schemas.ts";
import { schemaDescriptors } from "./schema-descriptors.ts";

describe("the served schema's descriptors", () => {
  const { files, descriptorSet } = schemaDescriptors(kitchenSinkSchema());

  it("resolves the shared file and one file per type, each linked to the files it imports", () => {
    expect(files.map((f) => [f.name, f.dependencies.map((d) => d.name)])).toEqual([
      ["acme/sink/v1/schema", ["google/protobuf/timestamp"]],
      [
        "acme/sink/v1/item",
        ["acme/sink/v1/schema", "google/protobuf/struct", "google/protobuf/timestamp"],
      ],
      ["acme/sink/v1/shelf", ["acme/sink/v1/schema", "google/protobuf/timestamp"]],
      ["acme/sink/v1/holds", ["acme/sink/v1/schema", "google/protobuf/timestamp"]],
      ["acme/sink/v1/near", ["acme/sink/v1/schema", "google/protobuf/timestamp"]],
    ]);
    // The same shared file object, not a copy per importer.
    expect(files[1]?.dependencies[0]).toBe(files[0]);
    expect(files.flatMap((f) => f.services.map((s) => s.typeName))).toEqual([
      "acme.sink.v1.ItemService",
      "acme.sink.v1.ShelfService",
      "acme.sink.v1.HoldsService",
      "acme.sink.v1.NearService",
    ]);
  });

  it("serializes the files with the well-known types they import, dependencies first", () => {
    const set = fromBinary(FileDescriptorSetSchema, descriptorSet);
    expect(set.file.map((f) => f.name)).toEqual([
      "google/protobuf/timestamp.proto",
      "google/protobuf/struct.proto",
      "acme/sink/v1/schema.proto",
      "acme/sink/v1/item.proto",
      "acme/sink/v1/shelf.proto",
      "acme/sink/v1/holds.proto",
      "acme/sink/v1/near.proto",
    ]);
  });
});
