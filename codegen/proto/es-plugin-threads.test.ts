import { readFileSync } from "node:fs";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { REPO_ROOT } from "../../tests/codegen/repo-temp-dir.ts";
import { compileText } from "../../tests/codegen/tracker-schema.ts";
import { CodegenError } from "../codegen-error.ts";
import { buildFileDescriptors } from "./build-descriptor.ts";
import { esPluginThreads } from "./es-plugin-threads.ts";
import { generateEs } from "./generate-es.ts";

const TRACKER_PATH = "examples/tracker/schema.entdb";
const descriptors = buildFileDescriptors(
  compileText(TRACKER_PATH, readFileSync(join(REPO_ROOT, TRACKER_PATH), "utf8")),
);

function texts(threads: number): string[][] {
  return generateEs(descriptors, { threads }).map((f) => [f.path, f.content]);
}

/** A file with one message whose field names a message that no file declares. */
function brokenFile(name: string) {
  return create(FileDescriptorProtoSchema, {
    name,
    package: "broken",
    syntax: "proto3",
    messageType: [
      {
        name: "Holder",
        field: [
          {
            name: "gone",
            number: 1,
            label: FieldDescriptorProto_Label.OPTIONAL,
            type: FieldDescriptorProto_Type.MESSAGE,
            typeName: ".broken.Missing",
            jsonName: "gone",
          },
        ],
      },
    ],
  });
}

describe("generateEs on worker threads", () => {
  it("prints the same files with the work shared by this thread and two workers", () => {
    const alone = texts(0);
    expect(alone.length).toBe(descriptors.length * 2);
    expect(texts(2)).toEqual(alone);
  });

  it("reports the plugin failing on a worker's share as generator-failed, naming the file", () => {
    const ok = create(FileDescriptorProtoSchema, { name: "fine.proto", syntax: "proto3" });
    let thrown: unknown;
    try {
      generateEs([ok, brokenFile("broken.proto")], { threads: 1 });
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(CodegenError);
    expect((thrown as CodegenError).code).toBe("generator-failed");
    expect((thrown as CodegenError).message).toBe(
      "protoc-gen-es failed on 'broken.proto': invalid FieldDescriptorProto: type_name .broken.Missing not found",
    );
  });
});

describe("esPluginThreads", () => {
  it("starts one thread per spare core, only when each has enough files", () => {
    expect(esPluginThreads(501, 2)).toBe(1);
    expect(esPluginThreads(501, 1)).toBe(0);
    expect(esPluginThreads(100, 2)).toBe(0);
    expect(esPluginThreads(128, 2)).toBe(1);
    expect(esPluginThreads(501, 16)).toBe(6);
    expect(esPluginThreads(10_000, 8)).toBe(7);
  });
});
