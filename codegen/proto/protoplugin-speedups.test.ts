import { afterAll, describe, expect, it } from "vitest";
import type { Schema } from "../../schema/model.ts";
import { kitchenSinkSchema } from "../../tests/codegen/fixture-schemas.ts";
import { enumOf, fieldOf, nodeOf, schemaOf } from "../../tests/codegen/model-builders.ts";
import { buildFileDescriptor } from "./build-descriptor.ts";
import { generateEs } from "./generate-es.ts";
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
