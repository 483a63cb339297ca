import { create } from "@bufbuild/protobuf";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { FilterOp, FilterSchema } from "../../generated/entdb/v1/entdb_pb.js";
import { ValueSchema } from "../../generated/entdb/v1/values_pb.js";
import { filtersDigest } from "./page-cursor.ts";

describe("filtersDigest", () => {
  it("keeps the digest cursors already carry", () => {
    // A cursor handed out by an earlier server carries these: they must not change.
    expect(filtersDigest([])).toBe("47DEQpj8HBSa-_TImW-5JC");
    const at = create(TimestampSchema, { seconds: 1_700_000_000n, nanos: 0 });
    expect(
      filtersDigest([
        create(FilterSchema, {
          fieldId: 7,
          op: FilterOp.GTE,
          values: [create(ValueSchema, { kind: { case: "timestampValue", value: at } })],
        }),
        create(FilterSchema, {
          fieldId: 3,
          op: FilterOp.PREFIX,
          values: [create(ValueSchema, { kind: { case: "stringValue", value: "é😀\u{10FFFF}" } })],
        }),
      ]),
    ).toBe("k51bDqIhV99Bk5yZYslvEs");
  });
});
