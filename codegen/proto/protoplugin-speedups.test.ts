import { create, toBinary } from "@bufbuild/protobuf";
import type { FileDescriptorProto } from "@bufbuild/protobuf/wkt";
import {
  DescriptorProtoSchema,
  FieldDescriptorProto_Type,
  FieldDescriptorProtoSchema,
  FileDescriptorProtoSchema,
  SourceCodeInfo_LocationSchema,
  SourceCodeInfoSchema,
} from "@bufbuild/protobuf/wkt";
import { afterAll, describe, expect, it } from "vitest";
import type { Schema } from "../../schema/index.ts";
import { kitchenSinkSchema } from "../../tests/codegen/fixture-schemas.ts";
import { enumOf, fieldOf, nodeOf, schemaOf } from "../../tests/codegen/model-builders.ts";
import { buildFileDescriptor } from "./build-descriptor.ts";
import { embeddedDescriptorCopy } from "./embed-descriptor-copy.ts";
import { generateEs } from "./generate-es.ts";
import { formatJsDocBlock } from "./jsdoc-block.ts";
import { requireProtobufModule, requireProtopluginModule } from "./protoc-gen-es-loader.ts";
import { setProtopluginSpeedups } from "./protoplugin-speedups.ts";

/** Type names that make protobuf-es salt its identifiers (`ItemSchema$`, …). */
function clashingSchema(): Schema {
  return schemaOf("acme.clash", {
    enums: [enumOf("ItemJson", ["a"], { doc: "Named like a generated JSON type." })],
    nodes: [
      nodeOf(1, "Item", [
        fieldOf(1, "kind", { kind: "enum", enumName: "ItemJson" }, { doc: "K." }),
      ]),
      nodeOf(2, "ItemSchema", [fieldOf(1, "of", { kind: "ref", targetId: 1 })]),
      nodeOf(3, "file_acme_clash_schema", [fieldOf(1, "class", { kind: "string" })]),
    ],
  });
}

/** Every generated file (`.js` and `.d.ts`), as `path` then content, in output order. */
interface Both {
  readonly fast: string[];
  readonly upstream: string[];
}

function generateBoth(schema: Schema): Both {
  const descriptor = buildFileDescriptor(schema);
  const files = () =>
    generateEs(descriptor, { jsonTypes: true }).flatMap((f) => [f.path, f.content]);
  expect(setProtopluginSpeedups(true)).toBe(true);
  const fast = files();
  expect(setProtopluginSpeedups(false)).toBe(true);
  const upstream = files();
  setProtopluginSpeedups(true);
  return { fast, upstream };
}

describe("protoplugin speedups", () => {
  afterAll(() => setProtopluginSpeedups(true));

  it("generate exactly what the unpatched framework generates", () => {
    const { fast, upstream } = generateBoth(kitchenSinkSchema());
    expect(fast.filter((_, i) => i % 2 === 0)).toEqual([
      "acme/sink/v1/schema_pb.js",
      "acme/sink/v1/schema_pb.d.ts",
    ]);
    expect(fast).toEqual(upstream);
  });

  it("resolve clashing TypeScript names the same way", () => {
    const { fast, upstream } = generateBoth(clashingSchema());
    expect(fast).toEqual(upstream);
    const [, js, , dts] = fast;
    expect(js).toContain("export const ItemSchema$ = /*@__PURE__*/");
    expect(js).toContain("export const file_acme_clash_schema$ = /*@__PURE__*/");
    expect(dts).toContain(
      "export declare const ItemSchema$: GenMessage<Item, {jsonType: ItemJson$}>;",
    );
    expect(dts).toContain("export declare type ItemJson$ = {");
    expect(dts).toContain("export declare const file_acme_clash_schema$: GenFile;");
  });
});

/** A framework function as the unpatched framework has it. */
function upstream<T>(module: unknown, name: string): T {
  expect(setProtopluginSpeedups(false)).toBe(true);
  const fn = (module as Record<string, T>)[name]!;
  setProtopluginSpeedups(true);
  return fn;
}

/** A descriptor with what the embedded copy drops or keeps: dependencies, source info, nesting, json names. */
function embeddable(): FileDescriptorProto {
  const field = (name: string, number: number, jsonName: string) =>
    create(FieldDescriptorProtoSchema, {
      name,
      number,
      jsonName,
      type: FieldDescriptorProto_Type.STRING,
    });
  return create(FileDescriptorProtoSchema, {
    name: "acme/embed.proto",
    package: "acme",
    dependency: ["google/protobuf/timestamp.proto"],
    syntax: "proto3",
    messageType: [
      create(DescriptorProtoSchema, {
        name: "Outer",
        field: [field("due_at", 1, "dueAt"), field("title", 2, "heading")],
        nestedType: [
          create(DescriptorProtoSchema, { name: "Inner", field: [field("x_1", 1, "x1")] }),
        ],
      }),
    ],
    sourceCodeInfo: create(SourceCodeInfoSchema, {
      location: [create(SourceCodeInfo_LocationSchema, { path: [4, 0], span: [1, 0, 9] })],
    }),
  });
}

describe("protoplugin speedups, each replacement", () => {
  afterAll(() => setProtopluginSpeedups(true));

  it("formats a JSDoc block exactly as protoplugin's formatJsDocBlock", () => {
    const original = upstream<(text: string, indentation?: string) => string>(
      requireProtopluginModule("jsdoc.js"),
      "formatJsDocBlock",
    );
    const texts = ["", " \n\t", "One line.", "First.\n\nThird.", "a */ b\n*/", "\nlead", "trail\n"];
    for (const text of texts) {
      for (const indentation of [undefined, "", "    "]) {
        expect(formatJsDocBlock(text, indentation)).toBe(original(text, indentation));
      }
    }
    expect(formatJsDocBlock("Doc.\n\n@deprecated", "  ")).toBe(
      "  /**\n   * Doc.\n   *\n   * @deprecated\n   */",
    );
  });

  it("copies the descriptor to embed to the same bytes as codegenv2, leaving the original alone", () => {
    const embedFileDesc = upstream<(file: FileDescriptorProto) => { proto(): FileDescriptorProto }>(
      requireProtobufModule("codegenv2/embed.js"),
      "embedFileDesc",
    );
    const file = embeddable();
    const before = toBinary(FileDescriptorProtoSchema, file);
    const copy = embeddedDescriptorCopy(file);
    expect(toBinary(FileDescriptorProtoSchema, copy)).toEqual(
      toBinary(FileDescriptorProtoSchema, embedFileDesc(file).proto()),
    );
    expect(copy.messageType[0]!.field.map((f) => f.jsonName)).toEqual(["", "heading"]);
    expect(toBinary(FileDescriptorProtoSchema, file)).toEqual(before);
  });
});
