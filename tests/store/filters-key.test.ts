import { hash } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { TimestampSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { type Filter, FilterOp, FilterSchema } from "../../generated/entdb/v1/entdb_pb.js";
import { type Value, ValueSchema } from "../../generated/entdb/v1/values_pb.js";
import { filtersKey, MAX_KEY_LENGTH } from "../../server/store/filters-key.ts";
import { filtersDigest } from "../../server/store/page-cursor.ts";

/** The digest as it was computed before digests were kept: every call encodes and hashes. */
function computedDigest(filters: readonly Filter[]): string {
  const parts: Uint8Array[] = [];
  for (const f of filters) {
    const bytes = toBinary(FilterSchema, f);
    parts.push(Buffer.from(`${bytes.byteLength}:`), bytes);
  }
  return hash("sha256", Buffer.concat(parts), "base64url").slice(0, 22);
}

const bytesOf = (filters: readonly Filter[]) =>
  Buffer.concat(filters.map((f) => toBinary(FilterSchema, f))).toString("hex") +
  `/${filters.map((f) => toBinary(FilterSchema, f).byteLength).join(",")}`;

/** A small random generator, seeded, so a failure repeats. */
function rng(seed: number) {
  let s = seed;
  return (n: number) => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s % n;
  };
}

const TEXTS = ["", "a", "ab", "1:a", "a;", "s1:a", "\ud800", "\ufffd", "é", "0", ",", "1,2;"];

function randomValue(r: (n: number) => number): Value {
  const text = () => TEXTS[r(TEXTS.length)] as string;
  switch (r(9)) {
    case 0:
      return create(ValueSchema, { kind: { case: "stringValue", value: text() } });
    case 1:
      return create(ValueSchema, { kind: { case: "refValue", value: text() } });
    case 2:
      return create(ValueSchema, { kind: { case: "jsonValue", value: text() } });
    case 3:
      return create(ValueSchema, { kind: { case: "intValue", value: BigInt(r(5) - 2) } });
    case 4:
      return create(ValueSchema, {
        kind: { case: "floatValue", value: [0, 1, 1.5, -2, Number.NaN, 1e21][r(6)] as number },
      });
    case 5:
      return create(ValueSchema, { kind: { case: "boolValue", value: r(2) === 1 } });
    case 6:
      return create(ValueSchema, { kind: { case: "enumValue", value: r(3) } });
    case 7:
      return create(ValueSchema, {
        kind: {
          case: "timestampValue",
          value: create(TimestampSchema, { seconds: BigInt(r(3)), nanos: r(2) * 1000 }),
        },
      });
    default:
      return create(ValueSchema, r(2) ? { kind: { case: "nullValue", value: true } } : {});
  }
}

function randomFilters(r: (n: number) => number): Filter[] {
  const out: Filter[] = [];
  const n = r(3) + 1;
  for (let i = 0; i < n; i++) {
    const values: Value[] = [];
    const m = r(3);
    for (let j = 0; j < m; j++) values.push(randomValue(r));
    out.push(create(FilterSchema, { fieldId: r(3), op: r(3) as FilterOp, values }));
  }
  return out;
}

describe("filtersKey", () => {
  it("gives two lists of filters the same key only when their encodings are the same", () => {
    const r = rng(7);
    const byKey = new Map<string, string>();
    let keyed = 0;
    for (let i = 0; i < 20_000; i++) {
      const filters = randomFilters(r);
      const key = filtersKey(filters);
      if (key === undefined) continue;
      keyed++;
      const bytes = bytesOf(filters);
      const seen = byKey.get(key);
      if (seen !== undefined) expect(bytes).toBe(seen);
      else byKey.set(key, bytes);
    }
    // The generator repeats lists (few texts and numbers): the check above compared many.
    expect(keyed).toBe(20_000);
    expect(byKey.size).toBeLessThan(keyed);
  });

  it("tells apart filters that differ in any part", () => {
    const str = (value: string) => create(ValueSchema, { kind: { case: "stringValue", value } });
    const f = (fieldId: number, op: FilterOp, ...values: Value[]) =>
      create(FilterSchema, { fieldId, op, values });
    const lists: Filter[][] = [
      [f(1, FilterOp.EQ, str("a"))],
      [f(2, FilterOp.EQ, str("a"))],
      [f(1, FilterOp.NE, str("a"))],
      [f(1, FilterOp.EQ, str("b"))],
      [f(1, FilterOp.EQ, create(ValueSchema, { kind: { case: "refValue", value: "a" } }))],
      [f(1, FilterOp.EQ, str("a"), str("a"))],
      [f(1, FilterOp.EQ, str("a")), f(1, FilterOp.EQ, str("a"))],
      [f(1, FilterOp.EQ, str("a;1,0,0;"))],
      [f(1, FilterOp.EQ)],
    ];
    const keys = lists.map((l) => filtersKey(l));
    expect(new Set(keys).size).toBe(lists.length);
  });

  it("keeps no key for what it does not cover, and the digest is still right", () => {
    const minusZero = [
      create(FilterSchema, {
        fieldId: 1,
        values: [create(ValueSchema, { kind: { case: "floatValue", value: -0 } })],
      }),
    ];
    const zero = [
      create(FilterSchema, {
        fieldId: 1,
        values: [create(ValueSchema, { kind: { case: "floatValue", value: 0 } })],
      }),
    ];
    expect(filtersKey(minusZero)).toBeUndefined();
    expect(filtersDigest(zero)).toBe(computedDigest(zero));
    expect(filtersDigest(minusZero)).toBe(computedDigest(minusZero));
    expect(filtersDigest(minusZero)).not.toBe(filtersDigest(zero));

    const bytes = [
      create(FilterSchema, {
        values: [create(ValueSchema, { kind: { case: "bytesValue", value: new Uint8Array([1]) } })],
      }),
    ];
    expect(filtersKey(bytes)).toBeUndefined();
    expect(filtersDigest(bytes)).toBe(computedDigest(bytes));

    const unknown = create(FilterSchema, { fieldId: 1 });
    unknown.$unknown = [{ no: 9, wireType: 0, data: new Uint8Array([1]) }];
    expect(filtersKey([unknown])).toBeUndefined();
    expect(filtersDigest([unknown])).toBe(computedDigest([unknown]));
    expect(filtersDigest([unknown])).not.toBe(
      filtersDigest([create(FilterSchema, { fieldId: 1 })]),
    );

    const long = [
      create(FilterSchema, {
        values: [
          create(ValueSchema, { kind: { case: "stringValue", value: "x".repeat(MAX_KEY_LENGTH) } }),
        ],
      }),
    ];
    expect(filtersKey(long)).toBeUndefined();
  });

  it("gives the digest computed before, asked once or again", () => {
    const r = rng(11);
    for (let i = 0; i < 2_000; i++) {
      const filters = randomFilters(r);
      const expected = computedDigest(filters);
      expect(filtersDigest(filters)).toBe(expected);
      expect(filtersDigest(filters)).toBe(expected);
    }
  });
});
