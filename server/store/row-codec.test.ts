import { isDeepStrictEqual } from "node:util";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { EdgeSchema, NodeSchema } from "../../generated/entdb/v1/entdb_pb.js";
import { ValueListSchema, ValueSchema } from "../../generated/entdb/v1/values_pb.js";
import { TRACKER_V1 } from "../../tests/store/store-fixtures.ts";
import { edgeFromRow, nodeFromRow } from "./row-codec.ts";

/** Same own properties in the same order, all the way down, and deeply equal. */
function sameShape(a: unknown, b: unknown): boolean {
  if (typeof a !== "object" || a === null || a instanceof Uint8Array) return true;
  const ka = Object.keys(a);
  const kb = Object.keys(b as object);
  if (ka.join() !== kb.join()) return false;
  return ka.every((k) =>
    sameShape((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
  );
}

const str = (value: string) => create(ValueSchema, { kind: { case: "stringValue", value } });
const ts = (ms: number) =>
  create(ValueSchema, { kind: { case: "timestampValue", value: timestampFromMs(ms) } });

describe("row messages", () => {
  it("builds a node exactly as create(NodeSchema) does", () => {
    const node = nodeFromRow(TRACKER_V1, {
      seq: 1n,
      id: "u1",
      type_id: 1n,
      payload: '{"1":"a@example.com","2":"Ada","3":"ada","6":1704164645123000,"7":true}',
      version: 3n,
      owner: "user:ada",
      created_at: 1704164645123456n,
      updated_at: -1n,
    });
    const expected = create(NodeSchema, {
      id: "u1",
      typeId: 1,
      fields: {
        1: str("a@example.com"),
        2: str("Ada"),
        3: str("ada"),
        6: ts(1704164645123),
        7: create(ValueSchema, { kind: { case: "boolValue", value: true } }),
      },
      version: 3n,
      createdAt: { seconds: 1704164645n, nanos: 123456000 },
      updatedAt: { seconds: -1n, nanos: 999999000 },
      owner: "user:ada",
    });
    expect(isDeepStrictEqual(node, expected)).toBe(true);
    expect(sameShape(node, expected)).toBe(true);
  });

  it("builds an edge exactly as create(EdgeSchema) does", () => {
    const edge = edgeFromRow(TRACKER_V1, {
      edge_type_id: 101n,
      from_id: "task1",
      to_id: "u1",
      props: "{}",
      created_at: 5n,
    });
    const expected = create(EdgeSchema, {
      edgeTypeId: 101,
      fromId: "task1",
      toId: "u1",
      createdAt: { seconds: 0n, nanos: 5000 },
    });
    expect(isDeepStrictEqual(edge, expected)).toBe(true);
    expect(sameShape(edge, expected)).toBe(true);
  });

  it("builds list values as create(ValueSchema) does", () => {
    const node = nodeFromRow(TRACKER_V1, {
      seq: 2n,
      id: "task1",
      type_id: 4n,
      payload: '{"9":["bug","ui"]}',
      version: 1n,
      owner: "",
      created_at: 0n,
      updated_at: 0n,
    });
    const expected = create(ValueSchema, {
      kind: {
        case: "listValue",
        value: create(ValueListSchema, { values: [str("bug"), str("ui")] }),
      },
    });
    expect(isDeepStrictEqual(node.fields[9], expected)).toBe(true);
    expect(sameShape(node.fields[9], expected)).toBe(true);
  });
});
