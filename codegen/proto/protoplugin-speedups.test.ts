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

function generateBoth(schema: Schema): { fast: string; upstream: string } {
  const descriptor = buildFileDescriptor(schema);
  expect(setProtopluginSpeedups(true)).toBe(true);
  const fast = generateEs(descriptor, { jsonTypes: true })[0]!.content;
  expect(setProtopluginSpeedups(false)).toBe(true);
  const upstream = generateEs(descriptor, { jsonTypes: true })[0]!.content;
  setProtopluginSpeedups(true);
  return { fast, upstream };
}

describe("protoplugin speedups", () => {
  afterAll(() => setProtopluginSpeedups(true));

  it("generate exactly what the unpatched framework generates", () => {
    const { fast, upstream } = generateBoth(kitchenSinkSchema());
    expect(fast).toBe(upstream);
  });

  it("resolve clashing TypeScript names the same way", () => {
    const { fast, upstream } = generateBoth(clashingSchema());
    expect(fast).toBe(upstream);
    expect(fast).toContain("export const ItemSchema$: GenMessage<Item, {jsonType: ItemJson$}> =");
    expect(fast).toContain("export type ItemJson$ = {");
    expect(fast).toContain("export const file_acme_clash_schema$: GenFile =");
  });
});
